/* The timer state machine on a fake clock (WireGuard paper section 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine_pair.h"

static void connect_pair(struct pair *p)
{
	send_from(p, &p->a, 1);
	pair_pump(p);
	assert_int_equal(p->a.peer->stats.handshakes, 1);
}

static void test_rekey_after_time(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	connect_pair(&p);
	unsigned before = p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION];
	/* At 119 s data flows on the old session without a new handshake. */
	pair_advance(&p, 119);
	send_from(&p, &p.a, 2);
	pair_pump(&p);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before);
	/* Past 120 s the initiator starts a new handshake when it sends. */
	pair_advance(&p, 1.5);
	send_from(&p, &p.a, 3);
	pair_pump(&p);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before + 1);
	assert_int_equal(p.a.peer->stats.handshakes, 2);
	assert_int_equal(p.b.n_delivered, 3);
	pair_free(&p);
}

static void test_reject_after_time(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram d;
	(void)state;

	pair_init(&p);
	connect_pair(&p);
	send_from(&p, &p.a, 2);
	d = p.a.out[0];
	p.a.n_out = 0;
	/* A session 180 s old neither sends nor receives. */
	pair_advance(&p, 180);
	wg_engine_receive(p.b.engine, &p.a.addr, d.buf, d.len, p.now);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_EXPIRED_KEY], 1);
	p.a.blackhole = true;
	send_from(&p, &p.a, 3);
	assert_int_equal(p.a.sent_by_type[WG_MSG_DATA], 2);
	assert_int_equal(p.a.peer->staged.count, 1);
	pair_free(&p);
}

static void test_passive_keepalive(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	connect_pair(&p);
	unsigned data_b = p.b.sent_by_type[WG_MSG_DATA];
	/* B got data and says nothing: after 10 s it sends a keepalive, once. */
	pair_run(&p, 9.9, 0.1);
	assert_int_equal(p.b.sent_by_type[WG_MSG_DATA], data_b);
	pair_run(&p, 0.3, 0.1);
	assert_int_equal(p.b.sent_by_type[WG_MSG_DATA], data_b + 1);
	pair_run(&p, 30, 0.5);
	assert_int_equal(p.b.sent_by_type[WG_MSG_DATA], data_b + 1);
	pair_free(&p);
}

static void test_retry_every_5s_and_give_up_at_90s(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint64_t start, last = 0;
	unsigned seen = 1;
	(void)state;

	pair_init(&p);
	p.a.blackhole = true;
	start = p.now.mono_ns;
	send_from(&p, &p.a, 1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 1);
	for (int i = 0; i < 1200; i++) {
		pair_advance(&p, 0.1);
		wg_engine_tick(p.a.engine, p.now);
		if (p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION] != seen) {
			uint64_t gap = p.now.mono_ns - (last ? last : start);
			seen = p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION];
			/* REKEY_TIMEOUT plus up to a third of a second of jitter */
			assert_true(gap >= 5 * WG_NSEC_PER_SEC);
			assert_true(gap <= 5 * WG_NSEC_PER_SEC + WG_NSEC_PER_SEC / 3 +
					       WG_NSEC_PER_SEC / 10);
			last = p.now.mono_ns;
		}
	}
	/* As in the Linux module: the first try and retries until the attempt counter
	 * passes MAX_TIMER_HANDSHAKES, i.e. MAX + 2 initiations over 90 s and more, then
	 * silence. */
	assert_int_equal(seen, WG_MAX_TIMER_HANDSHAKES + 2);
	assert_true(last - start >= 90 * WG_NSEC_PER_SEC);
	assert_int_equal(site_count_events(&p.a, WG_EVENT_PEER_UNREACHABLE), 1);
	assert_int_equal(p.a.peer->staged.count, 0);
	pair_free(&p);
}

static void test_new_handshake_when_data_gets_no_answer(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	connect_pair(&p);
	pair_run(&p, 11, 0.5); /* B's keepalive for the first packet has come and gone */
	unsigned before = p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION];
	p.b.blackhole = true;
	send_from(&p, &p.a, 2);
	pair_pump(&p);
	/* KEEPALIVE + REKEY_TIMEOUT (15 s) after sending, with no reply, A rehandshakes. */
	pair_run(&p, 14.5, 0.1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before);
	pair_run(&p, 1.0, 0.1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before + 1);
	pair_free(&p);
}

