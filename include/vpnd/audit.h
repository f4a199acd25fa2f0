/* The audit log's file format, shared by its writer (daemon/audit.c) and its verifier
 * (ctl/audit_verify.c) so that both hash, parse and sign exactly the same bytes.
 *
 * A log file is a sequence of lines, each one JSON object ended by '\n':
 *
 *   {"seq":SEQ,"time":"TIME","event":"EVENT"FIELDS,"prev":"PREV"}\n
 *   {"seq":SEQ,"time":"TIME","event":"EVENT"FIELDS,"prev":"PREV","sig":"SIG"}\n
 *
 *   SEQ     the record's number in the chain, decimal without leading zeros: 1 for the first
 *           line of a chain, one more for every line after it, across rotated files. So a
 *           line's SEQ is also the count of records up to and including it.
 *   TIME    UTC wall clock, YYYY-MM-DDTHH:MM:SS.mmmZ
 *   EVENT   the event's name, [a-z0-9-], at most VPND_AUDIT_EVENT_MAX characters
 *   FIELDS  zero or more ,"name":value members (the event's details); never parsed by the
 *           verifier
 *   PREV    lowercase hex of the BLAKE2b-256 hash (libsodium crypto_generichash, no key)
 *           of the exact bytes of the previous line, its '\n' included; 64 zeros on the
 *           first line of a chain. The first line of a rotated file carries the hash of
 *           the last line of the file before it.
 *   SIG     only on checkpoints (events VPND_AUDIT_EV_CHECKPOINT and VPND_AUDIT_EV_CLOSE):
 *           lowercase hex of the Ed25519 signature (crypto_sign_detached) by the audit key
 *           of the message  VPND_AUDIT_SIG_CONTEXT || BLAKE2b-256(S)  where S is the line's
 *           bytes before ,"sig": -- that is everything up to and including PREV's closing
 *           quote. S holds SEQ and PREV, so a checkpoint signs the count of records and
 *           the chain head, and through the chain every line before it.
 *
 * The first line of every file is the event VPND_AUDIT_EV_FILE whose first field is
 * "key":"FPR", FPR the lowercase hex of the audit public key's fingerprint
 * (BLAKE2b-128 of its 32 bytes): the key that signs every checkpoint of that file. One
 * file, one key: vpnd starts a new file when its key changes.
 *
 * A verifier locates only these fixed parts; whatever else a line says is hashed, never
 * interpreted. Lines are at most VPND_AUDIT_LINE_MAX bytes. */
#ifndef VPND_AUDIT_H
#define VPND_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define VPND_AUDIT_HASH_LEN	   32
#define VPND_AUDIT_SIG_LEN	   64 /* crypto_sign_BYTES */
#define VPND_AUDIT_PUBKEY_LEN	   32 /* crypto_sign_PUBLICKEYBYTES */
#define VPND_AUDIT_FPR_LEN	   16
#define VPND_AUDIT_LINE_MAX	   65536
#define VPND_AUDIT_EVENT_MAX	   64
#define VPND_AUDIT_SIG_CONTEXT	   "vpnd-audit-checkpoint-v1"
#define VPND_AUDIT_SIG_CONTEXT_LEN 24

/* Events with a meaning for the chain itself. */
#define VPND_AUDIT_EV_FILE	 "audit-file"	/* first line of every file */
#define VPND_AUDIT_EV_REOPEN	 "audit-reopen" /* vpnd started again on an existing file */
#define VPND_AUDIT_EV_CHECKPOINT "checkpoint"	/* periodic, signed */
#define VPND_AUDIT_EV_CLOSE	 "audit-close"	/* signed; ends a file at rotation and stop */

/* Fixed parts of a line, in order. */
#define VPND_AUDIT_P_SEQ    "{\"seq\":"
#define VPND_AUDIT_P_TIME   ",\"time\":\""
#define VPND_AUDIT_P_EVENT  "\",\"event\":\""
#define VPND_AUDIT_P_KEY    ",\"key\":\""
#define VPND_AUDIT_P_PREV   ",\"prev\":\""
#define VPND_AUDIT_P_SIG    ",\"sig\":\""
#define VPND_AUDIT_TIME_LEN 24

