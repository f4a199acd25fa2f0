/* The handshake between two of our own Noise instances, each with a stub index table,
 * and against messages captured from a live wireguard-go (v0.0.20220316): what it
 * sent us must authenticate, and the keys we derive must decrypt its data packets.
 *
 * Ephemeral keys are drawn through libsodium's randombytes; the wireguard-go tests
 * replace it with a script so that our messages come out byte for byte as in the
 * captured session, which wireguard-go accepted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <sodium/randombytes_sysrandom.h>

#include "tunnel/noise.h"
#include "tunnel/tai64n.h"
#include "wireguard_go_vectors.h"

/* randombytes: scripted bytes first, the system's after. */
static uint8_t script[64];
static size_t script_len, script_pos;

static void scripted_buf(void *const buf, const size_t size)
{
	if (script_pos + size <= script_len) {
		memcpy(buf, script + script_pos, size);
		script_pos += size;
		return;
	}
	randombytes_sysrandom_implementation.buf(buf, size);
}

static uint32_t scripted_random(void)
{
	return randombytes_sysrandom_implementation.random();
}

static const char *scripted_name(void)
{
	return "scripted";
}

static randombytes_implementation scripted_rng = {
    .implementation_name = scripted_name,
    .random = scripted_random,
    .buf = scripted_buf,
};

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	size_t got = 0;

	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

static void script_next(const char *hex)
{
	script_len = strlen(hex) / 2;
	script_pos = 0;
	unhex(script, script_len, hex);
}

/* One site: its Noise instance, its one peer, and a stub index table. */
struct side {
	struct wg_noise noise;
	struct wg_handshake hs;
	bool knows_peer;
	struct {
		uint32_t idx;
		struct wg_handshake *hs;
		bool live;
	} index[16];
	unsigned n_index;
	uint32_t next_index;
	unsigned drops;
};

static struct wg_handshake *stub_lookup_static(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct side *s = ctx;

	if (!s->knows_peer)
		return NULL;
	if (memcmp(pub, s->hs.remote_static, WG_KEY_LEN) == 0 ||
	    (s->hs.has_next && memcmp(pub, s->hs.next_static, WG_KEY_LEN) == 0))
		return &s->hs;
	return NULL;
}

static struct wg_handshake *stub_lookup_index(void *ctx, uint32_t idx)
{
	struct side *s = ctx;

	for (unsigned i = 0; i < s->n_index; i++)
		if (s->index[i].live && s->index[i].idx == idx)
			return s->index[i].hs;
	return NULL;
}

static uint32_t stub_index_assign(void *ctx, struct wg_handshake *hs)
{
	struct side *s = ctx;

	assert_true(s->n_index < sizeof(s->index) / sizeof(s->index[0]));
	s->index[s->n_index].idx = s->next_index++;
	s->index[s->n_index].hs = hs;
	s->index[s->n_index].live = true;
	return s->index[s->n_index++].idx;
}

static void stub_index_drop(void *ctx, uint32_t idx)
{
	struct side *s = ctx;

	for (unsigned i = 0; i < s->n_index; i++) {
		if (s->index[i].live && s->index[i].idx == idx) {
			s->index[i].live = false;
			s->drops++;
			return;
		}
	}
	fail_msg("dropped index %08x that is not live", idx);
}

static bool index_live(const struct side *s, uint32_t idx)
{
	for (unsigned i = 0; i < s->n_index; i++)
		if (s->index[i].live && s->index[i].idx == idx)
			return true;
	return false;
}

static void side_init(struct side *s, uint32_t first_index, const uint8_t *priv)
{
	uint8_t key[WG_KEY_LEN];

	memset(s, 0, sizeof(*s));
	s->next_index = first_index;
	s->noise.cb = (struct wg_noise_callbacks){.ctx = s,
						  .lookup_static = stub_lookup_static,
						  .lookup_index = stub_lookup_index,
						  .index_assign = stub_index_assign,
						  .index_drop = stub_index_drop};
	if (!priv) {
		randombytes_buf(key, sizeof(key));
		priv = key;
	}
	assert_int_equal(wg_noise_set_private_key(&s->noise, priv), 0);
}

static void side_meet(struct side *s, const uint8_t remote_public[WG_KEY_LEN], const uint8_t *psk)
{
	assert_int_equal(wg_noise_handshake_init(&s->noise, &s->hs, remote_public, psk, s), 0);
	s->knows_peer = true;
}

/* An initiator and a responder that know each other. */
static struct side ini, res;

static int pair_setup(void **state)
{
	(void)state;
	side_init(&ini, 0x1000, NULL);
	side_init(&res, 0x2000, NULL);
	side_meet(&ini, res.noise.identity.static_public, NULL);
	side_meet(&res, ini.noise.identity.static_public, NULL);
	return 0;
}

