/* mac1, mac2 and cookie replies between our own maker and checker, and against
 * messages captured from a live wireguard-go (v0.0.20220316): its macs must validate,
 * ours must be the ones it accepted, and the mac2 it computed from our cookie reply
 * must be the one we expect. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tunnel/cookie.h"
#include "tunnel/hash.h"
#include "wireguard_go_vectors.h"

#define SEC WG_NSEC_PER_SEC
#define T0  (1000 * SEC)

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	size_t got = 0;

	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

static const uint8_t src_a[] = {192, 0, 2, 1, 0xca, 0x6c}; /* 192.0.2.1:51820 */
static const uint8_t src_b[] = {192, 0, 2, 1, 0xca, 0x6d}; /* another port */
static const uint8_t src_c[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,    0,
				0,    0,    0,	  0,	0, 0, 1, 0xca, 0x6c}; /* [2001:db8::1] */

/* The responder's checker and the initiator's maker for it, and a message to send. */
static uint8_t responder_public[WG_KEY_LEN];
static struct wg_cookie_checker checker;
static struct wg_cookie_maker maker;
static struct wg_msg_initiation msg;

static int setup(void **state)
{
	(void)state;
	randombytes_buf(responder_public, sizeof(responder_public));
	wg_cookie_checker_init(&checker, responder_public);
	wg_cookie_maker_init(&maker, responder_public);
	randombytes_buf(&msg, sizeof(msg));
	wg_le32_write(&msg.header, WG_MSG_HANDSHAKE_INITIATION);
	return 0;
}

static enum wg_cookie_mac_state validate(const uint8_t *src, size_t srclen, bool check_cookie,
					 uint64_t now)
{
	return wg_cookie_validate(&checker, &msg, sizeof(msg), src, srclen, check_cookie, now);
}

/* Send msg, get a cookie reply for it from src, and hand that to the maker. */
static void earn_cookie(const uint8_t *src, size_t srclen, uint64_t now)
{
	struct wg_msg_cookie reply;

	wg_cookie_add_macs(&maker, &msg, sizeof(msg), now);
	wg_cookie_reply_create(&checker, &reply, &msg, sizeof(msg), 0x01020304, src, srclen, now);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, now), 0);
}

static void test_mac1(void **state)
{
	struct wg_msg_initiation good;
	struct wg_cookie_maker stranger;
	uint8_t other_public[WG_KEY_LEN];

	(void)state;
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	/* Without a cookie, mac2 is zero and not checked unless under load. */
	assert_true(sodium_is_zero(msg.macs.mac2, WG_MAC_LEN));
	assert_int_equal(validate(src_a, sizeof(src_a), false, T0),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);

	/* mac1 covers every byte before it, the indices included. */
	memcpy(&good, &msg, sizeof(msg));
	for (size_t off = 0; off < offsetof(struct wg_msg_initiation, macs.mac2); off++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(&msg, &good, sizeof(msg));
			((uint8_t *)&msg)[off] ^= (uint8_t)(1 << bit);
			if (validate(src_a, sizeof(src_a), false, T0) != WG_COOKIE_MAC_INVALID)
				fail_msg("byte %zu bit %d flipped: mac1 still valid", off, bit);
		}
	}
	/* mac2 is not part of it. */
	memcpy(&msg, &good, sizeof(msg));
	msg.macs.mac2[3] ^= 0x10;
	assert_int_equal(validate(src_a, sizeof(src_a), false, T0),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);

	/* A message meant for another responder. */
	randombytes_buf(other_public, sizeof(other_public));
	wg_cookie_maker_init(&stranger, other_public);
	wg_cookie_add_macs(&stranger, &msg, sizeof(msg), T0);
	assert_int_equal(validate(src_a, sizeof(src_a), false, T0), WG_COOKIE_MAC_INVALID);

	/* Too short to hold macs at all. */
	assert_int_equal(wg_cookie_validate(&checker, &msg, sizeof(struct wg_msg_macs) - 1, src_a,
					    sizeof(src_a), false, T0),
			 WG_COOKIE_MAC_INVALID);
}

