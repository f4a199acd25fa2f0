/* The WireGuard handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, written to be read
 * side by side with section 5.4 of the WireGuard paper:
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss, {t}        handshake initiation, t = TAI64N timestamp
 *     <- e, ee, se, psk, {}       handshake response
 *
 * Every step works on local copies of the chaining key and hash; a handshake is only
 * written once a message has been fully created or authenticated, so a forged or
 * replayed message never disturbs the state of a real one.
 *
 * A handshake names itself by a local index only while it awaits an answer or a session
 * (the CREATED_* and CONSUMED_RESPONSE states). begin_session hands that index to the
 * keypair; every other way out of those states drops it through the callbacks. */
#include "noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "hash.h"
#include "replay.h"
#include "tai64n.h"

/* Every AEAD key of the handshake encrypts exactly one message: the nonce is counter 0. */
static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

_Static_assert(WG_KEY_LEN == crypto_scalarmult_BYTES, "X25519 keys");
_Static_assert(WG_AUTHTAG_LEN == crypto_aead_chacha20poly1305_IETF_ABYTES, "Poly1305 tag");

/* C_i = HASH(construction), H_i = HASH(C_i || identifier), H = HASH(H_i || S_r). */
static void handshake_start(uint8_t ck[WG_HASH_LEN], uint8_t h[WG_HASH_LEN],
			    const uint8_t responder_static[WG_KEY_LEN])
{
	wg_hash(ck, WG_CONSTRUCTION, strlen(WG_CONSTRUCTION));
	wg_hash2(h, ck, WG_HASH_LEN, WG_IDENTIFIER, strlen(WG_IDENTIFIER));
	wg_hash2(h, h, WG_HASH_LEN, responder_static, WG_KEY_LEN);
}

static void mix_hash(uint8_t h[WG_HASH_LEN], const void *in, size_t len)
{
	wg_hash2(h, h, WG_HASH_LEN, in, len);
}

static void mix_key(uint8_t ck[WG_HASH_LEN], const void *in, size_t len)
{
	wg_kdf(ck, NULL, NULL, ck, in, len);
}

/* (C, k) = KDF2(C, DH(priv, pub)), or C = KDF1(...) when key is NULL. False when the
 * result is all zero: pub is of low order and the "shared" secret is public. */
static bool mix_dh(uint8_t ck[WG_HASH_LEN], uint8_t *key, const uint8_t priv[WG_KEY_LEN],
		   const uint8_t pub[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];
	bool ok = false;

	if (crypto_scalarmult(dh, priv, pub) != 0)
		goto out;
	wg_kdf(ck, key, NULL, ck, dh, sizeof(dh));
	ok = true;
out:
	sodium_memzero(dh, sizeof(dh));
	return ok;
}

static void clamp(uint8_t k[WG_KEY_LEN])
{
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
}

static bool generate_ephemeral(uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	randombytes_buf(priv, WG_KEY_LEN);
	clamp(priv);
	return crypto_scalarmult_base(pub, priv) == 0;
}

/* The ephemeral public key of a message goes into both the chaining key and the hash. */
static void mix_ephemeral(uint8_t ck[WG_HASH_LEN], uint8_t h[WG_HASH_LEN],
			  const uint8_t e_pub[WG_KEY_LEN])
{
	mix_key(ck, e_pub, WG_KEY_LEN);
	mix_hash(h, e_pub, WG_KEY_LEN);
}

/* (C, tau, k) = KDF3(C, Q), H = HASH(H || tau). */
static void mix_psk(uint8_t ck[WG_HASH_LEN], uint8_t h[WG_HASH_LEN], uint8_t key[WG_KEY_LEN],
		    const uint8_t psk[WG_KEY_LEN])
{
	uint8_t tau[WG_HASH_LEN];

	wg_kdf(ck, tau, key, ck, psk, WG_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

/* dst = AEAD(k, 0, src, H), len bytes of ciphertext followed by the tag; H = HASH(H || dst). */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[WG_KEY_LEN], uint8_t h[WG_HASH_LEN])
{
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, h, WG_HASH_LEN, NULL,
						  zero_nonce, key);
	mix_hash(h, dst, len + WG_AUTHTAG_LEN);
}

