/* The audit log writer. Every record is one line built in memory and appended with one
 * write(2) on an O_APPEND descriptor, so a line is in the file whole or not at all (a
 * short write on a full disk is cut off again with ftruncate). Each line carries the hash
 * of the line before it; checkpoints sign the chain head. The chain state (seq, head)
 * advances only when a line is really in the file, so a failed write never leaves a
 * hole that a verifier would take for tampering: it leaves a count of lost events,
 * recorded as soon as writing works again. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_file.h"
#include "audit_key.h"
#include "audit_line.h"
#include "event.h"
#include "log.h"
#include "storage_health.h"
#include "vpnd/audit.h"
#include "vpnd/key.h"
#include "vpnd/sync_dir.h"

#define SUPPRESSED_SLOTS 8
#define WATCHED_MAX	 4
#define REASON_MAX	 64
/* Reopening a log that could not be opened: first after a second, then ever less often
 * (each attempt logs why it failed), at most this many seconds apart. */
#define REOPEN_MAX_BACKOFF_S 30

enum kind { K_RECORD, K_HEADER, K_CHECKPOINT, K_CLOSE };

struct suppressed {
	char reason[REASON_MAX];
	uint64_t count;
};

struct watched {
	const char *reason;
	const uint64_t *counter;
	uint64_t seen;
};

static struct {
	bool open;
	char *path, *key_file;
	uint64_t rotate_size;
	struct vpnd_audit_key key;
	int fd;
	uint64_t size;	  /* bytes of whole lines in the current file */
	bool cut_pending; /* a short write left a partial line past size */
	uint64_t seq;	  /* of the last line in the file; 0 = none yet */
	uint8_t head[VPND_AUDIT_HASH_LEN];
	uint64_t file_lines; /* lines in the current file, at least as many as known */
	uint64_t since_checkpoint;
	/* The first line of the current file, while it could not be written yet. */
	bool header_pending;
	char header_reason[32];
	char *header_previous, *header_problem;
	/* Write failures. */
	bool failing;
	bool fail_logged; /* this checkpoint interval */
	int fail_logged_errno;
	int fail_errno;
	uint64_t lost, lost_reported;
	uint64_t lost_total; /* since the log was opened, for show and metrics */
	/* The file could not be opened (disk full, read-only, ...): vpnd runs without it and
	 * tries again, after reopen_backoff_s seconds, on the next event or tick. */
	bool unopened;
	uint64_t reopen_at_ns;
	unsigned reopen_backoff_s;
	bool rotate_paused; /* a rotation failed: try again after the next tick */
	unsigned next_number;
	uint64_t rotations;
	/* Rate limits. */
	unsigned refusals;
	struct suppressed suppressed[SUPPRESSED_SLOTS];
	uint64_t suppressed_other;
	struct watched watched[WATCHED_MAX];
	unsigned n_watched;
	int epfd;
	struct vpnd_event_source timer;
	char line[VPND_AUDIT_LINE_MAX];
} A = {.fd = -1, .epfd = -1, .timer = {.fd = -1}};

/* ---- the file ---- */

static int append(const char *buf, size_t len)
{
	ssize_t n;

	if (A.fd < 0)
		return -EBADF;
	if (A.cut_pending) {
		if (ftruncate(A.fd, (off_t)A.size) < 0)
			return -errno;
		A.cut_pending = false;
	}
	do
		n = write(A.fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len) {
		A.size += len;
		return 0;
	}
	if (n < 0)
		return -errno;
	/* Part of the line went out: cut it off, or the next line would continue it. */
	if (ftruncate(A.fd, (off_t)A.size) < 0)
		A.cut_pending = true;
	return -ENOSPC;
}

static void set_header(const char *reason, const char *previous, const char *problem)
{
	snprintf(A.header_reason, sizeof(A.header_reason), "%s", reason);
	free(A.header_previous);
	free(A.header_problem);
	A.header_previous = previous ? strdup(previous) : NULL;
	A.header_problem = problem ? strdup(problem) : NULL;
	A.header_pending = true;
}

static int emit(const char *event, const struct vpnd_audit_field *f, size_t n, enum kind kind);

