/* Revocation in the engine: a revoked peer loses its sessions at once, nothing is sent to
 * it, its handshakes are refused and counted, and lifting the revocation lets it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "engine_pair.h"

static void test_revoked_peer_is_cut_off_and_refused(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	const struct wg_device_stats *st;
	unsigned sent_before;
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	assert_non_null(p.a.peer->keypairs.current);

	wg_engine_peer_set_revoked(p.a.engine, p.a.peer, true);
	assert_true(p.a.peer->revoked);
	assert_null(p.a.peer->keypairs.current);
	assert_null(p.a.peer->keypairs.previous);
	assert_null(p.a.peer->keypairs.next);
	st = wg_engine_stats(p.a.engine);

	/* Outbound: nothing goes, each packet counted. */
	sent_before = p.a.n_out;
	send_from(&p, &p.a, 2);
	send_from(&p, &p.a, 3);
	assert_int_equal(p.a.n_out, sent_before);
	assert_int_equal(p.a.peer->stats.drops[WG_DROP_REVOKED], 2);
	assert_int_equal(st->drops[WG_DROP_REVOKED], 2);

	/* Inbound: b's old session is gone at a, and when b gives up on it and starts
	 * handshakes, every one is refused and counted against b. */
	send_from(&p, &p.b, 4);
	pair_run(&p, 40, 0.25);
	assert_int_equal(p.a.n_delivered, 0);
	assert_int_equal(p.a.peer->stats.drops[WG_DROP_UNKNOWN_INDEX], 0);
	assert_true(p.a.peer->stats.drops[WG_DROP_REVOKED] >= 2 + 2);
	assert_int_equal(st->drops[WG_DROP_REVOKED], p.a.peer->stats.drops[WG_DROP_REVOKED]);
	assert_true(site_count_events(&p.a, WG_EVENT_HANDSHAKE_REFUSED) >= 2);
	assert_string_equal(p.a.last_detail, "revoked key from 192.0.2.2:51820");
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_RESPONSE], 0);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 1);
	assert_int_equal(p.b.peer->stats.handshakes, 1);
	assert_int_equal(p.a.n_out, 0);

	/* Lifted: b's next retry gets through and traffic flows both ways again. */
	wg_engine_peer_set_revoked(p.a.engine, p.a.peer, false);
	pair_run(&p, 6, 0.25);
	assert_int_equal(p.b.peer->stats.handshakes, 2);
	send_from(&p, &p.b, 5);
	send_from(&p, &p.a, 6);
	pair_pump(&p);
	assert_int_equal(p.a.n_delivered, 1);
	assert_int_equal(p.a.delivered[0].buf[99], 5);
	assert_int_equal(p.b.delivered[p.b.n_delivered - 1].buf[99], 6);
	pair_free(&p);
}

static void test_revocation_drops_staged_and_stops_timers(void **state)
{
	static struct pair p;
	(void)state;

	pair_init(&p);
	wg_engine_peer_set_keepalive(p.a.engine, p.a.peer, 25, p.now);
	p.a.n_out = 0; /* the keepalive's initiation vanishes */
	send_from(&p, &p.a, 1);
	send_from(&p, &p.a, 2);
	assert_true(p.a.peer->staged.count >= 2);
	wg_engine_peer_set_revoked(p.a.engine, p.a.peer, true);
	assert_int_equal(p.a.peer->staged.count, 0);
	/* No retries, keepalives or rekeys wake it up. */
	wg_engine_peer_connect(p.a.engine, p.a.peer, p.now);
	pair_run(&p, 120, 1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 1);
	assert_int_equal(p.b.n_delivered, 0);
	/* A peer meant to stay connected (persistent keepalive) comes back by itself. */
	wg_engine_peer_set_revoked(p.a.engine, p.a.peer, false);
	pair_run(&p, 1, 0.25);
	assert_int_equal(p.a.peer->stats.handshakes, 1);
	pair_free(&p);
}

static void test_revoked_next_key_is_refused_too(void **state)
{
	static struct pair p;
	uint8_t priv2[32], pub2[32];
	(void)state;

	pair_init(&p);
	randombytes_buf(priv2, 32);
	crypto_scalarmult_base(pub2, priv2);
	assert_int_equal(wg_engine_peer_set_next_key(p.b.engine, p.b.peer, pub2), 0);
	wg_engine_peer_set_revoked(p.b.engine, p.b.peer, true);
	assert_int_equal(wg_engine_set_private_key(p.a.engine, priv2), 0);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 0);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_REVOKED], 1);
	assert_int_equal(site_count_events(&p.b, WG_EVENT_KEY_ROTATED), 0);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_revoked_peer_is_cut_off_and_refused),
	    cmocka_unit_test(test_revocation_drops_staged_and_stops_timers),
	    cmocka_unit_test(test_revoked_next_key_is_refused_too),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
