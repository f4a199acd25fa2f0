/* The audit log: what daemon/audit.c writes, ctl/audit_verify.c verifies, in a temp dir.
 * Every kind of tampering the verifier promises to catch is done to a copy of a real
 * log and must be reported at the right line; every situation the writer promises to
 * survive (restart, crash, corrupt tail, new key, full disk, rotation) must leave a log
 * that verifies. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/audit_verify.h"
#include "daemon/audit.h"
#include "daemon/audit_events.h"
#include "daemon/audit_line.h"
#include "vpnd/audit.h"
#include "vpnd/key.h"

static char dir[256], log_path[300], key_path[300], pub_path[310];

/* ---- helpers ---- */

struct lines {
	char **v;
	size_t n;
};

static void read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	l->v = NULL;
	l->n = 0;
	while ((n = getline(&buf, &cap, f)) > 0) {
		l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
		assert_non_null(l->v);
		l->v[l->n++] = strndup(buf, (size_t)n);
	}
	free(buf);
	fclose(f);
}

static void write_lines(const char *path, const struct lines *l)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i])
			fputs(l->v[i], f);
	fclose(f);
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void copy_file(const char *from, const char *to)
{
	struct lines l;

	read_lines(from, &l);
	write_lines(to, &l);
	free_lines(&l);
}

static struct audit_key load_pub(const char *path)
{
	struct audit_key k;
	char why[128];

	if (audit_key_read(path, &k, why, sizeof(why)) < 0)
		fail_msg("%s: %s", path, why);
	return k;
}

static unsigned notes;
static char last_note[512];

static void count_note(void *ctx, const char *file, unsigned long line, const char *msg)
{
	(void)ctx;
	notes++;
	snprintf(last_note, sizeof(last_note), "%s:%lu: %s", file, line, msg);
}

/* Verify files with the current public key; returns audit_verify's result. */
static int verify_with(const char *const *files, size_t n, const struct audit_key *keys, size_t nk,
		       bool live, struct audit_verify_result *res)
{
	notes = 0;
	last_note[0] = '\0';
	return audit_verify(files, n, keys, nk, live, count_note, NULL, res);
}

static int verify1(const char *path, struct audit_verify_result *res)
{
	struct audit_key k = load_pub(pub_path);

	return verify_with(&path, 1, &k, 1, false, res);
}

static void expect_failure_at(const char *path, unsigned long line, const char *words)
{
	struct audit_verify_result res;

	if (verify1(path, &res) != 1)
		fail_msg("%s verified, expected a failure at line %lu", path, line);
	if (res.line != line || !strstr(res.message, words))
		fail_msg("expected line %lu '%s', got %s:%lu: %s", line, words, res.file, res.line,
			 res.message);
}

static void open_log(uint64_t rotate_size)
{
	struct vpnd_audit_settings s = {
	    .path = log_path, .key_file = key_path, .rotate_size = rotate_size};

	assert_int_equal(vpnd_audit_open(&s, -1), 0);
}

static void some_events(unsigned n)
{
	static const uint8_t pk[32] = {1, 2, 3};

	for (unsigned i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			vpnd_audit_event("handshake-completed", VPND_AUDIT_STR("peer", "br1"),
					 VPND_AUDIT_STR("role", "initiator"));
			break;
		case 1:
			vpnd_audit_peer("peer-added", "br2", pk);
			break;
		case 2:
			vpnd_audit_control(0, 2, (char *[]){"show", "hq"}, true);
			break;
		default:
			vpnd_audit_event("test-event", VPND_AUDIT_UINT("i", i),
					 VPND_AUDIT_INT("neg", -5), VPND_AUDIT_BOOL("flag", true));
			break;
		}
	}
}

/* A log of 4 files' worth is too slow to make per test; one closed file is the norm. */
static void make_log(unsigned events)
{
	open_log(1ULL << 30);
	some_events(events);
	vpnd_audit_tick();
	some_events(events);
	vpnd_audit_close();
}

