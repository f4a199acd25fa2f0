/* A control reply body that grows as handlers print into it, up to VPND_CTL_MAX_REPLY.
 * Past the cap the text is cut at a line (or at least a UTF-8 character) boundary and a
 * final "(output truncated)" line says so: a client always gets well-formed text and
 * the daemon never holds more than the cap per client. */
#include "reply.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnd/control.h"

#define TRUNCATED_NOTE "(output truncated)\n"
#define NOTE_LEN       (sizeof(TRUNCATED_NOTE) - 1)
/* Content may fill the cap except for the note and the newline that may precede it. */
#define CONTENT_MAX (VPND_CTL_MAX_REPLY - NOTE_LEN - 1)
#define INITIAL_CAP 512

void vpnd_reply_init(struct vpnd_reply *r)
{
	memset(r, 0, sizeof(*r));
}

void vpnd_reply_free(struct vpnd_reply *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Make room for `len` bytes of text plus the terminating NUL. */
static bool reserve(struct vpnd_reply *r, size_t len)
{
	size_t cap = r->cap ? r->cap : INITIAL_CAP;
	char *buf;

	if (len + 1 <= r->cap)
		return true;
	while (cap < len + 1)
		cap *= 2;
	if (cap > VPND_CTL_MAX_REPLY + 1)
		cap = VPND_CTL_MAX_REPLY + 1;
	if (cap < len + 1)
		return false;
	buf = realloc(r->buf, cap);
	if (!buf)
		return false;
	r->buf = buf;
	r->cap = cap;
	return true;
}

/* Where to cut s to at most len bytes without splitting a UTF-8 character: if the last
 * character before len is incomplete, cut before its lead byte. */
static size_t utf8_boundary(const char *s, size_t len)
{
	size_t k = 0, need;
	unsigned char lead;

	while (k < 3 && k < len && ((unsigned char)s[len - 1 - k] & 0xc0) == 0x80)
		k++;
	if (k == len)
		return len; /* nothing but continuation bytes: not UTF-8, cut where asked */
	lead = (unsigned char)s[len - 1 - k];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return k + 1 < need ? len - 1 - k : len;
}

/* Keep at most `keep` bytes of content, cut at the last line boundary if there is one,
 * and append the note. Later appends are ignored. */
static void truncate_with_note(struct vpnd_reply *r, size_t keep)
{
	char *nl;

	r->truncated = true;
	if (!reserve(r, keep + 1 + NOTE_LEN)) {
		/* Out of memory: make room for the note inside what we already have. */
		if (r->cap < NOTE_LEN + 2 && !reserve(r, NOTE_LEN + 1)) {
			if (r->buf)
				r->buf[0] = '\0';
			r->len = 0;
			return;
		}
		if (keep > r->cap - NOTE_LEN - 2)
			keep = r->cap - NOTE_LEN - 2;
	}
	if (keep > r->len)
		keep = r->len;
	nl = keep ? memrchr(r->buf, '\n', keep) : NULL;
	keep = nl ? (size_t)(nl - r->buf) + 1 : utf8_boundary(r->buf, keep);
	r->len = keep;
	if (r->len && r->buf[r->len - 1] != '\n')
		r->buf[r->len++] = '\n';
	memcpy(r->buf + r->len, TRUNCATED_NOTE, NOTE_LEN + 1);
	r->len += NOTE_LEN;
}

static void append(struct vpnd_reply *r, const char *s, size_t n)
{
	size_t fit = n;

	if (r->truncated)
		return;
	if (r->len + n > CONTENT_MAX)
		fit = CONTENT_MAX - r->len;
	if (!reserve(r, r->len + fit)) {
		truncate_with_note(r, r->len);
		return;
	}
	memcpy(r->buf + r->len, s, fit);
	r->len += fit;
	r->buf[r->len] = '\0';
	if (fit < n)
		truncate_with_note(r, r->len);
}

static void append_v(struct vpnd_reply *r, const char *fmt, va_list ap)
{
	size_t room = r->cap - r->len, want;
	va_list copy;
	int n;

	if (r->truncated)
		return;
	va_copy(copy, ap);
	n = vsnprintf(r->buf ? r->buf + r->len : NULL, room, fmt, copy);
	va_end(copy);
	if (n < 0) {
		/* An encoding error: nothing sensible was printed. */
		if (r->buf)
			r->buf[r->len] = '\0';
		return;
	}
	if ((size_t)n < room && r->len + (size_t)n <= CONTENT_MAX) {
		r->len += (size_t)n;
		return;
	}
	want = r->len + (size_t)n <= CONTENT_MAX ? r->len + (size_t)n : CONTENT_MAX;
	if (!reserve(r, want)) {
		if (r->buf)
			r->buf[r->len] = '\0';
		truncate_with_note(r, r->len);
		return;
	}
	vsnprintf(r->buf + r->len, want - r->len + 1, fmt, ap);
	if (r->len + (size_t)n <= CONTENT_MAX) {
		r->len += (size_t)n;
		return;
	}
	r->len = want;
	truncate_with_note(r, r->len);
}

void vpnd_reply_printf(struct vpnd_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append_v(r, fmt, ap);
	va_end(ap);
}

void vpnd_reply_error(struct vpnd_reply *r, const char *fmt, ...)
{
	va_list ap;

	r->error = true;
	va_start(ap, fmt);
	append_v(r, fmt, ap);
	va_end(ap);
	append(r, "\n", 1);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

void vpnd_reply_json_string(struct vpnd_reply *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	if (!s) {
		append(r, "null", 4);
		return;
	}
	append(r, "\"", 1);
	while (*p) {
		/* Copy the longest stretch that needs no escaping in one go. */
		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\' && *p != 0x7f && *p < 0x80; p++)
			;
		if (p > run)
			append(r, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		if (*p >= 0x80) {
			size_t n = utf8_sequence(p);

			if (n) {
				append(r, (const char *)p, n);
				p += n;
			} else {
				/* Not UTF-8: the JSON must stay valid, so say so visibly. */
				append(r, "\\ufffd", 6);
				p++;
			}
			continue;
		}
		switch (*p) {
		case '"':
			append(r, "\\\"", 2);
			break;
		case '\\':
			append(r, "\\\\", 2);
			break;
		case '\n':
			append(r, "\\n", 2);
			break;
		case '\t':
			append(r, "\\t", 2);
			break;
		case '\r':
			append(r, "\\r", 2);
			break;
		case '\b':
			append(r, "\\b", 2);
			break;
		case '\f':
			append(r, "\\f", 2);
			break;
		default:
			vpnd_reply_printf(r, "\\u%04x", *p);
			break;
		}
		p++;
	}
	append(r, "\"", 1);
}
