/* Key rotation in the engine: a peer's next public key is accepted beside the current
 * one, the first handshake with it makes it the key (and the old one is refused), and as
 * initiator the engine alternates between the two so a peer that already switched is
 * reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "engine_pair.h"

static void new_key(uint8_t priv[32], uint8_t pub[32])
{
	randombytes_buf(priv, 32);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

static void test_responder_promotes_next_key_then_refuses_old(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t priv2[32], pub2[32];
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);

	/* b will rotate from its key to pub2; a is told first. */
	new_key(priv2, pub2);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, pub2), 0);
	assert_true(p.a.peer->has_next_key);
	assert_ptr_equal(wg_engine_find_peer(p.a.engine, pub2), p.a.peer);
	assert_ptr_equal(wg_engine_find_peer(p.a.engine, p.b.pub), p.a.peer);
	/* The old key still works meanwhile. */
	send_from(&p, &p.b, 2);
	pair_pump(&p);
	assert_int_equal(p.a.n_delivered, 1);
	assert_int_equal(site_count_events(&p.a, WG_EVENT_KEY_ROTATED), 0);

	/* b switches; its first packet brings a handshake with the new key. */
	assert_int_equal(wg_engine_set_private_key(p.b.engine, priv2), 0);
	send_from(&p, &p.b, 3);
	pair_pump(&p);
	assert_int_equal(p.a.n_delivered, 2);
	assert_int_equal(p.a.delivered[1].buf[99], 3);
	assert_int_equal(site_count_events(&p.a, WG_EVENT_KEY_ROTATED), 1);
	assert_false(p.a.peer->has_next_key);
	assert_memory_equal(p.a.peer->handshake.remote_static, pub2, 32);
	assert_ptr_equal(wg_engine_find_peer(p.a.engine, pub2), p.a.peer);
	assert_null(wg_engine_find_peer(p.a.engine, p.b.pub));
	send_from(&p, &p.a, 4);
	pair_pump(&p);
	assert_int_equal(p.b.delivered[p.b.n_delivered - 1].buf[99], 4);

	/* Whoever still holds the old key is now a stranger. */
	assert_int_equal(wg_engine_set_private_key(p.b.engine, p.b.priv), 0);
	send_from(&p, &p.b, 5);
	pair_pump(&p);
	assert_int_equal(p.a.n_delivered, 2);
	assert_int_equal(wg_engine_stats(p.a.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 1);
	assert_string_equal(p.a.last_detail, "unknown public key from 192.0.2.2:51820");
	assert_int_equal(site_count_events(&p.a, WG_EVENT_KEY_ROTATED), 1);
	pair_free(&p);
}

/* a initiates; b switched keys before a heard of it as anything but "next". */
static void alternate(bool b_under_load)
{
	static struct pair p;
	uint8_t priv2[32], pub2[32];

	pair_init(&p);
	new_key(priv2, pub2);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, pub2), 0);
	assert_int_equal(wg_engine_set_private_key(p.b.engine, priv2), 0);
	if (b_under_load)
		wg_engine_set_under_load(p.b.engine, UINT64_MAX);

	send_from(&p, &p.a, 7);
	pair_pump(&p);
	/* The first try went to the old key: b cannot even check its mac1. */
	assert_int_equal(p.b.n_delivered, 0);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_BAD_MAC], 1);
	/* The retry (REKEY_TIMEOUT plus jitter later) tries the next key. */
	pair_run(&p, 6, 0.1);
	assert_int_equal(p.b.n_delivered, 1);
	assert_int_equal(p.b.delivered[0].buf[99], 7);
	assert_int_equal(site_count_events(&p.a, WG_EVENT_KEY_ROTATED), 1);
	assert_memory_equal(p.a.peer->handshake.remote_static, pub2, 32);
	assert_false(p.a.peer->has_next_key);
	if (b_under_load) /* the cookie was sealed to, and opened with, the next key */
		assert_int_equal(wg_engine_stats(p.b.engine)->cookie_replies_sent, 1);
	/* Rotated: later handshakes all use the new key at once. */
	pair_run(&p, 200, 1);
	send_from(&p, &p.a, 8);
	pair_pump(&p);
	assert_int_equal(p.b.delivered[p.b.n_delivered - 1].buf[99], 8);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_BAD_MAC], 1);
	pair_free(&p);
}