static int setup(void **state)
{
	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	return sodium_init() < 0 ? -1 : 0;
}

static int fresh_dir(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/vpnd-audit-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(log_path, sizeof(log_path), "%s/state/vpn0.audit", dir);
	snprintf(key_path, sizeof(key_path), "%s/state/vpn0.audit.key", dir);
	snprintf(pub_path, sizeof(pub_path), "%s.pub", key_path);
	return 0;
}

/* Make path unwritable for this process: immutable for root (whom modes do not stop),
 * read-only for others. false if the file system cannot. */
static bool set_unwritable(const char *path, bool on)
{
	int fd, flags;
	bool ok;

	if (geteuid() != 0)
		return chmod(path, on ? 0400 : 0600) == 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int remove_dir(void **state)
{
	char cmd[400];

	(void)state;
	vpnd_audit_close();
	set_unwritable(log_path, false); /* a failed test may have left it so */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool file_has(const char *path, const char *needle)
{
	struct lines l;
	bool found = false;

	read_lines(path, &l);
	for (size_t i = 0; i < l.n && !found; i++)
		found = strstr(l.v[i], needle) != NULL;
	free_lines(&l);
	return found;
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
	struct audit_verify_result res;
	struct vpnd_audit_line pl;
	struct lines l;
	struct stat st;
	(void)state;

	make_log(20);
	assert_int_equal(verify1(log_path, &res), 0);
	read_lines(log_path, &l);
	/* audit-file, 20 events, checkpoint, 20 events, audit-close */
	assert_int_equal(l.n, 43);
	assert_int_equal(res.records, 43);
	assert_int_equal(res.first_seq, 1);
	assert_int_equal(res.last_seq, 43);
	assert_int_equal(notes, 0);
	for (size_t i = 0; i < l.n; i++) {
		assert_null(vpnd_audit_parse_line(l.v[i], strlen(l.v[i]), &pl));
		assert_int_equal(pl.seq, i + 1);
	}
	assert_non_null(strstr(l.v[0], "\"event\":\"audit-file\",\"key\":\""));
	assert_non_null(strstr(l.v[0], "\"reason\":\"new\""));
	assert_non_null(strstr(l.v[3],
			       "\"event\":\"control-command\",\"uid\":0,\"command\":\"show\","
			       "\"args\":\"hq\",\"result\":\"ok\""));
	assert_non_null(strstr(l.v[21], "\"event\":\"checkpoint\""));
	assert_non_null(strstr(l.v[42], "\"event\":\"audit-close\",\"reason\":\"stop\""));
	free_lines(&l);

	/* The key file is private, its public half is published, the secret never logged. */
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub_path, &st), 0);
	assert_int_equal(stat(log_path, &st), 0);
	assert_int_equal(st.st_mode & 077, 040);
	read_lines(key_path, &l);
	assert_int_equal(l.n, 1);
	l.v[0][VPND_KEY_B64_LEN] = '\0';
	assert_false(file_has(log_path, l.v[0]));
	free_lines(&l);
}

