/* A peer's configured endpoints: each entry "host:port", "192.0.2.1:port" or
 * "[2001:db8::1]:port", and the rule that decides, from the handshakes sent and
 * answered, when to look a name up again and when to move on to the next entry.
 * Pure: no I/O, no clock of its own, so that tests drive it. */
#ifndef VPND_DAEMON_ENDPOINT_LIST_H
#define VPND_DAEMON_ENDPOINT_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/endpoint.h"

#define VPND_MAX_ENDPOINTS 8 /* per peer */
/* endpoint-refresh: seconds between lookups of a resolved name; 0 = never. */
#define VPND_DEFAULT_ENDPOINT_REFRESH 300
#define VPND_MAX_ENDPOINT_REFRESH     604800
#define VPND_ENDPOINT_HOST_MAX	      253 /* characters of a DNS name, as RFC 1035 allows */
/* "[host]:port" with the longest host and port, and its NUL. */
#define VPND_ENDPOINT_TEXT_MAX (VPND_ENDPOINT_HOST_MAX + 10)

struct vpnd_endpoint_entry {
	char host[VPND_ENDPOINT_HOST_MAX + 2]; /* a name may end in a dot */
	uint16_t port;
	bool numeric;		 /* host is an address: addr holds it, nothing to resolve */
	struct wg_endpoint addr; /* numeric entries only */
};

/* Parse one entry. 0, or -EINVAL with why filled in ("has no port (write HOST:PORT)"),
 * to follow the quoted text in an error message. Host names are checked, not looked up. */
int vpnd_endpoint_parse(const char *text, struct vpnd_endpoint_entry *e, char *why, size_t whylen);
/* The entry as it would be written: "host:port" or "[2001:db8::1]:port". */
const char *vpnd_endpoint_text(const struct vpnd_endpoint_entry *e,
			       char buf[VPND_ENDPOINT_TEXT_MAX]);

/* What a peer's handshakes say about its endpoint. Every initiation we send opens a retry
 * period (WG_REKEY_TIMEOUT); just before it ends (the next initiation cannot go out
 * earlier) the period is judged: after one unanswered initiation the names are looked up
 * again, after two the next endpoint is due, so that the third goes there. Counting our
 * own initiations, not the engine's attempt number, matters: data sent over a stale
 * session restarts that number, and a busy tunnel would never fail over. */
struct vpnd_failover {
	unsigned unanswered; /* initiations since the last completed handshake */
	uint64_t check_at;   /* monotonic ns when the current period is judged; 0 = none */
};

enum vpnd_failover_action {
	VPND_FAILOVER_NONE,
	VPND_FAILOVER_RESOLVE, /* look the names up again: the address may have moved */
	VPND_FAILOVER_NEXT,    /* move to the next endpoint (and look names up again) */
};

/* How long before the end of a retry period it is judged. */
#define VPND_FAILOVER_MARGIN_NS (250 * 1000 * 1000ULL)

void vpnd_failover_initiated(struct vpnd_failover *f, uint64_t now_ns);
void vpnd_failover_completed(struct vpnd_failover *f);
/* At or after check_at: what to do (and the state is reset for NEXT). NONE before it. */
enum vpnd_failover_action vpnd_failover_check(struct vpnd_failover *f, uint64_t now_ns);
/* The entry after cur that has an address (usable[i]), wrapping around; cur when no
 * other has one. */
unsigned vpnd_failover_next(const bool *usable, unsigned n, unsigned cur);

#endif
