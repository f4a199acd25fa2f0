/* Endpoint lists: the form of each entry, lists in the config file with their problems
 * on their lines, the failover rule, and the daemon's side against a real engine: the
 * third initiation after two unanswered retry periods goes to the next endpoint, a name
 * is looked up on the worker thread, a roamed peer is left alone until its handshakes
 * fail. Lookups here only ever ask for "localhost" (the hosts file), never DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/endpoint_list.h"
#include "daemon/endpoints.h"
#include "daemon/event.h"
#include "daemon/show_endpoints.h"
#include "tunnel/engine.h"
#include "tunnel/messages.h"

#define SEC WG_NSEC_PER_SEC

static int setup(void **state)
{
	(void)state;
	/* git keeps no file modes. */
	if (chmod("configs/hq.key", 0600)) {
		perror("chmod configs/hq.key");
		return -1;
	}
	return 0;
}

static const char *fmt(const struct wg_endpoint *ep)
{
	static char buf[WG_ENDPOINT_STRLEN];

	return wg_endpoint_format(ep, buf);
}

/* ---- entries ------------------------------------------------------------------------- */

static void test_parse_good(void **state)
{
	static const struct {
		const char *text, *host;
		unsigned port;
		int family; /* AF_UNSPEC: a name */
		const char *again;
	} cases[] = {
	    {"192.0.2.1:51820", "192.0.2.1", 51820, AF_INET, "192.0.2.1:51820"},
	    {"[2001:db8::1]:1", "2001:db8::1", 1, AF_INET6, "[2001:db8::1]:1"},
	    {"[::ffff:192.0.2.1]:65535", "::ffff:192.0.2.1", 65535, AF_INET6, NULL},
	    {"hq-isp1:51820", "hq-isp1", 51820, AF_UNSPEC, "hq-isp1:51820"},
	    {"vpn.example.com.:7", "vpn.example.com.", 7, AF_UNSPEC, NULL},
	    {"gw_2.site-3.example:9", "gw_2.site-3.example", 9, AF_UNSPEC, NULL},
	    {"1host:2", "1host", 2, AF_UNSPEC, NULL},
	    {"localhost:51822", "localhost", 51822, AF_UNSPEC, NULL},
	};
	struct vpnd_endpoint_entry e;
	char why[128], text[VPND_ENDPOINT_TEXT_MAX];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (vpnd_endpoint_parse(cases[i].text, &e, why, sizeof(why)) != 0)
			fail_msg("'%s' %s", cases[i].text, why);
		assert_string_equal(e.host, cases[i].host);
		assert_int_equal(e.port, cases[i].port);
		assert_int_equal(e.numeric, cases[i].family != AF_UNSPEC);
		assert_int_equal(e.addr.addr.sa.sa_family, cases[i].family);
		if (e.numeric)
			assert_int_equal(ntohs(e.addr.addr.sa.sa_family == AF_INET
						   ? e.addr.addr.in4.sin_port
						   : e.addr.addr.in6.sin6_port),
					 cases[i].port);
		assert_string_equal(vpnd_endpoint_text(&e, text),
				    cases[i].again ? cases[i].again : cases[i].text);
	}
}

