/* The handshake queue: first in first out across the ring's wrap, bounded, its reserve
 * kept for peers' endpoints, oversized messages refused; and the engine's test of
 * which datagrams are handshakes to queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "tunnel/engine.h"
#include "tunnel/handshake_queue.h"
#include "tunnel/messages.h"

static struct wg_endpoint endpoint(uint16_t port)
{
	struct wg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(port);
	ep.addr.in4.sin_addr.s_addr = htonl(0xc6336401); /* 198.51.100.1 */
	return ep;
}

/* Message number n: n in every byte, length 92 or 148 by parity. */
static bool push(struct wg_handshake_queue *q, uint8_t n, bool priority)
{
	uint8_t msg[WG_HANDSHAKE_QUEUE_MSG_MAX];
	struct wg_endpoint ep = endpoint(1000 + n);
	size_t len = n % 2 ? 92 : 148;

	memset(msg, n, sizeof(msg));
	return wg_handshake_queue_push(q, &ep, msg, len, 5000 + n, priority);
}

static void expect_next(struct wg_handshake_queue *q, uint8_t n)
{
	struct wg_handshake_queue_item *it = wg_handshake_queue_peek(q);
	size_t len = n % 2 ? 92 : 148;

	assert_non_null(it);
	assert_int_equal(it->len, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(it->msg[i], n);
	assert_int_equal(ntohs(it->from.addr.in4.sin_port), 1000 + n);
	assert_int_equal(it->arrived_ns, 5000 + n);
	wg_handshake_queue_pop(q);
}

static void test_bounds_and_reserve(void **state)
{
	struct wg_handshake_queue q;
	uint8_t n = 0;
	(void)state;

	assert_int_equal(wg_handshake_queue_init(&q, 8, 2), 0);
	/* Six places for anyone, then only priority messages, then none at all. */
	for (; n < 6; n++)
		assert_true(push(&q, n, false));
	assert_false(push(&q, 100, false));
	assert_true(push(&q, n++, true));
	assert_true(push(&q, n++, true));
	assert_false(push(&q, 101, true));
	assert_false(push(&q, 102, false));
	assert_int_equal(wg_handshake_queue_len(&q), 8);
	assert_int_equal(q.high_water, 8);
	assert_int_equal(q.dropped, 3);

	/* Out in the order they came; the refused ones were never stored. */
	for (uint8_t i = 0; i < 3; i++)
		expect_next(&q, i);
	/* Five wait: one more for anyone, over the ring's end. */
	assert_true(push(&q, n++, false));
	assert_false(push(&q, 103, false));
	assert_true(push(&q, n++, true));
	assert_true(push(&q, n++, true));
	for (uint8_t i = 3; i < n; i++)
		expect_next(&q, i);
	assert_null(wg_handshake_queue_peek(&q));
	assert_int_equal(wg_handshake_queue_len(&q), 0);
	wg_handshake_queue_pop(&q); /* popping an empty queue changes nothing */
	assert_int_equal(wg_handshake_queue_len(&q), 0);
	assert_int_equal(q.high_water, 8);
	wg_handshake_queue_free(&q);
}

static void test_many_rounds(void **state)
{
	struct wg_handshake_queue q;
	uint8_t next_in = 0, next_out = 0;
	(void)state;

	/* Thousands of pushes and pops in uneven steps: order holds across every wrap. */
	assert_int_equal(wg_handshake_queue_init(&q, 37, 5), 0);
	for (unsigned round = 0; round < 2000; round++) {
		unsigned in = round % 7, out = (round * 5) % 6;

		for (unsigned i = 0; i < in; i++)
			if (push(&q, next_in, false))
				next_in++;
		for (unsigned i = 0; i < out && wg_handshake_queue_len(&q); i++)
			expect_next(&q, next_out++);
		assert_true(wg_handshake_queue_len(&q) <= 32);
	}
	wg_handshake_queue_free(&q);
}

static void test_refusals(void **state)
{
	struct wg_handshake_queue q;
	struct wg_endpoint ep = endpoint(1);
	uint8_t big[WG_HANDSHAKE_QUEUE_MSG_MAX + 1] = {0};
	(void)state;

	assert_int_equal(wg_handshake_queue_init(&q, 4, 4), -EINVAL);
	assert_int_equal(wg_handshake_queue_init(&q, 0, 0), -EINVAL);
	assert_int_equal(wg_handshake_queue_init(&q, 4, 1), 0);
	assert_false(wg_handshake_queue_push(&q, &ep, big, sizeof(big), 0, true));
	assert_int_equal(wg_handshake_queue_len(&q), 0);
	assert_true(wg_handshake_queue_push(&q, &ep, big, WG_HANDSHAKE_QUEUE_MSG_MAX, 0, true));
	wg_handshake_queue_free(&q);
	wg_handshake_queue_free(&q); /* twice is harmless */
}

static void test_what_is_a_handshake(void **state)
{
	uint8_t buf[256] = {0};
	(void)state;

	buf[0] = WG_MSG_HANDSHAKE_INITIATION;
	assert_true(wg_engine_is_handshake(buf, sizeof(struct wg_msg_initiation)));
	assert_false(wg_engine_is_handshake(buf, sizeof(struct wg_msg_initiation) - 1));
	assert_false(wg_engine_is_handshake(buf, sizeof(struct wg_msg_initiation) + 1));
	buf[0] = WG_MSG_HANDSHAKE_RESPONSE;
	assert_true(wg_engine_is_handshake(buf, sizeof(struct wg_msg_response)));
	assert_false(wg_engine_is_handshake(buf, sizeof(struct wg_msg_initiation)));
	/* Cookie replies and transport data are handled where they arrive. */
	buf[0] = WG_MSG_HANDSHAKE_COOKIE;
	assert_false(wg_engine_is_handshake(buf, sizeof(struct wg_msg_cookie)));
	buf[0] = WG_MSG_DATA;
	assert_false(wg_engine_is_handshake(buf, 148));
	assert_false(wg_engine_is_handshake(buf, 92));
	/* The type is the whole little-endian word, reserved bytes included. */
	buf[0] = WG_MSG_HANDSHAKE_INITIATION;
	buf[1] = 1;
	assert_false(wg_engine_is_handshake(buf, sizeof(struct wg_msg_initiation)));
	assert_false(wg_engine_is_handshake(buf, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bounds_and_reserve),
	    cmocka_unit_test(test_many_rounds),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_what_is_a_handshake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