/* What a verifier learns from one line. Pointers point into the line. */
struct vpnd_audit_line {
	uint64_t seq;
	const char *time;
	const char *event;
	size_t event_len;
	uint8_t prev[VPND_AUDIT_HASH_LEN];
	bool has_key;
	uint8_t key_fpr[VPND_AUDIT_FPR_LEN];
	bool has_sig;
	uint8_t sig[VPND_AUDIT_SIG_LEN];
	size_t signed_len; /* bytes of the line the signature covers */
};

static inline bool vpnd_audit_event_is(const struct vpnd_audit_line *l, const char *name)
{
	return l->event_len == strlen(name) && memcmp(l->event, name, l->event_len) == 0;
}

static inline bool vpnd_audit_is_checkpoint(const struct vpnd_audit_line *l)
{
	return vpnd_audit_event_is(l, VPND_AUDIT_EV_CHECKPOINT) ||
	       vpnd_audit_event_is(l, VPND_AUDIT_EV_CLOSE);
}

static inline void vpnd_audit_hash(uint8_t out[VPND_AUDIT_HASH_LEN], const char *bytes, size_t len)
{
	crypto_generichash(out, VPND_AUDIT_HASH_LEN, (const unsigned char *)bytes, len, NULL, 0);
}

static inline void vpnd_audit_fingerprint(uint8_t out[VPND_AUDIT_FPR_LEN],
					  const uint8_t pk[VPND_AUDIT_PUBKEY_LEN])
{
	crypto_generichash(out, VPND_AUDIT_FPR_LEN, pk, VPND_AUDIT_PUBKEY_LEN, NULL, 0);
}

/* Lowercase hex; out holds 2 * len + 1 bytes. */
static inline void vpnd_audit_hex(char *out, const uint8_t *bin, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Exactly 2 * len lowercase hex digits: one spelling per value, so a line's bytes cannot
 * change while what it says stays the same. */
static inline bool vpnd_audit_unhex(uint8_t *bin, const char *in, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char c = in[i];
		unsigned v;

		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else
			return false;
		if (i % 2 == 0)
			bin[i / 2] = (uint8_t)(v << 4);
		else
			bin[i / 2] |= (uint8_t)v;
	}
	return true;
}

/* The 56-byte message a checkpoint's signature is made over. */
static inline void
vpnd_audit_sig_message(uint8_t msg[VPND_AUDIT_SIG_CONTEXT_LEN + VPND_AUDIT_HASH_LEN],
		       const char *line, size_t signed_len)
{
	memcpy(msg, VPND_AUDIT_SIG_CONTEXT, VPND_AUDIT_SIG_CONTEXT_LEN);
	vpnd_audit_hash(msg + VPND_AUDIT_SIG_CONTEXT_LEN, line, signed_len);
}

static inline bool vpnd_audit_sig_valid(const struct vpnd_audit_line *l, const char *line,
					const uint8_t pk[VPND_AUDIT_PUBKEY_LEN])
{
	uint8_t msg[VPND_AUDIT_SIG_CONTEXT_LEN + VPND_AUDIT_HASH_LEN];

	vpnd_audit_sig_message(msg, line, l->signed_len);
	return crypto_sign_verify_detached(l->sig, msg, sizeof(msg), pk) == 0;
}

/* Does line[*pos..] start with lit? Advances *pos past it if so. */
static inline bool vpnd_audit__lit(const char *line, size_t len, size_t *pos, const char *lit)
{
	size_t n = strlen(lit);

	if (len - *pos < n || memcmp(line + *pos, lit, n) != 0)
		return false;
	*pos += n;
	return true;
}

/* Locate the fixed parts of one line (len bytes, the final '\n' included). NULL on
 * success, else why the line is not an audit record. */
static inline const char *vpnd_audit_parse_line(const char *line, size_t len,
						struct vpnd_audit_line *l)
{
	static const size_t prev_tail = sizeof(VPND_AUDIT_P_PREV) - 1 + 2 * VPND_AUDIT_HASH_LEN + 1;
	static const size_t sig_tail = sizeof(VPND_AUDIT_P_SIG) - 1 + 2 * VPND_AUDIT_SIG_LEN + 1;
	size_t pos = 0, end, start;
	unsigned digits = 0;