/* Values from configs and the network cannot break the line or the JSON. */
static void test_escaping(void **state)
{
	struct audit_verify_result res;
	char big[3000];
	struct lines l;
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	open_log(1ULL << 30);
	vpnd_audit_event("odd-values", VPND_AUDIT_STR("quote", "a\"b\\c"),
			 VPND_AUDIT_STR("newline", "one\ntwo\r\x01"),
			 VPND_AUDIT_STR("latin1", "caf\xe9"), VPND_AUDIT_STR("utf8", "caf\xc3\xa9"),
			 VPND_AUDIT_STR("none", NULL), VPND_AUDIT_STR("big", big));
	vpnd_audit_event("Bad Name");
	vpnd_audit_event("bad-field", VPND_AUDIT_STR("seq", "1"));
	vpnd_audit_close();
	assert_int_equal(verify1(log_path, &res), 0);
	read_lines(log_path, &l);
	assert_int_equal(l.n, 5);
	assert_non_null(strstr(l.v[1], "\"quote\":\"a\\\"b\\\\c\""));
	assert_non_null(strstr(l.v[1], "\"newline\":\"one\\u000atwo\\u000d\\u0001\""));
	assert_non_null(strstr(l.v[1], "\"latin1\":\"caf\\ufffd\""));
	assert_non_null(strstr(l.v[1], "\"utf8\":\"caf\xc3\xa9\""));
	assert_non_null(strstr(l.v[1], "\"none\":null"));
	assert_non_null(strstr(l.v[1], "xxx...\""));
	assert_true(strlen(l.v[1]) < 1000);
	assert_non_null(strstr(l.v[2], "\"event\":\"invalid-event\""));
	assert_non_null(strstr(l.v[3], "\"event\":\"bad-field\",\"prev\""));
	free_lines(&l);
}

/* Each kind of tampering, on a copy, reported at the line that was touched. */
static void test_tampering(void **state)
{
	char copy[320];
	struct lines l, t;
	char *tmp;
	(void)state;

	make_log(20);
	snprintf(copy, sizeof(copy), "%s/copy.audit", dir);
	read_lines(log_path, &l);

	/* a byte of an event's value (line 7) */
	read_lines(log_path, &t);
	*strstr(t.v[6], "br2") = 'X';
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 7, "line 7 was edited");

	/* a digit of a seq (line 10) */
	read_lines(log_path, &t);
	t.v[9][7] = t.v[9][7] == '9' ? '8' : '9';
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 10, "line 10 was edited");

	/* a digit of a prev (line 12) */
	read_lines(log_path, &t);
	tmp = strstr(t.v[11], "\"prev\":\"") + 8;
	*tmp = *tmp == 'a' ? 'b' : 'a';
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 12, "line 12 was edited");

	/* the periodic checkpoint's time (line 22): its signature fails */
	read_lines(log_path, &t);
	tmp = strstr(t.v[21], "\"time\":\"") + 8;
	*tmp = *tmp == '1' ? '2' : '1';
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 22, "signature does not verify");

	/* the final checkpoint's signature, a hex digit */
	read_lines(log_path, &t);
	tmp = strstr(t.v[42], "\"sig\":\"") + 10;
	*tmp = *tmp == 'a' ? 'b' : 'a';
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 43, "line 43 was edited");

	/* a hex digit of the signature in upper case: same bytes, other text */
	read_lines(log_path, &t);
	tmp = strstr(t.v[42], "\"sig\":\"") + 7;
	while (*tmp >= '0' && *tmp <= '9')
		tmp++;
	*tmp = (char)(*tmp - 'a' + 'A');
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 43, "line 43 was edited");

	/* line 15 deleted: reported where it is missing */
	read_lines(log_path, &t);
	free(t.v[14]);
	t.v[14] = NULL;
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 15, "record 15 is missing before line 15");

	/* lines 3 and 4 deleted */
	read_lines(log_path, &t);
	free(t.v[2]);
	free(t.v[3]);
	t.v[2] = t.v[3] = NULL;
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 3, "records 3..4 are missing before line 3");

	/* lines 8 and 9 swapped */
	read_lines(log_path, &t);
	tmp = t.v[7];
	t.v[7] = t.v[8];
	t.v[8] = tmp;
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 8, "line 8 is out of order");

	/* a line replaced by a copy of the one before */
	read_lines(log_path, &t);
	free(t.v[30]);
	t.v[30] = strdup(t.v[29]);
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 31, "line 31 was edited");

	/* the first line deleted */
	read_lines(log_path, &t);
	free(t.v[0]);
	t.v[0] = NULL;
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 1, "not an audit-file record");

	/* truncated after line 40: the closing checkpoint is gone */
	read_lines(log_path, &t);
	for (size_t i = 40; i < t.n; i++) {
		free(t.v[i]);
		t.v[i] = NULL;
	}
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 40, "ends at line 40 without a closing checkpoint");

	/* truncated right after the periodic checkpoint (line 22) */
	read_lines(log_path, &t);
	for (size_t i = 22; i < t.n; i++) {
		free(t.v[i]);
		t.v[i] = NULL;
	}
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 22, "ends at line 22 without a closing checkpoint");

	/* cut in the middle of line 30 */
	read_lines(log_path, &t);
	t.v[29][20] = '\0';
	for (size_t i = 30; i < t.n; i++) {
		free(t.v[i]);
		t.v[i] = NULL;
	}
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 30, "line 30 is incomplete");

	/* a forged line appended after the closing checkpoint */
	read_lines(log_path, &t);
	t.v = realloc(t.v, (t.n + 1) * sizeof(*t.v));
	t.v[t.n++] = strdup(t.v[5]);
	write_lines(copy, &t);
	free_lines(&t);
	expect_failure_at(copy, 44, "out of order");

	free_lines(&l);
}

