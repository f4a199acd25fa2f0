/* The engine end to end: two engines exchanging real WireGuard messages in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "engine_pair.h"

static void test_handshake_and_data(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 0x11);
	/* No session yet: the packet waits while an initiation goes out. */
	assert_int_equal(p.a.n_out, 1);
	assert_int_equal(p.a.out[0].len, sizeof(struct wg_msg_initiation));
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	assert_int_equal(p.b.delivered[0].len, 100);
	assert_int_equal(p.b.delivered[0].buf[99], 0x11);
	assert_int_equal(p.a.peer->stats.handshakes, 1);
	assert_int_equal(p.b.peer->stats.handshakes, 1);
	assert_int_equal(p.b.peer->stats.last_handshake_real_ns, p.now.real_ns);
	/* B learnt A's endpoint from the authenticated initiation. */
	assert_true(wg_endpoint_eq(&p.b.peer->endpoint, &p.a.addr));
	send_from(&p, &p.b, 0x22);
	pair_pump(&p);
	assert_int_equal(p.a.n_delivered, 1);
	assert_int_equal(p.a.delivered[0].buf[99], 0x22);
	assert_int_equal(p.a.peer->stats.rx_packets, 1);
	assert_int_equal(p.a.peer->stats.tx_packets, 1);
	pair_free(&p);
}

static void test_padding_and_keepalive_sizes(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t pkt[100];
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	/* 100 bytes pad to 112; plus 16 header and 16 tag. */
	wg_engine_send(p.a.engine, pkt, make_ipv4(pkt, 100, "10.1.0.5", "10.2.0.9", 3), p.now);
	assert_int_equal(p.a.n_out, 1);
	assert_int_equal(p.a.out[0].len, 16 + 112 + 16);
	pair_pump(&p);
	/* The receiver strips the padding using the IP header's length. */
	assert_int_equal(p.b.delivered[p.b.n_delivered - 1].len, 100);
	pair_free(&p);
}

static void test_staged_packets_keep_order(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	for (uint8_t i = 1; i <= 5; i++)
		send_from(&p, &p.a, i);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(p.b.delivered[i].buf[99], i + 1);
	pair_free(&p);
}

static void test_staged_queue_is_bounded(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	p.a.blackhole = true;
	for (unsigned i = 0; i < WG_MAX_STAGED_PACKETS + 10; i++)
		send_from(&p, &p.a, (uint8_t)i);
	assert_int_equal(p.a.peer->staged.count, WG_MAX_STAGED_PACKETS);
	assert_int_equal(wg_engine_stats(p.a.engine)->drops[WG_DROP_QUEUE_FULL], 10);
	pair_free(&p);
}

static void test_responder_waits_for_confirmation(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	p.a.peer->persistent_keepalive = 0;
	wg_engine_peer_connect(p.a.engine, p.a.peer, p.now);
	/* Deliver the initiation only: B has a `next` keypair, not a current one. */
	assert_int_equal(p.a.n_out, 1);
	wg_engine_receive(p.b.engine, &p.a.addr, p.a.out[0].buf, p.a.out[0].len, p.now);
	p.a.n_out = 0;
	assert_null(p.b.peer->keypairs.current);
	assert_non_null(p.b.peer->keypairs.next);
	assert_int_equal(p.b.peer->stats.handshakes, 0);
	/* The response reaches A, which confirms with a keepalive at once. */
	pair_pump(&p);
	assert_non_null(p.b.peer->keypairs.current);
	assert_null(p.b.peer->keypairs.next);
	assert_int_equal(p.b.peer->stats.handshakes, 1);
	assert_int_equal(p.b.n_delivered, 0); /* a keepalive delivers nothing */
	pair_free(&p);
}

static struct datagram capture_one_data(struct pair *p)
{
	struct datagram d;

	send_from(p, &p->a, 0x33);
	assert_int_equal(p->a.n_out, 1);
	d = p->a.out[0];
	return d;
}

static void test_replay_is_dropped(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram d, copy;
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	d = capture_one_data(&p);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 2);
	copy = d;
	wg_engine_receive(p.b.engine, &p.a.addr, copy.buf, copy.len, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_REPLAY], 1);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_REPLAY], 1);
	pair_free(&p);
}

