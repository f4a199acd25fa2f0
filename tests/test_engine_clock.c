/* Clock-safe handshake timestamps: every TAI64N timestamp sent is above the floor the
 * daemon sets and above every earlier one, so a gateway that restarts with its clock far
 * behind is still accepted by peers that saw its newer timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "engine_pair.h"

#define DAY_NS (86400ULL * WG_NSEC_PER_SEC)

/* Site a comes back as a fresh engine with the same key and peer (a restart), at wall
 * time real_ns, with a timestamp floor (0: none). */
static void restart_a(struct pair *p, uint64_t real_ns, uint64_t floor_ns)
{
	struct wg_engine_io io = {.ctx = &p->a,
				  .send_datagram = site_send,
				  .deliver_packet = site_deliver,
				  .event = site_event};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	struct wg_peer_config cfg = {.name = "b"};
	struct wg_allowed_ip ip;

	wg_engine_free(p->a.engine);
	p->a.n_out = 0;
	p->a.engine = wg_engine_new(&io, &set);
	assert_non_null(p->a.engine);
	assert_int_equal(wg_engine_set_private_key(p->a.engine, p->a.priv), 0);
	if (floor_ns)
		wg_engine_set_timestamp_floor(p->a.engine, floor_ns);
	memcpy(cfg.public_key, p->b.pub, 32);
	cfg.endpoint = p->b.addr;
	p->a.peer = wg_engine_add_peer(p->a.engine, &cfg, p->now);
	assert_non_null(p->a.peer);
	allowed(&ip, "10.2.0.0", 24);
	assert_int_equal(wg_engine_peer_set_allowed_ips(p->a.engine, p->a.peer, &ip, 1), 0);
	p->now.real_ns = real_ns;
	p->now.mono_ns += WG_NSEC_PER_SEC; /* past b's initiation flood limit */
}

static void test_restart_with_clock_a_day_behind(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	uint64_t last, behind;
	(void)state;

	pair_init(&p);
	assert_int_equal(wg_engine_last_timestamp(p.a.engine), 0);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	last = wg_engine_last_timestamp(p.a.engine);
	assert_true(last > 0 && last <= p.now.real_ns);
	behind = p.now.real_ns - DAY_NS;

	/* Without the floor b refuses the old-looking timestamp: a is locked out. */
	restart_a(&p, behind, 0);
	send_from(&p, &p.a, 2);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 1);
	assert_true(wg_engine_last_timestamp(p.a.engine) < last);

	/* With the last timestamp sent before as the floor it connects at once. */
	restart_a(&p, behind, last);
	send_from(&p, &p.a, 3);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 2);
	assert_int_equal(p.b.delivered[1].buf[99], 3);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 1);
	assert_true(wg_engine_last_timestamp(p.a.engine) > last);
	pair_free(&p);
}

static void test_timestamps_strictly_increase(void **state)
{
	static struct pair p;
	uint64_t t1, t2, t3;
	(void)state;

	pair_init(&p);
	p.b.blackhole = true; /* b's answers vanish: a keeps retrying */
	wg_engine_set_timestamp_floor(p.a.engine, p.now.real_ns + 5 * WG_NSEC_PER_SEC);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	t1 = wg_engine_last_timestamp(p.a.engine);
	assert_true(t1 > p.now.real_ns + 5 * WG_NSEC_PER_SEC);
	/* The wall clock stands still while retries go out: each still carries a greater
	 * timestamp, and b takes every one. */
	p.now.mono_ns += 6 * WG_NSEC_PER_SEC;
	wg_engine_tick(p.a.engine, p.now);
	pair_pump(&p);
	t2 = wg_engine_last_timestamp(p.a.engine);
	assert_true(t2 > t1);
	p.now.mono_ns += 6 * WG_NSEC_PER_SEC;
	wg_engine_tick(p.a.engine, p.now);
	pair_pump(&p);
	t3 = wg_engine_last_timestamp(p.a.engine);
	assert_true(t3 > t2);
	assert_int_equal(p.a.sent_by_type[WG_MSG_HANDSHAKE_INITIATION], 3);
	assert_int_equal(p.b.sent_by_type[WG_MSG_HANDSHAKE_RESPONSE], 3);
	assert_int_equal(wg_engine_stats(p.b.engine)->drops[WG_DROP_HANDSHAKE_REFUSED], 0);
	p.b.blackhole = false;
	/* Once the clock passes the floor, timestamps follow the clock again. */
	p.now.real_ns += 60 * WG_NSEC_PER_SEC;
	p.now.mono_ns += 200 * WG_NSEC_PER_SEC;
	wg_engine_tick(p.a.engine, p.now);
	pair_pump(&p);
	send_from(&p, &p.a, 2);
	assert_true(wg_engine_last_timestamp(p.a.engine) <= p.now.real_ns);
	assert_true(wg_engine_last_timestamp(p.a.engine) >
		    p.now.real_ns - WG_INITIATION_TIMESTAMP_GRANULARITY_NS);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restart_with_clock_a_day_behind),
	    cmocka_unit_test(test_timestamps_strictly_increase),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
