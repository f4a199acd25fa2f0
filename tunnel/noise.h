/* The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake of WireGuard v1.
 *
 * The Noise core knows its owner only through struct wg_noise_callbacks: finding a
 * remote by static public key or by the local index of a pending handshake, and
 * assigning or dropping local indices. That keeps it free of sockets and peers, so
 * unit tests drive it directly. All functions return 0 or a negative errno:
 *   -EINVAL  the message is not authentic or not well formed (reject, count)
 *   -ENOKEY  unknown static key (or no private key configured)
 *   -EEXIST  replayed or stale timestamp, or initiation flood from one peer
 *   -ESTALE  the handshake is not in the state this message needs
 */
#ifndef VPND_TUNNEL_NOISE_H
#define VPND_TUNNEL_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "keypair.h"
#include "messages.h"

enum wg_handshake_state {
	WG_HANDSHAKE_ZEROED,
	WG_HANDSHAKE_CREATED_INITIATION,
	WG_HANDSHAKE_CONSUMED_INITIATION,
	WG_HANDSHAKE_CREATED_RESPONSE,
	WG_HANDSHAKE_CONSUMED_RESPONSE,
};

/* Device-wide identity. */
struct wg_static_identity {
	uint8_t static_private[WG_KEY_LEN];
	uint8_t static_public[WG_KEY_LEN];
	bool has_identity;
};

/* One per peer. The fields up to `owner` are set by the owner; the rest are Noise state. */
struct wg_handshake {
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN]; /* all zero when none is configured */
	uint8_t precomputed_static_static[WG_KEY_LEN]; /* DH(s_priv, S_pub); zero if low-order */
	void *owner;				       /* the peer, opaque to Noise */
	/* Key rotation: the peer's next static key is accepted alongside remote_static
	 * until one handshake with it succeeds and the owner promotes it. */
	uint8_t next_static[WG_KEY_LEN];
	uint8_t precomputed_next[WG_KEY_LEN]; /* DH(s_priv, next); zero if low-order */
	bool has_next;
	/* Which key this attempt speaks to: set by the owner before create_initiation,
	 * by consume_initiation from the message it authenticated. */
	bool use_next;

	enum wg_handshake_state state;
	uint8_t ephemeral_private[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN]; /* greatest accepted from this peer */
	/* The same for its next key: a key's timestamps only ever compare with its own, so
	 * the next key may belong to a box whose clock is behind the old one's. */
	uint8_t latest_timestamp_next[WG_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption_ns;   /* monotonic, for the flood check */
	uint32_t local_index;
	uint32_t remote_index;
};

struct wg_noise_callbacks {
	void *ctx;
	/* The handshake of the peer with this static public key, or NULL (unknown/refused). */
	struct wg_handshake *(*lookup_static)(void *ctx, const uint8_t pub[WG_KEY_LEN]);
	/* The handshake whose local index is idx and which awaits a response, or NULL. */
	struct wg_handshake *(*lookup_index)(void *ctx, uint32_t idx);
	/* Allocate a fresh local index, unique among live handshakes and keypairs, and
	 * record that it names hs. */
	uint32_t (*index_assign)(void *ctx, struct wg_handshake *hs);
	/* Forget a local index assigned earlier. */
	void (*index_drop)(void *ctx, uint32_t idx);
};

struct wg_noise {
	struct wg_static_identity identity;
	struct wg_noise_callbacks cb;
};

/* Set (or replace) the private key; derives the public key. -EINVAL for a key whose
 * public key is low order (never produced by clamping, but checked anyway). */
int wg_noise_set_private_key(struct wg_noise *n, const uint8_t priv[WG_KEY_LEN]);
/* Prepare a peer's handshake for its static key and optional preshared key (NULL =
 * none): precomputes DH(s, S). Returns -EINVAL if the remote key is low order. */
int wg_noise_handshake_init(struct wg_noise *n, struct wg_handshake *hs,
			    const uint8_t remote_static[WG_KEY_LEN], const uint8_t *preshared_key,
			    void *owner);
/* Recompute precomputed_static_static (and precomputed_next) after the private key
 * changed. */
void wg_noise_handshake_refresh_static(struct wg_noise *n, struct wg_handshake *hs);
/* Accept `next` (NULL: stop) as a second static key of the peer: -EINVAL if it is of low
 * order or our own key. A handshake in progress with a next key that goes away is wiped. */
int wg_noise_handshake_set_next(struct wg_noise *n, struct wg_handshake *hs, const uint8_t *next);
/* The next key becomes the peer's only key. */
void wg_noise_handshake_promote_next(struct wg_handshake *hs);
/* Wipe the ephemeral state and drop the local index (back to ZEROED). */
void wg_noise_handshake_clear(struct wg_noise *n, struct wg_handshake *hs);

/* Fill msg (except macs) as initiator. timestamp is the TAI64N label to send. */
int wg_noise_create_initiation(struct wg_noise *n, struct wg_handshake *hs,
			       struct wg_msg_initiation *msg,
			       const uint8_t timestamp[WG_TIMESTAMP_LEN]);
/* Authenticate an initiation (macs already checked by the caller) and find its peer.
 * On success *out is the peer's handshake in CONSUMED_INITIATION. now_ns is monotonic,
 * used to refuse more than WG_INITIATIONS_PER_SECOND from one peer. On -EEXIST *out is
 * the (unchanged) handshake of the peer that sent it; on other errors it is NULL. */
int wg_noise_consume_initiation(struct wg_noise *n, const struct wg_msg_initiation *msg,
				uint64_t now_ns, struct wg_handshake **out);
/* Fill msg (except macs) as responder; hs must be in CONSUMED_INITIATION. */
int wg_noise_create_response(struct wg_noise *n, struct wg_handshake *hs,
			     struct wg_msg_response *msg);
/* Authenticate a response to our initiation; on success *out is in CONSUMED_RESPONSE. */
int wg_noise_consume_response(struct wg_noise *n, const struct wg_msg_response *msg,
			      struct wg_handshake **out);
/* Derive transport keys from a handshake in CREATED_RESPONSE or CONSUMED_RESPONSE into
 * kp (keys, indices, i_am_the_initiator, valid flags, birth_ns = now_ns, fresh replay
 * window), then wipe the handshake back to ZEROED without dropping the index: the index
 * now belongs to the keypair (kp->local_index) and the owner re-points it. */
int wg_noise_begin_session(struct wg_noise *n, struct wg_handshake *hs, struct wg_keypair *kp,
			   uint64_t now_ns);

#endif