#define T0 (1700000000ULL * WG_NSEC_PER_SEC)
#define MS (1000ULL * 1000)

static void stamp(uint8_t ts[WG_TIMESTAMP_LEN], uint64_t ms_after_t0)
{
	wg_tai64n_encode(ts, T0 + ms_after_t0 * MS);
}

static void create_initiation(struct wg_msg_initiation *msg, uint64_t ms)
{
	uint8_t ts[WG_TIMESTAMP_LEN];

	memset(msg, 0, sizeof(*msg));
	stamp(ts, ms);
	assert_int_equal(wg_noise_create_initiation(&ini.noise, &ini.hs, msg, ts), 0);
}

/* Initiation and response in both directions, up to both sides holding a keypair. */
static void handshake(struct wg_keypair *ki, struct wg_keypair *kr, uint64_t ms)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_handshake *hs;

	create_initiation(&init, ms);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, ms * MS, &hs), 0);
	assert_ptr_equal(hs, &res.hs);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	assert_int_equal(wg_noise_begin_session(&res.noise, &res.hs, kr, ms * MS), 0);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), 0);
	assert_ptr_equal(hs, &ini.hs);
	assert_int_equal(wg_noise_begin_session(&ini.noise, &ini.hs, ki, ms * MS), 0);
}

static void assert_zero(const void *p, size_t len)
{
	assert_true(sodium_is_zero(p, len));
}

static void test_round_trip(void **state)
{
	struct wg_keypair ki, kr;
	uint8_t latest[WG_TIMESTAMP_LEN];

	(void)state;
	memset(&ki, 0xa5, sizeof(ki));
	memset(&kr, 0x5a, sizeof(kr));
	handshake(&ki, &kr, 1000);

	assert_memory_equal(ki.send_key, kr.recv_key, WG_KEY_LEN);
	assert_memory_equal(ki.recv_key, kr.send_key, WG_KEY_LEN);
	assert_memory_not_equal(ki.send_key, ki.recv_key, WG_KEY_LEN);
	assert_true(ki.i_am_the_initiator);
	assert_false(kr.i_am_the_initiator);
	assert_true(ki.send_valid && ki.recv_valid && kr.send_valid && kr.recv_valid);
	assert_int_equal(ki.send_counter, 0);
	assert_int_equal(kr.send_counter, 0);
	assert_int_equal(ki.recv_counter.counter, 0);
	assert_zero(ki.recv_counter.backtrack, sizeof(ki.recv_counter.backtrack));
	assert_int_equal(ki.birth_ns, 1000 * MS);

	/* Each side addresses the other by the index the other chose. */
	assert_int_equal(ki.local_index, 0x1000);
	assert_int_equal(kr.local_index, 0x2000);
	assert_int_equal(ki.remote_index, kr.local_index);
	assert_int_equal(kr.remote_index, ki.local_index);
	/* The keypairs own those indices now: nothing was dropped. */
	assert_true(index_live(&ini, ki.local_index));
	assert_true(index_live(&res, kr.local_index));
	assert_int_equal(ini.drops + res.drops, 0);

	/* The handshakes are wiped, but remember what outlives a session. */
	stamp(latest, 1000);
	assert_int_equal(ini.hs.state, WG_HANDSHAKE_ZEROED);
	assert_int_equal(res.hs.state, WG_HANDSHAKE_ZEROED);
	for (int i = 0; i < 2; i++) {
		struct wg_handshake *hs = i ? &res.hs : &ini.hs;

		assert_zero(hs->ephemeral_private, WG_KEY_LEN);
		assert_zero(hs->remote_ephemeral, WG_KEY_LEN);
		assert_zero(hs->hash, WG_HASH_LEN);
		assert_zero(hs->chaining_key, WG_HASH_LEN);
		assert_false(sodium_is_zero(hs->precomputed_static_static, WG_KEY_LEN));
	}
	assert_memory_equal(res.hs.latest_timestamp, latest, WG_TIMESTAMP_LEN);
	assert_int_equal(res.hs.last_initiation_consumption_ns, 1000 * MS);

	/* A second handshake yields fresh keys. */
	handshake(&ki, &kr, 2000);
	assert_memory_equal(ki.send_key, kr.recv_key, WG_KEY_LEN);
	assert_memory_equal(ki.recv_key, kr.send_key, WG_KEY_LEN);
	assert_int_equal(ki.local_index, 0x1001);
	assert_int_equal(kr.local_index, 0x2001);
}