static void test_tampered_data_is_dropped(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram d;
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	d = capture_one_data(&p);
	p.a.n_out = 0;
	for (size_t i = 16; i < d.len; i += 7) {
		struct datagram t = d;
		t.buf[i] ^= 0x40;
		wg_engine_receive(p.b.engine, &p.a.addr, t.buf, t.len, p.now);
	}
	assert_int_equal(p.b.n_delivered, 1);
	assert_true(p.b.peer->stats.drops[WG_DROP_DECRYPT] > 0);
	/* The window did not move: the genuine packet still goes through. */
	wg_engine_receive(p.b.engine, &p.a.addr, d.buf, d.len, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	pair_free(&p);
}

static void test_spoofed_inner_source_is_dropped(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t pkt[60];
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	/* A claims a source outside its allowed-ips (10.1.0.0/24). */
	wg_engine_send(p.a.engine, pkt, make_ipv4(pkt, 60, "10.7.0.1", "10.2.0.9", 9), p.now);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_BAD_SOURCE], 1);
	pair_free(&p);
}

static void test_garbage_is_counted(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t buf[300];
	const struct wg_device_stats *st;
	(void)state;

	pair_init(&p);
	st = wg_engine_stats(p.b.engine);
	/* Too short, unknown type, wrong sizes for each handshake type. */
	wg_engine_receive(p.b.engine, &p.a.addr, buf, 3, p.now);
	memset(buf, 0, sizeof(buf));
	buf[0] = 9;
	wg_engine_receive(p.b.engine, &p.a.addr, buf, 100, p.now);
	for (uint8_t type = 1; type <= 4; type++) {
		buf[0] = type;
		wg_engine_receive(p.b.engine, &p.a.addr, buf, 31, p.now);
	}
	assert_int_equal(st->drops[WG_DROP_MALFORMED], 6);
	/* Right size, wrong mac1. */
	randombytes_buf(buf, sizeof(buf));
	buf[0] = 1;
	buf[1] = buf[2] = buf[3] = 0;
	wg_engine_receive(p.b.engine, &p.a.addr, buf, 148, p.now);
	assert_int_equal(st->drops[WG_DROP_BAD_MAC], 1);
	/* Data for a session that does not exist. */
	buf[0] = 4;
	wg_engine_receive(p.b.engine, &p.a.addr, buf, 64, p.now);
	assert_int_equal(st->drops[WG_DROP_UNKNOWN_INDEX], 1);
	/* Every length of random bytes: nothing but counters changes. */
	for (size_t len = 0; len < sizeof(buf); len++) {
		randombytes_buf(buf, len);
		wg_engine_receive(p.b.engine, &p.a.addr, buf, len, p.now);
	}
	assert_int_equal(p.b.n_delivered, 0);
	assert_int_equal(p.b.n_out, 0);
	assert_int_equal(p.b.peer->stats.handshakes, 0);
	pair_free(&p);
}

static void test_wrong_psk_gives_no_session(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t k1[32], k2[32];
	(void)state;

	randombytes_buf(k1, 32);
	randombytes_buf(k2, 32);
	pair_init_opts(&p, 120, k1, k2);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 0);
	assert_int_equal(p.a.peer->stats.handshakes, 0);
	pair_free(&p);
	pair_init_opts(&p, 120, k1, k1);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	pair_free(&p);
}

static void test_unknown_peer_gets_no_answer(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	wg_engine_remove_peer(p.b.engine, p.b.peer);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_RESPONSE], 0);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 1);
	wg_engine_free(p.a.engine);
	wg_engine_free(p.b.engine);
}

static void test_cookie_under_load(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	(void)state;

	pair_init(&p);
	wg_engine_set_under_load(p.b.engine, p.now.mono_ns + 600 * WG_NSEC_PER_SEC);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	/* The first initiation earned a cookie reply instead of a response; A sent again
	 * at once with mac2, and that one was answered: no REKEY_TIMEOUT lost. */
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_COOKIE], 1);
	assert_int_equal(wg_engine_stats(p.b.engine)->cookie_replies_sent, 1);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_UNDER_LOAD], 1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 2);
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_RESPONSE], 1);
	assert_int_equal(p.b.n_delivered, 1);
	pair_free(&p);
}

