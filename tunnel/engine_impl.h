/* The engine's own state, shared by engine.c, peer.c, send.c, receive.c and timers.c.
 * Nothing outside tunnel/ includes this. */
#ifndef VPND_TUNNEL_ENGINE_IMPL_H
#define VPND_TUNNEL_ENGINE_IMPL_H

#include "allowedips.h"
#include "cookie.h"
#include "engine.h"
#include "index_table.h"
#include "known_sources.h"
#include "noise.h"
#include "peer_index.h"
#include "ratelimiter.h"

/* More handshake messages than this in one second means we are under load, and
 * initiations must then prove their source address with a cookie (mac2). A site with
 * hundreds of branches rekeying every two minutes sends a few per second. */
#define WG_UNDER_LOAD_HANDSHAKES_PER_SECOND 200
/* Under load, cookie replies to sources that are not a known peer endpoint: at most this
 * many a second. Each costs an encryption and a send, so a spoofed flood could otherwise
 * eat the core the data plane needs; past the budget such initiations cost one mac1. */
#define WG_COOKIE_REPLIES_PER_SECOND 10000
#define WG_COOKIE_REPLY_BURST	     1000

struct wg_engine {
	struct wg_engine_io io;
	struct wg_engine_settings settings;
	struct wg_noise noise;
	struct wg_cookie_checker cookie_checker;
	struct wg_index_table index;
	struct wg_allowedips allowedips;
	struct wg_ratelimiter ratelimiter;
	struct wg_known_sources known_sources;
	uint64_t cookie_budget_ns; /* token bucket of cookie replies, in ns of credit */
	uint64_t cookie_budget_at;
	struct wg_peer *peers;
	struct wg_peer *peers_last;	 /* the list's tail: adding n peers costs n, not n^2 */
	struct wg_peer_index peer_index; /* peers by public and next key */
	bool peer_index_broken;		 /* out of memory once: find peers by walking */
	struct wg_device_stats stats;
	/* Site-local prefixes (wg_engine_set_local_networks): a destination here is
	 * delivered to the local side unless a peer holds a longer prefix for it. */
	struct wg_allowedips local;
	/* Set by the static-key lookup when the key is a revoked peer's, so the receive
	 * path can count the refusal against that peer. */
	struct wg_peer *refused_revoked;
	/* Clock safety: TAI64N timestamps sent (wall-clock ns, already rounded to the
	 * timestamp granularity) stay above the floor and keep increasing. */
	uint64_t timestamp_floor_ns;
	uint64_t last_timestamp_ns;
	uint64_t keypair_serial; /* the last wg_keypair.serial handed out */
	uint64_t under_load_until;
	uint64_t load_window_start;
	unsigned load_window_count;
	/* Scratch for one outgoing message: header + largest inner packet + tag. */
	uint8_t out[WG_MESSAGE_MAX_SIZE + 64];
};

static inline uint64_t wg_seconds(unsigned s)
{
	return (uint64_t)s * WG_NSEC_PER_SEC;
}

/* Whether `birth` lies at least `age` ns before now (0 birth = never = expired). */
static inline int wg_has_expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return !birth || now - birth >= age;
}

void wg_engine_event(struct wg_engine *e, enum wg_event ev, const struct wg_peer *p,
		     const char *detail);
void wg_engine_drop(struct wg_engine *e, struct wg_peer *p, enum wg_drop_reason why);

/* engine.c: bring the peer index up to date with p's keys (remove_only: forget p). */
void wg_engine_reindex_peer(struct wg_engine *e, struct wg_peer *p, bool remove_only);

/* peer.c */
struct wg_peer *wg_peer_create(struct wg_engine *e, const struct wg_peer_config *cfg);
void wg_peer_destroy(struct wg_engine *e, struct wg_peer *p);
/* Install a freshly derived keypair in the slots (paper section 6.1). */
void wg_peer_add_keypair(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp);
/* A data packet authenticated under kp: if kp was the responder's `next`, it becomes
 * current. Returns true when that happened (the handshake is now confirmed). */
bool wg_peer_received_with_keypair(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp);
void wg_peer_clear_keypairs(struct wg_engine *e, struct wg_peer *p);
void wg_peer_clear_handshake(struct wg_engine *e, struct wg_peer *p);
/* Roaming: the endpoint follows the source of the latest authenticated packet. */
void wg_peer_update_endpoint(struct wg_engine *e, struct wg_peer *p,
			     const struct wg_endpoint *from);
/* Copy a packet into the staged ring (dropping the oldest when full). */
int wg_peer_stage_packet(struct wg_engine *e, struct wg_peer *p, const uint8_t *pkt, size_t len);
void wg_peer_purge_staged(struct wg_peer *p);

/* send.c */
void wg_send_staged_packets(struct wg_engine *e, struct wg_peer *p, struct wg_time now);
void wg_send_keepalive(struct wg_engine *e, struct wg_peer *p, struct wg_time now);
void wg_send_handshake_initiation(struct wg_engine *e, struct wg_peer *p, bool is_retry,
				  struct wg_time now);
void wg_send_handshake_response(struct wg_engine *e, struct wg_peer *p, struct wg_time now);
void wg_send_cookie_reply(struct wg_engine *e, const uint8_t *msg, size_t len,
			  uint32_t sender_index, const struct wg_endpoint *to, uint64_t now);
/* Send a datagram to the peer's endpoint and account for it. */
int wg_send_to_peer(struct wg_engine *e, struct wg_peer *p, const uint8_t *buf, size_t len);

/* The cookie maker for the key the current handshake attempt speaks to (key rotation). */
struct wg_cookie_maker *wg_peer_cookie(struct wg_peer *p);

/* send.c: encrypt and send one packet to p now when a session allows, otherwise stage it
 * and start a handshake. Copies only when staging. */
void wg_send_packet(struct wg_engine *e, struct wg_peer *p, const uint8_t *pkt, size_t len,
		    struct wg_time now);
/* The wall-clock ns to put in the next initiation's TAI64N (see timestamp_floor_ns). */
uint64_t wg_next_timestamp(struct wg_engine *e, uint64_t real_ns);

/* key_rotation.c */
/* A session was derived: if it used the peer's next key, that key becomes the peer's. */
void wg_key_rotation_session_derived(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp);
/* Before an initiation: which of the peer's keys it speaks to. */
void wg_key_rotation_pick(struct wg_peer *p, bool is_retry);

/* relay.c: a decrypted, source-checked inner packet of `family` from `from`: delivered
 * to the local side or relayed to another peer, as the allowed-ips and the policy say. */
void wg_relay_route(struct wg_engine *e, struct wg_peer *from, uint8_t *pkt, size_t len, int family,
		    struct wg_time now);

/* receive.c is wg_engine_receive itself. */

#endif