/* A transport message body: ChaCha20-Poly1305 with nonce 0^32 || counter (LE). */
static void transport_seal(uint8_t *out, const struct wg_keypair *kp, uint64_t counter,
			   const uint8_t *in, size_t len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {0};

	wg_le64_write(nonce + 4, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, NULL, 0, NULL, nonce,
						  kp->send_key);
}

static int transport_open(uint8_t *out, const struct wg_keypair *kp, uint64_t counter,
			  const uint8_t *in, size_t len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {0};

	wg_le64_write(nonce + 4, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, NULL, 0, nonce,
							 kp->recv_key);
}

static void test_transport_keys_work(void **state)
{
	static const uint8_t payload[] = "an IPv4 packet from the HQ LAN...";
	uint8_t sealed[sizeof(payload) + WG_AUTHTAG_LEN], opened[sizeof(payload)];
	struct wg_keypair ki, kr;

	(void)state;
	handshake(&ki, &kr, 1000);

	transport_seal(sealed, &ki, 7, payload, sizeof(payload));
	assert_int_equal(transport_open(opened, &kr, 7, sealed, sizeof(sealed)), 0);
	assert_memory_equal(opened, payload, sizeof(payload));
	/* The counter is part of the nonce. */
	assert_int_not_equal(transport_open(opened, &kr, 8, sealed, sizeof(sealed)), 0);
	/* The initiator cannot open what it sealed itself: the directions differ. */
	assert_int_not_equal(transport_open(opened, &ki, 7, sealed, sizeof(sealed)), 0);

	transport_seal(sealed, &kr, 0, payload, sizeof(payload));
	assert_int_equal(transport_open(opened, &ki, 0, sealed, sizeof(sealed)), 0);
	assert_memory_equal(opened, payload, sizeof(payload));
}

static void test_preshared_key(void **state)
{
	uint8_t psk[WG_KEY_LEN], other[WG_KEY_LEN];
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_handshake *hs, before;
	struct wg_keypair ki, kr, plain_i, plain_r;

	(void)state;
	handshake(&plain_i, &plain_r, 500);

	randombytes_buf(psk, sizeof(psk));
	memcpy(other, psk, sizeof(psk));
	other[17] ^= 0x04;

	side_meet(&ini, res.noise.identity.static_public, psk);
	side_meet(&res, ini.noise.identity.static_public, psk);
	handshake(&ki, &kr, 1000);
	assert_memory_equal(ki.send_key, kr.recv_key, WG_KEY_LEN);
	assert_memory_equal(ki.recv_key, kr.send_key, WG_KEY_LEN);
	assert_memory_not_equal(ki.send_key, plain_i.send_key, WG_KEY_LEN);

	/* The initiation does not involve the PSK; the response does, and only the
	 * initiator can tell that the responder used another one. */
	side_meet(&res, ini.noise.identity.static_public, other);
	create_initiation(&init, 2000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 2000 * MS, &hs), 0);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	memcpy(&before, &ini.hs, sizeof(before));
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), -EINVAL);
	assert_null(hs);
	assert_memory_equal(&before, &ini.hs, sizeof(before));

	/* No PSK on one side only is a mismatch too. */
	side_meet(&res, ini.noise.identity.static_public, NULL);
	create_initiation(&init, 3000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 3000 * MS, &hs), 0);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), -EINVAL);
}

/* Bytes 4..7 are the sender index: Noise does not authenticate it (mac1 does, see
 * test_cookie), and a changed one only changes where answers are addressed. */
static bool is_sender_index(size_t off)
{
	return off >= offsetof(struct wg_msg_initiation, sender_index) &&
	       off < offsetof(struct wg_msg_initiation, sender_index) + 4;
}

static void test_initiation_every_bit_flipped(void **state)
{
	struct wg_msg_initiation init, bad;
	struct wg_handshake *hs, before;
	size_t off;
	int bit, ret;

	(void)state;
	create_initiation(&init, 1000);
	memcpy(&before, &res.hs, sizeof(before));
	for (off = 0; off < offsetof(struct wg_msg_initiation, macs); off++) {
		if (is_sender_index(off))
			continue;
		for (bit = 0; bit < 8; bit++) {
			memcpy(&bad, &init, sizeof(bad));
			((uint8_t *)&bad)[off] ^= (uint8_t)(1 << bit);
			hs = &before;
			ret = wg_noise_consume_initiation(&res.noise, &bad, 1000 * MS, &hs);
			if (ret == 0)
				fail_msg("initiation with byte %zu bit %d flipped accepted", off,
					 bit);
			/* Only a message the peer really sent names its handshake. */
			assert_null(hs);
			assert_memory_equal(&before, &res.hs, sizeof(before));
		}
	}
	/* None of that disturbed the genuine message. */
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), 0);
}