static void test_cookie_round_trip(void **state)
{
	struct wg_msg_cookie reply;

	(void)state;
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	wg_cookie_reply_create(&checker, &reply, &msg, sizeof(msg), 0xa1b2c3d4, src_a,
			       sizeof(src_a), T0);
	assert_int_equal(wg_le32_read(&reply.header), WG_MSG_HANDSHAKE_COOKIE);
	assert_int_equal(wg_le32_read(&reply.receiver_index), 0xa1b2c3d4);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, T0), 0);

	/* The next message carries a mac2 that proves the source address. */
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + SEC);
	assert_false(sodium_is_zero(msg.macs.mac2, WG_MAC_LEN));
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + SEC),
			 WG_COOKIE_MAC1_VALID_MAC2_VALID);
	/* Not from another port or address. */
	assert_int_equal(validate(src_b, sizeof(src_b), true, T0 + SEC),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	assert_int_equal(validate(src_c, sizeof(src_c), true, T0 + SEC),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	/* When not under load, mac2 is not looked at. */
	assert_int_equal(validate(src_a, sizeof(src_a), false, T0 + SEC),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
}

static void test_mac2_covers_message(void **state)
{
	const size_t mac1_at = offsetof(struct wg_msg_initiation, macs.mac1);
	const size_t mac2_at = offsetof(struct wg_msg_initiation, macs.mac2);
	struct wg_msg_initiation good;

	(void)state;
	earn_cookie(src_c, sizeof(src_c), T0);
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	memcpy(&good, &msg, sizeof(msg));
	assert_int_equal(validate(src_c, sizeof(src_c), true, T0), WG_COOKIE_MAC1_VALID_MAC2_VALID);

	/* A sender that knows our public key can fix up mac1 after changing the message,
	 * but not mac2. */
	for (size_t off = 0; off < mac1_at; off++) {
		memcpy(&msg, &good, sizeof(msg));
		((uint8_t *)&msg)[off] ^= 0x80;
		wg_mac(msg.macs.mac1, maker.mac1_key, sizeof(maker.mac1_key), &msg, mac1_at);
		assert_int_equal(validate(src_c, sizeof(src_c), true, T0),
				 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	}
	for (size_t off = mac2_at; off < sizeof(msg); off++) {
		memcpy(&msg, &good, sizeof(msg));
		((uint8_t *)&msg)[off] ^= 0x01;
		assert_int_equal(validate(src_c, sizeof(src_c), true, T0),
				 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	}
}

static void test_secret_rotation(void **state)
{
	const uint64_t max_age = WG_COOKIE_SECRET_MAX_AGE * SEC;
	struct wg_msg_initiation old;
	uint8_t first_secret[WG_HASH_LEN];

	(void)state;
	earn_cookie(src_a, sizeof(src_a), T0);
	memcpy(first_secret, checker.secret, sizeof(first_secret));
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + 100 * SEC);
	memcpy(&old, &msg, sizeof(msg));

	/* The secret serves for WG_COOKIE_SECRET_MAX_AGE... */
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + max_age - 1),
			 WG_COOKIE_MAC1_VALID_MAC2_VALID);
	/* ...then no cookie made from it is accepted. */
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + max_age),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);

	/* The next reply brings a new secret, and the old cookie stays worthless. */
	earn_cookie(src_a, sizeof(src_a), T0 + max_age);
	assert_memory_not_equal(first_secret, checker.secret, sizeof(first_secret));
	assert_int_equal(checker.secret_birth_ns, T0 + max_age);
	memcpy(&msg, &old, sizeof(msg));
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + max_age),
			 WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + max_age);
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + max_age),
			 WG_COOKIE_MAC1_VALID_MAC2_VALID);

	/* A secret that is still young is kept across replies. */
	memcpy(first_secret, checker.secret, sizeof(first_secret));
	earn_cookie(src_b, sizeof(src_b), T0 + max_age + SEC);
	assert_memory_equal(first_secret, checker.secret, sizeof(first_secret));
}

static void test_stale_cookie_not_used(void **state)
{
	const uint64_t usable = (WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY) * SEC;

	(void)state;
	earn_cookie(src_a, sizeof(src_a), T0);
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + usable - 1);
	assert_false(sodium_is_zero(msg.macs.mac2, WG_MAC_LEN));
	assert_int_equal(validate(src_a, sizeof(src_a), true, T0 + usable - 1),
			 WG_COOKIE_MAC1_VALID_MAC2_VALID);
	/* Close to the checker's rotation the maker sends no mac2 rather than one that may
	 * arrive after the secret changed. */
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + usable);
	assert_true(sodium_is_zero(msg.macs.mac2, WG_MAC_LEN));
}

static void test_reply_rejected(void **state)
{
	struct wg_msg_cookie reply, bad;
	struct wg_msg_initiation first;
	struct wg_cookie_maker before, silent;

	(void)state;
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	wg_cookie_reply_create(&checker, &reply, &msg, sizeof(msg), 7, src_a, sizeof(src_a), T0);
	/* A maker that has sent nothing expects no reply. */
	wg_cookie_maker_init(&silent, responder_public);
	assert_int_equal(wg_cookie_consume_reply(&silent, &reply, T0), -EINVAL);

	/* Every authenticated bit: type, nonce, encrypted cookie and tag. The receiver
	 * index only routes the reply to this maker. */
	memcpy(&before, &maker, sizeof(maker));
	for (size_t off = 0; off < sizeof(reply); off++) {
		if (off >= offsetof(struct wg_msg_cookie, receiver_index) &&
		    off < offsetof(struct wg_msg_cookie, nonce))
			continue;
		for (int bit = 0; bit < 8; bit++) {
			memcpy(&bad, &reply, sizeof(reply));
			((uint8_t *)&bad)[off] ^= (uint8_t)(1 << bit);
			if (wg_cookie_consume_reply(&maker, &bad, T0) != -EINVAL)
				fail_msg("reply with byte %zu bit %d flipped accepted", off, bit);
			assert_memory_equal(&before, &maker, sizeof(maker));
		}
	}

	/* A reply to an earlier message: its additional data is a mac1 we no longer
	 * expect an answer to. */
	memcpy(&first, &msg, sizeof(msg));
	msg.sender_index ^= 0xff;
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	assert_memory_not_equal(first.macs.mac1, msg.macs.mac1, WG_MAC_LEN);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, T0), -EINVAL);
	assert_false(maker.have_cookie);

	/* The reply to the latest message is good, once. */
	wg_cookie_reply_create(&checker, &reply, &msg, sizeof(msg), 7, src_a, sizeof(src_a), T0);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, T0), 0);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, T0), -EINVAL);
}