static void test_initiator_alternates_to_reach_switched_peer(void **state)
{
	(void)state;
	alternate(false);
}

static void test_alternation_with_cookie_under_load(void **state)
{
	(void)state;
	alternate(true);
}

static void test_next_key_configuration(void **state)
{
	static struct pair p;
	struct wg_peer_config cfg = {.name = "c"};
	uint8_t priv2[32], pub2[32], priv3[32], pub3[32], low_order[32] = {0};
	struct wg_peer *c;
	(void)state;

	pair_init(&p);
	new_key(priv2, pub2);
	new_key(priv3, pub3);
	/* wg_engine_add_peer honours has_next_public_key. */
	memcpy(cfg.public_key, pub2, 32);
	cfg.has_next_public_key = true;
	memcpy(cfg.next_public_key, pub3, 32);
	c = wg_engine_add_peer(p.a.engine, &cfg, p.now);
	assert_non_null(c);
	assert_true(c->has_next_key);
	assert_memory_equal(c->next_key, pub3, 32);
	assert_ptr_equal(wg_engine_find_peer(p.a.engine, pub3), c);

	/* Keys in use elsewhere, our own key, low-order keys. */
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, pub3), -EEXIST);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, pub2), -EEXIST);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, p.b.pub), -EEXIST);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, p.a.pub), -EINVAL);
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, p.a.peer, low_order), -EINVAL);
	assert_false(p.a.peer->has_next_key);
	cfg.name = "d";
	memcpy(cfg.public_key, priv3, 32); /* any fresh key */
	memcpy(cfg.next_public_key, p.b.pub, 32);
	errno = 0;
	assert_null(wg_engine_add_peer(p.a.engine, &cfg, p.now));
	assert_int_equal(errno, EEXIST);
	memcpy(cfg.next_public_key, low_order, 32);
	errno = 0;
	assert_null(wg_engine_add_peer(p.a.engine, &cfg, p.now));
	assert_int_equal(errno, EINVAL);
	assert_null(wg_engine_find_peer_by_name(p.a.engine, "d"));

	/* Withdrawn: the key is forgotten and refused. */
	assert_int_equal(wg_engine_peer_set_next_key(p.a.engine, c, NULL), 0);
	assert_false(c->has_next_key);
	assert_null(wg_engine_find_peer(p.a.engine, pub3));
	assert_int_equal(wg_engine_set_private_key(p.b.engine, priv2), 0);
	pair_free(&p);
}

/* A next key withdrawn before it was used: the peer with only that key is refused. */
static void test_withdrawn_next_key_is_refused(void **state)
{
	static struct pair p;
	uint8_t priv2[32], pub2[32];
	(void)state;

	pair_init(&p);
	new_key(priv2, pub2);
	assert_int_equal(wg_engine_peer_set_next_key(p.b.engine, p.b.peer, pub2), 0);
	assert_int_equal(wg_engine_peer_set_next_key(p.b.engine, p.b.peer, NULL), 0);
	assert_int_equal(wg_engine_set_private_key(p.a.engine, priv2), 0);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 0);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 1);
	assert_int_equal(site_count_events(&p.b, WG_EVENT_KEY_ROTATED), 0);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_responder_promotes_next_key_then_refuses_old),
	    cmocka_unit_test(test_initiator_alternates_to_reach_switched_peer),
	    cmocka_unit_test(test_alternation_with_cookie_under_load),
	    cmocka_unit_test(test_next_key_configuration),
	    cmocka_unit_test(test_withdrawn_next_key_is_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