static void test_response_every_bit_flipped(void **state)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp, bad;
	struct wg_handshake *hs, before;
	size_t off;
	int bit, ret;

	(void)state;
	create_initiation(&init, 1000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), 0);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);

	memcpy(&before, &ini.hs, sizeof(before));
	for (off = 0; off < offsetof(struct wg_msg_response, macs); off++) {
		if (is_sender_index(off))
			continue;
		for (bit = 0; bit < 8; bit++) {
			memcpy(&bad, &resp, sizeof(bad));
			((uint8_t *)&bad)[off] ^= (uint8_t)(1 << bit);
			hs = &before;
			ret = wg_noise_consume_response(&ini.noise, &bad, &hs);
			if (ret == 0)
				fail_msg("response with byte %zu bit %d flipped accepted", off,
					 bit);
			/* A changed receiver index names no handshake of ours. */
			if (off >= offsetof(struct wg_msg_response, receiver_index) &&
			    off < offsetof(struct wg_msg_response, unencrypted_ephemeral))
				assert_int_equal(ret, -ESTALE);
			else
				assert_int_equal(ret, -EINVAL);
			assert_null(hs);
			assert_memory_equal(&before, &ini.hs, sizeof(before));
		}
	}
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), 0);
}

static void test_replay_and_old_timestamps(void **state)
{
	struct wg_msg_initiation first, second, older;
	struct wg_handshake *hs, before;

	(void)state;
	create_initiation(&older, 1000);
	create_initiation(&first, 2000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &first, 2000 * MS, &hs), 0);

	/* The same message again, much later: a replay. The owner learns whose. */
	memcpy(&before, &res.hs, sizeof(before));
	hs = NULL;
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &first, 9000 * MS, &hs), -EEXIST);
	assert_ptr_equal(hs, &res.hs);
	assert_memory_equal(&before, &res.hs, sizeof(before));

	/* A genuine initiation created earlier, delivered late. */
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &older, 9000 * MS, &hs), -EEXIST);
	assert_memory_equal(&before, &res.hs, sizeof(before));

	/* Within one timestamp granule (16.8 ms) the label does not advance: the second
	 * initiation looks like a replay too. */
	create_initiation(&second, 2000 + 10);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &second, 9000 * MS, &hs), -EEXIST);

	create_initiation(&second, 3000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &second, 9000 * MS, &hs), 0);
}

/* Key rotation: a responder that knows the initiator's next key accepts initiations from
 * either key, each key's timestamps compared with its own; an initiator told to use the
 * next key speaks to that key only; promotion makes the next key the only one. */
static void test_next_static_key(void **state)
{
	static struct side ini2, res2;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_handshake *hs;
	struct wg_keypair ki, kr;
	uint8_t ts[WG_TIMESTAMP_LEN], low_order[WG_KEY_LEN] = {0};

	(void)state;
	/* ini2 is the initiator after its key change: its clock is behind ini's. */
	side_init(&ini2, 0x3000, NULL);
	side_meet(&ini2, res.noise.identity.static_public, NULL);
	assert_int_equal(wg_noise_handshake_set_next(&res.noise, &res.hs, low_order), -EINVAL);
	assert_int_equal(wg_noise_handshake_set_next(&res.noise, &res.hs,
						     res.noise.identity.static_public),
			 -EINVAL);
	assert_int_equal(wg_noise_handshake_set_next(&res.noise, &res.hs,
						     ini2.noise.identity.static_public),
			 0);

	handshake(&ki, &kr, 5000);
	assert_false(kr.with_next_static);

	memset(&init, 0, sizeof(init));
	stamp(ts, 1000);
	assert_int_equal(wg_noise_create_initiation(&ini2.noise, &ini2.hs, &init, ts), 0);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 6000 * MS, &hs), 0);
	assert_true(res.hs.use_next);
	assert_memory_equal(res.hs.latest_timestamp_next, ts, WG_TIMESTAMP_LEN);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	assert_int_equal(wg_noise_begin_session(&res.noise, &res.hs, &kr, 6000 * MS), 0);
	assert_true(kr.with_next_static);
	assert_int_equal(wg_noise_consume_response(&ini2.noise, &resp, &hs), 0);
	assert_int_equal(wg_noise_begin_session(&ini2.noise, &ini2.hs, &ki, 6000 * MS), 0);
	assert_memory_equal(ki.send_key, kr.recv_key, WG_KEY_LEN);
	/* The replayed next-key initiation is refused like any replay. */
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 7000 * MS, &hs), -EEXIST);

	/* Promoted: the old key is a stranger, the new one keeps its timestamp record. */
	wg_noise_handshake_promote_next(&res.hs);
	assert_false(res.hs.has_next);
	assert_memory_equal(res.hs.remote_static, ini2.noise.identity.static_public, WG_KEY_LEN);
	assert_memory_equal(res.hs.latest_timestamp, ts, WG_TIMESTAMP_LEN);
	create_initiation(&init, 8000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 8000 * MS, &hs), -ENOKEY);

	/* As initiator: with use_next the initiation reaches the next key's holder only. */
	side_init(&res2, 0x4000, NULL);
	side_meet(&res2, ini.noise.identity.static_public, NULL);
	assert_int_equal(wg_noise_handshake_set_next(&ini.noise, &ini.hs,
						     res2.noise.identity.static_public),
			 0);
	ini.hs.use_next = true;
	create_initiation(&init, 9000);
	assert_int_equal(wg_noise_consume_initiation(&res2.noise, &init, 9000 * MS, &hs), 0);
	/* Withdrawn: the initiation goes to the current key again. */
	assert_int_equal(wg_noise_handshake_set_next(&ini.noise, &ini.hs, NULL), 0);
	assert_false(ini.hs.use_next);
	create_initiation(&init, 9500);
	assert_int_equal(wg_noise_consume_initiation(&res2.noise, &init, 9500 * MS, &hs), -EINVAL);
}

