/* The control reply buffer: appending, error marking, the size cap with its truncation
 * note, and JSON string escaping against a table of inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/reply.h"
#include "vpnd/control.h"

#define NOTE "(output truncated)\n"

static void test_printf_appends(void **state)
{
	struct vpnd_reply r;

	(void)state;
	vpnd_reply_init(&r);
	assert_int_equal(r.len, 0);
	vpnd_reply_printf(&r, "peer: %s\n", "br1");
	vpnd_reply_printf(&r, "port %u", 51820u);
	assert_string_equal(r.buf, "peer: br1\nport 51820");
	assert_int_equal(r.len, strlen("peer: br1\nport 51820"));
	assert_false(r.error);
	assert_false(r.truncated);
	vpnd_reply_free(&r);
	assert_null(r.buf);
}

/* Many small appends force the buffer through several reallocations; every byte must
 * survive them in order. */
static void test_growth_keeps_content(void **state)
{
	struct vpnd_reply r;
	char expect[16];

	(void)state;
	vpnd_reply_init(&r);
	for (int i = 0; i < 10000; i++)
		vpnd_reply_printf(&r, "%05d\n", i);
	assert_int_equal(r.len, 60000);
	assert_true(r.cap > r.len);
	for (int i = 0; i < 10000; i += 997) {
		snprintf(expect, sizeof(expect), "%05d\n", i);
		assert_memory_equal(r.buf + 6 * i, expect, 6);
	}
	assert_int_equal(r.buf[r.len], '\0');
	vpnd_reply_free(&r);
}

/* One append much larger than the initial capacity, formatted in one go. */
static void test_large_single_printf(void **state)
{
	struct vpnd_reply r;
	size_t n = 100000;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	vpnd_reply_init(&r);
	vpnd_reply_printf(&r, "<%s>", big);
	assert_int_equal(r.len, n + 2);
	assert_int_equal(r.buf[0], '<');
	assert_int_equal(r.buf[n + 1], '>');
	assert_false(r.truncated);
	vpnd_reply_free(&r);
	free(big);
}

static void test_error_marks_and_adds_newline(void **state)
{
	struct vpnd_reply r;

	(void)state;
	vpnd_reply_init(&r);
	vpnd_reply_printf(&r, "partial\n");
	vpnd_reply_error(&r, "no peer named '%s'", "x");
	assert_true(r.error);
	assert_string_equal(r.buf, "partial\nno peer named 'x'\n");
	vpnd_reply_free(&r);
}

static void assert_ends_with_note(const struct vpnd_reply *r)
{
	size_t note = strlen(NOTE);

	assert_true(r->truncated);
	assert_true(r->len <= VPND_CTL_MAX_REPLY);
	assert_true(r->len >= note);
	assert_memory_equal(r->buf + r->len - note, NOTE, note);
	assert_int_equal(r->buf[r->len], '\0');
	/* The note is a line of its own. */
	if (r->len > note)
		assert_int_equal(r->buf[r->len - note - 1], '\n');
}

/* Lines past the cap: the cut falls at a line boundary, the note follows, and later
 * appends change nothing. */
static void test_cap_truncates_at_line(void **state)
{
	struct vpnd_reply r;
	const char *line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\n";
	size_t line_len = strlen(line), len;

	(void)state;
	vpnd_reply_init(&r);
	while (!r.truncated && r.len < 2 * (size_t)VPND_CTL_MAX_REPLY)
		vpnd_reply_printf(&r, "%s", line);
	assert_ends_with_note(&r);
	/* Everything before the note is whole lines. */
	assert_int_equal((r.len - strlen(NOTE)) % line_len, 0);
	assert_true(r.len > VPND_CTL_MAX_REPLY - 2 * line_len - strlen(NOTE));
	len = r.len;
	vpnd_reply_printf(&r, "more\n");
	vpnd_reply_json_string(&r, "more");
	assert_int_equal(r.len, len);
	/* An error after truncation is still an error. */
	vpnd_reply_error(&r, "late");
	assert_true(r.error);
	assert_int_equal(r.len, len);
	vpnd_reply_free(&r);
}

/* A single line larger than the cap, made of two-byte characters positioned so that a
 * naive cut would split one: the kept text must end on a whole character. */
