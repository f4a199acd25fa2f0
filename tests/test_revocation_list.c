/* The revocation list file: keys with and without comments are read, comments and blank
 * lines kept; every malformed line is an error naming FILE:LINE (and never quoting the
 * text, which could be a private key); add and remove keep the rest of the file as
 * written; a save is atomic, 0600, and reads back the same. A temp dir holds the files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/revocation.h"
#include "daemon/state.h"
#include "vpnd/key.h"

#define TEMP_DIR_PREFIX "test_revocation"
#define TEMP_DIR_FILE	"vpn0.revoked"
#include "temp_dir.h"

static void key_of(uint8_t key[32], uint8_t fill)
{
	memset(key, fill, 32);
}

static const char *b64_of(char buf[VPND_KEY_B64_LEN + 1], uint8_t fill)
{
	uint8_t key[32];

	key_of(key, fill);
	vpnd_key_to_base64(buf, key);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	char *text = NULL;

	assert_int_equal(vpnd_state_read(path, &text), 0);
	return text;
}

static void test_parse_keys_comments_blanks(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;
	char a[VPND_KEY_B64_LEN + 1], b[VPND_KEY_B64_LEN + 1], *text;
	uint8_t ka[32], kb[32], kc[32];
	(void)state;

	b64_of(a, 0x11);
	b64_of(b, 0x22);
	assert_true(asprintf(&text,
			     "# header\n"
			     "\n"
			     "%s # br1, revoked at 2024-05-01T12:00:00Z by uid 0\n"
			     "   \t\n"
			     "\t%s\r\n" /* CRLF and indentation are fine */
			     "  # indented comment",
			     a, b) > 0);
	assert_int_equal(vpnd_revocations_parse(&list, "F", text, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_int_equal(list.n_lines, 6);
	assert_int_equal(vpnd_revocations_count(&list), 2);
	key_of(ka, 0x11);
	key_of(kb, 0x22);
	key_of(kc, 0x33);
	assert_true(vpnd_revocations_has(&list, ka));
	assert_true(vpnd_revocations_has(&list, kb));
	assert_false(vpnd_revocations_has(&list, kc));
	vpnd_revocations_free(&list);
	free(text);
}

static void test_malformed_lines_name_file_and_line(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;
	char a[VPND_KEY_B64_LEN + 1], *text;
	(void)state;

	b64_of(a, 0x11);
	assert_true(asprintf(&text,
			     "%s\n"
			     "not-a-key\n"
			     "%s extra # two words\n"
			     "%.43s\n" /* one character short */
			     "%s\n",
			     a, a, a, a) > 0);
	assert_int_equal(vpnd_revocations_parse(&list, "/x/vpn0.revoked", text, &errs), -EINVAL);
	assert_int_equal(list.n_lines, 0);
	assert_int_equal(errs.count, 3);
	assert_non_null(strstr(errs.lines[0], "/x/vpn0.revoked:2: not a public key"));
	assert_non_null(strstr(errs.lines[1], "/x/vpn0.revoked:3: more than one word"));
	assert_non_null(strstr(errs.lines[2], "/x/vpn0.revoked:4: not a public key"));
	assert_non_null(strstr(errs.lines[2], "43 characters"));
	/* What was written there is never repeated. */
	assert_null(strstr(errs.lines[0], "not-a-key"));
	assert_null(strstr(errs.lines[2], "EREREREREREREREREREREREREREREREREREREREREREREQ"));
	vpnd_config_errors_free(&errs);
	free(text);
}

static void test_private_key_is_not_quoted(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;
	const char *secret = "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNl\n";
	(void)state;

	/* Base64 of the wrong length: refused, and not shown. */
	assert_int_equal(vpnd_revocations_parse(&list, "F", secret, &errs), -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_null(strstr(errs.lines[0], "c2Vjc"));
	vpnd_config_errors_free(&errs);
}

static void test_missing_file_is_empty(void **state)
{
	struct dir *d = *state;
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;

	assert_int_equal(vpnd_revocations_load(&list, d->file, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_int_equal(vpnd_revocations_count(&list), 0);
	vpnd_revocations_free(&list);
}

static void test_unreadable_is_an_error(void **state)
{
	struct dir *d = *state;
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;

	/* A directory where the list should be: not silently an empty list. */
	assert_int_equal(mkdir(d->file, 0700), 0);
	assert_true(vpnd_revocations_load(&list, d->file, &errs) < 0);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.lines[0], d->file));
	assert_non_null(strstr(errs.lines[0], "cannot read"));
	vpnd_config_errors_free(&errs);
	assert_int_equal(rmdir(d->file), 0);
}

static void test_add_remove_keep_the_rest(void **state)
{
	struct dir *d = *state;
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list;
	char a[VPND_KEY_B64_LEN + 1], b[VPND_KEY_B64_LEN + 1], *text, *want;
	uint8_t ka[32], kb[32];
	struct stat st;

	b64_of(a, 0x11);
	b64_of(b, 0x22);
	key_of(ka, 0x11);
	key_of(kb, 0x22);
	/* A list written by an administrator, with remarks of their own. */
	assert_true(asprintf(&text, "# ours\n%s # old branch\n# keep me\n", a) > 0);
	write_file(d->file, text);
	free(text);
	assert_int_equal(vpnd_revocations_load(&list, d->file, &errs), 0);
	assert_int_equal(vpnd_revocations_add(&list, ka, "again"), -EEXIST);
	assert_int_equal(vpnd_revocations_add(&list, kb, "br1, revoked at T by uid 0"), 0);
	assert_int_equal(vpnd_revocations_save(&list, d->file), 0);
	vpnd_revocations_free(&list);

	text = read_file(d->file);
	assert_true(
	    asprintf(&want, "# ours\n%s # old branch\n# keep me\n%s # br1, revoked at T by uid 0\n",
		     a, b) > 0);
	assert_string_equal(text, want);
	free(text);
	free(want);
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(vpnd_revocations_load(&list, d->file, &errs), 0);
	assert_int_equal(vpnd_revocations_remove(&list, ka), 1);
	assert_int_equal(vpnd_revocations_remove(&list, ka), -ENOENT);
	assert_int_equal(vpnd_revocations_save(&list, d->file), 0);
	vpnd_revocations_free(&list);
	text = read_file(d->file);
	assert_true(asprintf(&want, "# ours\n# keep me\n%s # br1, revoked at T by uid 0\n", b) > 0);
	assert_string_equal(text, want);
	free(text);
	free(want);
}

static void test_new_list_has_header_and_comment_is_one_line(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations list = {0}, back;
	char a[VPND_KEY_B64_LEN + 1], *text;
	uint8_t ka[32];
	size_t len;
	(void)state;

	key_of(ka, 0x11);
	b64_of(a, 0x11);
	assert_int_equal(vpnd_revocations_add(&list, ka, "evil\nname # x"), 0);
	text = vpnd_revocations_text(&list, &len);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "# vpnd revocation list", 22), 0);
	assert_non_null(strstr(text, a));
	assert_non_null(strstr(text, "evil?name # x\n"));
	/* It reads back as one key. */
	assert_int_equal(vpnd_revocations_parse(&back, "F", text, &errs), 0);
	assert_int_equal(vpnd_revocations_count(&back), 1);
	assert_true(vpnd_revocations_has(&back, ka));
	vpnd_revocations_free(&back);
	vpnd_revocations_free(&list);
	free(text);
}

