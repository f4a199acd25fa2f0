/* Where each peer is reached: its configured endpoints (host names looked up at start,
 * every endpoint-refresh seconds and when handshakes keep failing) and failover from one
 * to the next when handshakes over the current one go unanswered. The engine follows a
 * peer that roams by itself; this module only ever sets the endpoint the engine sends
 * handshakes to, from its own event sources, never from inside an engine callback. */
#ifndef VPND_DAEMON_ENDPOINTS_H
#define VPND_DAEMON_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint_list.h"
#include "event.h"
#include "tunnel/engine.h"

struct vpnd_config;
struct vpnd_resolver;

/* One configured endpoint and what it resolves to. */
struct vpnd_endpoint_state {
	struct vpnd_endpoint_entry entry;
	struct wg_endpoint addr; /* AF_UNSPEC: not resolved (yet) */
	uint64_t lookup_at;	 /* monotonic ns of the next lookup; 0 = none planned */
	uint64_t lookup_id;	 /* of the lookup in flight; 0 = none */
	unsigned failures;	 /* lookups failed in a row */
	bool force;		 /* the next answer replaces the peer's endpoint */
};

struct vpnd_peer_endpoints {
	char name[WG_PEER_NAME_MAX];
	uint8_t public_key[32]; /* to recognise a renamed peer at reload */
	char *spec;		/* the list as configured, to tell a changed one */
	struct vpnd_endpoint_state *list;
	unsigned n, cur; /* list[cur] is the one in use */
	struct vpnd_failover failover;
};

struct vpnd_endpoints {
	struct vpnd_event_source timer_src;
	int epfd;
	struct wg_engine *engine;
	struct vpnd_resolver *resolver;
	uint64_t refresh_ns;		   /* endpoint-refresh; 0 = never */
	struct vpnd_peer_endpoints *peers; /* sorted by name */
	unsigned n_peers;
	uint32_t generation; /* of peers[]: answers for an older one are dropped */
	uint32_t lookups;    /* numbers the lookups */
	uint64_t timer_armed;
};

/* NULL with errno. */
struct vpnd_endpoints *vpnd_endpoints_new(int epfd, struct wg_engine *engine);
void vpnd_endpoints_free(struct vpnd_endpoints *eps);
/* Take the peers' endpoint lists from cfg, at start and after each reload (after the
 * engine's peers are in line with cfg). A peer whose list is unchanged keeps its state;
 * a changed list starts over and its endpoint replaces the engine's. 0 or -ENOMEM. */
int vpnd_endpoints_configure(struct vpnd_endpoints *eps, const struct vpnd_config *cfg,
			     uint64_t now_ns);
/* From the engine's event callback: counts initiations and completed handshakes. Safe
 * there: it never calls into the engine. */
void vpnd_endpoints_note_event(struct vpnd_endpoints *eps, enum wg_event ev,
			       const struct wg_peer *p, uint64_t now_ns);
/* The configured endpoints of the peer named name; NULL when it has none. */
const struct vpnd_peer_endpoints *vpnd_endpoints_find(const struct vpnd_endpoints *eps,
						      const char *name);

/* For tests: fire what is due at now_ns (the timerfd handler calls this). */
void vpnd_endpoints_run(struct vpnd_endpoints *eps, uint64_t now_ns);

#endif
