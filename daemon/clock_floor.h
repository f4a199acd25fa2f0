/* Clock-safe handshakes. A responder refuses an initiation whose TAI64N timestamp is not
 * newer than the greatest it has seen from that key (replay protection), so a gateway
 * that comes back with its clock behind (a router without a real-time clock) would be
 * locked out until its clock caught up. vpnd keeps, in
 * <state-directory>/<interface>.timestamp, a wall-clock time that no timestamp sent so
 * far has passed, and at start tells the engine to send only later ones.
 *
 * Writing once per handshake would wear the disk and slow every handshake; instead the
 * file reserves time ahead: when a timestamp reaches the stored value, now + reserve is
 * stored, so there is at most one write a minute while the clock is right. */
#ifndef VPND_DAEMON_CLOCK_FLOOR_H
#define VPND_DAEMON_CLOCK_FLOOR_H

#include <stdint.h>

#include "config.h"

#define VPND_CLOCK_RESERVE_NS (60 * UINT64_C(1000000000))

/* Parse the file's text: *ns the stored time (0 for a file with no value). 0, or -EINVAL
 * with "PATH:LINE: ..." in errs. */
int vpnd_clock_floor_parse(const char *path, const char *text, uint64_t *ns,
			   struct vpnd_config_errors *errs);
/* Read path; a missing file is 0 (no floor). 0 or -errno (reasons in errs). */
int vpnd_clock_floor_load(const char *path, uint64_t *ns, struct vpnd_config_errors *errs);
/* The file's text for ns (malloc'd, *len bytes), NULL when out of memory. */
char *vpnd_clock_floor_text(uint64_t ns, size_t *len);
/* Store ns in path (see state.h). 0 or -errno. */
int vpnd_clock_floor_save(const char *path, uint64_t ns);
/* What to store once the greatest timestamp sent is last_sent and the wall clock says
 * now, while `stored` is on disk: 0 while stored is still ahead of both, else the new
 * value to write, VPND_CLOCK_RESERVE_NS past the later of the two. */
uint64_t vpnd_clock_floor_next(uint64_t stored, uint64_t last_sent, uint64_t now);

#endif
