/* The audit log verifier. It walks the chain line by line with one line of lookahead:
 * a chain break alone says only that something changed between two lines; the
 * neighbouring seq numbers and hashes say what (an edit, a removal, a swap), so the
 * report can name the line an operator has to look at. Detection never depends on that
 * diagnosis: any change to a signed line breaks a hash or a signature. */
#include "audit_verify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpnd/key.h"

struct text {
	char *buf;
	size_t cap;
	ssize_t len; /* -1: none */
};

struct walk {
	const struct audit_key *keys;
	size_t n_keys;
	audit_note_fn note;
	void *ctx;
	struct audit_verify_result *res;
	/* The chain so far. */
	bool have_prev;
	uint8_t prev_hash[VPND_AUDIT_HASH_LEN];
	uint64_t expected;
	bool prev_closed;
	uint64_t since_checkpoint;
	const char *prev_file;
	unsigned long prev_file_lines;
	/* The file being read. */
	const char *file;
	const struct audit_key *key;
};

static const uint8_t zero_hash[VPND_AUDIT_HASH_LEN];

static int fail(struct walk *w, const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct walk *w, const char *file, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	w->res->file = file;
	w->res->line = line;
	va_start(ap, fmt);
	vsnprintf(w->res->message, sizeof(w->res->message), fmt, ap);
	va_end(ap);
	return 1;
}

static void note(struct walk *w, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct walk *w, unsigned long line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!w->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->note(w->ctx, w->file, line, msg);
}

static const struct audit_key *find_key(const struct walk *w, const uint8_t fpr[VPND_AUDIT_FPR_LEN])
{
	for (size_t i = 0; i < w->n_keys; i++)
		if (memcmp(w->keys[i].fpr, fpr, VPND_AUDIT_FPR_LEN) == 0)
			return &w->keys[i];
	return NULL;
}

static void key_list(const struct walk *w, char *out, size_t len)
{
	char hex[2 * VPND_AUDIT_FPR_LEN + 1];
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < w->n_keys && used < len; i++) {
		vpnd_audit_hex(hex, w->keys[i].fpr, VPND_AUDIT_FPR_LEN);
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", hex);
	}
	if (!w->n_keys)
		snprintf(out, len, "none");
}

/* Why the line at `n` (seq l->seq) is not the record the chain expects next, judged by
 * the next line's seq. */
static int wrong_seq(struct walk *w, unsigned long n, const struct vpnd_audit_line *l,
		     const struct vpnd_audit_line *next)
{
	uint64_t e = w->expected;

	if (next && next->seq == e + 1)
		return fail(w, w->file, n,
			    "line %lu was edited: its seq is %" PRIu64 " where record %" PRIu64
			    " belongs",
			    n, l->seq, e);
	if (next && next->seq == e)
		return fail(w, w->file, n,
			    "line %lu is out of order: record %" PRIu64
			    " comes before record %" PRIu64 " (lines reordered)",
			    n, l->seq, e);
	if (l->seq > e && n == 1)
		return fail(w, w->file, n,
			    "records %" PRIu64 "..%" PRIu64
			    " are missing before line 1: removed from the end of %s, or a file "
			    "between it and this one was not given",
			    e, l->seq - 1, w->prev_file);
	if (l->seq == e + 1)
		return fail(w, w->file, n, "record %" PRIu64 " is missing before line %lu: removed",
			    e, n);
	if (l->seq > e)
		return fail(w, w->file, n,
			    "records %" PRIu64 "..%" PRIu64 " are missing before line %lu: removed",
			    e, l->seq - 1, n);
	return fail(w, w->file, n,
		    "line %lu is out of order: record %" PRIu64 " again after record %" PRIu64
		    " (lines reordered or repeated)",
		    n, l->seq, e - 1);
}