static void test_persistent_keepalive(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	wg_engine_peer_set_keepalive(p.a.engine, p.a.peer, 25, p.now);
	/* Turning it on sends at once, which needs a handshake. */
	pair_pump(&p);
	assert_int_equal(p.a.peer->stats.handshakes, 1);
	unsigned data = p.a.sent_by_type[WG_MSG_DATA];
	pair_run(&p, 24.5, 0.5);
	assert_int_equal(p.a.sent_by_type[WG_MSG_DATA], data);
	pair_run(&p, 1, 0.5);
	assert_int_equal(p.a.sent_by_type[WG_MSG_DATA], data + 1);
	pair_run(&p, 25, 0.5);
	assert_int_equal(p.a.sent_by_type[WG_MSG_DATA], data + 2);
	pair_free(&p);
}

static void test_zero_key_material_after_540s(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	connect_pair(&p);
	pair_run(&p, 539, 1);
	assert_non_null(p.a.peer->keypairs.current);
	pair_run(&p, 2, 1);
	assert_null(p.a.peer->keypairs.current);
	assert_null(p.a.peer->keypairs.previous);
	assert_null(p.b.peer->keypairs.current);
	assert_int_equal(site_count_events(&p.a, WG_EVENT_KEYS_ZEROED), 1);
	pair_free(&p);
}

static void test_short_rekey_interval(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init_opts(&p, 3, NULL, NULL);
	connect_pair(&p);
	/* 10 packets a second for 30 s: none lost while sessions turn over. */
	/* Both sides send in the same instant, so each sees the other's data before any
	 * handshake message crosses the wire. */
	for (int i = 0; i < 300; i++) {
		send_from(&p, &p.a, (uint8_t)i);
		send_from(&p, &p.b, (uint8_t)i);
		pair_run(&p, 0.1, 0.1);
	}
	assert_int_equal(p.a.n_delivered + p.b.n_delivered, 1 + 600);
	/* New initiations at most every REKEY_TIMEOUT: about six in 30 s, all completed.
	 * Both sides must not start at once: crossing initiations cancel each other. */
	assert_true(p.a.peer->stats.handshakes >= 5);
	assert_int_equal(wg_engine_stats(p.a.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 0);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 0);
	pair_free(&p);
}

/* A stock peer initiated and rekeys only every 120 s; our shortened interval still holds,
 * one REKEY_TIMEOUT after the initiator's turn. */
static void test_responder_takes_over_short_rekey(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct wg_engine_settings stock = {.rekey_after_time = 120, .mtu = 1420};
	(void)state;

	pair_init_opts(&p, 3, NULL, NULL);
	wg_engine_update_settings(p.a.engine, &stock);
	connect_pair(&p); /* A initiated: B is the responder */
	unsigned before = p.b.sent_by_type[WG_MSG_HANDSHAKE_INITIATION];
	for (int i = 0; i < 75; i++) {
		send_from(&p, &p.b, (uint8_t)i);
		pair_run(&p, 0.1, 0.1);
	}
	/* 7.5 s: past B's 3 s, but within the initiator's grace of REKEY_TIMEOUT. */
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before);
	for (int i = 0; i < 10; i++) {
		send_from(&p, &p.b, (uint8_t)i);
		pair_run(&p, 0.1, 0.1);
	}
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], before + 1);
	assert_int_equal(p.b.peer->stats.handshakes, 2);
	assert_int_equal(p.a.n_delivered, 85);
	pair_free(&p);
}

static void test_next_deadline(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	assert_int_equal(wg_engine_next_deadline(p.a.engine), UINT64_MAX);
	p.a.blackhole = true;
	send_from(&p, &p.a, 1);
	uint64_t d = wg_engine_next_deadline(p.a.engine);
	assert_true(d >= p.now.mono_ns + 5 * WG_NSEC_PER_SEC);
	assert_true(d <= p.now.mono_ns + 5 * WG_NSEC_PER_SEC + WG_NSEC_PER_SEC / 3);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rekey_after_time),
	    cmocka_unit_test(test_reject_after_time),
	    cmocka_unit_test(test_passive_keepalive),
	    cmocka_unit_test(test_retry_every_5s_and_give_up_at_90s),
	    cmocka_unit_test(test_new_handshake_when_data_gets_no_answer),
	    cmocka_unit_test(test_persistent_keepalive),
	    cmocka_unit_test(test_zero_key_material_after_540s),
	    cmocka_unit_test(test_short_rekey_interval),
	    cmocka_unit_test(test_responder_takes_over_short_rekey),
	    cmocka_unit_test(test_next_deadline),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