static void test_parse_bad(void **state)
{
	char longest[VPND_ENDPOINT_HOST_MAX + 16], label[80];
	const struct {
		const char *text, *why;
	} cases[] = {
	    {"192.0.2.1", "has no port (write HOST:PORT)"},
	    {"hq", "has no port"},
	    {"192.0.2.1:0", "has port '0', a port is 1..65535"},
	    {"192.0.2.1:65536", "has port '65536'"},
	    {"192.0.2.1:", "has port ''"},
	    {"hq:http", "has port 'http'"},
	    {"hq:+1", "has port '+1'"},
	    {":51820", "has no host"},
	    {"[]:51820", "has no host"},
	    {"2001:db8::1:51820", "is ambiguous: write an IPv6 address as [ADDRESS]:PORT"},
	    {"[2001:db8::1]", "is not [IPV6-ADDRESS]:PORT"},
	    {"[2001:db8::1]51820", "is not [IPV6-ADDRESS]:PORT"},
	    {"[hq]:1", "has 'hq', which is not an IPv6 address"},
	    {"[192.0.2.1]:1", "which is not an IPv6 address"},
	    {"300.1.2.3:1", "has host '300.1.2.3', which is not an IPv4 address"},
	    {"10.1:1", "which is not an IPv4 address"},
	    {"a..b:1", "has host 'a..b', which has an empty label"},
	    {".hq:1", "which has an empty label"},
	    {"bad host:1", "which has a character a host name cannot have"},
	    {"hq/24:1", "a character a host name cannot have"},
	    {"-x.example:1", "has a label that starts with '-'"},
	    {label, "has a label longer than 63 characters"},
	    {longest, "longer than a host name may be"},
	};
	struct vpnd_endpoint_entry e;
	char why[VPND_ENDPOINT_TEXT_MAX + 128];
	(void)state;

	memset(label, 'a', 64);
	strcpy(label + 64, ".example:1");
	/* 254 characters of labels: one too many for a name without a final dot. */
	for (int i = 0; i < 254; i++)
		longest[i] = i % 50 == 49 ? '.' : 'h';
	strcpy(longest + 254, ":1");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if (vpnd_endpoint_parse(cases[i].text, &e, why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' was accepted", cases[i].text);
		if (!strstr(why, cases[i].why))
			fail_msg("'%s': '%s', expected '%s'", cases[i].text, why, cases[i].why);
	}
	/* 253 with a final dot is fine. */
	longest[253] = '.';
	strcpy(longest + 254, ":1");
	longest[252] = 'h';
	assert_int_equal(vpnd_endpoint_parse(longest, &e, why, sizeof(why)), 0);
}

/* ---- the config file ------------------------------------------------------------------ */

static struct vpnd_config *load(const char *path)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c = vpnd_config_load(path, &errs);

	if (!c) {
		for (unsigned i = 0; i < errs.count; i++)
			print_message("    %s\n", errs.lines[i]);
		fail_msg("%s did not load", path);
	}
	return c;
}

static void test_config_lists(void **state)
{
	struct vpnd_config *c = load("configs/endpoint-list.conf");
	const struct vpnd_peer_conf *two, *named, *none;
	(void)state;

	assert_int_equal(c->endpoint_refresh, 60);
	two = vpnd_config_find_peer(c, "two");
	assert_int_equal(two->n_endpoints, 2);
	assert_string_equal(two->endpoint_spec, "192.0.2.1:51820, [2001:db8::2]:51821");
	assert_string_equal(fmt(&two->endpoint), "192.0.2.1:51820"); /* the first, for the engine */
	assert_string_equal(fmt(&two->endpoints[1].addr), "[2001:db8::2]:51821");

	named = vpnd_config_find_peer(c, "named");
	assert_int_equal(named->n_endpoints, 2);
	assert_string_equal(named->endpoints[0].host, "localhost");
	/* The first entry is a name: nothing for the engine until it is looked up. */
	assert_int_equal(named->endpoint.addr.sa.sa_family, AF_UNSPEC);

	none = vpnd_config_find_peer(c, "none");
	assert_int_equal(none->n_endpoints, 0);
	assert_null(none->endpoint_spec);
	assert_null(none->endpoints);
	vpnd_config_free(c);

	/* A name nobody resolves is no config error; the default refresh is 300 s. */
	c = load("configs/endpoint-unresolved.conf");
	assert_int_equal(c->endpoint_refresh, 0);
	assert_int_equal(c->peers[0].n_endpoints, 1);
	vpnd_config_free(c);
	c = load("configs/defaults.conf");
	assert_int_equal(c->endpoint_refresh, VPND_DEFAULT_ENDPOINT_REFRESH);
	vpnd_config_free(c);
}

static void test_config_problems(void **state)
{
	static const struct {
		int line;
		const char *phrase;
	} want[] = {
	    {4, "endpoint-refresh: '-1' is not a number"},
	    {9, "endpoint: 'hq-isp2:0' has port '0', a port is 1..65535"},
	    {10, "endpoint: ':51820' has no host"},
	    {11, "endpoint: '192.0.2.1:51820' is listed twice (first at line 8)"},
	    {16, "endpoint: more than 8 endpoints"},
	    {20, "endpoint: '300.1.2.3:1' has host '300.1.2.3', which is not an IPv4 address"},
	    {20, "endpoint: 'bad host:2' has host 'bad host'"},
	    {20, "endpoint: '-x.example:3' has host '-x.example', which has a label that"},
	    {20, "endpoint: '[hq]:4' has 'hq', which is not an IPv6 address"},
	};
	const char *path = "configs/bad-endpoint-list.conf";
	struct vpnd_config_errors errs;
	char prefix[128];
	unsigned i, j;
	(void)state;

	assert_null(vpnd_config_load(path, &errs));
	for (i = 0; i < errs.count; i++)
		print_message("    %s\n", errs.lines[i]);
	assert_int_equal(errs.count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, want[i].line);
		for (j = 0; j < errs.count; j++)
			if (!strncmp(errs.lines[j], prefix, strlen(prefix)) &&
			    strstr(errs.lines[j], want[i].phrase))
				break;
		if (j == errs.count)
			fail_msg("no problem on line %d with '%s'", want[i].line, want[i].phrase);
	}
	vpnd_config_errors_free(&errs);
}