static void test_initiation_flood(void **state)
{
	const uint64_t min_gap = WG_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND;
	struct wg_msg_initiation a, b, c;
	struct wg_handshake *hs, before;

	(void)state;
	create_initiation(&a, 1000);
	create_initiation(&b, 1100);
	create_initiation(&c, 1200);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &a, 5000 * MS, &hs), 0);
	memcpy(&before, &res.hs, sizeof(before));
	/* Fresh timestamps, but the peer initiated less than 1/50 s ago. */
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &b, 5000 * MS + min_gap - 1, &hs),
			 -EEXIST);
	assert_ptr_equal(hs, &res.hs);
	assert_memory_equal(&before, &res.hs, sizeof(before));
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &b, 5000 * MS + min_gap, &hs), 0);
	assert_int_equal(res.hs.last_initiation_consumption_ns, 5000 * MS + min_gap);
	/* The flood window starts again from the last accepted initiation. */
	assert_int_equal(
	    wg_noise_consume_initiation(&res.noise, &c, 5000 * MS + 2 * min_gap - 1, &hs), -EEXIST);
}

static void test_unknown_static_key(void **state)
{
	struct wg_msg_initiation init;
	struct wg_handshake *hs;
	struct side stranger;
	uint8_t ts[WG_TIMESTAMP_LEN];

	(void)state;
	create_initiation(&init, 1000);

	/* Authentic, but from a key the responder does not know. */
	res.knows_peer = false;
	hs = &res.hs;
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), -ENOKEY);
	assert_null(hs);
	res.knows_peer = true;

	/* Meant for someone else: the static key does not even decrypt. */
	side_init(&stranger, 0x3000, NULL);
	side_meet(&stranger, ini.noise.identity.static_public, NULL);
	assert_int_equal(wg_noise_consume_initiation(&stranger.noise, &init, 1000 * MS, &hs),
			 -EINVAL);

	/* A device without a private key answers nothing. */
	memset(&res.noise.identity, 0, sizeof(res.noise.identity));
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), -ENOKEY);
	stamp(ts, 2000);
	assert_int_equal(wg_noise_create_initiation(&res.noise, &res.hs, &init, ts), -ENOKEY);
}

/* Points of small order on Curve25519 and its twist, including non-canonical
 * encodings (libsodium's blacklist): DH with any of them is all zero. */
