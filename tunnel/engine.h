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
struct wg_crypto_job;

/* Both clocks: monotonic for timers, wall clock for TAI64N and "latest handshake". */
struct wg_time {
	uint64_t mono_ns;
	uint64_t real_ns;
};

enum wg_event {
	WG_EVENT_HANDSHAKE_COMPLETE,  /* detail: "initiator" or "responder" */
	WG_EVENT_HANDSHAKE_INITIATED, /* detail: attempt number */
	WG_EVENT_PEER_UNREACHABLE,    /* gave up after WG_REKEY_ATTEMPT_TIME */
	WG_EVENT_HANDSHAKE_REFUSED,   /* peer may be NULL (a revoked peer is named); detail:
					 the reason and the source, "revoked key from
					 203.0.113.2:51821" */
	WG_EVENT_ENDPOINT_CHANGED,    /* detail: new endpoint */
	WG_EVENT_KEYS_ZEROED,	      /* all session keys wiped after 3 x REJECT_AFTER_TIME */
	WG_EVENT_COOKIE_SENT,
	WG_EVENT_KEY_ROTATED, /* a handshake used the peer's next-public-key: it is now the
				 peer's key and the old one is refused. detail: NULL */
};

struct wg_engine_io {
	void *ctx;
	/* Send one datagram. Returns 0 or a negative errno (counted by the caller). */
	int (*send_datagram)(void *ctx, const struct wg_endpoint *to, const uint8_t *buf,
			     size_t len);
	/* Hand a decrypted, source-checked IP packet to the local side (the TUN). */
	void (*deliver_packet)(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len);
	/* A significant protocol event, for the log. May be NULL. */
	void (*event)(void *ctx, enum wg_event ev, const struct wg_peer *peer, const char *detail);
	/* The site policy for a decrypted, source-checked packet from `from` going to `to`
	 * (another peer: relayed; NULL: delivered to the local side). true = pass. NULL
	 * callback = everything passes. Called for every such packet. */
	bool (*policy_allows)(void *ctx, const struct wg_peer *from, const struct wg_peer *to,
			      const uint8_t *pkt, size_t len);
	/* Optional: send a transport data message the callee seals itself, so that a batch
	 * of them can be encrypted on several cores. msg is the 16-byte data header and the
	 * padded plaintext (len bytes), with room for the 16-byte tag after it; the callee
	 * encrypts msg + 16 (len - 16 bytes) in place with ChaCha20-Poly1305 under key and
	 * the nonce made of counter, appends the tag, and sends the len + 16 bytes before any
	 * datagram handed to it later for the same peer. key is valid only during the call.
	 * Returns 0 or a negative errno, as send_datagram. NULL: the engine encrypts and
	 * calls send_datagram. */
	int (*send_unsealed)(void *ctx, struct wg_endpoint *to, uint8_t *msg, size_t len,
			     const uint8_t key[32], uint64_t counter);
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
	/* Key rotation: handshakes from this key are accepted too (see
	 * wg_engine_peer_set_next_key). */
	bool has_next_public_key;
	uint8_t next_public_key[32];
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

/* Key rotation: also accept handshakes from `next` (NULL: stop). 0, -EEXIST (another
 * peer has that key), -EINVAL (low order / own key). */
int wg_engine_peer_set_next_key(struct wg_engine *e, struct wg_peer *p, const uint8_t *next);
/* Revocation: true ends the peer's sessions now, wipes their keys, drops staged packets,
 * and from then on refuses every handshake from the peer's keys (counted as
 * WG_DROP_REVOKED on peer and device, event HANDSHAKE_REFUSED) and sends nothing to it
 * (outbound packets counted WG_DROP_REVOKED). false lifts it. */
void wg_engine_peer_set_revoked(struct wg_engine *e, struct wg_peer *p, bool revoked);
/* Clock safety: every TAI64N timestamp sent is strictly greater than this wall-clock
 * time (ns) and than every timestamp sent before. */
void wg_engine_set_timestamp_floor(struct wg_engine *e, uint64_t real_ns);
/* The wall-clock ns of the greatest timestamp sent so far (0 = none). */
uint64_t wg_engine_last_timestamp(const struct wg_engine *e);

/* This site's own prefixes (interface addresses, LANs): a relayed packet's destination
 * inside one is delivered to the local side unless a peer's allowed-ips hold a longer
 * prefix for it, as a router's longest match would decide. Without them a destination in
 * a peer's allowed-ips is that peer's. Replaces the set: 0, -EINVAL or -ENOMEM (set kept). */
int wg_engine_set_local_networks(struct wg_engine *e, const struct wg_allowed_ip *nets, unsigned n);

struct wg_peer *wg_engine_peers(const struct wg_engine *e); /* list head, then p->next */
/* By the peer's public key or its next key. */
struct wg_peer *wg_engine_find_peer(const struct wg_engine *e, const uint8_t public_key[32]);
struct wg_peer *wg_engine_find_peer_by_name(const struct wg_engine *e, const char *name);
const struct wg_device_stats *wg_engine_stats(const struct wg_engine *e);
/* Count a drop the daemon decided before the engine saw the datagram. */
void wg_engine_note_drop(struct wg_engine *e, enum wg_drop_reason why);

/* Is this datagram a handshake initiation or response, by type and exact size? Those
 * are what a caller may set aside and hand to wg_engine_receive later
 * (handshake_queue.h); everything else is cheap to handle at once. */
bool wg_engine_is_handshake(const uint8_t *buf, size_t len);
/* Is from the current endpoint of some peer? (The test behind the cookie replies that
 * known branches always get, and the handshake queue's reserve.) */
bool wg_engine_source_is_peer(struct wg_engine *e, const struct wg_endpoint *from);

/* A datagram from the underlay. buf is modified (decrypted in place). */
void wg_engine_receive(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
		       size_t len, struct wg_time now);
/* Decryption off the engine's thread, for a batch of datagrams (crypto_job.h):
 *
 * wg_engine_prepare_decrypt reads and changes nothing, so it may run for a whole batch
 * before any of it is handled. For a transport data message whose receiver index names
 * a session that may still receive, it fills job (a copy of the key, the counter, the
 * ciphertext in buf to open in place, the keypair and its serial) and returns true;
 * otherwise false, and the datagram goes to wg_engine_receive as any other.
 *
 * wg_engine_receive_decrypted handles such a message once the job has run, exactly as
 * wg_engine_receive would have after its own decryption: a session replaced or expired
 * meanwhile is a drop (WG_DROP_EXPIRED_KEY), a failed job a WG_DROP_DECRYPT, then the
 * replay window, timers, roaming, source check, policy and delivery or relay. Call it
 * for the prepared datagrams in their order of arrival, interleaved in that order with
 * wg_engine_receive for the others. */
bool wg_engine_prepare_decrypt(const struct wg_engine *e, uint8_t *buf, size_t len,
			       struct wg_crypto_job *job, uint64_t now_mono);
void wg_engine_receive_decrypted(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
				 size_t len, const struct wg_crypto_job *job, struct wg_time now);
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