/* A forged cookie reply (not sealed to our mac1) neither counts nor makes us resend. */
static void test_forged_cookie_reply_is_ignored(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram init;
	struct wg_msg_cookie forged;
	(void)state;

	pair_init(&p);
	p.a.blackhole = true;
	send_from(&p, &p.a, 1);
	p.a.blackhole = false;
	memset(&forged, 0x5a, sizeof(forged));
	wg_le32_write(&forged.header, WG_MSG_HANDSHAKE_COOKIE);
	wg_le32_write(&forged.receiver_index, p.a.peer->handshake.local_index);
	init.len = sizeof(forged);
	memcpy(init.buf, &forged, sizeof(forged));
	wg_engine_receive(p.a.engine, &p.b.addr, init.buf, init.len, p.now);
	assert_int_equal(p.a.peer->stats.drops[WG_DROP_BAD_MAC], 1);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 1);
	pair_free(&p);
}

static void test_rate_limit_per_source_under_load(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram init, copy;
	(void)state;

	pair_init(&p);
	wg_engine_set_under_load(p.b.engine, p.now.mono_ns + 600 * WG_NSEC_PER_SEC);
	send_from(&p, &p.a, 1);
	/* Hand A's initiation to B and B's cookie reply to A by hand: A's immediate resend,
	 * now with mac2, is what the flood below replays. */
	assert_int_equal(p.a.n_out, 1);
	wg_engine_receive(p.b.engine, &p.a.addr, p.a.out[0].buf, p.a.out[0].len, p.now);
	p.a.n_out = 0;
	assert_int_equal(p.b.n_out, 1);
	wg_engine_receive(p.a.engine, &p.b.addr, p.b.out[0].buf, p.b.out[0].len, p.now);
	p.b.n_out = 0;
	assert_int_equal(p.a.n_out, 1);
	init = p.a.out[0];
	p.a.n_out = 0;
	/* The same proven source sends it 20 times in one instant. */
	for (int i = 0; i < 20; i++) {
		copy = init;
		wg_engine_receive(p.b.engine, &p.a.addr, copy.buf, copy.len, p.now);
	}
	/* A burst of 5 reaches Noise (one answered, four refused as replays); the other
	 * 15 are dropped before any Diffie-Hellman is spent on them. */
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_RESPONSE], 1);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 4);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_RATE_LIMITED], 15);
	pair_free(&p);
}

/* Under a spoofed flood the anonymous get at most the cookie budget; a branch coming back
 * from the address we know it at still gets its cookie, and so its session. */
static void test_cookie_budget_spares_known_sources(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct datagram init, copy;
	struct wg_endpoint spoofed;
	(void)state;

	pair_init(&p);
	wg_engine_set_under_load(p.a.engine, p.now.mono_ns + 600 * WG_NSEC_PER_SEC);
	wg_engine_peer_set_endpoint(p.b.engine, p.b.peer, &p.a.addr);
	send_from(&p, &p.b, 1);
	assert_int_equal(p.b.n_out, 1);
	init = p.b.out[0];
	p.b.n_out = 0;
	p.a.blackhole = true; /* replies to spoofed sources go nowhere */
	for (uint32_t i = 0; i < 3000; i++) {
		site_addr(&spoofed, "100.64.0.0");
		spoofed.addr.in4.sin_addr.s_addr = htonl(0x64400000u + i);
		copy = init;
		wg_engine_receive(p.a.engine, &spoofed, copy.buf, copy.len, p.now);
	}
	assert_int_equal(wg_engine_stats(p.a.engine)->cookie_replies_sent, 1000);
	assert_int_equal(wg_engine_stats(p.a.engine)->drops[WG_DROP_UNDER_LOAD], 3000);
	p.a.blackhole = false;
	/* The budget is spent, but B is where A expects it. */
	copy = init;
	wg_engine_receive(p.a.engine, &p.b.addr, copy.buf, copy.len, p.now);
	assert_int_equal(wg_engine_stats(p.a.engine)->cookie_replies_sent, 1001);
	pair_pump(&p);
	assert_int_equal(p.b.peer->stats.handshakes, 1);
	assert_int_equal(p.a.n_delivered, 1);
	pair_free(&p);
}

