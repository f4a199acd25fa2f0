/* The state report behind `vpnctl show`: human text modelled on `wg show`, and the JSON
 * document of the contract. */
#ifndef VPND_DAEMON_SHOW_H
#define VPND_DAEMON_SHOW_H

#include <netinet/in.h>
#include <stdint.h>

#include "reply.h"
#include "tunnel/engine.h"

struct wg_allowed_ip;
struct vpnd_config;
struct vpnd_endpoints;
struct vpnd_policy;
struct vpnd_datapath_stats;

struct vpnd_show_input {
	const char *interface;
	uint16_t listen_port;
	const struct wg_engine *engine;
	uint64_t now_real_ns; /* wall clock, for handshake ages */
	uint64_t now_mono_ns; /* monotonic, for session expiry (peer state) */
	/* The applied configuration, for the site's own facts in the JSON (config_file,
	 * addresses, public_endpoint); NULL leaves them out. */
	const struct vpnd_config *config;
	/* The peers' configured endpoints ("endpoints"); NULL: none shown. */
	const struct vpnd_endpoints *endpoints;
	/* The site policy in force ("policy"); NULL: shown as allowing everything. */
	const struct vpnd_policy *policy;
	/* The revocation list ("revoked_keys"); NULL: shown empty. */
	const struct vpnd_revocations *revoked;
	/* The packet path's counters, for "handshake_queue"; NULL leaves it out. */
	const struct vpnd_datapath_stats *datapath;
};

/* only_peer: a peer name, or NULL for all. Returns -ENOENT (and writes an error) when the
 * named peer does not exist. */
int vpnd_show_text(struct vpnd_reply *r, const struct vpnd_show_input *in, const char *only_peer);
void vpnd_show_json(struct vpnd_reply *r, const struct vpnd_show_input *in);

/* A peer is "up" (a current session that may still send), "connecting" (no session, a
 * handshake in flight) or "down". The order is that of gravity: the worst of several
 * states is the largest. */
enum vpnd_peer_state {
	VPND_PEER_UP,
	VPND_PEER_CONNECTING,
	VPND_PEER_DOWN,
};
enum vpnd_peer_state vpnd_peer_state(const struct wg_peer *p, uint64_t now_mono_ns);
const char *vpnd_peer_state_name(enum vpnd_peer_state s);
/* vpnd_peer_state_name(vpnd_peer_state(p, now_mono_ns)) */
const char *vpnd_show_peer_state(const struct wg_peer *p, uint64_t now_mono_ns);

/* An allowed-ips entry as the routing table sees it ("10.2.0.0/24", host bits cleared). */
#define VPND_SHOW_PREFIX_MAX (INET6_ADDRSTRLEN + 4)
const char *vpnd_show_prefix(char buf[VPND_SHOW_PREFIX_MAX], const struct wg_allowed_ip *ip);

/* Durations as `wg show` prints them: "1 minute, 3 seconds"; "Now" for 0. */
#define VPND_SHOW_TIME_MAX 96
const char *vpnd_show_duration(char buf[VPND_SHOW_TIME_MAX], uint64_t seconds);
/* The age of a Unix time: "never" for 0, "Now", "2 hours, 1 second ago", or wg's warning
 * when then_s lies in the future. */
const char *vpnd_show_ago(char buf[VPND_SHOW_TIME_MAX], uint64_t now_s, uint64_t then_s);
/* Byte counts as wg prints them: "512 B", "1.21 MiB". */
#define VPND_SHOW_BYTES_MAX 32
const char *vpnd_show_bytes(char buf[VPND_SHOW_BYTES_MAX], uint64_t bytes);

#endif
