/* UDP underlay over loopback: both families, the sender and local-destination addresses
 * reported by wg_udp_recv, the source-address retry of wg_udp_send, port selection. */
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

struct pair {
	struct wg_udp a, b;
};

static int setup(void **state)
{
	static struct pair p;

	if (wg_udp_open(&p.a, 0) != 0 || wg_udp_open(&p.b, 0) != 0)
		return -1;
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	wg_udp_close(&p->a);
	wg_udp_close(&p->b);
	return 0;
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void endpoint4(struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &ep->addr.in4.sin_addr), 1);
}

static void endpoint6(struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in6.sin6_family = AF_INET6;
	ep->addr.in6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &ep->addr.in6.sin6_addr), 1);
}

/* The socket of u that receives family's datagrams. */
static int fd_for(const struct wg_udp *u, int family)
{
	return family == AF_INET && u->fd4 >= 0 ? u->fd4 : u->fd6;
}

/* Wait (bounded) for one datagram on fd. */
static ssize_t recv_wait(int fd, void *buf, size_t len, struct wg_endpoint *from)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	return wg_udp_recv(fd, buf, len, from);
}

static void assert_from4(const struct wg_endpoint *from, const char *ip, uint16_t port,
			 const char *local)
{
	char s[INET_ADDRSTRLEN];

	assert_int_equal(from->addr.sa.sa_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &from->addr.in4.sin_addr, s, sizeof(s)), ip);
	assert_int_equal(ntohs(from->addr.in4.sin_port), port);
	assert_true(from->has_src);
	assert_string_equal(inet_ntop(AF_INET, &from->src.src4, s, sizeof(s)), local);
}

static void assert_from6(const struct wg_endpoint *from, const char *ip, uint16_t port,
			 const char *local)
{
	char s[INET6_ADDRSTRLEN];

	assert_int_equal(from->addr.sa.sa_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &from->addr.in6.sin6_addr, s, sizeof(s)), ip);
	assert_int_equal(ntohs(from->addr.in6.sin6_port), port);
	assert_true(from->has_src);
	assert_string_equal(inet_ntop(AF_INET6, &from->src.src6, s, sizeof(s)), local);
}

static void test_port_zero_gets_real_port(void **state)
{
	struct pair *p = *state;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = p->a.fd6 >= 0 ? p->a.fd6 : p->a.fd4;

	assert_int_not_equal(p->a.port, 0);
	assert_int_not_equal(p->b.port, 0);
	assert_int_not_equal(p->a.port, p->b.port);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), p->a.port);
	/* Either one dual-stack socket or one per family, never neither. */
	assert_true(p->a.fd6 >= 0 || p->a.fd4 >= 0);
}

static void test_port_in_use(void **state)
{
	struct pair *p = *state;
	struct wg_udp c;

	assert_int_equal(wg_udp_open(&c, p->a.port), -EADDRINUSE);
	assert_int_equal(c.fd6, -1);
	assert_int_equal(c.fd4, -1);
}

static void test_ipv4_round_trip(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64];

	endpoint4(&to, "127.0.0.1", p->b.port);
	assert_int_equal(wg_udp_send(&p->a, &to, "ping4", 5), 0);
	assert_int_equal(recv_wait(fd_for(&p->b, AF_INET), buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "ping4", 5);
	assert_from4(&from, "127.0.0.1", p->a.port, "127.0.0.1");

	/* Reply through the recorded endpoint, source included. */
	assert_int_equal(wg_udp_send(&p->b, &from, "pong4", 5), 0);
	assert_true(from.has_src);
	assert_int_equal(recv_wait(fd_for(&p->a, AF_INET), buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "pong4", 5);
	assert_from4(&from, "127.0.0.1", p->b.port, "127.0.0.1");
}

static void test_ipv6_round_trip(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64];

	if (p->a.fd6 < 0 || !have_ipv6_loopback())
		skip();
	endpoint6(&to, "::1", p->b.port);
	assert_int_equal(wg_udp_send(&p->a, &to, "ping6!", 6), 0);
	assert_int_equal(recv_wait(fd_for(&p->b, AF_INET6), buf, sizeof(buf), &from), 6);
	assert_memory_equal(buf, "ping6!", 6);
	assert_from6(&from, "::1", p->a.port, "::1");
	assert_int_not_equal(from.src_ifindex, 0);

	assert_int_equal(wg_udp_send(&p->b, &from, "pong6!", 6), 0);
	assert_true(from.has_src);
	assert_int_equal(recv_wait(fd_for(&p->a, AF_INET6), buf, sizeof(buf), &from), 6);
	assert_memory_equal(buf, "pong6!", 6);
	assert_from6(&from, "::1", p->b.port, "::1");
}