static void test_reply_from_wrong_responder(void **state)
{
	struct wg_cookie_checker impostor;
	struct wg_msg_cookie reply;
	uint8_t other_public[WG_KEY_LEN];

	(void)state;
	/* The cookie is encrypted under a key derived from the responder's public key. */
	randombytes_buf(other_public, sizeof(other_public));
	wg_cookie_checker_init(&impostor, other_public);
	wg_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	wg_cookie_reply_create(&impostor, &reply, &msg, sizeof(msg), 7, src_a, sizeof(src_a), T0);
	assert_int_equal(wg_cookie_consume_reply(&maker, &reply, T0), -EINVAL);
	assert_false(maker.have_cookie);
}

/* The session with wireguard-go in wireguard_go_vectors.h. */
static void test_wireguard_go_macs(void **state)
{
	uint8_t pub[WG_KEY_LEN], init1[148], init2[148], resp[92], mine[148], reply[64];
	struct wg_cookie_maker as_go;

	(void)state;
	unhex(pub, sizeof(pub), our_public);
	wg_cookie_checker_init(&checker, pub);
	unhex(init1, sizeof(init1), go_initiation1);
	unhex(init2, sizeof(init2), go_initiation2);
	unhex(resp, sizeof(resp), go_response);

	/* Its mac1 is valid for us. */
	assert_int_equal(
	    wg_cookie_validate(&checker, init1, sizeof(init1), go_src, sizeof(go_src), false, T0),
	    WG_COOKIE_MAC1_VALID_MAC2_INVALID);
	assert_int_equal(
	    wg_cookie_validate(&checker, resp, sizeof(resp), go_src, sizeof(go_src), false, T0),
	    WG_COOKIE_MAC1_VALID_MAC2_INVALID);

	/* Its mac2, made with the cookie it decrypted from our reply, is valid for the
	 * address it sent from. */
	unhex(checker.secret, sizeof(checker.secret), our_cookie_secret);
	checker.secret_birth_ns = T0;
	assert_int_equal(
	    wg_cookie_validate(&checker, init2, sizeof(init2), go_src, sizeof(go_src), true, T0),
	    WG_COOKIE_MAC1_VALID_MAC2_VALID);
	assert_int_equal(
	    wg_cookie_validate(&checker, init2, sizeof(init2), src_a, sizeof(src_a), true, T0),
	    WG_COOKIE_MAC1_VALID_MAC2_INVALID);

	/* A maker in wireguard-go's place computes its macs byte for byte: mac1 alone
	 * first, then, after our reply, mac1 and mac2. */
	wg_cookie_maker_init(&as_go, pub);
	memcpy(mine, init1, sizeof(mine));
	memset(mine + 116, 0x55, 32);
	wg_cookie_add_macs(&as_go, mine, sizeof(mine), T0);
	assert_memory_equal(mine, init1, sizeof(mine));
	unhex(reply, sizeof(reply), our_cookie_reply);
	assert_int_equal(wg_cookie_consume_reply(&as_go, (const void *)reply, T0), 0);
	memcpy(mine, init2, sizeof(mine));
	memset(mine + 116, 0x55, 32);
	wg_cookie_add_macs(&as_go, mine, sizeof(mine), T0);
	assert_memory_equal(mine, init2, sizeof(mine));

	/* And the macs wireguard-go accepted from us are the ones we compute. */
	unhex(pub, sizeof(pub), go_public);
	wg_cookie_maker_init(&maker, pub);
	unhex(init1, sizeof(init1), our_initiation);
	memcpy(mine, init1, sizeof(mine));
	memset(mine + 116, 0x55, 32);
	wg_cookie_add_macs(&maker, mine, sizeof(mine), T0);
	assert_memory_equal(mine, init1, sizeof(mine));
	unhex(resp, sizeof(resp), our_response);
	memcpy(mine, resp, sizeof(resp));
	memset(mine + 60, 0x55, 32);
	wg_cookie_add_macs(&maker, mine, sizeof(resp), T0);
	assert_memory_equal(mine, resp, sizeof(resp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_mac1, setup),
	    cmocka_unit_test_setup(test_cookie_round_trip, setup),
	    cmocka_unit_test_setup(test_mac2_covers_message, setup),
	    cmocka_unit_test_setup(test_secret_rotation, setup),
	    cmocka_unit_test_setup(test_stale_cookie_not_used, setup),
	    cmocka_unit_test_setup(test_reply_rejected, setup),
	    cmocka_unit_test_setup(test_reply_from_wrong_responder, setup),
	    cmocka_unit_test_setup(test_wireguard_go_macs, setup),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