/* The next line (seq A.seq + 1, chained to A.head) in A.line; returns its length. */
static size_t build(const char *event, const struct vpnd_audit_field *f, size_t n, enum kind kind)
{
	struct vpnd_audit_line_spec spec = {
	    .seq = A.seq + 1,
	    .prev = A.head,
	    .event = event,
	    .key_fpr = kind == K_HEADER ? A.key.fpr : NULL,
	    .fields = f,
	    .n_fields = n,
	    .signer = kind == K_CHECKPOINT || kind == K_CLOSE ? &A.key : NULL,
	};

	return vpnd_audit_format(A.line, &spec);
}

/* Close the current file with a signed checkpoint, move it to path.N and continue the
 * chain in a new file. A failure after the close leaves us in the old file: the chain
 * does not care which file a line is in, so nothing is lost but the size limit. */
static int rotate(void)
{
	char *dest = NULL;
	int ret, fd;

	ret = emit(VPND_AUDIT_EV_CLOSE,
		   (struct vpnd_audit_field[]){VPND_AUDIT_STR("reason", "rotation")}, 1, K_CLOSE);
	if (ret)
		return ret;
	fsync(A.fd);
	ret = vpnd_audit_move_aside(A.path, &A.next_number, &dest);
	if (ret) {
		log_err("audit log %s: cannot rotate it: %s; it keeps growing", A.path,
			strerror(-ret));
		A.rotate_paused = true;
		return 0;
	}
	fd = vpnd_audit_open_locked(A.path, O_CREAT | O_EXCL);
	if (fd < 0) {
		log_err("audit log %s: cannot create a new file after rotating to %s: %s", A.path,
			dest, strerror(-fd));
		if (renameat2(AT_FDCWD, dest, AT_FDCWD, A.path, RENAME_NOREPLACE) < 0)
			log_err("audit log %s: now written as %s", A.path, dest);
		A.rotate_paused = true;
		free(dest);
		return 0;
	}
	close(A.fd);
	A.fd = fd;
	A.size = 0;
	A.file_lines = 0;
	A.cut_pending = false;
	A.rotations++;
	vpnd_sync_dir_of(A.path);
	log_notice("audit log %s rotated: the previous file, closed at record %" PRIu64 ", is %s",
		   A.path, A.seq, dest);
	set_header("rotated", dest, NULL);
	free(dest);
	return 0;
}

static int emit_header(void)
{
	struct vpnd_audit_field f[3] = {VPND_AUDIT_STR("reason", A.header_reason)};
	size_t n = 1;

	if (A.header_previous)
		f[n++] = VPND_AUDIT_STR("previous", A.header_previous);
	if (A.header_problem)
		f[n++] = VPND_AUDIT_STR("problem", A.header_problem);
	return emit(VPND_AUDIT_EV_FILE, f, n, K_HEADER);
}

/* Write one line and advance the chain. 0 or -errno; nothing changes on failure. */
static int emit(const char *event, const struct vpnd_audit_field *f, size_t n, enum kind kind)
{
	size_t len;
	int ret;

	if (A.header_pending && kind != K_HEADER) {
		ret = emit_header();
		if (ret)
			return ret;
	}
	len = build(event, f, n, kind);
	if (kind == K_RECORD && !A.rotate_paused && A.file_lines > 1 &&
	    A.size + len > A.rotate_size) {
		ret = rotate();
		if (ret)
			return ret;
		if (A.header_pending && (ret = emit_header()))
			return ret;
		len = build(event, f, n, kind);
	}
	ret = append(A.line, len);
	if (ret)
		return ret;
	A.seq++;
	vpnd_audit_hash(A.head, A.line, len);
	A.file_lines++;
	if (kind == K_HEADER)
		A.header_pending = false;
	if (kind == K_CHECKPOINT || kind == K_CLOSE)
		A.since_checkpoint = 0;
	else
		A.since_checkpoint++;
	return 0;
}

/* ---- failures ---- */

static void note_failure(int err)
{
	vpnd_store_note(VPND_STORE_AUDIT, A.path, -err);
	/* Once per interval while it flaps, but a new reason is always news. */
	if (!A.failing && (!A.fail_logged || A.fail_logged_errno != -err))
		log_err("audit log %s: cannot write: %s (%s); events are counted and the loss will "
			"be recorded when writing works again (the VPN keeps running)",
			A.path, strerror(-err), vpnd_errno_name(-err));
	A.fail_logged = true;
	A.fail_logged_errno = -err;
	A.failing = true;
	A.fail_errno = -err;
}