/* ---- the failover rule ---------------------------------------------------------------- */

static void test_failover_rule(void **state)
{
	const uint64_t judge = WG_REKEY_TIMEOUT * SEC - VPND_FAILOVER_MARGIN_NS;
	struct vpnd_failover f = {0};
	const uint64_t t = 1000 * SEC;
	(void)state;

	assert_int_equal(vpnd_failover_check(&f, t), VPND_FAILOVER_NONE);
	/* One initiation: judged just before the next can go out; unanswered, the names
	 * are looked up again. */
	vpnd_failover_initiated(&f, t);
	assert_int_equal(vpnd_failover_check(&f, t + judge - 1), VPND_FAILOVER_NONE);
	assert_int_equal(vpnd_failover_check(&f, t + judge), VPND_FAILOVER_RESOLVE);
	assert_int_equal(vpnd_failover_check(&f, t + judge + 1), VPND_FAILOVER_NONE); /* once */
	/* The second unanswered one: move on, and the count starts over for the next. */
	vpnd_failover_initiated(&f, t + 5 * SEC);
	assert_int_equal(vpnd_failover_check(&f, t + 5 * SEC + judge - 1), VPND_FAILOVER_NONE);
	assert_int_equal(vpnd_failover_check(&f, t + 5 * SEC + judge), VPND_FAILOVER_NEXT);
	assert_int_equal(f.unanswered, 0);
	vpnd_failover_initiated(&f, t + 10 * SEC);
	assert_int_equal(vpnd_failover_check(&f, t + 10 * SEC + judge), VPND_FAILOVER_RESOLVE);

	/* An answer, however late in the period, clears everything. */
	f = (struct vpnd_failover){0};
	vpnd_failover_initiated(&f, t);
	vpnd_failover_initiated(&f, t + 5 * SEC);
	vpnd_failover_completed(&f);
	assert_int_equal(vpnd_failover_check(&f, t + 60 * SEC), VPND_FAILOVER_NONE);
	/* Normal rekeying: initiated and answered, again and again: never a failover. */
	for (int i = 0; i < 10; i++) {
		vpnd_failover_initiated(&f, t + (uint64_t)i * 120 * SEC);
		vpnd_failover_completed(&f);
		assert_int_equal(vpnd_failover_check(&f, t + (uint64_t)i * 120 * SEC + judge),
				 VPND_FAILOVER_NONE);
	}
	/* The engine numbers attempts from 1 again when data asks for a handshake; this rule
	 * counts initiations, so a busy tunnel still fails over after the second. */
	vpnd_failover_initiated(&f, t);
	vpnd_failover_initiated(&f, t + 5 * SEC);
	assert_int_equal(vpnd_failover_check(&f, t + 5 * SEC + judge), VPND_FAILOVER_NEXT);
}

static void test_failover_next(void **state)
{
	static const struct {
		bool usable[4];
		unsigned n, cur, next;
	} cases[] = {
	    {{true, true}, 2, 0, 1},
	    {{true, true}, 2, 1, 0},
	    {{true, false, true}, 3, 0, 2},
	    {{true, false, false}, 3, 0, 0},
	    {{false, false, false, true}, 4, 3, 3},
	    {{true, true, true, true}, 4, 3, 0},
	    {{true}, 1, 0, 0},
	    {{false, true}, 2, 0, 1},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(vpnd_failover_next(cases[i].usable, cases[i].n, cases[i].cur),
				 cases[i].next);
}

/* ---- against the engine --------------------------------------------------------------- */

struct rig {
	struct wg_engine *engine;
	struct vpnd_endpoints *eps;
	struct vpnd_config *cfg;
	int epfd;
	uint64_t now; /* the fake clock the engine is driven by (monotonic ns) */
	struct wg_endpoint last_to;
	unsigned initiations;
};

static int rig_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct rig *r = ctx;

	if (len && buf[0] == WG_MSG_HANDSHAKE_INITIATION) {
		r->initiations++;
		r->last_to = *to;
	}
	return 0;
}

static void rig_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)from;
	(void)pkt;
	(void)len;
}

/* What runtime.c does with every event. */
static void rig_event(void *ctx, enum wg_event ev, const struct wg_peer *p, const char *detail)
{
	struct rig *r = ctx;
	(void)detail;

	vpnd_endpoints_note_event(r->eps, ev, p, r->now);
}