static const char *const low_order_points[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_low_order_keys(void **state)
{
	const size_t n = sizeof(low_order_points) / sizeof(low_order_points[0]);
	struct wg_noise no_identity = {0};
	struct wg_msg_initiation init, bad_init;
	struct wg_msg_response resp, bad_resp;
	struct wg_handshake hs, *out, before;
	uint8_t point[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		unhex(point, sizeof(point), low_order_points[i]);
		memset(&hs, 0x77, sizeof(hs));
		assert_int_equal(wg_noise_handshake_init(&ini.noise, &hs, point, NULL, NULL),
				 -EINVAL);
		/* Refused, and the handshake left alone. */
		assert_int_equal(hs.state, 0x77777777);
		/* Even before the device has a key. */
		assert_int_equal(wg_noise_handshake_init(&no_identity, &hs, point, NULL, NULL),
				 -EINVAL);
	}
	/* Our own public key is no peer. */
	assert_int_equal(
	    wg_noise_handshake_init(&ini.noise, &hs, ini.noise.identity.static_public, NULL, NULL),
	    -EINVAL);

	/* A low-order ephemeral key in an initiation or a response. */
	create_initiation(&init, 1000);
	memcpy(&before, &res.hs, sizeof(before));
	for (size_t i = 0; i < n; i++) {
		memcpy(&bad_init, &init, sizeof(init));
		unhex(bad_init.unencrypted_ephemeral, WG_KEY_LEN, low_order_points[i]);
		assert_int_equal(
		    wg_noise_consume_initiation(&res.noise, &bad_init, 1000 * MS, &out), -EINVAL);
		assert_memory_equal(&before, &res.hs, sizeof(before));
	}
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &out), 0);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	memcpy(&before, &ini.hs, sizeof(before));
	for (size_t i = 0; i < n; i++) {
		memcpy(&bad_resp, &resp, sizeof(resp));
		unhex(bad_resp.unencrypted_ephemeral, WG_KEY_LEN, low_order_points[i]);
		assert_int_equal(wg_noise_consume_response(&ini.noise, &bad_resp, &out), -EINVAL);
		assert_memory_equal(&before, &ini.hs, sizeof(before));
	}

	/* A peer whose static-static secret is zero cannot handshake either way. */
	memset(res.hs.precomputed_static_static, 0, WG_KEY_LEN);
	create_initiation(&init, 2000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 2000 * MS, &out), -EINVAL);
	stamp(ts, 3000);
	assert_int_equal(wg_noise_create_initiation(&res.noise, &res.hs, &init, ts), -EINVAL);
}

static void test_response_state_and_index(void **state)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp, copy;
	struct wg_handshake *hs;
	struct wg_keypair kp;

	(void)state;
	/* Nothing to respond to, no session to derive. */
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), -ESTALE);
	assert_int_equal(wg_noise_begin_session(&res.noise, &res.hs, &kp, 0), -ESTALE);

	create_initiation(&init, 1000);
	/* The initiator has no response yet. */
	assert_int_equal(wg_noise_begin_session(&ini.noise, &ini.hs, &kp, 0), -ESTALE);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), 0);
	/* The responder has not responded yet. */
	assert_int_equal(wg_noise_begin_session(&res.noise, &res.hs, &kp, 0), -ESTALE);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	/* Only one response per initiation. */
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &copy), -ESTALE);

	/* Addressed to an index we never handed out. */
	memcpy(&copy, &resp, sizeof(resp));
	wg_le32_write(&copy.receiver_index, 0xdeadbeef);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &copy, &hs), -ESTALE);

	/* Not a response at all. */
	memcpy(&copy, &resp, sizeof(resp));
	wg_le32_write(&copy.header, WG_MSG_HANDSHAKE_INITIATION);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &copy, &hs), -EINVAL);

	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), 0);
	/* Delivered twice: the handshake no longer awaits a response. */
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), -ESTALE);
	assert_int_equal(wg_noise_begin_session(&ini.noise, &ini.hs, &kp, 0), 0);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), -ESTALE);
	assert_int_equal(wg_noise_begin_session(&ini.noise, &ini.hs, &kp, 0), -ESTALE);

	/* A response to an initiation that has since been replaced. */
	create_initiation(&init, 2000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 2000 * MS, &hs), 0);
	assert_int_equal(wg_noise_create_response(&res.noise, &res.hs, &resp), 0);
	create_initiation(&init, 3000);
	assert_int_equal(wg_noise_consume_response(&ini.noise, &resp, &hs), -ESTALE);
}

static void test_index_ownership(void **state)
{
	struct wg_msg_initiation init, peer_init;
	struct wg_msg_response resp;
	struct wg_handshake *hs;
	struct wg_keypair kp;
	uint32_t first;

	(void)state;
	/* A new initiation replaces the index of the previous one. */
	create_initiation(&init, 1000);
	first = wg_le32_read(&init.sender_index);
	assert_int_equal(first, ini.hs.local_index);
	create_initiation(&init, 2000);
	assert_false(index_live(&ini, first));
	assert_true(index_live(&ini, wg_le32_read(&init.sender_index)));
	assert_int_equal(ini.drops, 1);

	/* Clearing drops a pending index. */
	wg_noise_handshake_clear(&ini.noise, &ini.hs);
	assert_false(index_live(&ini, wg_le32_read(&init.sender_index)));
	assert_int_equal(ini.hs.state, WG_HANDSHAKE_ZEROED);
	assert_zero(ini.hs.ephemeral_private, WG_KEY_LEN);

	/* An initiation from the peer supersedes our own pending one. */
	create_initiation(&init, 3000);
	assert_int_equal(wg_noise_create_initiation(&res.noise, &res.hs, &peer_init,
						    (const uint8_t[WG_TIMESTAMP_LEN]){1}),
			 0);
	assert_int_equal(wg_noise_consume_initiation(&ini.noise, &peer_init, 0, &hs), 0);
	assert_false(index_live(&ini, wg_le32_read(&init.sender_index)));
	assert_zero(ini.hs.ephemeral_private, WG_KEY_LEN);
	assert_int_equal(wg_noise_create_response(&ini.noise, &ini.hs, &resp), 0);
	assert_true(index_live(&ini, ini.hs.local_index));

	/* Once a keypair holds the index, clearing the handshake leaves it alone. */
	assert_int_equal(wg_noise_begin_session(&ini.noise, &ini.hs, &kp, 0), 0);
	wg_noise_handshake_clear(&ini.noise, &ini.hs);
	assert_true(index_live(&ini, kp.local_index));
	assert_int_equal(ini.drops, 3);
}

