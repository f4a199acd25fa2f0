/* Batched UDP over loopback: GSO runs and sendmmsg on the way out, recvmmsg and GRO on
 * the way in; every datagram arrives whole, in order, with its sender. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "tunnel/udp.h"
#include "tunnel/udp_batch.h"

static void endpoint4(struct wg_endpoint *ep, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	ep->addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int rx_fd(const struct wg_udp *u)
{
	return u->fd6 >= 0 ? u->fd6 : u->fd4;
}

/* Read until `want` datagrams arrived (splitting GRO buffers); their sizes and first
 * bytes go to len[] and tag[]. */
static unsigned receive_all(struct wg_udp *u, struct wg_udp_rx_batch *rx, unsigned want,
			    uint16_t *len, uint8_t *tag, unsigned *buffers)
{
	unsigned got = 0;
	*buffers = 0;
	while (got < want) {
		struct pollfd pfd = {.fd = rx_fd(u), .events = POLLIN};
		if (poll(&pfd, 1, 2000) <= 0)
			break;
		int n = wg_udp_rx_read(rx_fd(u), rx);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			const uint8_t *p = rx->data + (size_t)i * WG_UDP_RX_BUFFER;
			uint32_t left = rx->len[i];
			uint16_t seg = rx->segment[i] ? rx->segment[i] : (uint16_t)left;
			assert_false(rx->truncated[i]);
			assert_int_equal(rx->from[i].addr.sa.sa_family, AF_INET);
			(*buffers)++;
			while (left && got < 256) {
				uint16_t l = left < seg ? (uint16_t)left : seg;
				len[got] = l;
				tag[got++] = p[0];
				p += l;
				left -= l;
			}
		}
	}
	return got;
}

static void run(bool gso, bool gro)
{
	struct wg_udp a, b;
	struct wg_udp_tx_batch tx;
	struct wg_udp_rx_batch rx;
	struct wg_endpoint to;
	uint8_t buf[1500];
	uint16_t len[256];
	uint8_t tag[256];
	unsigned buffers;

	assert_int_equal(wg_udp_open(&a, 0), 0);
	assert_int_equal(wg_udp_open(&b, 0), 0);
	if (gro)
		(void)wg_udp_enable_gro(rx_fd(&b));
	endpoint4(&to, b.port);
	assert_int_equal(wg_udp_tx_init(&tx, 128, gso), 0);
	assert_int_equal(wg_udp_rx_init(&rx, 16), 0);

	/* 70 full-size datagrams (more than one GSO send), a short one, 5 small ones */
	for (unsigned i = 0; i < 76; i++) {
		size_t l = i < 70 ? 1400 : i == 70 ? 300 : 100;
		memset(buf, (int)i, l);
		assert_int_equal(wg_udp_tx_add(&tx, &to, buf, l), 0);
	}
	wg_udp_tx_flush(&a, &tx);
	assert_int_equal(tx.count, 0);
	assert_int_equal(tx.errors, 0);
	if (gso)
		assert_true(tx.sends < 10); /* runs went out as GSO sends */

	unsigned got = receive_all(&b, &rx, 76, len, tag, &buffers);
	assert_int_equal(got, 76);
	for (unsigned i = 0; i < 76; i++) {
		assert_int_equal(tag[i], i);
		assert_int_equal(len[i], i < 70 ? 1400 : i == 70 ? 300 : 100);
	}
	if (gro && gso)
		assert_true(buffers < 76); /* some arrived merged */

	/* a full batch says so */
	for (unsigned i = 0; i < 128; i++)
		assert_int_equal(wg_udp_tx_add(&tx, &to, buf, 100), 0);
	assert_int_equal(wg_udp_tx_add(&tx, &to, buf, 100), -ENOSPC);
	assert_int_equal(wg_udp_tx_add(&tx, &to, buf, 0), -ENOSPC);
	wg_udp_tx_flush(&a, &tx);
	assert_int_equal(receive_all(&b, &rx, 128, len, tag, &buffers), 128);

	wg_udp_tx_free(&tx);
	wg_udp_rx_free(&rx);
	wg_udp_close(&a);
	wg_udp_close(&b);
}

static void test_plain(void **state)
{
	(void)state;
	run(false, false);
}

static void test_gso(void **state)
{
	(void)state;
	run(true, false);
}

static void test_gso_gro(void **state)
{
	(void)state;
	run(true, true);
}

/* A datagram to nowhere (a family without a socket) is counted, the rest still go. */
static void test_error_counted(void **state)
{
	(void)state;
	struct wg_udp a, b;
	struct wg_udp_tx_batch tx;
	struct wg_udp_rx_batch rx;
	struct wg_endpoint to, none;
	uint8_t buf[200] = {7};
	uint16_t len[256];
	uint8_t tag[256];
	unsigned buffers;

	assert_int_equal(wg_udp_open(&a, 0), 0);
	assert_int_equal(wg_udp_open(&b, 0), 0);
	endpoint4(&to, b.port);
	memset(&none, 0, sizeof(none));
	assert_int_equal(wg_udp_tx_init(&tx, 8, true), 0);
	assert_int_equal(wg_udp_rx_init(&rx, 8), 0);
	assert_int_equal(wg_udp_tx_add(&tx, &none, buf, 100), 0);
	assert_int_equal(wg_udp_tx_add(&tx, &to, buf, 100), 0);
	wg_udp_tx_flush(&a, &tx);
	assert_int_equal(tx.errors, 1);
	assert_int_equal(receive_all(&b, &rx, 1, len, tag, &buffers), 1);
	wg_udp_tx_free(&tx);
	wg_udp_rx_free(&rx);
	wg_udp_close(&a);
	wg_udp_close(&b);
}

/* Reserved slots are written after later datagrams were queued (as crypto workers fill
 * them before the flush): each arrives with what was written into it, in queue order,
 * and a full batch refuses a reservation. */
static void test_reserve(void **state)
{
	(void)state;
	struct wg_udp a, b;
	struct wg_udp_tx_batch tx;
	struct wg_udp_rx_batch rx;
	struct wg_endpoint to;
	uint8_t *slot[8];
	uint16_t len[256];
	uint8_t tag[256];
	unsigned buffers;

	assert_int_equal(wg_udp_open(&a, 0), 0);
	assert_int_equal(wg_udp_open(&b, 0), 0);
	endpoint4(&to, b.port);
	assert_int_equal(wg_udp_tx_init(&tx, 8, true), 0);
	assert_int_equal(wg_udp_rx_init(&rx, 8), 0);
	for (unsigned i = 0; i < 8; i++) {
		slot[i] = wg_udp_tx_reserve(&tx, &to, 1000);
		assert_non_null(slot[i]);
	}
	assert_null(wg_udp_tx_reserve(&tx, &to, 10));
	for (unsigned i = 8; i-- > 0;)
		memset(slot[i], 0x40 + (int)i, 1000);
	wg_udp_tx_flush(&a, &tx);
	assert_int_equal(receive_all(&b, &rx, 8, len, tag, &buffers), 8);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(len[i], 1000);
		assert_int_equal(tag[i], 0x40 + i);
	}
	assert_null(wg_udp_tx_reserve(&tx, &to, WG_UDP_BATCH_SLOT + 1));
	wg_udp_tx_free(&tx);
	wg_udp_rx_free(&rx);
	wg_udp_close(&a);
	wg_udp_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reserve),	  cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_gso),		  cmocka_unit_test(test_gso_gro),
	    cmocka_unit_test(test_error_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