/* The line at n does not carry the hash of the line before it: which one changed? */
static int wrong_prev(struct walk *w, unsigned long n, const struct vpnd_audit_line *l, bool sig_ok,
		      const uint8_t hash[VPND_AUDIT_HASH_LEN], const struct vpnd_audit_line *next)
{
	/* The line itself is intact if its signature holds, or if the next line still
	 * carries its hash: then it is the one before that changed. */
	bool this_intact =
	    (l->has_sig && sig_ok) || (next && memcmp(next->prev, hash, VPND_AUDIT_HASH_LEN) == 0);

	if (n == 1 && this_intact)
		return fail(w, w->prev_file, w->prev_file_lines,
			    "line %lu was edited: %s does not continue from it (or the files are "
			    "not given in order)",
			    w->prev_file_lines, w->file);
	if (n == 1)
		return fail(w, w->file, 1,
			    "line 1 was edited: it does not carry the hash of the last line of %s",
			    w->prev_file);
	if (this_intact)
		return fail(w, w->file, n - 1,
			    "line %lu was edited: its hash is not the one line %lu records", n - 1,
			    n);
	if (!next)
		return fail(w, w->file, n,
			    "line %lu or line %lu was edited: the last line does not carry the "
			    "hash of the one before it",
			    n - 1, n);
	return fail(w, w->file, n, "line %lu was edited: it does not carry the hash of line %lu", n,
		    n - 1);
}

static bool parse_next(const struct text *t, struct vpnd_audit_line *l)
{
	return t->len > 0 && !vpnd_audit_parse_line(t->buf, (size_t)t->len, l);
}

static int check_line(struct walk *w, unsigned long n, const struct text *cur,
		      const struct text *nxt)
{
	struct vpnd_audit_line l, next_l, *next = NULL;
	uint8_t hash[VPND_AUDIT_HASH_LEN];
	const char *problem;
	bool genesis, sig_ok = false;
	char keys[256], hex[2 * VPND_AUDIT_FPR_LEN + 1];

	if (cur->buf[cur->len - 1] != '\n')
		return fail(w, w->file, n,
			    "line %lu is incomplete: the file was cut in the middle of it", n);
	problem = vpnd_audit_parse_line(cur->buf, (size_t)cur->len, &l);
	if (problem)
		return fail(w, w->file, n, "line %lu was edited: it is not an audit record (%s)", n,
			    problem);
	if (parse_next(nxt, &next_l))
		next = &next_l;
	vpnd_audit_hash(hash, cur->buf, (size_t)cur->len);

	if (n == 1) {
		if (!vpnd_audit_event_is(&l, VPND_AUDIT_EV_FILE))
			return fail(w, w->file, 1,
				    "line 1 is not an audit-file record: the start of the file was "
				    "removed");
		w->key = find_key(w, l.key_fpr);
		if (!w->key) {
			key_list(w, keys, sizeof(keys));
			vpnd_audit_hex(hex, l.key_fpr, VPND_AUDIT_FPR_LEN);
			return fail(
			    w, w->file, 1,
			    "the file is signed with audit key %s, not with a key given (%s)", hex,
			    keys);
		}
	} else if (vpnd_audit_event_is(&l, VPND_AUDIT_EV_FILE)) {
		return fail(w, w->file, n,
			    "line %lu is an audit-file record inside a file: inserted or moved", n);
	}
	if (l.has_sig)
		sig_ok = vpnd_audit_sig_valid(&l, cur->buf, w->key->pk);

	genesis = l.seq == 1 && memcmp(l.prev, zero_hash, sizeof(zero_hash)) == 0;
	if (!w->have_prev) {
		if ((l.seq == 1) != genesis)
			return fail(
			    w, w->file, n,
			    "line %lu was edited: record 1 and an all-zero prev go together", n);
		if (!genesis)
			note(w, n,
			     "the chain starts at record %" PRIu64
			     ", in a file that was not given: records before it are not verified",
			     l.seq);
		w->res->first_seq = l.seq;
	} else if (genesis) {
		return fail(w, w->file, n,
			    "a new chain starts at line %lu: the files before it belong to another "
			    "chain; verify them separately",
			    n);
	} else if (l.seq != w->expected) {
		return wrong_seq(w, n, &l, next);
	} else if (memcmp(l.prev, w->prev_hash, VPND_AUDIT_HASH_LEN) != 0) {
		return wrong_prev(w, n, &l, sig_ok, hash, next);
	}
	if (l.has_sig && !sig_ok)
		return fail(w, w->file, n,
			    "line %lu was edited: its checkpoint signature does not verify", n);

	if (w->have_prev && !w->prev_closed &&
	    (vpnd_audit_event_is(&l, VPND_AUDIT_EV_REOPEN) || n == 1) && w->since_checkpoint)
		note(w, n,
		     "the run before line %lu ended without closing the log (crash?): the %" PRIu64
		     " record%s before this line were signed only by a later run",
		     n, w->since_checkpoint, w->since_checkpoint == 1 ? "" : "s");

	memcpy(w->prev_hash, hash, sizeof(hash));
	w->have_prev = true;
	w->expected = l.seq + 1;
	w->prev_closed = vpnd_audit_event_is(&l, VPND_AUDIT_EV_CLOSE);
	w->res->last_seq = l.seq;
	if (l.has_sig) {
		w->res->records += w->since_checkpoint + 1;
		w->since_checkpoint = 0;
		w->res->checkpoint_file = w->file;
		w->res->checkpoint_line = n;
		memcpy(w->res->checkpoint_time, l.time, VPND_AUDIT_TIME_LEN);
		w->res->checkpoint_time[VPND_AUDIT_TIME_LEN] = '\0';
	} else {
		w->since_checkpoint++;
	}
	return 0;
}