static void test_private_key(void **state)
{
	struct wg_noise n = {0};
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_msg_initiation init;
	struct wg_handshake *hs;

	(void)state;
	/* RFC 7748, section 6.1: Alice. */
	unhex(priv, sizeof(priv),
	      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(pub, sizeof(pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	assert_int_equal(wg_noise_set_private_key(&n, priv), 0);
	assert_true(n.identity.has_identity);
	assert_memory_equal(n.identity.static_public, pub, WG_KEY_LEN);
	/* Unclamped as given: the engine compares it with a reloaded key. */
	assert_memory_equal(n.identity.static_private, priv, WG_KEY_LEN);

	memset(priv, 0, sizeof(priv));
	assert_int_equal(wg_noise_set_private_key(&n, priv), -EINVAL);
	assert_false(n.identity.has_identity);
	assert_zero(&n.identity, sizeof(n.identity));

	/* A peer configured before the key: no handshake until refreshed. */
	side_init(&res, 0x2000, NULL);
	memset(&res.noise.identity, 0, sizeof(res.noise.identity));
	side_meet(&res, ini.noise.identity.static_public, NULL);
	assert_zero(res.hs.precomputed_static_static, WG_KEY_LEN);
	randombytes_buf(priv, sizeof(priv));
	assert_int_equal(wg_noise_set_private_key(&res.noise, priv), 0);
	side_meet(&ini, res.noise.identity.static_public, NULL);
	create_initiation(&init, 1000);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), -EINVAL);
	wg_noise_handshake_refresh_static(&res.noise, &res.hs);
	assert_int_equal(wg_noise_consume_initiation(&res.noise, &init, 1000 * MS, &hs), 0);

	/* A key change that makes the peer's key our own disables the peer. */
	memcpy(priv, ini.noise.identity.static_private, WG_KEY_LEN);
	assert_int_equal(wg_noise_set_private_key(&res.noise, priv), 0);
	wg_noise_handshake_refresh_static(&res.noise, &res.hs);
	assert_zero(res.hs.precomputed_static_static, WG_KEY_LEN);
}

/* The session with wireguard-go in wireguard_go_vectors.h, from our side. */
static void go_peer_setup(struct side *s, uint32_t first_index)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], psk[WG_KEY_LEN];

	unhex(priv, sizeof(priv), our_private);
	side_init(s, first_index, priv);
	unhex(pub, sizeof(pub), our_public);
	assert_memory_equal(s->noise.identity.static_public, pub, WG_KEY_LEN);
	unhex(pub, sizeof(pub), go_public);
	unhex(psk, sizeof(psk), session_psk);
	side_meet(s, pub, psk);
}

static void expect_data(const struct wg_keypair *kp, const char *msg_hex, const char *plain_hex)
{
	uint8_t msg[160], want[160 - 32], got[160 - 32];
	size_t len = strlen(msg_hex) / 2, plen = len - sizeof(struct wg_msg_data) - WG_AUTHTAG_LEN;

	assert_true(len <= sizeof(msg));
	unhex(msg, len, msg_hex);
	unhex(want, plen, plain_hex);
	assert_int_equal(wg_le32_read(msg), WG_MSG_DATA);
	assert_int_equal(wg_le32_read(msg + 4), kp->local_index);
	assert_int_equal(transport_open(got, kp, wg_le64_read(msg + 8), msg + 16, len - 16), 0);
	assert_memory_equal(got, want, plen);
}