static void test_roaming_follows_authenticated_source(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct wg_endpoint moved;
	struct datagram d, forged;
	(void)state;

	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	site_addr(&moved, "198.51.100.7");
	d = capture_one_data(&p);
	p.a.n_out = 0;
	/* A forged packet from the new address changes nothing... */
	forged = d;
	forged.buf[40] ^= 1;
	wg_engine_receive(p.b.engine, &moved, forged.buf, forged.len, p.now);
	assert_true(wg_endpoint_eq(&p.b.peer->endpoint, &p.a.addr));
	/* ...an authentic one moves the endpoint. */
	wg_engine_receive(p.b.engine, &moved, d.buf, d.len, p.now);
	assert_true(wg_endpoint_eq(&p.b.peer->endpoint, &moved));
	assert_int_equal(site_count_events(&p.b, WG_EVENT_ENDPOINT_CHANGED), 2);
	pair_free(&p);
}

static void test_no_route_and_no_endpoint(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint8_t pkt[40];
	(void)state;

	pair_init(&p);
	wg_engine_send(p.a.engine, pkt, make_ipv4(pkt, 40, "10.1.0.5", "10.9.0.1", 0), p.now);
	assert_int_equal(wg_engine_stats(p.a.engine)->drops[WG_DROP_NO_ROUTE], 1);
	/* B does not know where A is until A speaks. */
	send_from(&p, &p.b, 0);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_NO_ENDPOINT], 1);
	assert_int_equal(p.b.n_out, 0);
	pair_free(&p);
}

static void test_allowed_ips_move_between_peers(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct wg_peer_config c = {.name = "c"};
	struct wg_allowed_ip ip;
	struct wg_peer *third;
	uint8_t k[32];
	(void)state;

	pair_init(&p);
	randombytes_buf(k, 32);
	crypto_scalarmult_base(c.public_key, k);
	third = wg_engine_add_peer(p.a.engine, &c, p.now);
	assert_non_null(third);
	/* The same public key twice is refused. */
	assert_null(wg_engine_add_peer(p.a.engine, &c, p.now));
	allowed(&ip, "10.2.0.0", 24);
	assert_int_equal(wg_engine_peer_set_allowed_ips(p.a.engine, third, &ip, 1), 0);
	assert_int_equal(p.a.peer->n_allowed_ips, 0);
	assert_int_equal(third->n_allowed_ips, 1);
	ip.cidr = 33;
	assert_int_equal(wg_engine_peer_set_allowed_ips(p.a.engine, third, &ip, 1), -EINVAL);
	assert_int_equal(third->n_allowed_ips, 1);
	assert_ptr_equal(wg_engine_find_peer_by_name(p.a.engine, "c"), third);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_data),
	    cmocka_unit_test(test_padding_and_keepalive_sizes),
	    cmocka_unit_test(test_staged_packets_keep_order),
	    cmocka_unit_test(test_staged_queue_is_bounded),
	    cmocka_unit_test(test_responder_waits_for_confirmation),
	    cmocka_unit_test(test_replay_is_dropped),
	    cmocka_unit_test(test_tampered_data_is_dropped),
	    cmocka_unit_test(test_spoofed_inner_source_is_dropped),
	    cmocka_unit_test(test_garbage_is_counted),
	    cmocka_unit_test(test_wrong_psk_gives_no_session),
	    cmocka_unit_test(test_unknown_peer_gets_no_answer),
	    cmocka_unit_test(test_cookie_under_load),
	    cmocka_unit_test(test_forged_cookie_reply_is_ignored),
	    cmocka_unit_test(test_rate_limit_per_source_under_load),
	    cmocka_unit_test(test_cookie_budget_spares_known_sources),
	    cmocka_unit_test(test_roaming_follows_authenticated_source),
	    cmocka_unit_test(test_no_route_and_no_endpoint),
	    cmocka_unit_test(test_allowed_ips_move_between_peers),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