static void read_line(FILE *f, struct text *t)
{
	t->len = getline(&t->buf, &t->cap, f);
}

static int walk_file(struct walk *w, const char *path)
{
	struct text a = {0}, b = {0}, *cur = &a, *nxt = &b, *tmp;
	unsigned long n = 0;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f) {
		w->res->file = path;
		snprintf(w->res->message, sizeof(w->res->message), "cannot open it: %s",
			 strerror(errno));
		return -1;
	}
	w->file = path;
	read_line(f, cur);
	if (cur->len <= 0 && !ferror(f))
		ret = fail(w, path, 0, "the file is empty");
	while (!ret && cur->len > 0) {
		read_line(f, nxt);
		ret = check_line(w, ++n, cur, nxt);
		tmp = cur;
		cur = nxt;
		nxt = tmp;
	}
	if (!ret && ferror(f)) {
		w->res->file = path;
		snprintf(w->res->message, sizeof(w->res->message), "cannot read it: %s",
			 strerror(errno));
		ret = -1;
	}
	fclose(f);
	free(a.buf);
	free(b.buf);
	w->prev_file = path;
	w->prev_file_lines = n;
	return ret;
}

int audit_verify(const char *const *files, size_t n, const struct audit_key *keys, size_t n_keys,
		 bool live, audit_note_fn note_fn, void *ctx, struct audit_verify_result *res)
{
	struct walk w = {.keys = keys, .n_keys = n_keys, .note = note_fn, .ctx = ctx, .res = res};
	int ret;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return fail(&w, "", 0, "no file to verify");
	for (size_t i = 0; i < n; i++) {
		ret = walk_file(&w, files[i]);
		if (ret)
			return ret;
	}
	memcpy(res->head, w.prev_hash, sizeof(res->head));
	if (w.prev_closed)
		return 0;
	if (live) {
		res->unsigned_records = w.since_checkpoint;
		return 0;
	}
	if (res->checkpoint_file)
		return fail(&w, w.prev_file, w.prev_file_lines,
			    "the log ends at line %lu without a closing checkpoint; the last "
			    "checkpoint is %s:%lu: lines after it were removed or added, vpnd "
			    "crashed, or it is still running (--live accepts that)",
			    w.prev_file_lines, res->checkpoint_file, res->checkpoint_line);
	return fail(&w, w.prev_file, w.prev_file_lines,
		    "the log ends at line %lu without any checkpoint: nothing in it is signed",
		    w.prev_file_lines);
}

int audit_key_read(const char *path, struct audit_key *key, char *why, size_t whylen)
{
	char buf[128];
	size_t len;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(why, whylen, "cannot open it: %s", strerror(errno));
		return -1;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if (!vpnd_key_from_base64(key->pk, buf)) {
		snprintf(why, whylen, "it does not hold one base64 public key");
		return -1;
	}
	vpnd_audit_fingerprint(key->fpr, key->pk);
	return 0;
}