/* All of 127.0.0.0/8 is local on lo: a reply sent "from 127.0.0.2" must arrive from
 * there, which shows the recorded source is really used (also on a dual-stack socket). */
static void test_ipv4_source_honoured(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64];

	endpoint4(&to, "127.0.0.1", p->b.port);
	to.has_src = true;
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", &to.src.src4), 1);
	assert_int_equal(wg_udp_send(&p->a, &to, "from2", 5), 0);
	assert_true(to.has_src);
	assert_int_equal(recv_wait(fd_for(&p->b, AF_INET), buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "from2", 5);
	assert_from4(&from, "127.0.0.2", p->a.port, "127.0.0.1");
}

/* 192.0.2.1 (TEST-NET-1) is not ours: the kernel refuses it as a source, the send must
 * still go out (from 127.0.0.1) and the stale source must be forgotten. */
static void test_ipv4_stale_source_retried(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64];

	endpoint4(&to, "127.0.0.1", p->b.port);
	to.has_src = true;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &to.src.src4), 1);
	assert_int_equal(wg_udp_send(&p->a, &to, "retry4", 6), 0);
	assert_false(to.has_src);
	assert_int_equal(recv_wait(fd_for(&p->b, AF_INET), buf, sizeof(buf), &from), 6);
	assert_memory_equal(buf, "retry4", 6);
	assert_from4(&from, "127.0.0.1", p->a.port, "127.0.0.1");
}

static void test_ipv6_stale_source_retried(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64];

	if (p->a.fd6 < 0 || !have_ipv6_loopback())
		skip();
	endpoint6(&to, "::1", p->b.port);
	to.has_src = true;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &to.src.src6), 1);
	assert_int_equal(wg_udp_send(&p->a, &to, "retry6", 6), 0);
	assert_false(to.has_src);
	assert_int_equal(recv_wait(fd_for(&p->b, AF_INET6), buf, sizeof(buf), &from), 6);
	assert_memory_equal(buf, "retry6", 6);
	assert_from6(&from, "::1", p->a.port, "::1");
}

static void test_empty_queue_and_junk(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to, from;
	char buf[64], small[4];
	int fd = fd_for(&p->b, AF_INET);

	assert_int_equal(wg_udp_recv(fd, buf, sizeof(buf), &from), 0);

	/* A zero-length datagram is skipped, not reported as "queue empty". */
	endpoint4(&to, "127.0.0.1", p->b.port);
	assert_int_equal(wg_udp_send(&p->a, &to, "", 0), 0);
	assert_int_equal(wg_udp_send(&p->a, &to, "after", 5), 0);
	assert_int_equal(recv_wait(fd, buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "after", 5);

	/* Too big for the buffer: an error, not a silently cut message. */
	assert_int_equal(wg_udp_send(&p->a, &to, "toolong", 7), 0);
	assert_int_equal(recv_wait(fd, small, sizeof(small), &from), -EMSGSIZE);
	assert_int_equal(wg_udp_recv(fd, buf, sizeof(buf), &from), 0);
}

static void test_no_endpoint(void **state)
{
	struct pair *p = *state;
	struct wg_endpoint to;

	memset(&to, 0, sizeof(to));
	assert_int_equal(wg_udp_send(&p->a, &to, "x", 1), -EDESTADDRREQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_port_zero_gets_real_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_source_honoured, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_stale_source_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_stale_source_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_queue_and_junk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_endpoint, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