/* An attacker who rewrites the whole tail consistently (recomputing every hash) still
 * cannot sign: the verifier rejects the closing checkpoint. */
static void test_rehashed_forgery(void **state)
{
	struct vpnd_audit_field f = VPND_AUDIT_STR("peer", "mallory");
	struct vpnd_audit_key fake = {0};
	struct vpnd_audit_line pl;
	char *line = malloc(VPND_AUDIT_LINE_MAX);
	uint8_t head[VPND_AUDIT_HASH_LEN];
	struct lines t;
	FILE *out;
	char copy[320];
	(void)state;

	make_log(4);
	snprintf(copy, sizeof(copy), "%s/forged.audit", dir);
	read_lines(log_path, &t);
	/* Keep lines 1..3, then forge records 4.. and a "closing checkpoint" with another key. */
	out = fopen(copy, "w");
	for (size_t i = 0; i < 3; i++)
		fputs(t.v[i], out);
	vpnd_audit_hash(head, t.v[2], strlen(t.v[2]));
	fake.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	crypto_sign_keypair(fake.pk, fake.sk);
	for (uint64_t seq = 4; seq <= 6; seq++) {
		struct vpnd_audit_line_spec spec = {.seq = seq,
						    .prev = head,
						    .fields = &f,
						    .n_fields = seq < 6,
						    .event = seq < 6 ? "peer-added" : "audit-close",
						    .signer = seq == 6 ? &fake : NULL};
		size_t len = vpnd_audit_format(line, &spec);

		assert_null(vpnd_audit_parse_line(line, len, &pl));
		fwrite(line, 1, len, out);
		vpnd_audit_hash(head, line, len);
	}
	fclose(out);
	expect_failure_at(copy, 6, "signature does not verify");
	sodium_free(fake.sk);
	free(line);
	free_lines(&t);
}