static void test_save_replaces_atomically(void **state)
{
	struct dir *d = *state;
	struct vpnd_revocations list = {0};
	uint8_t ka[32];
	struct stat before, after;
	char *text, link_path[160];

	/* An existing file with a lax mode, and a hard link to it: the save makes a new
	 * inode (rename over it), so the old content stays whole under the link. */
	write_file(d->file, "# old\n");
	assert_int_equal(chmod(d->file, 0644), 0);
	snprintf(link_path, sizeof(link_path), "%s/link", d->path);
	assert_int_equal(link(d->file, link_path), 0);
	assert_int_equal(stat(d->file, &before), 0);
	key_of(ka, 0x44);
	assert_int_equal(vpnd_revocations_add(&list, ka, NULL), 0);
	assert_int_equal(vpnd_revocations_save(&list, d->file), 0);
	assert_int_equal(stat(d->file, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	text = read_file(link_path);
	assert_string_equal(text, "# old\n");
	free(text);
	unlink(link_path);
	vpnd_revocations_free(&list);
}

static void test_save_makes_the_state_directory(void **state)
{
	struct dir *d = *state;
	struct vpnd_revocations list = {0};
	char sub[160], file[200];
	uint8_t ka[32];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/state", d->path);
	snprintf(file, sizeof(file), "%s/vpn0.revoked", sub);
	key_of(ka, 0x55);
	assert_int_equal(vpnd_revocations_add(&list, ka, NULL), 0);
	assert_int_equal(vpnd_revocations_save(&list, file), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Not a whole missing tree, though. */
	snprintf(file, sizeof(file), "%s/a/b/vpn0.revoked", d->path);
	assert_int_equal(vpnd_revocations_save(&list, file), -ENOENT);
	vpnd_revocations_free(&list);
	unlink(file);
	snprintf(file, sizeof(file), "%s/vpn0.revoked", sub);
	unlink(file);
	rmdir(sub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_keys_comments_blanks),
	    cmocka_unit_test(test_malformed_lines_name_file_and_line),
	    cmocka_unit_test(test_private_key_is_not_quoted),
	    cmocka_unit_test_setup_teardown(test_missing_file_is_empty, dir_up, dir_down),
	    cmocka_unit_test_setup_teardown(test_unreadable_is_an_error, dir_up, dir_down),
	    cmocka_unit_test_setup_teardown(test_add_remove_keep_the_rest, dir_up, dir_down),
	    cmocka_unit_test(test_new_list_has_header_and_comment_is_one_line),
	    cmocka_unit_test_setup_teardown(test_save_replaces_atomically, dir_up, dir_down),
	    cmocka_unit_test_setup_teardown(test_save_makes_the_state_directory, dir_up, dir_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