static uint64_t boottime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static struct wg_time at(const struct rig *r)
{
	return (struct wg_time){.mono_ns = r->now, .real_ns = 1700000000 * SEC + r->now};
}

static void rig_up(struct rig *r, const char *path)
{
	struct wg_engine_io io = {
	    .ctx = r, .send_datagram = rig_send, .deliver_packet = rig_deliver, .event = rig_event};
	struct wg_engine_settings settings = {.rekey_after_time = 120, .mtu = 1420};

	memset(r, 0, sizeof(*r));
	/* The module's deadlines are on the real boot clock: start the fake one there. */
	r->now = boottime();
	r->cfg = load(path);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(r->epfd >= 0);
	r->engine = wg_engine_new(&io, &settings);
	assert_non_null(r->engine);
	assert_int_equal(wg_engine_set_private_key(r->engine, r->cfg->private_key), 0);
	for (unsigned i = 0; i < r->cfg->n_peers; i++) {
		const struct vpnd_peer_conf *pc = &r->cfg->peers[i];
		struct wg_peer_config c = {.name = pc->name, .endpoint = pc->endpoint};

		memcpy(c.public_key, pc->public_key, 32);
		assert_non_null(wg_engine_add_peer(r->engine, &c, at(r)));
	}
	r->eps = vpnd_endpoints_new(r->epfd, r->engine);
	assert_non_null(r->eps);
	assert_int_equal(vpnd_endpoints_configure(r->eps, r->cfg, r->now), 0);
}

static void rig_down(struct rig *r)
{
	vpnd_endpoints_free(r->eps);
	wg_engine_free(r->engine);
	vpnd_config_free(r->cfg);
	close(r->epfd);
}

/* Run the event loop's handlers until the lookup of the peer's first entry has been
 * answered (10 s at most). */
static void rig_wait_answer(struct rig *r, const struct wg_peer *p)
{
	const struct vpnd_peer_endpoints *pe = vpnd_endpoints_find(r->eps, p->name);
	struct epoll_event evs[4];

	assert_non_null(pe);
	for (int waited = 0; waited < 100 && pe->list[0].lookup_id; waited++) {
		int n = epoll_wait(r->epfd, evs, 4, 100);

		for (int i = 0; i < n; i++) {
			struct vpnd_event_source *src = evs[i].data.ptr;

			src->handler(src, evs[i].events);
		}
	}
	if (pe->list[0].lookup_id)
		fail_msg("peer %s: no answer for %s after 10 s", p->name, pe->list[0].entry.host);
}

