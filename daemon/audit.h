/* The security audit log: an append-only, hash-chained, periodically signed record of
 * what happened to this daemon (format: include/vpnd/audit.h). One log per process,
 * used from the event loop's thread; every function is a no-op while no log is open,
 * so callers need no checks. */
#ifndef VPND_DAEMON_AUDIT_H
#define VPND_DAEMON_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Checkpoints are signed this often when something was recorded since the last one. */
#define VPND_AUDIT_CHECKPOINT_SECONDS 60
/* Handshake refusals recorded one by one per checkpoint interval; the rest are counted
 * and recorded as one summary line per reason, so a flood cannot fill the disk. */
#define VPND_AUDIT_REFUSALS_PER_INTERVAL 10
/* Fields of one event; string values are cut at VPND_AUDIT_VALUE_MAX bytes. */
#define VPND_AUDIT_FIELDS_MAX 16
#define VPND_AUDIT_VALUE_MAX  512

struct vpnd_audit_settings {
	const char *path;     /* the current file; rotated files are path.1, path.2, ... */
	const char *key_file; /* Ed25519 signing key; created with key_file.pub if missing */
	uint64_t rotate_size; /* start a new file when the next line would pass this size */
};

enum vpnd_audit_type { VPND_AUDIT_T_STR, VPND_AUDIT_T_UINT, VPND_AUDIT_T_INT, VPND_AUDIT_T_BOOL };

struct vpnd_audit_field {
	const char *name; /* a JSON member name: [a-z0-9_]; never "seq", "time", "prev" or "sig" */
	enum vpnd_audit_type type;
	const char *s; /* NULL is recorded as null */
	uint64_t u;
	int64_t i;
};

#define VPND_AUDIT_STR(n, v)                                                                       \
	((struct vpnd_audit_field){.name = (n), .type = VPND_AUDIT_T_STR, .s = (v)})
#define VPND_AUDIT_UINT(n, v)                                                                      \
	((struct vpnd_audit_field){.name = (n), .type = VPND_AUDIT_T_UINT, .u = (v)})
#define VPND_AUDIT_INT(n, v)                                                                       \
	((struct vpnd_audit_field){.name = (n), .type = VPND_AUDIT_T_INT, .i = (v)})
#define VPND_AUDIT_BOOL(n, v)                                                                      \
	((struct vpnd_audit_field){.name = (n), .type = VPND_AUDIT_T_BOOL, .u = !!(v)})

/* Open (or continue) the log: create its directory and the signing key if missing,
 * continue the chain of an existing file (or, if its end is unreadable, move it aside
 * and start a new chain, saying so in the log and with log_err), and register the
 * checkpoint timer in epfd (-1: none; the caller then calls vpnd_audit_tick). 0, or
 * -errno after log_err saying what and where when the configuration is at fault (a
 * file in the way, a bad key, another vpnd writing the log): vpnd does not start then.
 * Trouble with the disk (full, read-only, I/O errors, no permission) is no reason to
 * keep the tunnel down: the log is then open without a file (0, log_err, the store
 * marked failing), events are counted as lost, and opening is tried again, with a
 * growing pause, on the next event or tick until it works. */
int vpnd_audit_open(const struct vpnd_audit_settings *s, int epfd);
bool vpnd_audit_is_open(void);
/* A reloaded configuration's audit settings: the rotation size applies at once; another
 * path or key takes a restart (logged, and recorded as audit-settings-deferred). */
void vpnd_audit_settings_changed(const struct vpnd_audit_settings *s);

/* Record one event: name is [a-z0-9-], the fields its details. Never fails: a log that
 * cannot be written (disk full, I/O error) is reported with log_err, then at most once
 * per checkpoint interval, the events are counted as lost and an "audit-lost" record says
 * how many once writing works again. The data plane is never stopped by it. */
void vpnd_audit_eventv(const char *name, const struct vpnd_audit_field *fields, size_t n);
#define vpnd_audit_event(name, ...)                                                                \
	vpnd_audit_eventv((name), (const struct vpnd_audit_field[]){__VA_ARGS__},                  \
			  sizeof((const struct vpnd_audit_field[]){__VA_ARGS__}) /                 \
			      sizeof(struct vpnd_audit_field))

/* Handshake refusals come from anyone on the internet: recorded within the limit above. */
void vpnd_audit_handshake_refused(const char *peer /* NULL: unknown sender */, const char *reason);

/* Counters that grow without an event (e.g. handshakes dropped for a bad mac1): at each
 * checkpoint interval their growth is recorded as a handshake-refused-summary with this
 * reason. The counter must outlive the log or be unwatched by vpnd_audit_close. */
void vpnd_audit_watch_counter(const char *reason, const uint64_t *counter);

/* Sign what has been recorded now (a periodic checkpoint, fsync'd), if anything was. */
void vpnd_audit_checkpoint(void);
/* What the checkpoint timer does: summaries of rate-limited events, then a signed
 * checkpoint if anything was recorded since the last one. */
void vpnd_audit_tick(void);

/* A closing checkpoint (signed, fsync'd), then close the file and wipe the key. */
void vpnd_audit_close(void);

/* ---- for tests and the storage report (storage_health.c) ---- */
struct vpnd_audit_stats {
	uint64_t seq;	     /* of the last line written */
	uint64_t lost;	     /* events not written since the last success */
	uint64_t lost_total; /* events not written since the log was opened */
	bool unopened;	     /* the file could not be opened yet (vpnd runs without it) */
	uint64_t rotations;
	bool failing;	    /* the last write failed */
	char current[4096]; /* path of the file being written */
};
void vpnd_audit_get_stats(struct vpnd_audit_stats *st);

#endif
