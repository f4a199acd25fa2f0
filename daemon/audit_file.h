/* The audit log's files: directories, locking, rotation names that never replace a
 * file, and reading the ends of an existing file to continue its chain. */
#ifndef VPND_DAEMON_AUDIT_FILE_H
#define VPND_DAEMON_AUDIT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnd/audit.h"

/* Create the directory part of path (0750) with its parents. 0, or -errno after
 * log_err naming `what` (the config key), the path and the directory. */
int vpnd_audit_make_parent_dirs(const char *path, const char *what);
/* Open path for appending (mode 0640 if created; flags adds O_CREAT/O_EXCL), locked so
 * that a second vpnd cannot write the same log: -EBUSY then. A regular file only. */
int vpnd_audit_open_locked(const char *path, int flags);
/* Rename path to path.N, N the lowest number above every existing path.N (scanned
 * when *next is 0, then counted on in *next). Never replaces a file. The new name in
 * *dest (malloc'd). 0 or -errno. */
int vpnd_audit_move_aside(const char *path, unsigned *next, char **dest);

/* What continuing a file needs from it. */
struct vpnd_audit_tail {
	uint8_t key_fpr[VPND_AUDIT_FPR_LEN]; /* from its first line */
	uint64_t seq;			     /* of its last line */
	uint8_t hash[VPND_AUDIT_HASH_LEN];   /* of its last line */
	bool closed;			     /* its last line is an audit-close */
};

/* Read the first and the last line of a file of size bytes (> 0) through buf
 * (VPND_AUDIT_LINE_MAX bytes). NULL, or what is wrong with the file (written in why). */
const char *vpnd_audit_read_ends(int fd, uint64_t size, char *buf, struct vpnd_audit_tail *t,
				 char *why, size_t whylen);

#endif