static void test_failover_engine(void **state)
{
	const uint64_t judge = WG_REKEY_TIMEOUT * SEC - VPND_FAILOVER_MARGIN_NS;
	struct wg_endpoint roamed;
	struct wg_peer *p;
	struct vpnd_reply rep;
	struct rig r;
	(void)state;

	rig_up(&r, "configs/endpoint-list.conf");
	p = wg_engine_find_peer_by_name(r.engine, "two");
	assert_string_equal(fmt(&p->endpoint), "192.0.2.1:51820");

	/* Attempt 1 and 2 go to the first endpoint and stay unanswered. */
	wg_engine_peer_connect(r.engine, p, at(&r));
	assert_int_equal(r.initiations, 1);
	r.now += judge;
	vpnd_endpoints_run(r.eps, r.now);
	assert_string_equal(fmt(&p->endpoint), "192.0.2.1:51820"); /* addresses: no lookup */
	r.now += WG_REKEY_TIMEOUT * SEC + WG_REKEY_TIMEOUT_JITTER_MAX - judge;
	wg_engine_tick(r.engine, at(&r));
	assert_int_equal(r.initiations, 2);
	assert_string_equal(fmt(&r.last_to), "192.0.2.1:51820");
	/* Judged before the engine's next retry: attempt 3 goes to the second endpoint. */
	r.now += judge;
	vpnd_endpoints_run(r.eps, r.now);
	assert_string_equal(fmt(&p->endpoint), "[2001:db8::2]:51821");
	assert_int_equal(vpnd_endpoints_find(r.eps, "two")->cur, 1);
	r.now += WG_REKEY_TIMEOUT * SEC + WG_REKEY_TIMEOUT_JITTER_MAX - judge;
	wg_engine_tick(r.engine, at(&r));
	assert_int_equal(r.initiations, 3);
	assert_string_equal(fmt(&r.last_to), "[2001:db8::2]:51821");

	/* show: the list as configured, the current one marked in the text. */
	vpnd_reply_init(&rep);
	vpnd_show_endpoints_json(&rep, r.eps, p);
	assert_string_equal(rep.buf, "[\"192.0.2.1:51820\", \"[2001:db8::2]:51821\"]");
	vpnd_reply_free(&rep);
	vpnd_reply_init(&rep);
	vpnd_show_endpoints_text(&rep, r.eps, p);
	assert_string_equal(rep.buf,
			    "  endpoints: 192.0.2.1:51820, [2001:db8::2]:51821 (current)\n");
	vpnd_reply_free(&rep);
	vpnd_reply_init(&rep);
	vpnd_show_endpoints_json(&rep, r.eps, wg_engine_find_peer_by_name(r.engine, "none"));
	assert_string_equal(rep.buf, "[]");
	vpnd_reply_free(&rep);

	/* A reload with the same list keeps where failover stands. */
	assert_int_equal(vpnd_endpoints_configure(r.eps, r.cfg, r.now), 0);
	assert_int_equal(vpnd_endpoints_find(r.eps, "two")->cur, 1);
	assert_string_equal(fmt(&p->endpoint), "[2001:db8::2]:51821");

	/* Two more unanswered periods: round to the first again. */
	r.now += judge;
	vpnd_endpoints_run(r.eps, r.now);
	r.now += WG_REKEY_TIMEOUT * SEC + WG_REKEY_TIMEOUT_JITTER_MAX - judge;
	wg_engine_tick(r.engine, at(&r));
	r.now += judge;
	vpnd_endpoints_run(r.eps, r.now);
	assert_string_equal(fmt(&p->endpoint), "192.0.2.1:51820");
	assert_int_equal(vpnd_endpoints_find(r.eps, "two")->cur, 0);

	/* The peer roamed, and then a handshake there goes unanswered: the configured
	 * address is put back for the next one. */
	assert_int_equal(wg_endpoint_parse(&roamed, "198.51.100.7:4500"), 0);
	wg_engine_peer_set_endpoint(r.engine, p, &roamed);
	r.now += 6 * SEC;
	wg_engine_peer_connect(r.engine, p, at(&r));
	assert_string_equal(fmt(&r.last_to), "198.51.100.7:4500");
	vpnd_endpoints_run(r.eps, r.now + judge - 1);
	assert_string_equal(fmt(&p->endpoint), "198.51.100.7:4500");
	vpnd_endpoints_run(r.eps, r.now + judge);
	assert_string_equal(fmt(&p->endpoint), "192.0.2.1:51820");
	rig_down(&r);
}

static void test_lookup_engine(void **state)
{
	const uint64_t judge = WG_REKEY_TIMEOUT * SEC - VPND_FAILOVER_MARGIN_NS;
	struct wg_endpoint roamed, local;
	struct wg_peer *p;
	struct rig r;
	(void)state;

	rig_up(&r, "configs/endpoint-list.conf");
	p = wg_engine_find_peer_by_name(r.engine, "named");
	/* Its first entry is a name being looked up: the peer waits for it rather than
	 * taking the second. */
	assert_int_equal(p->endpoint.addr.sa.sa_family, AF_UNSPEC);
	rig_wait_answer(&r, p);
	if (strcmp(fmt(&p->endpoint), "127.0.0.1:7") && strcmp(fmt(&p->endpoint), "[::1]:7"))
		fail_msg("localhost:7 resolved to %s", fmt(&p->endpoint));
	local = p->endpoint;
	assert_int_equal(vpnd_endpoints_find(r.eps, "named")->cur, 0);

	/* The peer roams: its own packets know better than a refresh that finds the name
	 * unchanged. */
	assert_int_equal(wg_endpoint_parse(&roamed, "198.51.100.7:4500"), 0);
	wg_engine_peer_set_endpoint(r.engine, p, &roamed);
	vpnd_endpoints_run(r.eps, boottime() + 61 * SEC);
	assert_true(vpnd_endpoints_find(r.eps, "named")->list[0].lookup_id != 0);
	rig_wait_answer(&r, p);
	assert_string_equal(fmt(&p->endpoint), "198.51.100.7:4500");
	/* Until its handshakes go unanswered: then the name's answer replaces it. */
	r.now = boottime();
	wg_engine_peer_connect(r.engine, p, at(&r));
	vpnd_endpoints_run(r.eps, r.now + judge);
	rig_wait_answer(&r, p);
	assert_true(wg_endpoint_eq(&p->endpoint, &local));
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_config_lists),    cmocka_unit_test(test_config_problems),
	    cmocka_unit_test(test_failover_rule),   cmocka_unit_test(test_failover_next),
	    cmocka_unit_test(test_failover_engine), cmocka_unit_test(test_lookup_engine),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