static void test_rotation(void **state)
{
	char paths[64][340];
	const char *files[64];
	struct audit_verify_result res;
	struct audit_key k;
	struct vpnd_audit_stats st;
	size_t n = 0;
	(void)state;

	open_log(4096);
	some_events(200);
	vpnd_audit_get_stats(&st);
	assert_true(st.rotations >= 3 && st.rotations < 60);
	vpnd_audit_close();
	for (unsigned i = 1; i <= st.rotations; i++) {
		snprintf(paths[n], sizeof(paths[n]), "%s.%u", log_path, i);
		files[n] = paths[n];
		/* Every rotated file is closed by a signed checkpoint, and sized near the limit. */
		assert_true(
		    file_has(files[n], "\"event\":\"audit-close\",\"reason\":\"rotation\""));
		n++;
	}
	files[n++] = log_path;
	assert_true(file_has(paths[1], "\"reason\":\"rotated\",\"previous\":"));
	k = load_pub(pub_path);
	assert_int_equal(verify_with(files, n, &k, 1, false, &res), 0);
	/* files + 200 events + a close per rotated file + the final close */
	assert_int_equal(res.records, n + 200 + st.rotations + 1);
	assert_int_equal(notes, 0);

	/* Without the oldest file: verified from where it starts, and said so. */
	assert_int_equal(verify_with(files + 1, n - 1, &k, 1, false, &res), 0);
	assert_int_equal(notes, 1);
	assert_non_null(strstr(last_note, "records before it are not verified"));

	/* A file left out in the middle. */
	{
		const char *gap[] = {files[0], files[2]};
		assert_int_equal(verify_with(gap, 2, &k, 1, false, &res), 1);
		assert_string_equal(res.file, files[2]);
		assert_int_equal(res.line, 1);
		assert_non_null(strstr(res.message, "missing before line 1"));
	}
	/* Two files in the wrong order. */
	{
		const char *swapped[] = {files[1], files[0]};
		assert_int_equal(verify_with(swapped, 2, &k, 1, false, &res), 1);
		assert_string_equal(res.file, files[0]);
		assert_int_equal(res.line, 1);
	}
	/* The last line of a rotated file edited: the next file no longer continues it. */
	{
		struct lines t;
		char *p;

		read_lines(files[0], &t);
		p = strstr(t.v[t.n - 1], "\"time\":\"") + 8;
		*p = *p == '1' ? '2' : '1';
		write_lines(files[0], &t);
		free_lines(&t);
		assert_int_equal(verify_with(files, n, &k, 1, false, &res), 1);
		assert_string_equal(res.file, files[0]);
	}
}

static void test_restart_continues_chain(void **state)
{
	struct audit_verify_result res;
	struct lines l;
	(void)state;

	make_log(3);
	open_log(1ULL << 30);
	vpnd_audit_event("second-run");
	vpnd_audit_close();
	assert_int_equal(verify1(log_path, &res), 0);
	assert_int_equal(notes, 0);
	read_lines(log_path, &l);
	assert_int_equal(l.n, 12);
	assert_non_null(strstr(l.v[9], "\"event\":\"audit-reopen\",\"previous_closed\":true"));
	free_lines(&l);
}

/* A run that ends without closing the log: the next run continues its chain and signs
 * it; the verifier says which records were signed late. */
static void test_crash_then_restart(void **state)
{
	struct audit_verify_result res;
	char snapshot[320];
	struct lines l;
	(void)state;

	snprintf(snapshot, sizeof(snapshot), "%s/snapshot", dir);
	open_log(1ULL << 30);
	some_events(3);
	vpnd_audit_tick();
	some_events(2);
	copy_file(log_path, snapshot); /* what a crash leaves */
	vpnd_audit_close();
	copy_file(snapshot, log_path);
	assert_int_equal(verify1(log_path, &res), 1);
	assert_non_null(strstr(res.message, "without a closing checkpoint"));
	/* --live accepts it and counts the unsigned tail */
	{
		struct audit_key k = load_pub(pub_path);
		const char *f = log_path;
		assert_int_equal(verify_with(&f, 1, &k, 1, true, &res), 0);
		assert_int_equal(res.records, 5);
		assert_int_equal(res.unsigned_records, 2);
		assert_int_equal(res.checkpoint_line, 5);
	}
	open_log(1ULL << 30);
	vpnd_audit_close();
	read_lines(log_path, &l);
	assert_non_null(strstr(l.v[7], "\"previous_closed\":false"));
	free_lines(&l);
	assert_int_equal(verify1(log_path, &res), 0);
	assert_int_equal(notes, 1);
	assert_non_null(strstr(last_note, "ended without closing the log"));
}