static void count_lost(void)
{
	A.lost++;
	A.lost_total++;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Trouble with the disk rather than with the configuration: no reason to keep the
 * tunnel down, since the log can be opened once the disk is fixed. */
static bool storage_trouble(int err)
{
	switch (-err) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case EROFS:
	case EIO:
	case EACCES:
	case EPERM:
	case ENOENT:
		return true;
	default:
		return false;
	}
}

static int open_file(void);

/* The signing key (loaded once), the log's directory and the file. On failure no file
 * is left open. 0 or -errno, logged by the step that failed. */
static int open_log(void)
{
	int ret;

	if (!A.key.sk && ((ret = vpnd_audit_make_parent_dirs(A.key_file, "audit-key-file")) < 0 ||
			  (ret = vpnd_audit_key_load(&A.key, A.key_file)) < 0))
		return ret;
	ret = vpnd_audit_make_parent_dirs(A.path, "audit-log");
	if (!ret)
		ret = open_file();
	if (ret && A.fd >= 0) {
		close(A.fd);
		A.fd = -1;
	}
	return ret;
}

static void schedule_reopen(int err)
{
	A.fail_errno = -err;
	A.reopen_backoff_s = A.reopen_backoff_s ? 2 * A.reopen_backoff_s : 1;
	if (A.reopen_backoff_s > REOPEN_MAX_BACKOFF_S)
		A.reopen_backoff_s = REOPEN_MAX_BACKOFF_S;
	A.reopen_at_ns = mono_ns() + (uint64_t)A.reopen_backoff_s * 1000000000u;
}

/* A log that could not be opened: try again if the backoff allows. 0 once it is open. */
static int try_reopen(void)
{
	uint64_t lost = A.lost; /* recorded (and reset) by the opening */
	int ret;

	if (mono_ns() < A.reopen_at_ns)
		return -A.fail_errno;
	/* Opening records audit-reopen, through record(), which must not come back here. */
	A.unopened = false;
	ret = open_log();
	if (ret) {
		A.unopened = true;
		schedule_reopen(ret);
		return ret;
	}
	A.reopen_backoff_s = 0;
	log_notice("audit log %s: open now, after %" PRIu64 " event%s that could not be "
		   "recorded",
		   A.path, lost, lost == 1 ? "" : "s");
	return 0;
}

/* Say in the log itself how many events it is missing, before anything else goes in. */
static int flush_lost(void)
{
	int ret;

	if (!A.lost)
		return 0;
	ret = emit("audit-lost",
		   (struct vpnd_audit_field[]){VPND_AUDIT_UINT("count", A.lost),
					       VPND_AUDIT_STR("error", strerror(A.fail_errno))},
		   2, K_RECORD);
	if (ret)
		return ret;
	log_notice("audit log %s: writing again; %" PRIu64 " event%s lost", A.path, A.lost,
		   A.lost == 1 ? " was" : "s were");
	A.lost = A.lost_reported = 0;
	A.failing = false;
	return 0;
}

static void record(const char *event, const struct vpnd_audit_field *f, size_t n, enum kind kind)
{
	int ret;

	if (A.unopened && (ret = try_reopen()) < 0) {
		vpnd_store_note(VPND_STORE_AUDIT, A.path, -ret);
		if (kind == K_RECORD)
			count_lost();
		return;
	}
	ret = flush_lost();
	if (!ret)
		ret = emit(event, f, n, kind);
	if (ret) {
		note_failure(ret);
		if (kind == K_RECORD)
			count_lost();
		return;
	}
	A.failing = false;
	vpnd_store_note(VPND_STORE_AUDIT, A.path, 0);
}

static void checkpoint(enum kind kind, const char *reason)
{
	struct vpnd_audit_field f = VPND_AUDIT_STR("reason", reason);

	record(kind == K_CLOSE ? VPND_AUDIT_EV_CLOSE : VPND_AUDIT_EV_CHECKPOINT, &f, reason ? 1 : 0,
	       kind);
	if (!A.failing && fsync(A.fd) < 0)
		note_failure(-errno);
}

/* ---- public API ---- */

