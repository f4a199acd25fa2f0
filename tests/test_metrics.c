/* The Prometheus exposition and its HTTP endpoint. The text is parsed back by a strict
 * reader of the format (every sample `name{labels} value`, every family with HELP and
 * TYPE before its samples, families not interleaved) and its values are compared with
 * the engine's own counters after real handshakes and traffic between two engines
 * (tests/engine_pair.h). The HTTP server is driven by a test event loop over loopback:
 * methods, paths, garbage, limits, rebinding, no descriptor leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/event.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "tests/engine_pair.h"
#include "tunnel/stats.h"
#include "vpnd/control.h"
#include "vpnd/key.h"

/* ---- a strict reader of the text format ---- */

#define MAX_SAMPLES  512
#define MAX_FAMILIES 64
#define MAX_LABELS   8

struct label {
	char name[64];
	char value[256];
};

struct sample {
	char name[128];
	struct label labels[MAX_LABELS];
	int n_labels;
	double value;
};

struct family {
	char name[128];
	char type[16];
	bool help, closed;
};

struct doc {
	struct sample samples[MAX_SAMPLES];
	int n_samples;
	struct family families[MAX_FAMILIES];
	int n_families;
};

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* A metric or label name at *p into out; false if there is none. */
static bool read_name(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	if (!name_char(**p, true))
		return false;
	while (name_char(**p, n == 0)) {
		if (n + 1 >= cap)
			return false;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return true;
}

/* A quoted label value with the format's three escapes, decoded. */
static bool read_value(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	if (*(*p)++ != '"')
		return false;
	for (;;) {
		char c = *(*p)++;

		if (c == '\0' || c == '\n')
			return false;
		if (c == '"')
			break;
		if (c == '\\') {
			c = *(*p)++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return false;
		}
		if (n + 1 >= cap)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* The family a sample belongs to: its own name (counters here are named with _total). */
static struct family *find_family(struct doc *d, const char *name)
{
	for (int i = 0; i < d->n_families; i++)
		if (strcmp(d->families[i].name, name) == 0)
			return &d->families[i];
	return NULL;
}

/* Parse one line; returns NULL or what is wrong with it. */
static const char *parse_line(struct doc *d, const char *line, struct family **current)
{
	char name[128], word[16];
	const char *p = line;
	struct family *f;
	struct sample *s;
	char *end;

	if (line[0] == '#') {
		bool help = strncmp(line, "# HELP ", 7) == 0;

		if (!help && strncmp(line, "# TYPE ", 7) != 0)
			return "a comment that is neither HELP nor TYPE";
		p += 7;
		if (!read_name(&p, name, sizeof(name)) || *p++ != ' ')
			return "HELP/TYPE without a metric name";
		f = find_family(d, name);
		if (f && f->closed)
			return "a family that was already closed by another";
		if (!f) {
			if (d->n_families == MAX_FAMILIES)
				return "too many families";
			f = &d->families[d->n_families++];
			snprintf(f->name, sizeof(f->name), "%s", name);
		}
		if (*current && *current != f)
			(*current)->closed = true;
		*current = f;
		if (help) {
			if (f->help || !*p)
				return "a second or empty HELP";
			f->help = true;
			return NULL;
		}
		if (f->type[0] || !f->help)
			return "a second TYPE, or TYPE before HELP";
		snprintf(word, sizeof(word), "%s", p);
		if (strcmp(word, "counter") != 0 && strcmp(word, "gauge") != 0)
			return "a TYPE other than counter or gauge";
		snprintf(f->type, sizeof(f->type), "%s", word);
		return NULL;
	}
	if (d->n_samples == MAX_SAMPLES)
		return "too many samples";
	s = &d->samples[d->n_samples];
	memset(s, 0, sizeof(*s));
	if (!read_name(&p, s->name, sizeof(s->name)))
		return "a sample line that does not start with a metric name";
	f = find_family(d, s->name);
	if (!f || !f->help || !f->type[0])
		return "a sample whose family has no HELP and TYPE before it";
	if (f != *current)
		return "a sample away from its family's block";
	if (*p == '{') {
		p++;
		while (*p != '}') {
			struct label *l;

			if (s->n_labels == MAX_LABELS)
				return "too many labels";
			l = &s->labels[s->n_labels++];
			if (!read_name(&p, l->name, sizeof(l->name)) || *p++ != '=' ||
			    !read_value(&p, l->value, sizeof(l->value)))
				return "a malformed label";
			for (int i = 0; i + 1 < s->n_labels; i++)
				if (strcmp(s->labels[i].name, l->name) == 0)
					return "a label given twice";
			if (*p == ',')
				p++;
			else if (*p != '}')
				return "labels not separated by commas";
		}
		p++;
	}
	if (*p++ != ' ' || !*p || *p == ' ')
		return "no single space before the value";
	errno = 0;
	s->value = strtod(p, &end);
	if (errno || end == p || *end != '\0' || isnan(s->value))
		return "a value that is not a number";
	d->n_samples++;
	return NULL;
}

/* Parse a whole exposition; fails the test with the offending line. */
static void parse(struct doc *d, const char *text)
{
	struct family *current = NULL;
	char line[1024];
	const char *p = text, *nl;

	memset(d, 0, sizeof(*d));
	assert_true(*text != '\0');
	while (*p) {
		const char *why;
		size_t len;

		nl = strchr(p, '\n');
		if (!nl)
			fail_msg("the text does not end with a newline: '%s'", p);
		len = (size_t)(nl - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		why = parse_line(d, line, &current);
		if (why)
			fail_msg("%s: '%s'", why, line);
		p = nl + 1;
	}
	for (int i = 0; i < d->n_families; i++) {
		struct family *f = &d->families[i];
		size_t n = strlen(f->name);

		assert_true(f->help && f->type[0]);
		assert_true(strncmp(f->name, "vpnd_", 5) == 0);
		/* Prometheus' naming rule, which promtool checks too. */
		if (strcmp(f->type, "counter") == 0)
			assert_true(n > 6 && strcmp(f->name + n - 6, "_total") == 0);
	}
}

static const char *label(const struct sample *s, const char *name)
{
	for (int i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

/* The sample of `name` whose labels include the given (name, value) pairs, NULL-ended.
 * Fails if more than one matches. */
static const struct sample *find(const struct doc *d, const char *name, ...)
{
	const struct sample *found = NULL;

	for (int i = 0; i < d->n_samples; i++) {
		const struct sample *s = &d->samples[i];
		bool match = strcmp(s->name, name) == 0;
		va_list ap;
		const char *k;

		va_start(ap, name);
		while (match && (k = va_arg(ap, const char *))) {
			const char *v = va_arg(ap, const char *), *have = label(s, k);

			match = have && strcmp(have, v) == 0;
		}
		va_end(ap);
		if (!match)
			continue;
		if (found)
			fail_msg("two samples of %s match", name);
		found = s;
	}
	return found;
}

static double value_of(const struct doc *d, const char *name, const char *peer, const char *reason)
{
	const struct sample *s;

	if (peer && reason)
		s = find(d, name, "peer", peer, "reason", reason, NULL);
	else if (peer)
		s = find(d, name, "peer", peer, NULL);
	else if (reason)
		s = find(d, name, "reason", reason, NULL);
	else
		s = find(d, name, NULL);
	if (!s)
		fail_msg("no sample %s peer=%s reason=%s", name, peer ? peer : "-",
			 reason ? reason : "-");
	return s->value;
}

static int count_samples(const struct doc *d, const char *name)
{
	int n = 0;

	for (int i = 0; i < d->n_samples; i++)
		n += strcmp(d->samples[i].name, name) == 0;
	return n;
}

/* ---- rendering engines ---- */

static struct doc *doc_of(const struct site *s, const struct pair *p, const char *ifname)
{
	struct vpnd_metrics_input in = {.interface = ifname,
					.engine = s->engine,
					.now_real_ns = p->now.real_ns,
					.now_mono_ns = p->now.mono_ns,
					.handshakes_completed =
					    site_count_events(s, WG_EVENT_HANDSHAKE_COMPLETE)};
	struct doc *d = calloc(1, sizeof(*d));
	struct vpnd_reply r;

	assert_non_null(d);
	vpnd_reply_init(&r);
	vpnd_metrics_render(&r, &in);
	assert_false(r.error);
	assert_false(r.truncated);
	parse(d, r.buf);
	vpnd_reply_free(&r);
	return d;
}

/* Every per-peer family and every drop reason, compared with the engine's counters. */
static void assert_matches_engine(const struct doc *d, const struct site *s, const char *peer)
{
	const struct wg_peer_stats *st = &s->peer->stats;
	const struct wg_device_stats *dev = wg_engine_stats(s->engine);

	assert_true(value_of(d, "vpnd_peer_receive_bytes_total", peer, NULL) ==
		    (double)st->rx_bytes);
	assert_true(value_of(d, "vpnd_peer_transmit_bytes_total", peer, NULL) ==
		    (double)st->tx_bytes);
	assert_true(value_of(d, "vpnd_peer_receive_packets_total", peer, NULL) ==
		    (double)st->rx_packets);
	assert_true(value_of(d, "vpnd_peer_transmit_packets_total", peer, NULL) ==
		    (double)st->tx_packets);
	assert_true(value_of(d, "vpnd_peer_handshakes_total", peer, NULL) ==
		    (double)st->handshakes);
	assert_true(value_of(d, "vpnd_handshake_initiations_received_total", NULL, NULL) ==
		    (double)dev->handshake_initiations_received);
	assert_true(value_of(d, "vpnd_cookie_replies_sent_total", NULL, NULL) ==
		    (double)dev->cookie_replies_sent);
	assert_true(value_of(d, "vpnd_handshakes_total", NULL, NULL) ==
		    (double)site_count_events(s, WG_EVENT_HANDSHAKE_COMPLETE));
	for (int i = 0; i < WG_DROP__COUNT; i++) {
		const char *why = wg_drop_reason_name(i);

		assert_true(value_of(d, "vpnd_drops_total", NULL, why) == (double)dev->drops[i]);
		assert_true(value_of(d, "vpnd_peer_drops_total", peer, why) ==
			    (double)st->drops[i]);
	}
	assert_int_equal(count_samples(d, "vpnd_drops_total"), WG_DROP__COUNT);
	assert_int_equal(count_samples(d, "vpnd_peer_drops_total"), WG_DROP__COUNT);
}

static void test_values_after_handshake(void **state)
{
	char key[VPND_KEY_B64_LEN + 1];
	uint8_t junk[7] = {9, 9, 9, 9, 9, 9, 9};
	static struct pair p; /* megabytes of queues: not on the stack */
	struct doc *d;
	(void)state;

	pair_init(&p);
	for (uint8_t i = 0; i < 5; i++)
		send_from(&p, &p.a, i); /* the first starts the handshake, all are staged */
	pair_pump(&p);
	for (uint8_t i = 0; i < 3; i++)
		send_from(&p, &p.b, i);
	pair_pump(&p);
	wg_engine_receive(p.a.engine, &p.b.addr, junk, sizeof(junk), p.now);
	assert_int_equal(p.a.peer->stats.handshakes, 1);
	assert_int_equal(p.b.n_delivered, 5);
	assert_int_equal(p.a.n_delivered, 3);
	pair_advance(&p, 4.25);

	d = doc_of(&p.a, &p, "vpn0");
	assert_matches_engine(d, &p.a, "b");
	assert_true(value_of(d, "vpnd_peer_transmit_packets_total", "b", NULL) == 5);
	assert_true(value_of(d, "vpnd_peer_receive_packets_total", "b", NULL) == 3);
	assert_true(value_of(d, "vpnd_peer_handshakes_total", "b", NULL) == 1);
	assert_true(value_of(d, "vpnd_handshakes_total", NULL, NULL) == 1);
	assert_true(value_of(d, "vpnd_drops_total", NULL, "malformed") == 1);
	assert_true(value_of(d, "vpnd_peer_up", "b", NULL) == 1);
	assert_true(value_of(d, "vpnd_peer_last_handshake_age_seconds", "b", NULL) == 4.25);
	assert_true(value_of(d, "vpnd_build_info", NULL, NULL) == 1);
	assert_string_equal(label(find(d, "vpnd_build_info", NULL), "version"), VPND_VERSION);
	vpnd_key_to_base64(key, p.b.pub);
	assert_string_equal(label(find(d, "vpnd_peer_up", NULL), "public_key"), key);
	assert_string_equal(label(find(d, "vpnd_peer_up", NULL), "interface"), "vpn0");
	assert_string_equal(label(find(d, "vpnd_handshakes_total", NULL), "interface"), "vpn0");
	free(d);

	/* The responder's view: one initiation received, the same handshake. */
	d = doc_of(&p.b, &p, "vpn1");
	assert_matches_engine(d, &p.b, "a");
	assert_true(value_of(d, "vpnd_handshake_initiations_received_total", NULL, NULL) == 1);
	assert_true(value_of(d, "vpnd_peer_up", "a", NULL) == 1);
	free(d);

	/* Counters keep following the engine as traffic, time and rekeys go on. */
	for (int i = 0; i < 40; i++) {
		send_from(&p, &p.a, (uint8_t)i);
		pair_run(&p, 5, 1);
	}
	assert_true(p.a.peer->stats.handshakes >= 2);
	d = doc_of(&p.a, &p, "vpn0");
	assert_matches_engine(d, &p.a, "b");
	free(d);
	pair_free(&p);
}

static void test_never_and_expired(void **state)
{
	static struct pair p; /* megabytes of queues: not on the stack */
	struct doc *d;
	(void)state;

	pair_init(&p);
	d = doc_of(&p.a, &p, "vpn0");
	assert_matches_engine(d, &p.a, "b");
	/* No handshake yet: down, and no age sample at all (the family is still declared). */
	assert_true(value_of(d, "vpnd_peer_up", "b", NULL) == 0);
	assert_int_equal(count_samples(d, "vpnd_peer_last_handshake_age_seconds"), 0);
	assert_non_null(find_family(d, "vpnd_peer_last_handshake_age_seconds"));
	assert_true(value_of(d, "vpnd_handshakes_total", NULL, NULL) == 0);
	free(d);

	send_from(&p, &p.a, 1);
	pair_pump(&p);
	/* Past REJECT_AFTER_TIME the session cannot carry traffic: down, as `show` says. */
	pair_advance(&p, WG_REJECT_AFTER_TIME + 1);
	d = doc_of(&p.a, &p, "vpn0");
	assert_true(value_of(d, "vpnd_peer_up", "b", NULL) == 0);
	assert_true(value_of(d, "vpnd_peer_last_handshake_age_seconds", "b", NULL) ==
		    WG_REJECT_AFTER_TIME + 1);
	free(d);

	/* A wall clock set back before the handshake: an age of 0, never negative. */
	p.now.real_ns -= 3600 * WG_NSEC_PER_SEC;
	d = doc_of(&p.a, &p, "vpn0");
	assert_true(value_of(d, "vpnd_peer_last_handshake_age_seconds", "b", NULL) == 0);
	free(d);
	pair_free(&p);
}

/* ---- label escaping ---- */

static void test_label_value_escaping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"branch-east", "branch-east"},
	    {"a\"b", "a\\\"b"},
	    {"a\\b", "a\\\\b"},
	    {"a\nb", "a\\nb"},
	    {"\\\"\n", "\\\\\\\"\\n"},
	    {"tab\there", "tab\there"},
	    {"ünïcode", "ünïcode"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vpnd_reply r;

		vpnd_reply_init(&r);
		vpnd_metrics_label_value(&r, cases[i].in);
		if (strcmp(r.buf ? r.buf : "", cases[i].out) != 0)
			fail_msg("%zu: got '%s', want '%s'", i, r.buf, cases[i].out);
		vpnd_reply_free(&r);
	}
}

static void test_odd_peer_names_round_trip(void **state)
{
	static const char *names[] = {"quote\"d", "back\\slash", "new\nline", "\\\"\n\\n"};
	static struct pair p; /* megabytes of queues: not on the stack */
	struct doc *d;
	(void)state;

	pair_init(&p);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct wg_peer_config c = {.name = names[i]};

		randombytes_buf(c.public_key, sizeof(c.public_key));
		assert_non_null(wg_engine_add_peer(p.a.engine, &c, p.now));
	}
	d = doc_of(&p.a, &p, "if\"0");
	/* The reader undoes the escapes: every name comes back as it was. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(value_of(d, "vpnd_peer_up", names[i], NULL) == 0);
		assert_true(value_of(d, "vpnd_peer_drops_total", names[i], "replay") == 0);
	}
	assert_int_equal(count_samples(d, "vpnd_peer_up"), 5);
	assert_string_equal(label(find(d, "vpnd_handshakes_total", NULL), "interface"), "if\"0");
	free(d);
	pair_free(&p);
}

/* The reader itself rejects what the format forbids, so the tests above can fail. */
static void test_reader_rejects(void **state)
{
	static const char *bad[] = {
	    "x_total 1\n", /* no HELP/TYPE */
	    "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b\"}  1\n",
	    "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b\\q\"} 1\n",
	    "# HELP x_total h\n# TYPE x_total counter\nx_total{a=b} 1\n",
	    "# HELP x_total h\n# TYPE x_total counter\nx_total 1 2\n",
	    "# HELP x_total h\n# TYPE x_total counter\nx_total NaN\n",
	    "# TYPE x_total counter\n# HELP x_total h\nx_total 1\n",
	    "# HELP x_total h\n# TYPE x_total summary\nx_total 1\n",
	    "# HELP x_total h\n# TYPE x_total counter\n# HELP y h\n# TYPE y gauge\nx_total 1\n",
	    "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"1\",a=\"2\"} 1\n",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct family *current = NULL;
		struct doc *d = calloc(1, sizeof(*d));
		char copy[256];
		const char *why = NULL;
		char *line, *save = NULL;

		assert_non_null(d);
		snprintf(copy, sizeof(copy), "%s", bad[i]);
		for (line = strtok_r(copy, "\n", &save); line && !why;
		     line = strtok_r(NULL, "\n", &save))
			why = parse_line(d, line, &current);
		if (!why)
			fail_msg("%zu: the reader accepted '%s'", i, bad[i]);
		free(d);
	}
}

/* ---- the HTTP endpoint ---- */

struct fake {
	unsigned calls;
	size_t big; /* render this many bytes (to overflow the cap) */
};

static void fake_render(void *ctx, struct vpnd_reply *r)
{
	struct fake *f = ctx;

	f->calls++;
	vpnd_reply_printf(r, "# HELP vpnd_x_total x\n# TYPE vpnd_x_total counter\n");
	vpnd_reply_printf(r, "vpnd_x_total %u\n", f->calls);
	for (size_t n = 0; n < f->big; n += 1024)
		vpnd_reply_printf(r, "%01024d\n", 0);
}

struct server {
	int epfd;
	struct vpnd_metrics_http *h;
	struct fake fake;
	uint16_t port;
};

static void dispatch(struct server *s, int ms)
{
	struct epoll_event evs[8];
	int n = epoll_wait(s->epfd, evs, 8, ms);

	for (int i = 0; i < n; i++) {
		struct vpnd_event_source *src = evs[i].data.ptr;
		src->handler(src, evs[i].events);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The listener's backlog completes the handshake without the server running. */
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req on a new connection and collect everything until the server closes it (or 5
 * s pass), running the server's loop meanwhile. half_close: then end the sending side,
 * as a client would that has nothing more to say (an incomplete request is otherwise
 * waited for, rightly, until the idle timeout). Returns the response length. */
static size_t exchange_opt(struct server *s, const char *req, size_t req_len, char *out, size_t cap,
			   bool half_close)
{
	int fd = connect_to(s->port);
	uint64_t deadline = now_ms() + 5000;
	size_t got = 0, sent = 0;

	assert_true(fd >= 0);
	while (now_ms() < deadline) {
		ssize_t n;

		if (sent < req_len) {
			n = send(fd, req + sent, req_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = req_len; /* closed on us: read what it said */
			if (sent == req_len && half_close)
				shutdown(fd, SHUT_WR);
		}
		dispatch(s, 5);
		n = recv(fd, out + got, cap - 1 - got, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		if (n > 0)
			got += (size_t)n;
		assert_true(got < cap - 1);
	}
	assert_true(now_ms() < deadline);
	out[got] = '\0';
	close(fd);
	return got;
}

static size_t exchange(struct server *s, const char *req, size_t req_len, char *out, size_t cap)
{
	return exchange_opt(s, req, req_len, out, cap, false);
}

/* An IPv4 endpoint; wg_endpoint_parse refuses port 0, which tests want (any free port). */
static void ep4(struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &ep->addr.in4.sin_addr), 1);
}

/* idle_s: the idle timeout, 0 for the default. */
static void server_up_idle(struct server *s, unsigned idle_s)
{
	struct wg_endpoint ep;

	memset(s, 0, sizeof(*s));
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(s->epfd >= 0);
	s->h = vpnd_metrics_http_new(s->epfd, fake_render, &s->fake);
	assert_non_null(s->h);
	if (idle_s)
		vpnd_metrics_http_set_idle_timeout(s->h, idle_s);
	ep4(&ep, "127.0.0.1", 0);
	assert_int_equal(vpnd_metrics_http_listen(s->h, &ep), 0);
	s->port = vpnd_metrics_http_port(s->h);
	assert_true(s->port != 0);
}

static void server_up(struct server *s)
{
	server_up_idle(s, 0);
}

static void server_down(struct server *s)
{
	vpnd_metrics_http_free(s->h);
	close(s->epfd);
}

static char resp[1 << 16];

static size_t ask(struct server *s, const char *req)
{
	return exchange(s, req, strlen(req), resp, sizeof(resp));
}

static bool status_is(const char *r, const char *code)
{
	char want[32];

	snprintf(want, sizeof(want), " %s ", code);
	return strncmp(r, "HTTP/1.", 7) == 0 && strncmp(r + 8, want, strlen(want)) == 0;
}

/* Garbage: sent, then the sending side closed. */
static size_t junk(struct server *s, const char *req, size_t len)
{
	return exchange_opt(s, req, len, resp, sizeof(resp), true);
}

static const char *body_of(const char *r)
{
	const char *b = strstr(r, "\r\n\r\n");

	return b ? b + 4 : NULL;
}

static void test_http_methods_and_paths(void **state)
{
	struct server s;
	(void)state;

	server_up(&s);
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));
	assert_non_null(strcasestr(resp, "\r\nContent-Type: " VPND_METRICS_CONTENT_TYPE "\r\n"));
	assert_string_equal(body_of(resp),
			    "# HELP vpnd_x_total x\n# TYPE vpnd_x_total counter\nvpnd_x_total 1\n");

	/* Query strings do not matter; HTTP/1.0 works. */
	ask(&s, "GET /metrics?name[]=x HTTP/1.0\r\n\r\n");
	assert_true(status_is(resp, "200"));
	assert_non_null(strstr(resp, "vpnd_x_total 2\n"));

	ask(&s, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));
	assert_string_equal(body_of(resp), "");

	for (const char *const *path = (const char *const[]){"/", "/metrics/", "/metricsx",
							     "/Metrics", "/../metrics", NULL};
	     *path; path++) {
		char req[128];

		snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", *path);
		ask(&s, req);
		if (!status_is(resp, "404") && !status_is(resp, "400"))
			fail_msg("GET %s: %.40s", *path, resp);
	}

	for (const char *const *m =
		 (const char *const[]){"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW", NULL};
	     *m; m++) {
		char req[160];

		snprintf(req, sizeof(req),
			 "%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			 "Connection: close\r\n\r\nhello",
			 *m);
		ask(&s, req);
		if (!status_is(resp, "405"))
			fail_msg("%s /metrics: %.40s", *m, resp);
		assert_non_null(strcasestr(resp, "\r\nAllow: GET, HEAD\r\n"));
	}
	/* Only GET and HEAD of /metrics ran the renderer. */
	assert_int_equal(s.fake.calls, 3);
	server_down(&s);
}

static void test_http_garbage(void **state)
{
	static char huge[80 * 1024];
	unsigned char noise[4096];
	struct server s;
	size_t n;
	(void)state;

	/* Incomplete garbage followed at once by the end of the stream is seen only at the
	 * idle timeout (see metrics_http.h): keep it short. */
	server_up_idle(&s, 1);
	/* Binary noise, blank lines, a request line with no version, a header line with no
	 * colon, a negative and a huge Content-Length, chunked nonsense, a body cut short:
	 * each gets an HTTP answer or a closed connection, and the server lives on. */
	for (int i = 0; i < 20; i++) {
		randombytes_buf(noise, sizeof(noise));
		n = junk(&s, (const char *)noise, 1 + (size_t)i * 200);
		assert_true(n == 0 || strncmp(resp, "HTTP/1.", 7) == 0);
	}
	static const char *const bad[] = {
	    "\r\n\r\n",
	    "GET /metrics\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
	    "GET \x01\x02 HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = junk(&s, bad[i], strlen(bad[i]));
		if (n && strncmp(resp, "HTTP/1.", 7) != 0)
			fail_msg("%zu: '%s' was answered '%.40s'", i, bad[i], resp);
	}

	/* Headers larger than a connection may hold: refused, not buffered without end. */
	memset(huge, 'a', sizeof(huge));
	memcpy(huge, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ", 39);
	memcpy(huge + sizeof(huge) - 4, "\r\n\r\n", 4);
	n = junk(&s, huge, sizeof(huge));
	assert_true(n == 0 || (strncmp(resp, "HTTP/1.", 7) == 0 && !status_is(resp, "200")));

	/* It still serves. */
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));
	server_down(&s);
}

static void test_http_connection_limit(void **state)
{
	int idle[VPND_METRICS_MAX_CONNECTIONS + 4];
	int n_idle = 0;
	struct server s;
	char c;
	(void)state;

	server_up(&s);
	/* Silent clients use up every slot; the next one is turned away at once. */
	for (int i = 0; i < VPND_METRICS_MAX_CONNECTIONS; i++) {
		idle[n_idle] = connect_to(s.port);
		assert_true(idle[n_idle] >= 0);
		n_idle++;
		dispatch(&s, 10);
	}
	for (int i = 0; i < 20; i++)
		dispatch(&s, 5);
	idle[n_idle] = connect_to(s.port);
	assert_true(idle[n_idle] >= 0);
	for (int i = 0; i < 50; i++)
		dispatch(&s, 5);
	/* Turned away: closed (EOF or reset), or never accepted. Neither is an answer. */
	assert_true(recv(idle[n_idle], &c, 1, MSG_DONTWAIT) <= 0);
	n_idle++;
	for (int i = 0; i < n_idle; i++)
		close(idle[i]);
	for (int i = 0; i < 20; i++)
		dispatch(&s, 5);
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));
	server_down(&s);
}

