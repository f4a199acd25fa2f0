/* Files vpnd keeps across restarts in its state directory (state-directory, default
 * /var/lib/vpnd): the revocation list, the record of rotated keys, the handshake
 * timestamp floor. Each is a small text file replaced whole: written beside itself,
 * fsync'd, renamed over the old one and the directory fsync'd, so that a crash or a power
 * cut leaves the old or the new version, never half of one. */
#ifndef VPND_DAEMON_STATE_H
#define VPND_DAEMON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* No state file comes near this; a bigger one is not ours. */
#define VPND_STATE_FILE_MAX (16u << 20)
/* "2024-05-01T12:34:56Z" and its NUL. */
#define VPND_STATE_TIME_MAX 32

/* The whole file, NUL-terminated, in *text (to be freed). 0, -ENOENT when it does not
 * exist, -EFBIG past VPND_STATE_FILE_MAX, -EINVAL for a NUL byte in it, or -errno. */
int vpnd_state_read(const char *path, char **text);
/* Replace path by len bytes of text, mode 0600; its directory is created (0700) when
 * missing. 0 or -errno; the outcome is also noted in the storage health report. */
int vpnd_state_write(const char *path, const char *text, size_t len);

/* The line of text starting at *pos, without its newline and trailing blanks (a CR
 * included), and *pos moved past it. false when text has no more lines. */
bool vpnd_state_next_line(const char *text, size_t *pos, const char **line, size_t *len);

/* Add one formatted line to errs. false when out of memory. */
bool vpnd_state_error(struct vpnd_config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A wall-clock time in ns as UTC ISO 8601, to the second. */
const char *vpnd_state_iso_time(char buf[VPND_STATE_TIME_MAX], uint64_t real_ns);

#endif