bool vpnd_audit_is_open(void)
{
	return A.open;
}

void vpnd_audit_settings_changed(const struct vpnd_audit_settings *s)
{
	if (!A.open)
		return;
	A.rotate_size = s->rotate_size;
	if (strcmp(s->path, A.path) == 0 && strcmp(s->key_file, A.key_file) == 0)
		return;
	log_warn("audit-log %s / audit-key-file %s: changes take effect when vpnd restarts; "
		 "still writing %s",
		 s->path, s->key_file, A.path);
	vpnd_audit_event("audit-settings-deferred", VPND_AUDIT_STR("path", s->path),
			 VPND_AUDIT_STR("key_file", s->key_file));
}

void vpnd_audit_eventv(const char *name, const struct vpnd_audit_field *fields, size_t n)
{
	if (!A.open)
		return;
	if (!vpnd_audit_valid_name(name, false)) {
		log_err("audit: event name '%s' is not [a-z0-9-]; recorded as invalid-event", name);
		name = "invalid-event";
	}
	for (size_t i = 0; i < n; i++) {
		const char *fn = fields[i].name;

		if (!vpnd_audit_valid_name(fn, true) || !strcmp(fn, "seq") || !strcmp(fn, "time") ||
		    !strcmp(fn, "event") || !strcmp(fn, "prev") || !strcmp(fn, "sig") ||
		    !strcmp(fn, "key")) {
			log_err("audit: event %s: field name '%s' is not allowed; fields dropped",
				name, fn);
			n = 0;
			break;
		}
	}
	if (n > VPND_AUDIT_FIELDS_MAX)
		n = VPND_AUDIT_FIELDS_MAX;
	record(name, fields, n, K_RECORD);
}

void vpnd_audit_handshake_refused(const char *peer, const char *reason)
{
	struct suppressed *s;

	if (!A.open)
		return;
	if (A.refusals < VPND_AUDIT_REFUSALS_PER_INTERVAL) {
		A.refusals++;
		vpnd_audit_event("handshake-refused", VPND_AUDIT_STR("peer", peer),
				 VPND_AUDIT_STR("reason", reason));
		return;
	}
	/* Summaries group by reason, not by sender: the engine's detail ends in
	 * " from ADDR", and a flood from many addresses must not fill every slot. */
	const char *from = strstr(reason, " from ");
	size_t cause = from ? (size_t)(from - reason) : strlen(reason);
	if (cause > REASON_MAX - 1)
		cause = REASON_MAX - 1;
	for (unsigned i = 0; i < SUPPRESSED_SLOTS; i++) {
		s = &A.suppressed[i];
		if (s->count &&
		    (strlen(s->reason) != cause || strncmp(s->reason, reason, cause) != 0))
			continue;
		if (!s->count)
			snprintf(s->reason, sizeof(s->reason), "%.*s", (int)cause, reason);
		s->count++;
		return;
	}
	A.suppressed_other++;
}

void vpnd_audit_watch_counter(const char *reason, const uint64_t *counter)
{
	if (!A.open || A.n_watched == WATCHED_MAX)
		return;
	A.watched[A.n_watched++] = (struct watched){reason, counter, *counter};
}

/* What rate limits held back in this interval, as one summary line per reason. */
static void flush_summaries(void)
{
	if (A.lost && !flush_lost())
		A.failing = false;
	for (unsigned i = 0; i < SUPPRESSED_SLOTS; i++) {
		struct suppressed *s = &A.suppressed[i];

		if (!s->count)
			continue;
		vpnd_audit_event("handshake-refused-summary", VPND_AUDIT_STR("reason", s->reason),
				 VPND_AUDIT_UINT("count", s->count),
				 VPND_AUDIT_UINT("interval_s", VPND_AUDIT_CHECKPOINT_SECONDS));
		s->count = 0;
	}
	if (A.suppressed_other) {
		vpnd_audit_event("handshake-refused-summary", VPND_AUDIT_STR("reason", "other"),
				 VPND_AUDIT_UINT("count", A.suppressed_other),
				 VPND_AUDIT_UINT("interval_s", VPND_AUDIT_CHECKPOINT_SECONDS));
		A.suppressed_other = 0;
	}
	for (unsigned i = 0; i < A.n_watched; i++) {
		struct watched *w = &A.watched[i];
		uint64_t now = *w->counter;

		if (now != w->seen)
			vpnd_audit_event(
			    "handshake-refused-summary", VPND_AUDIT_STR("reason", w->reason),
			    VPND_AUDIT_UINT("count", now - w->seen),
			    VPND_AUDIT_UINT("interval_s", VPND_AUDIT_CHECKPOINT_SECONDS));
		w->seen = now;
	}
	A.refusals = 0;
}