	memset(l, 0, sizeof(*l));
	if (len > VPND_AUDIT_LINE_MAX)
		return "longer than the longest record";
	if (len < 2 || line[len - 1] != '\n' || line[len - 2] != '}')
		return "does not end in }";
	if (memchr(line, '\n', len - 1))
		return "holds a newline";
	if (!vpnd_audit__lit(line, len, &pos, VPND_AUDIT_P_SEQ))
		return "does not start with {\"seq\":";
	for (; pos < len && line[pos] >= '0' && line[pos] <= '9'; pos++, digits++) {
		unsigned d = (unsigned)(line[pos] - '0');

		if (digits == 0 && d == 0)
			return "seq has a leading zero";
		if (l->seq > (UINT64_MAX - d) / 10)
			return "seq out of range";
		l->seq = l->seq * 10 + d;
	}
	if (digits == 0)
		return "seq is not a number";
	if (!vpnd_audit__lit(line, len, &pos, VPND_AUDIT_P_TIME))
		return "no time after seq";
	l->time = line + pos;
	if (len - pos < VPND_AUDIT_TIME_LEN)
		return "time cut short";
	for (size_t i = 0; i < VPND_AUDIT_TIME_LEN; i++) {
		char c = line[pos + i];
		if (!((c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == 'T' ||
		      c == 'Z'))
			return "time is not YYYY-MM-DDTHH:MM:SS.mmmZ";
	}
	pos += VPND_AUDIT_TIME_LEN;
	if (!vpnd_audit__lit(line, len, &pos, VPND_AUDIT_P_EVENT))
		return "no event after time";
	l->event = line + pos;
	while (pos < len && ((line[pos] >= 'a' && line[pos] <= 'z') ||
			     (line[pos] >= '0' && line[pos] <= '9') || line[pos] == '-'))
		pos++;
	l->event_len = (size_t)(line + pos - l->event);
	if (l->event_len == 0 || l->event_len > VPND_AUDIT_EVENT_MAX)
		return "event name is not [a-z0-9-]{1,64}";
	if (!vpnd_audit__lit(line, len, &pos, "\""))
		return "event name is not [a-z0-9-]{1,64}";
	if (vpnd_audit_event_is(l, VPND_AUDIT_EV_FILE)) {
		if (!vpnd_audit__lit(line, len, &pos, VPND_AUDIT_P_KEY) ||
		    len - pos < 2 * VPND_AUDIT_FPR_LEN + 1 ||
		    !vpnd_audit_unhex(l->key_fpr, line + pos, VPND_AUDIT_FPR_LEN) ||
		    line[pos + 2 * VPND_AUDIT_FPR_LEN] != '"')
			return "audit-file record without \"key\":\"FINGERPRINT\"";
		pos += 2 * VPND_AUDIT_FPR_LEN + 1;
		l->has_key = true;
	}

	/* From the end: [,"sig":"SIG"] } \n, and before that ,"prev":"PREV". */
	end = len - 2;
	if (end >= pos + prev_tail + sig_tail &&
	    memcmp(line + end - sig_tail, VPND_AUDIT_P_SIG, sizeof(VPND_AUDIT_P_SIG) - 1) == 0) {
		start = end - sig_tail + sizeof(VPND_AUDIT_P_SIG) - 1;
		if (!vpnd_audit_unhex(l->sig, line + start, VPND_AUDIT_SIG_LEN) ||
		    line[end - 1] != '"')
			return "sig is not 128 lowercase hex digits";
		l->has_sig = true;
		end -= sig_tail;
		l->signed_len = end;
	}
	if (end < pos + prev_tail ||
	    memcmp(line + end - prev_tail, VPND_AUDIT_P_PREV, sizeof(VPND_AUDIT_P_PREV) - 1) != 0)
		return "does not end with \"prev\"";
	start = end - prev_tail + sizeof(VPND_AUDIT_P_PREV) - 1;
	if (!vpnd_audit_unhex(l->prev, line + start, VPND_AUDIT_HASH_LEN) || line[end - 1] != '"')
		return "prev is not 64 lowercase hex digits";
	if (l->has_sig != vpnd_audit_is_checkpoint(l))
		return l->has_sig ? "signature on a record that is not a checkpoint"
				  : "checkpoint without a signature";
	return NULL;
}

#endif