/* The inverse of encrypt_and_hash; false, and H untouched, when src does not authenticate. */
static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t srclen,
			     const uint8_t key[WG_KEY_LEN], uint8_t h[WG_HASH_LEN])
{
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, srclen, h, WG_HASH_LEN,
						      zero_nonce, key) != 0)
		return false;
	mix_hash(h, src, srclen);
	return true;
}

/* The remote static key this attempt speaks to, and our DH with it. */
static const uint8_t *remote_static(const struct wg_handshake *hs)
{
	return hs->use_next ? hs->next_static : hs->remote_static;
}

static const uint8_t *precomputed(const struct wg_handshake *hs)
{
	return hs->use_next ? hs->precomputed_next : hs->precomputed_static_static;
}

static bool holds_index(const struct wg_handshake *hs)
{
	return hs->state == WG_HANDSHAKE_CREATED_INITIATION ||
	       hs->state == WG_HANDSHAKE_CREATED_RESPONSE ||
	       hs->state == WG_HANDSHAKE_CONSUMED_RESPONSE;
}

static void release_index(struct wg_noise *n, struct wg_handshake *hs)
{
	if (holds_index(hs))
		n->cb.index_drop(n->cb.ctx, hs->local_index);
	hs->local_index = 0;
}

/* Zero the secrets of one handshake attempt, keeping what outlives it: the peer's keys
 * and the replay and flood defences. */
static void wipe_ephemeral_state(struct wg_handshake *hs)
{
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->state = WG_HANDSHAKE_ZEROED;
}

/* A message is complete: the handshake keeps what it took to make it, under a fresh local
 * index that the answer will name. */