/* MHD's deadlines reach vpnd's loop through the timerfd: a silent client is dropped
 * after the idle timeout although no socket of the server ever becomes ready. */
static void test_http_idle_timeout(void **state)
{
	struct server s;
	uint64_t start, deadline;
	ssize_t n = -1;
	int fd;
	char c;
	(void)state;

	server_up_idle(&s, 1);
	fd = connect_to(s.port);
	assert_true(fd >= 0);
	dispatch(&s, 10); /* accepted */
	start = now_ms();
	deadline = start + 5000;
	while (now_ms() < deadline) {
		dispatch(&s, 50);
		n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			break;
	}
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	assert_true(now_ms() - start >= 900);
	close(fd);
	server_down(&s);
}

static void test_http_too_big_is_an_error(void **state)
{
	struct server s;
	(void)state;

	server_up(&s);
	s.fake.big = VPND_CTL_MAX_REPLY + 4096;
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "500"));
	server_down(&s);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_http_rebind_and_stop(void **state)
{
	struct wg_endpoint ep;
	struct server s, other;
	uint16_t first;
	int fds_before = count_fds();
	(void)state;

	server_up(&s);
	first = s.port;
	/* The port is taken: a second server cannot have it, and says why. */
	memset(&other, 0, sizeof(other));
	other.epfd = epoll_create1(EPOLL_CLOEXEC);
	other.h = vpnd_metrics_http_new(other.epfd, fake_render, &other.fake);
	assert_non_null(other.h);
	ep4(&ep, "127.0.0.1", first);
	assert_int_equal(vpnd_metrics_http_listen(other.h, &ep), -EADDRINUSE);
	assert_int_equal(vpnd_metrics_http_port(other.h), 0);
	server_down(&other);

	/* Moving to another port: the old one is closed, the new one serves. */
	ep.addr.in4.sin_port = 0;
	assert_int_equal(vpnd_metrics_http_listen(s.h, &ep), 0);
	s.port = vpnd_metrics_http_port(s.h);
	assert_true(s.port != 0 && s.port != first);
	assert_true(connect_to(first) < 0);
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));

	/* A failed move keeps the current listener (port 1 needs privileges we may have,
	 * so use an address that is not ours instead). */
	assert_int_equal(wg_endpoint_parse(&ep, "192.0.2.123:9586"), 0);
	assert_int_equal(vpnd_metrics_http_listen(s.h, &ep), -EADDRNOTAVAIL);
	assert_int_equal(vpnd_metrics_http_port(s.h), s.port);
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));

	/* The same port on an overlapping address (127.0.0.1 -> 0.0.0.0) is taken over. */
	ep4(&ep, "0.0.0.0", s.port);
	assert_int_equal(vpnd_metrics_http_listen(s.h, &ep), 0);
	assert_int_equal(vpnd_metrics_http_port(s.h), s.port);
	ask(&s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(status_is(resp, "200"));

	/* Stopping closes the port; the object can serve again later. */
	assert_int_equal(vpnd_metrics_http_listen(s.h, NULL), 0);
	assert_int_equal(vpnd_metrics_http_port(s.h), 0);
	assert_true(connect_to(s.port) < 0);
	memset(&ep, 0, sizeof(ep));
	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_addr = in6addr_loopback;
	if (vpnd_metrics_http_listen(s.h, &ep) == 0) { /* no IPv6 loopback: skip this part */
		assert_true(vpnd_metrics_http_port(s.h) != 0);
		assert_int_equal(vpnd_metrics_http_listen(s.h, NULL), 0);
	}
	server_down(&s);
	/* Every socket, epoll and timer descriptor is gone again. */
	assert_int_equal(count_fds(), fds_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_after_handshake),
	    cmocka_unit_test(test_never_and_expired),
	    cmocka_unit_test(test_label_value_escaping),
	    cmocka_unit_test(test_odd_peer_names_round_trip),
	    cmocka_unit_test(test_reader_rejects),
	    cmocka_unit_test(test_http_methods_and_paths),
	    cmocka_unit_test(test_http_garbage),
	    cmocka_unit_test(test_http_connection_limit),
	    cmocka_unit_test(test_http_idle_timeout),
	    cmocka_unit_test(test_http_too_big_is_an_error),
	    cmocka_unit_test(test_http_rebind_and_stop),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