static void test_wireguard_go_responds(void **state)
{
	struct side s;
	struct wg_msg_initiation init;
	uint8_t want_init[sizeof(init)], ts[WG_TIMESTAMP_LEN], go_resp[92];
	uint8_t ping[32], sealed[sizeof(ping) + WG_AUTHTAG_LEN], want_sealed[sizeof(sealed)];
	struct wg_handshake *hs;
	struct wg_keypair kp;

	(void)state;
	go_peer_setup(&s, 0x0a0b0c0d);
	unhex(ts, sizeof(ts), our_initiation_timestamp);
	unhex(want_init, sizeof(want_init), our_initiation);
	unhex(go_resp, sizeof(go_resp), go_response);

	/* Our initiation, with the ephemeral key of that session, is what wireguard-go
	 * accepted (macs aside: test_cookie checks them). */
	script_next(our_initiation_ephemeral);
	assert_int_equal(wg_noise_create_initiation(&s.noise, &s.hs, &init, ts), 0);
	assert_memory_equal(&init, want_init, offsetof(struct wg_msg_initiation, macs));

	assert_int_equal(wg_noise_consume_response(&s.noise, (void *)go_resp, &hs), 0);
	assert_int_equal(wg_noise_begin_session(&s.noise, &s.hs, &kp, 1), 0);
	assert_int_equal(kp.remote_index, 0x8ee38a93);

	/* We sent an ICMP echo request to 10.0.0.2 as counter 0; wireguard-go could only
	 * answer it if our send key was its receive key. */
	unhex(ping, sizeof(ping), our_echo_request);
	unhex(want_sealed, sizeof(want_sealed), our_echo_request_sealed);
	transport_seal(sealed, &kp, 0, ping, sizeof(ping));
	assert_memory_equal(sealed, want_sealed, sizeof(sealed));
	expect_data(&kp, go_echo_reply, go_echo_reply_plain);
}

static void test_wireguard_go_initiates(void **state)
{
	struct side s;
	struct wg_msg_initiation init1, init2;
	struct wg_msg_response resp;
	uint8_t want_resp[sizeof(resp)];
	struct wg_handshake *hs, before;
	struct wg_keypair kp;

	(void)state;
	go_peer_setup(&s, 0x0a0b0c0d);
	unhex((uint8_t *)&init1, sizeof(init1), go_initiation1);
	unhex((uint8_t *)&init2, sizeof(init2), go_initiation2);
	unhex(want_resp, sizeof(want_resp), our_response);

	/* Its timestamps order as ours do: the retry is later than the first. */
	assert_int_equal(wg_noise_consume_initiation(&s.noise, &init2, 10 * WG_NSEC_PER_SEC, &hs),
			 0);
	assert_ptr_equal(hs, &s.hs);
	assert_int_equal(s.hs.remote_index, 0x6ca39456);
	memcpy(&before, &s.hs, sizeof(before));
	assert_int_equal(wg_noise_consume_initiation(&s.noise, &init1, 20 * WG_NSEC_PER_SEC, &hs),
			 -EEXIST);
	assert_memory_equal(&before, &s.hs, sizeof(before));

	script_next(our_response_ephemeral);
	assert_int_equal(wg_noise_create_response(&s.noise, &s.hs, &resp), 0);
	assert_memory_equal(&resp, want_resp, offsetof(struct wg_msg_response, macs));
	assert_int_equal(wg_noise_begin_session(&s.noise, &s.hs, &kp, 1), 0);
	assert_false(kp.i_am_the_initiator);

	/* The ping wireguard-go had staged, sent once our response arrived. */
	expect_data(&kp, go_echo_request, go_echo_request_plain);

	/* And the first initiation alone, on a fresh device, is just as good. */
	go_peer_setup(&s, 0x0a0b0c0d);
	assert_int_equal(wg_noise_consume_initiation(&s.noise, &init1, 1, &hs), 0);
	assert_int_equal(s.hs.remote_index, 0xa13a46ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_round_trip, pair_setup),
	    cmocka_unit_test_setup(test_transport_keys_work, pair_setup),
	    cmocka_unit_test_setup(test_preshared_key, pair_setup),
	    cmocka_unit_test_setup(test_initiation_every_bit_flipped, pair_setup),
	    cmocka_unit_test_setup(test_response_every_bit_flipped, pair_setup),
	    cmocka_unit_test_setup(test_replay_and_old_timestamps, pair_setup),
	    cmocka_unit_test_setup(test_next_static_key, pair_setup),
	    cmocka_unit_test_setup(test_initiation_flood, pair_setup),
	    cmocka_unit_test_setup(test_unknown_static_key, pair_setup),
	    cmocka_unit_test_setup(test_low_order_keys, pair_setup),
	    cmocka_unit_test_setup(test_response_state_and_index, pair_setup),
	    cmocka_unit_test_setup(test_index_ownership, pair_setup),
	    cmocka_unit_test_setup(test_private_key, pair_setup),
	    cmocka_unit_test(test_wireguard_go_responds),
	    cmocka_unit_test(test_wireguard_go_initiates),
	};

	/* Must precede sodium_init(), which seeds the implementation in use. */
	randombytes_set_implementation(&scripted_rng);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