static void commit_created(struct wg_noise *n, struct wg_handshake *hs, void *sender_index,
			   const uint8_t e_priv[WG_KEY_LEN], const uint8_t ck[WG_HASH_LEN],
			   const uint8_t h[WG_HASH_LEN], enum wg_handshake_state state)
{
	release_index(n, hs);
	hs->local_index = n->cb.index_assign(n->cb.ctx, hs);
	wg_le32_write(sender_index, hs->local_index);
	memcpy(hs->ephemeral_private, e_priv, WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	memcpy(hs->hash, h, WG_HASH_LEN);
	hs->state = state;
}

/* A message has authenticated: the handshake takes on its state and the sender's
 * ephemeral key and index. */
static void commit_consumed(struct wg_handshake *hs, const uint8_t remote_e[WG_KEY_LEN],
			    const void *sender_index, const uint8_t ck[WG_HASH_LEN],
			    const uint8_t h[WG_HASH_LEN], enum wg_handshake_state state)
{
	memcpy(hs->remote_ephemeral, remote_e, WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	memcpy(hs->hash, h, WG_HASH_LEN);
	hs->remote_index = wg_le32_read(sender_index);
	hs->state = state;
}

/* As the Linux module: at most WG_INITIATIONS_PER_SECOND initiations from one peer are
 * worth the Diffie-Hellmans they cost. 0 is "never", as the monotonic clock of the
 * daemon never reads 0. */
static bool initiation_flood(const struct wg_handshake *hs, uint64_t now_ns)
{
	const uint64_t gap = WG_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND;

	return hs->last_initiation_consumption_ns &&
	       now_ns < hs->last_initiation_consumption_ns + gap;
}

int wg_noise_set_private_key(struct wg_noise *n, const uint8_t priv[WG_KEY_LEN])
{
	struct wg_static_identity *id = &n->identity;
	uint8_t key[WG_KEY_LEN], pub[WG_KEY_LEN];
	int ret = -EINVAL;

	memcpy(key, priv, WG_KEY_LEN);
	sodium_memzero(id, sizeof(*id));
	/* As the Linux module: an all-zero key is the absence of one. */
	if (sodium_is_zero(key, WG_KEY_LEN))
		goto out;
	/* Kept as given, so the owner can tell whether a reloaded key is the same one;
	 * libsodium clamps the scalar on every use. */
	if (crypto_scalarmult_base(pub, key) != 0)
		goto out;
	memcpy(id->static_private, key, WG_KEY_LEN);
	memcpy(id->static_public, pub, WG_KEY_LEN);
	id->has_identity = true;
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	return ret;
}

int wg_noise_handshake_init(struct wg_noise *n, struct wg_handshake *hs,
			    const uint8_t remote_static[WG_KEY_LEN], const uint8_t *preshared_key,
			    void *owner)
{
	uint8_t scalar[WG_KEY_LEN], shared[WG_KEY_LEN];
	int ret = -EINVAL;

	/* Any clamped scalar is a multiple of the cofactor, so a low-order key maps to
	 * zero whichever scalar probes it; without an identity yet, a random one will do. */
	if (n->identity.has_identity) {
		if (sodium_memcmp(remote_static, n->identity.static_public, WG_KEY_LEN) == 0)
			goto out;
		memcpy(scalar, n->identity.static_private, WG_KEY_LEN);
	} else {
		randombytes_buf(scalar, sizeof(scalar));
	}
	if (crypto_scalarmult(shared, scalar, remote_static) != 0)
		goto out;

	sodium_memzero(hs, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, WG_KEY_LEN);
	if (preshared_key)
		memcpy(hs->preshared_key, preshared_key, WG_KEY_LEN);
	if (n->identity.has_identity)
		memcpy(hs->precomputed_static_static, shared, WG_KEY_LEN);
	hs->owner = owner;
	hs->state = WG_HANDSHAKE_ZEROED;
	ret = 0;
out:
	sodium_memzero(scalar, sizeof(scalar));
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

/* A zero result makes every handshake with that key fail, which is what a peer that now
 * has our own key, or none of ours, deserves. */
static void precompute(const struct wg_static_identity *id, uint8_t out[WG_KEY_LEN],
		       const uint8_t remote[WG_KEY_LEN])
{
	if (!id->has_identity || sodium_memcmp(remote, id->static_public, WG_KEY_LEN) == 0 ||
	    crypto_scalarmult(out, id->static_private, remote) != 0)
		sodium_memzero(out, WG_KEY_LEN);
}

void wg_noise_handshake_refresh_static(struct wg_noise *n, struct wg_handshake *hs)
{
	precompute(&n->identity, hs->precomputed_static_static, hs->remote_static);
	if (hs->has_next)
		precompute(&n->identity, hs->precomputed_next, hs->next_static);
}

int wg_noise_handshake_set_next(struct wg_noise *n, struct wg_handshake *hs, const uint8_t *next)
{
	uint8_t scalar[WG_KEY_LEN], shared[WG_KEY_LEN];
	int ret = -EINVAL;

	if (!next) {
		/* A handshake half-way with the key that is no longer accepted ends. */
		if (hs->use_next)
			wg_noise_handshake_clear(n, hs);
		sodium_memzero(hs->next_static, WG_KEY_LEN);
		sodium_memzero(hs->precomputed_next, WG_KEY_LEN);
		sodium_memzero(hs->latest_timestamp_next, WG_TIMESTAMP_LEN);
		hs->has_next = false;
		hs->use_next = false;
		return 0;
	}
	/* As in wg_noise_handshake_init: any clamped scalar finds a low-order key. */
	if (n->identity.has_identity) {
		if (sodium_memcmp(next, n->identity.static_public, WG_KEY_LEN) == 0)
			goto out;
		memcpy(scalar, n->identity.static_private, WG_KEY_LEN);
	} else {
		randombytes_buf(scalar, sizeof(scalar));
	}
	if (crypto_scalarmult(shared, scalar, next) != 0)
		goto out;
	if (!hs->has_next || sodium_memcmp(hs->next_static, next, WG_KEY_LEN) != 0) {
		if (hs->use_next)
			wg_noise_handshake_clear(n, hs);
		sodium_memzero(hs->latest_timestamp_next, WG_TIMESTAMP_LEN);
	}
	memcpy(hs->next_static, next, WG_KEY_LEN);
	if (n->identity.has_identity)
		memcpy(hs->precomputed_next, shared, WG_KEY_LEN);
	else
		sodium_memzero(hs->precomputed_next, WG_KEY_LEN);
	hs->has_next = true;
	ret = 0;
out:
	sodium_memzero(scalar, sizeof(scalar));
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

void wg_noise_handshake_promote_next(struct wg_handshake *hs)
{
	if (!hs->has_next)
		return;
	memcpy(hs->remote_static, hs->next_static, WG_KEY_LEN);
	memcpy(hs->precomputed_static_static, hs->precomputed_next, WG_KEY_LEN);
	memcpy(hs->latest_timestamp, hs->latest_timestamp_next, WG_TIMESTAMP_LEN);
	sodium_memzero(hs->latest_timestamp_next, WG_TIMESTAMP_LEN);
	sodium_memzero(hs->next_static, WG_KEY_LEN);
	sodium_memzero(hs->precomputed_next, WG_KEY_LEN);
	hs->has_next = false;
	hs->use_next = false;
}

void wg_noise_handshake_clear(struct wg_noise *n, struct wg_handshake *hs)
{
	release_index(n, hs);
	wipe_ephemeral_state(hs);
}

int wg_noise_create_initiation(struct wg_noise *n, struct wg_handshake *hs,
			       struct wg_msg_initiation *msg,
			       const uint8_t timestamp[WG_TIMESTAMP_LEN])
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], e_priv[WG_KEY_LEN];
	int ret = -ENOKEY;

	if (!n->identity.has_identity)
		goto out;
	ret = -EINVAL;
	if (!hs->has_next)
		hs->use_next = false;
	if (sodium_is_zero(precomputed(hs), WG_KEY_LEN))
		goto out;

	handshake_start(ck, h, remote_static(hs));
	wg_le32_write(&msg->header, WG_MSG_HANDSHAKE_INITIATION);

	/* e */
	if (!generate_ephemeral(e_priv, msg->unencrypted_ephemeral))
		goto out;
	mix_ephemeral(ck, h, msg->unencrypted_ephemeral);

	/* es */
	if (!mix_dh(ck, key, e_priv, remote_static(hs)))
		goto out;

	/* s */
	encrypt_and_hash(msg->encrypted_static, n->identity.static_public, WG_KEY_LEN, key, h);

	/* ss */
	wg_kdf(ck, key, NULL, ck, precomputed(hs), WG_KEY_LEN);

	/* {t} */
	encrypt_and_hash(msg->encrypted_timestamp, timestamp, WG_TIMESTAMP_LEN, key, h);

	commit_created(n, hs, &msg->sender_index, e_priv, ck, h, WG_HANDSHAKE_CREATED_INITIATION);
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	return ret;
}

int wg_noise_consume_initiation(struct wg_noise *n, const struct wg_msg_initiation *msg,
				uint64_t now_ns, struct wg_handshake **out)
{
	const struct wg_static_identity *id = &n->identity;
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t s_pub[WG_KEY_LEN], t[WG_TIMESTAMP_LEN];
	const uint8_t *ss;
	uint8_t *latest;
	struct wg_handshake *hs;
	bool with_next;
	int ret = -ENOKEY;

	*out = NULL;
	if (!id->has_identity)
		goto out;
	ret = -EINVAL;
	if (wg_le32_read(&msg->header) != WG_MSG_HANDSHAKE_INITIATION)
		goto out;

	handshake_start(ck, h, id->static_public);

	/* e */
	mix_ephemeral(ck, h, msg->unencrypted_ephemeral);

	/* es */
	if (!mix_dh(ck, key, id->static_private, msg->unencrypted_ephemeral))
		goto out;

	/* s */
	if (!decrypt_and_hash(s_pub, msg->encrypted_static, sizeof(msg->encrypted_static), key, h))
		goto out;
	ret = -ENOKEY;
	hs = n->cb.lookup_static(n->cb.ctx, s_pub);
	if (!hs)
		goto out;

	/* ss, with whichever of the peer's keys sent it (key rotation) */
	ret = -EINVAL;
	with_next = hs->has_next && sodium_memcmp(s_pub, hs->next_static, WG_KEY_LEN) == 0;
	ss = with_next ? hs->precomputed_next : hs->precomputed_static_static;
	if (sodium_is_zero(ss, WG_KEY_LEN))
		goto out;
	wg_kdf(ck, key, NULL, ck, ss, WG_KEY_LEN);

	/* {t} */
	if (!decrypt_and_hash(t, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), key,
			      h))
		goto out;

	/* The message is the peer's own, but perhaps an old one played back, or one of a
	 * flood meant to make us spend Diffie-Hellmans; the owner may still count it
	 * against the peer, so it learns which handshake it was. */
	*out = hs;
	ret = -EEXIST;
	latest = with_next ? hs->latest_timestamp_next : hs->latest_timestamp;
	if (!wg_tai64n_after(t, latest))
		goto out;
	if (initiation_flood(hs, now_ns))
		goto out;

	release_index(n, hs);
	sodium_memzero(hs->ephemeral_private, WG_KEY_LEN);
	memcpy(latest, t, WG_TIMESTAMP_LEN);
	hs->last_initiation_consumption_ns = now_ns;
	hs->use_next = with_next;
	commit_consumed(hs, msg->unencrypted_ephemeral, &msg->sender_index, ck, h,
			WG_HANDSHAKE_CONSUMED_INITIATION);
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(s_pub, sizeof(s_pub));
	sodium_memzero(t, sizeof(t));
	return ret;
}

int wg_noise_create_response(struct wg_noise *n, struct wg_handshake *hs,
			     struct wg_msg_response *msg)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], e_priv[WG_KEY_LEN];
	int ret = -ESTALE;

	if (hs->state != WG_HANDSHAKE_CONSUMED_INITIATION)
		goto out;
	ret = -EINVAL;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(h, hs->hash, WG_HASH_LEN);
	wg_le32_write(&msg->header, WG_MSG_HANDSHAKE_RESPONSE);
	wg_le32_write(&msg->receiver_index, hs->remote_index);

	/* e */
	if (!generate_ephemeral(e_priv, msg->unencrypted_ephemeral))
		goto out;
	mix_ephemeral(ck, h, msg->unencrypted_ephemeral);

	/* ee */
	if (!mix_dh(ck, NULL, e_priv, hs->remote_ephemeral))
		goto out;

	/* se */
	if (!mix_dh(ck, NULL, e_priv, remote_static(hs)))
		goto out;

	/* psk */
	mix_psk(ck, h, key, hs->preshared_key);

	/* {} */
	encrypt_and_hash(msg->encrypted_nothing, NULL, 0, key, h);

	commit_created(n, hs, &msg->sender_index, e_priv, ck, h, WG_HANDSHAKE_CREATED_RESPONSE);
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	return ret;
}