static void test_corrupt_tail_starts_new_chain(void **state)
{
	struct audit_verify_result res;
	char moved[340];
	FILE *f;
	struct lines l;
	(void)state;

	make_log(3);
	f = fopen(log_path, "a");
	fputs("{\"seq\":12,\"ti", f);
	fclose(f);
	open_log(1ULL << 30);
	vpnd_audit_event("after-recovery");
	vpnd_audit_close();
	snprintf(moved, sizeof(moved), "%s.1", log_path);
	read_lines(log_path, &l);
	assert_non_null(strstr(l.v[0], "\"reason\":\"recovered\""));
	assert_non_null(strstr(l.v[0], "last line is incomplete"));
	assert_non_null(strstr(l.v[0], moved));
	free_lines(&l);
	assert_int_equal(verify1(log_path, &res), 0);
	assert_int_equal(res.first_seq, 1);
	expect_failure_at(moved, 10, "incomplete");
	/* The two chains do not join. */
	{
		struct audit_key k = load_pub(pub_path);
		const char *both[] = {moved, log_path};
		assert_int_equal(verify_with(both, 2, &k, 1, false, &res), 1);
	}
}

static void test_key_change_starts_new_file(void **state)
{
	struct audit_verify_result res;
	struct audit_key keys[2];
	char moved[340];
	const char *both[2];
	(void)state;

	make_log(3);
	keys[0] = load_pub(pub_path);
	assert_int_equal(unlink(key_path), 0);
	open_log(1ULL << 30);
	vpnd_audit_event("new-key");
	vpnd_audit_close();
	keys[1] = load_pub(pub_path);
	assert_memory_not_equal(keys[0].pk, keys[1].pk, 32);
	snprintf(moved, sizeof(moved), "%s.1", log_path);
	both[0] = moved;
	both[1] = log_path;
	assert_true(file_has(log_path, "\"reason\":\"key-changed\""));
	assert_int_equal(verify_with(both, 2, keys, 2, false, &res), 0);
	assert_int_equal(res.first_seq, 1);
	/* With the new key alone, the old file cannot be verified, and it says why. */
	assert_int_equal(verify_with(both, 2, keys + 1, 1, false, &res), 1);
	assert_int_equal(res.line, 1);
	assert_non_null(strstr(res.message, "not with a key given"));
}

/* A full disk (here: a file size limit) loses events, never the chain, and the log says
 * how many were lost once it can. */
