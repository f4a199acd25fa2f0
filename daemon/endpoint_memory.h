/* Picking up after a restart (a crash included): the peers vpnd reached (completed a
 * handshake with) and where are kept in a state file; at start vpnd fills that endpoint
 * in for those the config gives none, then starts a handshake with each of them. Their
 * sessions with the run before are dead (the keys died with it), and they would only
 * notice after 15 s or more; this way they are back within a round trip. Peers never
 * reached are left to contact us, as on a first start. One memory per process, used
 * from the event loop's thread. */
#ifndef VPND_DAEMON_ENDPOINT_MEMORY_H
#define VPND_DAEMON_ENDPOINT_MEMORY_H

#include "tunnel/engine.h"

/* Seconds between a change and its write (changes in between are written together). */
#define VPND_ENDPOINT_MEMORY_DELAY_S 1
/* Seconds before a failed write (disk full, read-only) is tried again. */
#define VPND_ENDPOINT_MEMORY_RETRY_S 3

/* Read STATE_DIR/IFNAME.endpoints (state_dir NULL: nothing is remembered) into the
 * engine's peers that have no endpoint, start a handshake with every peer it lists, and
 * keep the file up to date from then on (a timer in epfd). A missing or unreadable file
 * is logged, never fatal. 0 or -errno (out of descriptors or memory). */
int vpnd_endpoint_memory_start(const char *state_dir, const char *ifname, struct wg_engine *e,
			       int epfd, struct wg_time now);
/* A handshake completed with p, or p's endpoint changed: written within the delay if
 * the file does not already say so. */
void vpnd_endpoint_memory_reached(const struct wg_peer *p);
/* Write what is pending, then forget the engine and the timer. */
void vpnd_endpoint_memory_stop(void);

/* ---- for tests: the file's format, without I/O ---- */
/* One line "KEY ENDPOINT\n" (base64 public key, ip:port) for p into buf, or 0 if p has no
 * endpoint. */
size_t vpnd_endpoint_memory_line(char *buf, size_t len, const struct wg_peer *p);
/* Parse one line (comments and blank lines: 0, nothing set). 1 with key and ep set, or
 * -EINVAL for a line that is neither. */
int vpnd_endpoint_memory_parse(const char *line, uint8_t key[32], struct wg_endpoint *ep);

#endif