int wg_noise_consume_response(struct wg_noise *n, const struct wg_msg_response *msg,
			      struct wg_handshake **out)
{
	const struct wg_static_identity *id = &n->identity;
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN];
	struct wg_handshake *hs;
	int ret = -ENOKEY;

	*out = NULL;
	if (!id->has_identity)
		goto out;
	ret = -EINVAL;
	if (wg_le32_read(&msg->header) != WG_MSG_HANDSHAKE_RESPONSE)
		goto out;
	/* An unknown index is most often a late answer to an initiation we have since
	 * replaced: no handshake awaits it any more. */
	ret = -ESTALE;
	hs = n->cb.lookup_index(n->cb.ctx, wg_le32_read(&msg->receiver_index));
	if (!hs || hs->state != WG_HANDSHAKE_CREATED_INITIATION)
		goto out;
	ret = -EINVAL;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(h, hs->hash, WG_HASH_LEN);

	/* e */
	mix_ephemeral(ck, h, msg->unencrypted_ephemeral);

	/* ee */
	if (!mix_dh(ck, NULL, hs->ephemeral_private, msg->unencrypted_ephemeral))
		goto out;

	/* se */
	if (!mix_dh(ck, NULL, id->static_private, msg->unencrypted_ephemeral))
		goto out;

	/* psk */
	mix_psk(ck, h, key, hs->preshared_key);

	/* {} */
	if (!decrypt_and_hash(NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), key, h))
		goto out;

	commit_consumed(hs, msg->unencrypted_ephemeral, &msg->sender_index, ck, h,
			WG_HANDSHAKE_CONSUMED_RESPONSE);
	*out = hs;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	return ret;
}

int wg_noise_begin_session(struct wg_noise *n, struct wg_handshake *hs, struct wg_keypair *kp,
			   uint64_t now_ns)
{
	(void)n;

	/* (T_send, T_recv) = KDF2(C, empty) from the initiator's point of view. */
	if (hs->state == WG_HANDSHAKE_CONSUMED_RESPONSE)
		wg_kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key, NULL, 0);
	else if (hs->state == WG_HANDSHAKE_CREATED_RESPONSE)
		wg_kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
	else
		return -ESTALE;

	kp->i_am_the_initiator = hs->state == WG_HANDSHAKE_CONSUMED_RESPONSE;
	kp->with_next_static = hs->use_next;
	kp->send_counter = 0;
	wg_replay_init(&kp->recv_counter);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->birth_ns = now_ns;
	kp->send_valid = true;
	kp->recv_valid = true;

	/* The index now names the keypair: forget it without dropping it. */
	hs->local_index = 0;
	wipe_ephemeral_state(hs);
	return 0;
}