static void test_full_disk(void **state)
{
	struct audit_verify_result res;
	struct vpnd_audit_stats st;
	struct rlimit old, lim;
	struct stat sb;
	char buf[64];
	(void)state;

	open_log(1ULL << 30);
	some_events(5);
	assert_int_equal(stat(log_path, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 300; /* room for one short record at most */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	some_events(20);
	vpnd_audit_tick(); /* the checkpoint cannot be written either */
	vpnd_audit_get_stats(&st);
	assert_true(st.failing);
	assert_true(st.lost >= 18);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	vpnd_audit_event("after-space-returned");
	vpnd_audit_close();
	snprintf(buf, sizeof(buf), "\"event\":\"audit-lost\",\"count\":%llu,",
		 (unsigned long long)st.lost);
	assert_true(file_has(log_path, buf));
	assert_true(file_has(log_path, "after-space-returned"));
	assert_int_equal(verify1(log_path, &res), 0);
}

/* A log that cannot be opened at start (disk trouble, not a wrong configuration) does
 * not keep vpnd down: it runs, counts the events, and once the file can be written the
 * log opens, continues the chain, records how many events were lost, and verifies. */
static void test_unopenable_at_start(void **state)
{
	struct audit_verify_result res;
	struct vpnd_audit_stats st;
	char lost[64];
	(void)state;

	make_log(3);
	if (!set_unwritable(log_path, true))
		skip();
	open_log(1ULL << 30);
	vpnd_audit_get_stats(&st);
	assert_true(st.unopened);
	assert_true(st.failing);
	some_events(7);
	vpnd_audit_tick(); /* within the first second: no second attempt yet */
	vpnd_audit_get_stats(&st);
	assert_true(st.unopened);
	assert_int_equal(st.lost, 7);
	assert_int_equal(st.lost_total, 7);
	assert_true(set_unwritable(log_path, false));
	usleep(1100 * 1000); /* the first retry comes a second after the failure */
	vpnd_audit_event("after-writable");
	vpnd_audit_get_stats(&st);
	assert_false(st.unopened);
	assert_false(st.failing);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.lost_total, 7);
	vpnd_audit_close();
	snprintf(lost, sizeof(lost), "\"event\":\"audit-lost\",\"count\":7,");
	assert_true(file_has(log_path, lost));
	assert_true(file_has(log_path, "\"event\":\"audit-reopen\",\"previous_closed\":true"));
	assert_true(file_has(log_path, "after-writable"));
	assert_int_equal(verify1(log_path, &res), 0);
	assert_int_equal(notes, 0); /* the reopen comes first: no "ended without closing" */
}

static void test_refusals_rate_limited(void **state)
{
	struct audit_verify_result res;
	uint64_t bad_mac = 7;
	struct lines l;
	unsigned single = 0, summaries = 0;
	(void)state;

	open_log(1ULL << 30);
	vpnd_audit_watch_counter("bad mac", &bad_mac);
	for (int i = 0; i < 1000; i++)
		vpnd_audit_handshake_refused(i % 2 ? NULL : "br1",
					     i % 2 ? "unknown public key"
						   : "replayed or stale timestamp");
	bad_mac += 40;
	vpnd_audit_tick();
	vpnd_audit_handshake_refused(NULL, "unknown public key");
	vpnd_audit_close();
	read_lines(log_path, &l);
	for (size_t i = 0; i < l.n; i++) {
		single += strstr(l.v[i], "\"event\":\"handshake-refused\",") != NULL;
		summaries += strstr(l.v[i], "\"event\":\"handshake-refused-summary\"") != NULL;
	}
	free_lines(&l);
	assert_int_equal(single, VPND_AUDIT_REFUSALS_PER_INTERVAL + 1);
	assert_int_equal(summaries, 3);
	assert_true(file_has(log_path, "\"reason\":\"unknown public key\",\"count\":495,"));
	assert_true(
	    file_has(log_path, "\"reason\":\"replayed or stale timestamp\",\"count\":495,"));
	assert_true(file_has(log_path, "\"reason\":\"bad mac\",\"count\":40,"));
	assert_true(file_has(log_path, "\"peer\":null,\"reason\":\"unknown public key\""));
	assert_int_equal(verify1(log_path, &res), 0);
}

static void test_config_events(void **state)
{
	char conf[320], expect[600], hex[65];
	uint8_t h[32];
	const char *text = "interface = \"vpn0\"\n";
	FILE *f;
	(void)state;

	snprintf(conf, sizeof(conf), "%s/vpn0.conf", dir);
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	crypto_generichash(h, 32, (const uint8_t *)text, strlen(text), NULL, 0);
	vpnd_audit_hex(hex, h, 32);
	open_log(1ULL << 30);
	vpnd_audit_config(conf, 2, 0, NULL);
	vpnd_audit_config(conf, 0, 3, "vpn0.conf:4: mtu: '1' is below 576");
	vpnd_audit_close();
	snprintf(expect, sizeof(expect),
		 "\"event\":\"config-loaded\",\"path\":\"%s\",\"blake2b\":\"%s\",\"peers\":2", conf,
		 hex);
	assert_true(file_has(log_path, expect));
	snprintf(expect, sizeof(expect),
		 "\"event\":\"config-refused\",\"path\":\"%s\",\"blake2b\":\"%s\",\"problems\":3",
		 conf, hex);
	assert_true(file_has(log_path, expect));
}

static void test_startup_errors(void **state)
{
	struct vpnd_audit_settings s = {.rotate_size = 1 << 20};
	char blocker[320], path[360], key[360];
	FILE *f;
	int fd;
	(void)state;

	/* A directory that cannot be made (a file is in the way). */
	snprintf(blocker, sizeof(blocker), "%s/blocker", dir);
	f = fopen(blocker, "w");
	fclose(f);
	snprintf(path, sizeof(path), "%s/sub/vpn0.audit", blocker);
	snprintf(key, sizeof(key), "%s/ok.key", dir);
	s.path = path;
	s.key_file = key;
	assert_int_equal(vpnd_audit_open(&s, -1), -ENOTDIR);
	assert_false(vpnd_audit_is_open());

	/* A key file others can read. */
	snprintf(path, sizeof(path), "%s/vpn0.audit", dir);
	f = fopen(key, "w");
	fputs("qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=\n", f);
	fclose(f);
	chmod(key, 0644);
	assert_int_equal(vpnd_audit_open(&s, -1), -EINVAL);
	chmod(key, 0600);

	/* A log another process holds. */
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(vpnd_audit_open(&s, -1), -EBUSY);
	close(fd);
	assert_int_equal(vpnd_audit_open(&s, -1), 0);
	vpnd_audit_close();
}

/* A reload's audit settings: the rotation size applies at once, a new path does not. */
static void test_settings_changed(void **state)
{
	struct vpnd_audit_settings s = {
	    .path = "/elsewhere/vpn0.audit", .key_file = key_path, .rotate_size = 4096};
	struct vpnd_audit_stats st;
	char rotated[340];
	int found = 0;
	(void)state;

	open_log(1ULL << 30);
	some_events(30);
	vpnd_audit_get_stats(&st);
	assert_int_equal(st.rotations, 0);
	vpnd_audit_settings_changed(&s);
	some_events(30);
	vpnd_audit_get_stats(&st);
	assert_true(st.rotations >= 1);
	assert_string_equal(st.current, log_path);
	vpnd_audit_close();
	for (unsigned i = 1; i <= st.rotations; i++) {
		snprintf(rotated, sizeof(rotated), "%s.%u", log_path, i);
		found += file_has(rotated,
				  "\"event\":\"audit-settings-deferred\",\"path\":\"/elsewhere/");
	}
	found += file_has(log_path, "\"event\":\"audit-settings-deferred\",\"path\":\"/elsewhere/");
	assert_int_equal(found, 1);
}

/* The verifier reads only the chain fields and refuses everything that is not one. */
static void test_parse_strict(void **state)
{
	static const char *bad[] = {
	    "",
	    "{\"seq\":1}\n",
	    "{\"seq\":01,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"x\",\"prev\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
	    "{\"seq\":1,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"X\",\"prev\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
	    "{\"seq\":1,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"x\",\"prev\":"
	    "\"000000000000000000000000000000000000000000000000000000000000000A\"}\n",
	    "{\"seq\":1,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"x\",\"prev\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
	    "{\"seq\":1,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"checkpoint\",\"prev\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
	    "{\"seq\":99999999999999999999,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"x\","
	    "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
	};
	const char *good =
	    "{\"seq\":18446744073709551615,\"time\":\"2024-01-01T00:00:00.000Z\",\"event\":\"x\","
	    "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n";
	struct vpnd_audit_line l;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!vpnd_audit_parse_line(bad[i], strlen(bad[i]), &l))
			fail_msg("accepted bad line %zu", i);
	assert_null(vpnd_audit_parse_line(good, strlen(good), &l));
	assert_true(l.seq == UINT64_MAX);
	assert_false(l.has_sig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_escaping, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_tampering, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_rehashed_forgery, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_rotation, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_restart_continues_chain, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_crash_then_restart, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_corrupt_tail_starts_new_chain, fresh_dir,
					    remove_dir),
	    cmocka_unit_test_setup_teardown(test_key_change_starts_new_file, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_full_disk, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_unopenable_at_start, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_refusals_rate_limited, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_config_events, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_startup_errors, fresh_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_settings_changed, fresh_dir, remove_dir),
	    cmocka_unit_test(test_parse_strict),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
