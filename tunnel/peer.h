/* A remote site: its identity, sessions, endpoint, timers, staged packets and counters. */
#ifndef VPND_TUNNEL_PEER_H
#define VPND_TUNNEL_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "cookie.h"
#include "endpoint.h"
#include "keypair.h"
#include "noise.h"
#include "stats.h"
#include "timers.h"

#define WG_PEER_NAME_MAX 64

struct wg_allowed_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t cidr;
};

/* Packets waiting for a session: a fixed ring of WG_MAX_STAGED_PACKETS, allocated when
 * first needed; the oldest is dropped when it is full. */
struct wg_staged_packets {
	uint8_t **buf;
	uint16_t *len;
	unsigned head, count;
};

struct wg_peer {
	char name[WG_PEER_NAME_MAX];
	struct wg_handshake handshake;
	struct wg_cookie_maker cookie;
	struct wg_cookie_maker cookie_next; /* for the next key, while has_next_key */
	struct wg_keypairs keypairs;
	struct wg_endpoint endpoint;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	struct wg_peer_timers timers;
	struct wg_staged_packets staged;
	struct wg_allowed_ip *allowed_ips;
	unsigned n_allowed_ips;
	uint64_t last_sent_handshake; /* monotonic ns; 0 = never */
	bool cookie_resent;	      /* the current initiation was resent for a cookie */
	bool revoked;		      /* refuse its handshakes, send nothing to it */
	bool has_next_key;	      /* key rotation: next_key is accepted too */
	uint8_t next_key[32];
	struct wg_peer_stats stats;
	struct wg_peer *next; /* engine's list, in configuration order */
	uint8_t indexed_keys[2][32]; /* the keys the engine's peer index maps to this peer */
	uint8_t n_indexed;
};

#endif