static void test_cap_never_splits_utf8(void **state)
{
	struct vpnd_reply r;
	size_t n = VPND_CTL_MAX_REPLY + 10, kept;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	for (size_t off = 0; off < 2; off++) {
		big[0] = 'a';
		for (size_t i = off; i + 1 < n; i += 2) {
			big[i] = (char)0xc3; /* U+00E9 */
			big[i + 1] = (char)0xa9;
		}
		big[n - 1] = 'z';
		big[n] = '\0';
		vpnd_reply_init(&r);
		vpnd_reply_printf(&r, "%s", big);
		assert_ends_with_note(&r);
		kept = r.len - strlen(NOTE) - 1; /* before the newline added ahead of the note */
		assert_true(kept > VPND_CTL_MAX_REPLY / 2);
		/* The last kept byte ends a character: it is the second byte (0xa9) or the
		 * leading 'a', never a lead byte 0xc3. */
		assert_int_not_equal((unsigned char)r.buf[kept - 1], 0xc3);
		vpnd_reply_free(&r);
	}
	free(big);
}

/* Appending raw text through the JSON path also respects the cap. */
static void test_cap_through_json(void **state)
{
	struct vpnd_reply r;
	size_t n = 1 << 20;
	char *chunk = malloc(n + 1);

	(void)state;
	assert_non_null(chunk);
	memset(chunk, 'q', n);
	chunk[n] = '\0';
	vpnd_reply_init(&r);
	for (int i = 0; i < 20 && !r.truncated; i++) {
		vpnd_reply_json_string(&r, chunk);
		vpnd_reply_printf(&r, "\n");
	}
	assert_ends_with_note(&r);
	vpnd_reply_free(&r);
	free(chunk);
}

struct json_case {
	const char *in;
	const char *out;
};

static const struct json_case json_cases[] = {
    {"", "\"\""},
    {"br1", "\"br1\""},
    {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"a\nb\tc\rd", "\"a\\nb\\tc\\rd\""},
    {"\b\f", "\"\\b\\f\""},
    {"\x01", "\"\\u0001\""},
    {"x\x1fy", "\"x\\u001fy\""},
    {"\x7f", "\"\\u007f\""},
    {"/ stays", "\"/ stays\""},
    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},			      /* U+00E9, 2 bytes */
    {"\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""},		      /* U+20AC, 3 bytes */
    {"\xf0\x9d\x84\x9e", "\"\xf0\x9d\x84\x9e\""},	      /* U+1D11E, 4 bytes */
    {"\xef\xbf\xbf", "\"\xef\xbf\xbf\""},		      /* U+FFFF */
    {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},	      /* U+10FFFF, the last one */
    {"\xff", "\"\\ufffd\""},				      /* never valid */
    {"\xc0\x80", "\"\\ufffd\\ufffd\""},			      /* overlong NUL */
    {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},	      /* overlong '/' */
    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},	      /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* above U+10FFFF */
    {"\xe2\x82", "\"\\ufffd\\ufffd\""},			      /* cut short by the end */
    {"\xe2\x82x", "\"\\ufffd\\ufffdx\""},		      /* cut short by ASCII */
    {"\x80z", "\"\\ufffdz\""},				      /* lone continuation byte */
};

static void test_json_string_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		struct vpnd_reply r;

		vpnd_reply_init(&r);
		vpnd_reply_json_string(&r, json_cases[i].in);
		if (strcmp(r.buf, json_cases[i].out) != 0)
			fail_msg("case %zu: got %s, want %s", i, r.buf, json_cases[i].out);
		vpnd_reply_free(&r);
	}
}

static void test_json_string_null_and_context(void **state)
{
	struct vpnd_reply r;

	(void)state;
	vpnd_reply_init(&r);
	vpnd_reply_printf(&r, "{\"endpoint\": ");
	vpnd_reply_json_string(&r, NULL);
	vpnd_reply_printf(&r, ", \"name\": ");
	vpnd_reply_json_string(&r, "a\"b");
	vpnd_reply_printf(&r, "}");
	assert_string_equal(r.buf, "{\"endpoint\": null, \"name\": \"a\\\"b\"}");
	vpnd_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_printf_appends),
	    cmocka_unit_test(test_growth_keeps_content),
	    cmocka_unit_test(test_large_single_printf),
	    cmocka_unit_test(test_error_marks_and_adds_newline),
	    cmocka_unit_test(test_cap_truncates_at_line),
	    cmocka_unit_test(test_cap_never_splits_utf8),
	    cmocka_unit_test(test_cap_through_json),
	    cmocka_unit_test(test_json_string_table),
	    cmocka_unit_test(test_json_string_null_and_context),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
