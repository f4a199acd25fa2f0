/* A running interface: the engine, its TUN and UDP sockets, netlink state, the control
 * socket and the event loop that ties them together. */
#ifndef VPND_DAEMON_RUNTIME_H
#define VPND_DAEMON_RUNTIME_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "control_server.h"
#include "datapath.h"
#include "event.h"
#include "metrics_http.h"
#include "netlink.h"
#include "persistent_state.h"
#include "policy_guard.h"
#include "privileges.h"
#include "reply.h"
#include "tunnel/engine.h"
#include "tunnel/udp.h"

/* A prefix routed (or an address assigned) on the TUN, remembered so that exactly what
 * we installed is removed at exit or reload. */
struct vpnd_prefix {
	int family;
	uint8_t addr[16];
	uint8_t len;
};

struct vpnd_prefix_set {
	struct vpnd_prefix *items;
	unsigned count;
};

struct vpnd_runtime {
	struct vpnd_config *config; /* as applied */
	struct wg_engine *engine;
	struct wg_udp udp;
	struct vpnd_datapath dp; /* batches and offloads between TUN, engine and UDP */
	int tun_fd;
	char ifname[IFNAMSIZ];
	int ifindex;
	struct vpnd_netlink *nl;
	struct vpnd_control *control;
	struct vpnd_uapi_server *uapi; /* the wg tool's socket; NULL when uapi = false */
	int epfd;
	struct vpnd_event_source tun_src, udp4_src, udp6_src, timer_src, signal_src;
	uint64_t timer_armed;		  /* deadline the timerfd is set to; 0 = disarmed */
	struct vpnd_prefix_set routes;	  /* installed on the TUN */
	struct vpnd_prefix_set addresses; /* assigned to the TUN */
	bool running;
	uint64_t refused_logged_at; /* rate limit for "handshake refused" lines */
	unsigned refused_suppressed;
	uint64_t tun_write_errors, udp_send_errors;
	struct vpnd_metrics_http *metrics; /* the /metrics endpoint, serving if metrics-listen */
	struct vpnd_endpoints *endpoints;  /* peers' endpoint lists, lookups and failover */
	uint64_t handshakes_completed;	   /* since start, for vpnd_handshakes_total */
	struct vpnd_persistent persist;	   /* revocations, rotated keys, timestamp floor */
	struct vpnd_policy_guard policy;   /* the site policy in force (io.policy_allows) */
	struct vpnd_privileges privileges; /* the account vpnd becomes once set up */
	uint8_t buf[65536 + 64];
};

struct wg_time vpnd_now(void);

/* Bring up everything the config describes; on failure undo it all and return -errno
 * (the reason is logged). Takes ownership of cfg on success. */
int vpnd_runtime_start(struct vpnd_runtime *rt, struct vpnd_config *cfg);
/* Run the event loop until SIGTERM/SIGINT. */
void vpnd_runtime_run(struct vpnd_runtime *rt);
/* Remove routes, the TUN device and the control socket; wipe keys. */
void vpnd_runtime_stop(struct vpnd_runtime *rt);

/* Add a configured peer to the engine with its allowed-ips. 0 or -errno. */
int vpnd_runtime_add_peer(struct vpnd_runtime *rt, const struct vpnd_peer_conf *pc,
			  struct wg_time now);

/* reload.c: re-read the config file and apply the difference; errors go to r and the
 * running state is kept. Returns 0 or -1. */
int vpnd_runtime_reload(struct vpnd_runtime *rt, struct vpnd_reply *r);
/* The routes and addresses a config asks for. */
int vpnd_prefixes_from_config(const struct vpnd_config *c, struct vpnd_prefix_set *routes,
			      struct vpnd_prefix_set *addresses);
/* Make the TUN's routes (or addresses) equal `want`, updating `have`. 0 or -errno. */
int vpnd_runtime_sync_prefixes(struct vpnd_runtime *rt, struct vpnd_prefix_set *have,
			       const struct vpnd_prefix_set *want, bool routes);
void vpnd_prefix_set_free(struct vpnd_prefix_set *s);
bool vpnd_prefix_set_has(const struct vpnd_prefix_set *s, const struct vpnd_prefix *p);
/* Add p unless it is there already: 0 or -ENOMEM. */
int vpnd_prefix_set_add(struct vpnd_prefix_set *s, const struct vpnd_prefix *p);
/* tun_prefixes.c: dst becomes a copy of src (dst's old items are not freed). 0 or -ENOMEM. */
int vpnd_prefix_set_copy(struct vpnd_prefix_set *dst, const struct vpnd_prefix_set *src);
/* The routes the engine's peers ask for as they are now, runtime changes included. */
int vpnd_routes_from_engine(const struct vpnd_runtime *rt, struct vpnd_prefix_set *routes);
/* Make the TUN's routes those of the engine's peers. 0 or -errno (logged). */
int vpnd_runtime_sync_routes(struct vpnd_runtime *rt);

/* A listen-port change: bind new UDP sockets on port and put them in the event loop in
 * place of the current ones, which are handed back in *old, still open but out of the
 * loop (the fwmark they carry moves along). 0, or -errno with nothing changed. */
int vpnd_runtime_udp_move(struct vpnd_runtime *rt, uint16_t port, struct wg_udp *old);
/* Undo vpnd_runtime_udp_move: the sockets in *old serve again, the new ones are closed. */
void vpnd_runtime_udp_restore(struct vpnd_runtime *rt, struct wg_udp *old);

#endif