void vpnd_audit_tick(void)
{
	if (!A.open)
		return;
	if (A.unopened)
		try_reopen();
	flush_summaries();
	A.rotate_paused = false;
	if (A.since_checkpoint)
		checkpoint(K_CHECKPOINT, NULL);
	if (A.failing && A.lost > A.lost_reported) {
		log_err("audit log %s: still cannot write: %s (%s); %" PRIu64 " events lost so far",
			A.path, strerror(A.fail_errno), vpnd_errno_name(A.fail_errno), A.lost);
		A.lost_reported = A.lost;
	}
	A.fail_logged = false;
}

void vpnd_audit_checkpoint(void)
{
	if (A.open && A.since_checkpoint)
		checkpoint(K_CHECKPOINT, NULL);
}

static void on_timer(struct vpnd_event_source *src, uint32_t events)
{
	uint64_t expirations;
	(void)events;

	while (read(src->fd, &expirations, sizeof(expirations)) > 0)
		;
	vpnd_audit_tick();
}

/* ---- opening: continue the chain of what is there ---- */

static int open_file(void)
{
	char why[160], *dest = NULL;
	const char *problem;
	struct vpnd_audit_tail t = {0};
	struct stat st;
	int fd, ret;

	fd = vpnd_audit_open_locked(A.path, O_CREAT);
	if (fd < 0) {
		if (fd == -EBUSY)
			log_err("audit-log %s: cannot open it: another vpnd is writing it", A.path);
		else
			log_err("audit-log %s: cannot open it: %s (%s)", A.path, strerror(-fd),
				vpnd_errno_name(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	A.fd = fd;
	A.size = (uint64_t)st.st_size;
	if (A.size == 0) {
		set_header("new", NULL, NULL);
		return 0;
	}
	problem = vpnd_audit_read_ends(fd, A.size, A.line, &t, why, sizeof(why));
	if (!problem && sodium_memcmp(t.key_fpr, A.key.fpr, VPND_AUDIT_FPR_LEN) == 0) {
		A.seq = t.seq;
		memcpy(A.head, t.hash, sizeof(A.head));
		A.file_lines = 2; /* at least: its header and its last line */
		if (!t.closed)
			log_warn(
			    "audit log %s: the previous run did not close it (crash?): its records "
			    "after its last checkpoint were not signed by it",
			    A.path);
		/* First in this run's part of the file, before the audit-lost of a log that
		 * could not be opened until now (a verifier expects a run to begin so). A full
		 * disk is no reason not to start: the loss is counted like any other. */
		ret =
		    emit(VPND_AUDIT_EV_REOPEN,
			 (struct vpnd_audit_field[]){VPND_AUDIT_BOOL("previous_closed", t.closed)},
			 1, K_RECORD);
		if (ret) {
			note_failure(ret);
			count_lost();
		}
		return 0;
	}
	/* The file cannot be continued: keep it as it is under a new name. */
	ret = vpnd_audit_move_aside(A.path, &A.next_number, &dest);
	if (ret) {
		log_err("audit-log %s: %s, and it cannot be moved aside: %s", A.path,
			problem ? problem : "written with another audit key", strerror(-ret));
		return ret;
	}
	close(A.fd);
	A.fd = -1;
	fd = vpnd_audit_open_locked(A.path, O_CREAT | O_EXCL);
	if (fd < 0) {
		log_err("audit-log %s: cannot create it: %s", A.path, strerror(-fd));
		free(dest);
		return fd;
	}
	A.fd = fd;
	A.size = 0;
	if (problem) {
		log_err("audit log %s: %s; kept as %s, a new chain starts", A.path, problem, dest);
		set_header("recovered", dest, problem);
	} else {
		/* Same chain, new key: the new file's checkpoints sign the old file's end. */
		log_notice("audit log %s: the audit key changed; the file of the old key is now %s",
			   A.path, dest);
		A.seq = t.seq;
		memcpy(A.head, t.hash, sizeof(A.head));
		set_header("key-changed", dest, NULL);
	}
	free(dest);
	return 0;
}

static void reset_state(void)
{
	free(A.path);
	free(A.key_file);
	free(A.header_previous);
	free(A.header_problem);
	vpnd_audit_key_free(&A.key);
	memset(&A, 0, offsetof(__typeof__(A), line));
	A.fd = A.epfd = A.timer.fd = -1;
}

int vpnd_audit_open(const struct vpnd_audit_settings *s, int epfd)
{
	struct itimerspec its = {.it_interval = {VPND_AUDIT_CHECKPOINT_SECONDS, 0},
				 .it_value = {VPND_AUDIT_CHECKPOINT_SECONDS, 0}};
	int ret;

	if (A.open)
		return -EBUSY;
	reset_state();
	A.path = strdup(s->path);
	A.key_file = strdup(s->key_file);
	A.rotate_size = s->rotate_size;
	if (!A.path || !A.key_file) {
		ret = -ENOMEM;
		goto fail;
	}
	vpnd_store_set_location(VPND_STORE_AUDIT, A.path);
	ret = open_log();
	if (ret < 0 && !storage_trouble(ret))
		goto fail;
	if (ret < 0) {
		/* The tunnel matters more than the record of it: run, count what cannot be
		 * recorded, and write that count into the log once it opens. */
		log_err("audit log %s: cannot open it: %s (%s); vpnd runs without it, counts the "
			"events it cannot record, and tries again (at least every %d s)",
			A.path, strerror(-ret), vpnd_errno_name(-ret), REOPEN_MAX_BACKOFF_S);
		A.unopened = A.failing = A.fail_logged = true;
		A.fail_logged_errno = -ret;
		vpnd_store_note(VPND_STORE_AUDIT, A.path, -ret);
		schedule_reopen(ret);
	}
	if (epfd >= 0) {
		A.timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		A.timer.handler = on_timer;
		if (A.timer.fd < 0 || timerfd_settime(A.timer.fd, 0, &its, NULL) < 0 ||
		    (ret = vpnd_event_add(epfd, &A.timer, EPOLLIN)) < 0) {
			ret = A.timer.fd < 0 ? -errno : ret < 0 ? ret : -errno;
			log_err("audit log: checkpoint timer: %s", strerror(-ret));
			goto fail;
		}
		A.epfd = epfd;
	}
	A.open = true;
	if (!A.unopened)
		log_info("audit log %s (key %s), record %" PRIu64, A.path, A.key_file, A.seq);
	return 0;
fail:
	if (ret == -ENOMEM)
		log_err("audit log: out of memory");
	if (A.timer.fd >= 0)
		close(A.timer.fd);
	if (A.fd >= 0)
		close(A.fd);
	reset_state();
	return ret;
}

void vpnd_audit_close(void)
{
	char hex[2 * VPND_AUDIT_HASH_LEN + 1];

	if (!A.open)
		return;
	flush_summaries();
	checkpoint(K_CLOSE, "stop");
	vpnd_audit_hex(hex, A.head, VPND_AUDIT_HASH_LEN);
	/* The journal keeps this where the log's own directory cannot rewrite it: a
	 * verifier's final record and head must match it. */
	if (!A.failing)
		log_notice("audit log %s closed at record %" PRIu64 ", chain head %s", A.path,
			   A.seq, hex);
	else
		log_err("audit log %s closed without its closing checkpoint: %s", A.path,
			strerror(A.fail_errno));
	if (A.timer.fd >= 0) {
		if (A.epfd >= 0)
			vpnd_event_del(A.epfd, &A.timer);
		close(A.timer.fd);
	}
	if (A.fd >= 0)
		close(A.fd);
	reset_state();
}

void vpnd_audit_get_stats(struct vpnd_audit_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->seq = A.seq;
	st->lost = A.lost;
	st->lost_total = A.lost_total;
	st->unopened = A.unopened;
	st->rotations = A.rotations;
	st->failing = A.failing;
	if (A.path)
		snprintf(st->current, sizeof(st->current), "%s", A.path);
}
