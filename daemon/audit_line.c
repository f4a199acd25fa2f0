/* Formatting one audit line. Values are JSON-escaped here and nowhere else: whatever a
 * peer name or a path holds, a record stays one line of valid JSON. */
#include "audit_line.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vpnd/audit.h"

struct out {
	char *buf;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n = c >= 0xc2 && c <= 0xdf   ? 2
		   : c >= 0xe0 && c <= 0xef ? 3
		   : c >= 0xf0 && c <= 0xf4 ? 4
					    : 0;
	unsigned char lo = 0x80, hi = 0xbf;

	if (!n || n > avail)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as a JSON string of at most VPND_AUDIT_VALUE_MAX input bytes; anything cut ends
 * in "..." so the cut is visible, bytes that are not UTF-8 become U+FFFD. */
static void put_json_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), used = 0;
	char esc[8];

	put(o, "\"", 1);
	while (left) {
		size_t n = 1;

		if (used >= VPND_AUDIT_VALUE_MAX) {
			put(o, "...", 3);
			break;
		}
		if (*p >= 0x80) {
			n = utf8_len(p, left);
			if (n) {
				put(o, (const char *)p, n);
			} else {
				put(o, "\\ufffd", 6);
				n = 1;
			}
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(o, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(o, esc, 6);
		} else {
			put(o, (const char *)p, 1);
		}
		p += n;
		left -= n;
		used += n;
	}
	put(o, "\"", 1);
}

bool vpnd_audit_valid_name(const char *s, bool field)
{
	size_t n = strlen(s);

	if (n == 0 || n > VPND_AUDIT_EVENT_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      (field ? *s == '_' : *s == '-')))
			return false;
	return true;
}

/* Now, as YYYY-MM-DDTHH:MM:SS.mmmZ in out (VPND_AUDIT_TIME_LEN + 1 bytes). */
static void now_text(char *out)
{
	static time_t cached_sec = -1;
	static char cached[VPND_AUDIT_TIME_LEN + 1];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* One gmtime_r a second, not one a record: the log has to take a flood. */
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	memcpy(out, cached, 19);
	snprintf(out + 19, 6, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

size_t vpnd_audit_format(char *buf, const struct vpnd_audit_line_spec *spec)
{
	struct out o = {.buf = buf, .cap = VPND_AUDIT_LINE_MAX};
	const struct vpnd_audit_field *f = spec->fields;
	char num[32], hex[2 * VPND_AUDIT_SIG_LEN + 1], now[VPND_AUDIT_TIME_LEN + 1];
	uint8_t msg[VPND_AUDIT_SIG_CONTEXT_LEN + VPND_AUDIT_HASH_LEN], sig[VPND_AUDIT_SIG_LEN];
	size_t fields_end;

	snprintf(num, sizeof(num), "%" PRIu64, spec->seq);
	now_text(now);
	puts_(&o, VPND_AUDIT_P_SEQ);
	puts_(&o, num);
	puts_(&o, VPND_AUDIT_P_TIME);
	puts_(&o, now);
	puts_(&o, VPND_AUDIT_P_EVENT);
	puts_(&o, spec->event);
	puts_(&o, "\"");
	if (spec->key_fpr) {
		vpnd_audit_hex(hex, spec->key_fpr, VPND_AUDIT_FPR_LEN);
		puts_(&o, VPND_AUDIT_P_KEY);
		puts_(&o, hex);
		puts_(&o, "\"");
	}
	for (size_t i = 0; i < spec->n_fields && i < VPND_AUDIT_FIELDS_MAX; i++) {
		fields_end = o.len;
		put(&o, ",\"", 2);
		puts_(&o, f[i].name);
		put(&o, "\":", 2);
		switch (f[i].type) {
		case VPND_AUDIT_T_STR:
			if (f[i].s)
				put_json_string(&o, f[i].s);
			else
				puts_(&o, "null");
			break;
		case VPND_AUDIT_T_UINT:
			snprintf(num, sizeof(num), "%" PRIu64, f[i].u);
			puts_(&o, num);
			break;
		case VPND_AUDIT_T_INT:
			snprintf(num, sizeof(num), "%" PRId64, f[i].i);
			puts_(&o, num);
			break;
		case VPND_AUDIT_T_BOOL:
			puts_(&o, f[i].u ? "true" : "false");
			break;
		}
		/* Keep room for the chain fields: a record loses details, never its link. */
		if (o.full || o.cap - o.len < 512) {
			o.len = fields_end;
			o.full = false;
			puts_(&o, ",\"truncated\":true");
			break;
		}
	}
	vpnd_audit_hex(hex, spec->prev, VPND_AUDIT_HASH_LEN);
	puts_(&o, VPND_AUDIT_P_PREV);
	puts_(&o, hex);
	puts_(&o, "\"");
	if (spec->signer) {
		vpnd_audit_sig_message(msg, buf, o.len);
		vpnd_audit_key_sign(spec->signer, sig, msg, sizeof(msg));
		vpnd_audit_hex(hex, sig, VPND_AUDIT_SIG_LEN);
		puts_(&o, VPND_AUDIT_P_SIG);
		puts_(&o, hex);
		puts_(&o, "\"");
	}
	puts_(&o, "}\n");
	return o.len;
}
