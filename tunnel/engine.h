/* The protocol engine: one WireGuard interface with its peers. It owns no sockets and
 * no TUN; the daemon feeds it datagrams, IP packets and the time, and it answers through
 * struct wg_engine_io. Single-threaded: call it from one thread. */
#ifndef VPND_TUNNEL_ENGINE_H
#define VPND_TUNNEL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "peer.h"
#include "stats.h"

struct wg_engine;

/* Both clocks: monotonic for timers, wall clock for TAI64N and "latest handshake". */
struct wg_time {
	uint64_t mono_ns;
	uint64_t real_ns;
};

enum wg_event {
	WG_EVENT_HANDSHAKE_COMPLETE,	/* detail: "initiator" or "responder" */
	WG_EVENT_HANDSHAKE_INITIATED,	/* detail: attempt number */
	WG_EVENT_PEER_UNREACHABLE,	/* gave up after WG_REKEY_ATTEMPT_TIME */
	WG_EVENT_HANDSHAKE_REFUSED,	/* peer may be NULL; detail: why */
	WG_EVENT_ENDPOINT_CHANGED,	/* detail: new endpoint */
	WG_EVENT_KEYS_ZEROED,		/* all session keys wiped after 3 x REJECT_AFTER_TIME */
	WG_EVENT_COOKIE_SENT,
};

struct wg_engine_io {
	void *ctx;
	/* Send one datagram. Returns 0 or a negative errno (counted by the caller). */
	int (*send_datagram)(void *ctx, const struct wg_endpoint *to, const uint8_t *buf,
			     size_t len);
	/* Hand a decrypted, source-checked IP packet to the local side (the TUN). */
	void (*deliver_packet)(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len);
	/* A significant protocol event, for the log. May be NULL. */
	void (*event)(void *ctx, enum wg_event ev, const struct wg_peer *peer,
		      const char *detail);
};

struct wg_engine_settings {
	unsigned rekey_after_time; /* seconds, 1..WG_REKEY_AFTER_TIME */
	unsigned mtu;		   /* of the tunnel: inner packets are padded within it */
};

struct wg_peer_config {
	const char *name;
	uint8_t public_key[32];
	bool has_preshared_key;
	uint8_t preshared_key[32];
	struct wg_endpoint endpoint; /* AF_UNSPEC: none */
	uint16_t persistent_keepalive;
};

struct wg_engine *wg_engine_new(const struct wg_engine_io *io,
				const struct wg_engine_settings *settings);
/* Wipes every key and frees every peer. */
void wg_engine_free(struct wg_engine *e);
void wg_engine_update_settings(struct wg_engine *e, const struct wg_engine_settings *settings);

/* 0, or -EINVAL. Changing the key drops every session. */
int wg_engine_set_private_key(struct wg_engine *e, const uint8_t priv[32]);
const uint8_t *wg_engine_public_key(const struct wg_engine *e);

/* Add a peer; NULL with errno EEXIST (public key already used), EINVAL (low-order key,
 * or the device's own key) or ENOMEM. */
struct wg_peer *wg_engine_add_peer(struct wg_engine *e, const struct wg_peer_config *cfg,
				   struct wg_time now);
/* Ends the peer's sessions, wipes its keys and frees it. */
void wg_engine_remove_peer(struct wg_engine *e, struct wg_peer *p);
/* Change what can change without a new identity; a changed preshared key drops sessions. */
void wg_engine_peer_set_endpoint(struct wg_engine *e, struct wg_peer *p,
				 const struct wg_endpoint *ep);
void wg_engine_peer_set_keepalive(struct wg_engine *e, struct wg_peer *p, uint16_t seconds,
				  struct wg_time now);
void wg_engine_peer_set_preshared_key(struct wg_engine *e, struct wg_peer *p,
				      const uint8_t *psk /* NULL = none */);
/* Replace the peer's allowed-ips. 0, -EINVAL (bad prefix) or -ENOMEM; on error the
 * previous set is kept. A prefix held by another peer moves to this one. */
int wg_engine_peer_set_allowed_ips(struct wg_engine *e, struct wg_peer *p,
				   const struct wg_allowed_ip *ips, unsigned n);

struct wg_peer *wg_engine_peers(const struct wg_engine *e); /* list head, then p->next */
struct wg_peer *wg_engine_find_peer(const struct wg_engine *e, const uint8_t public_key[32]);
struct wg_peer *wg_engine_find_peer_by_name(const struct wg_engine *e, const char *name);
const struct wg_device_stats *wg_engine_stats(const struct wg_engine *e);
/* Count a drop the daemon decided before the engine saw the datagram. */
void wg_engine_note_drop(struct wg_engine *e, enum wg_drop_reason why);

/* A datagram from the underlay. buf is modified (decrypted in place). */
void wg_engine_receive(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
		       size_t len, struct wg_time now);
/* An IP packet from the TUN, to encrypt and send (or stage) toward its peer. */
void wg_engine_send(struct wg_engine *e, const uint8_t *pkt, size_t len, struct wg_time now);
/* Start a handshake now if the peer has no usable session (e.g. at startup for peers
 * with a persistent keepalive). */
void wg_engine_peer_connect(struct wg_engine *e, struct wg_peer *p, struct wg_time now);
/* Fire expired timers. */
void wg_engine_tick(struct wg_engine *e, struct wg_time now);
/* The earliest timer deadline (monotonic ns), or UINT64_MAX when none is armed. */
uint64_t wg_engine_next_deadline(const struct wg_engine *e);

/* For tests and load decisions: treat the device as under load until mono time `until`
 * (cookie replies demanded). The engine also decides this itself from the handshake rate. */
void wg_engine_set_under_load(struct wg_engine *e, uint64_t until_ns);

#endif
