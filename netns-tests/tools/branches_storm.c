/* branches storm: handshakes as fast as HQ answers them, to measure HQ as a responder.
 *
 * N keys (the branches of `branches conf`, which HQ must have as peers) each own a UDP
 * socket on their own source address. A key sends an initiation made by our Noise code
 * (tunnel/noise.c, mac1 and mac2 by tunnel/cookie.c), waits for HQ's response, rests
 * GAP_MS (default 55: HQ's per-source rate limit under load allows 20 a second, its
 * per-peer flood check 50), and sends the next one, with a timestamp one TAI64N step
 * later. At most WINDOW initiations are in flight at once (default 64), so HQ always has
 * work queued but its socket buffer never overflows. Once HQ is under load it answers
 * with a cookie reply; the key then resends the same initiation with mac2, as a real
 * branch would, and keeps the cookie for its next ones.
 *
 * A response is counted when its receiver index names the key's last initiation; we do
 * not consume it (that would cost us two Diffie-Hellmans while HQ spent three or four,
 * and we want HQ to be the bottleneck): HQ produces a response only after authenticating
 * the initiation, creating the response and deriving the session.
 *
 * After WARMUP seconds (under-load switch, first cookies) the responses of the next
 * DURATION seconds are the steady rate. With -P HQ_PID the CPU time HQ's vpnd used over
 * the same interval is read from /proc, giving handshakes per CPU-second: the rate one
 * core sustains. Last line: "storm: result key=value ...". */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "branches.h"
#include "tunnel/cookie.h"
#include "tunnel/noise.h"
#include "tunnel/tai64n.h"

#define ANSWER_TIMEOUT_NS (1000 * 1000000ULL) /* no answer this long: lost, start anew */
#define SCAN_EVERY_NS	  (100 * 1000000ULL)

struct key {
	struct wg_noise noise;
	struct wg_handshake hs;
	struct wg_cookie_maker maker;
	struct wg_msg_initiation msg;
	uint64_t sent_ns, ready_ns;
	uint32_t made; /* initiations made: the next sender index and timestamp step */
	int fd;
	bool outstanding;
};

struct storm {
	const struct branches_opts *o;
	struct key *k;
	unsigned *ring; /* keys waiting to send, in the order they become ready */
	unsigned head, count, in_flight;
	uint64_t ts_base; /* wall clock at the start: the keys' timestamps count up from it */
	unsigned long sent, resent, responses, counted, cookies, timeouts, unexpected, errors;
};

static struct storm st;

/* The Noise callbacks of an initiator: only index_assign is ever called. The index is
 * the key's initiation count, so a response names the initiation it answers. */
static struct wg_handshake *no_lookup_static(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	(void)pub;
	return NULL;
}

static struct wg_handshake *no_lookup_index(void *ctx, uint32_t idx)
{
	(void)ctx;
	(void)idx;
	return NULL;
}

static uint32_t next_index(void *ctx, struct wg_handshake *hs)
{
	struct key *k = ctx;
	(void)hs;
	return ++k->made;
}

static void no_drop(void *ctx, uint32_t idx)
{
	(void)ctx;
	(void)idx;
}

static int key_init(struct key *k, unsigned i)
{
	uint8_t priv[32];
	int ret;

	k->noise.cb = (struct wg_noise_callbacks){.ctx = k,
						  .lookup_static = no_lookup_static,
						  .lookup_index = no_lookup_index,
						  .index_assign = next_index,
						  .index_drop = no_drop};
	br_private_key(st.o->seed, st.o->first + i, priv);
	ret = wg_noise_set_private_key(&k->noise, priv);
	sodium_memzero(priv, sizeof(priv));
	if (ret == 0)
		ret = wg_noise_handshake_init(&k->noise, &k->hs, st.o->hq_pub, NULL, k);
	if (ret < 0) {
		fprintf(stderr, "storm: key %u: %s\n", i, strerror(-ret));
		return -1;
	}
	wg_cookie_maker_init(&k->maker, st.o->hq_pub);
	k->fd = br_open_socket(st.o, i);
	return k->fd < 0 ? -1 : 0;
}

static void transmit(struct key *k, uint64_t now)
{
	if (sendto(k->fd, &k->msg, sizeof(k->msg), 0, (const struct sockaddr *)&st.o->hq,
		   sizeof(st.o->hq)) != (ssize_t)sizeof(k->msg))
		st.errors++;
	k->sent_ns = now;
}

static void fire(struct key *k, uint64_t now)
{
	uint8_t ts[WG_TIMESTAMP_LEN];

	/* HQ accepts only a timestamp later than the last it took from this key. */
	wg_tai64n_encode(ts, st.ts_base +
				 (uint64_t)(k->made + 1) * WG_INITIATION_TIMESTAMP_GRANULARITY_NS);
	if (wg_noise_create_initiation(&k->noise, &k->hs, &k->msg, ts) < 0) {
		st.errors++;
		k->ready_ns = now + ANSWER_TIMEOUT_NS;
		st.ring[(st.head + st.count++) % st.o->n] = (unsigned)(k - st.k);
		return;
	}
	wg_cookie_add_macs(&k->maker, &k->msg, sizeof(k->msg), now);
	k->outstanding = true;
	st.in_flight++;
	st.sent++;
	transmit(k, now);
}

static void settle(struct key *k, uint64_t ready)
{
	k->outstanding = false;
	k->ready_ns = ready;
	st.in_flight--;
	st.ring[(st.head + st.count++) % st.o->n] = (unsigned)(k - st.k);
}

static void receive(struct key *k, uint64_t now, bool counting)
{
	union {
		uint8_t b[256];
		struct wg_msg_response resp;
		struct wg_msg_cookie cookie;
	} m;
	ssize_t n;

	while ((n = recv(k->fd, &m, sizeof(m), 0)) >= 0) {
		uint32_t type = n >= 4 ? wg_le32_read(m.b) : 0;

		if (type == WG_MSG_HANDSHAKE_RESPONSE && n == sizeof(m.resp) && k->outstanding &&
		    wg_le32_read(&m.resp.receiver_index) == k->made) {
			st.responses++;
			st.counted += counting;
			settle(k, now + (uint64_t)(st.o->gap_ms * 1e6));
		} else if (type == WG_MSG_HANDSHAKE_COOKIE && n == sizeof(m.cookie) &&
			   k->outstanding &&
			   wg_cookie_consume_reply(&k->maker, &m.cookie, now) == 0) {
			/* Prove our address: the same initiation again, now with mac2. */
			st.cookies++;
			st.resent++;
			wg_cookie_add_macs(&k->maker, &k->msg, sizeof(k->msg), now);
			transmit(k, now);
		} else {
			st.unexpected++;
		}
	}
}

/* utime + stime of a process in seconds, from /proc/PID/stat; -1 if unreadable. */
static double cpu_seconds(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, stime;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &stime) != 2)
		return -1;
	return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double own_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int br_storm(const struct branches_opts *o)
{
	struct epoll_event evs[256];
	uint64_t t0, warm_end, end, last_scan, now = br_now_ns();
	double hq0 = -1, hq1 = -1, me0 = 0, me1, secs;
	unsigned window = o->window ? o->window : o->n;
	struct rlimit rl;
	int ep, rc = 1;
	bool counting = false;

	st.o = o;
	st.k = calloc(o->n, sizeof(*st.k));
	st.ring = calloc(o->n, sizeof(*st.ring));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o->n + 64ULL) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > o->n + 64ULL
				  ? o->n + 64ULL
				  : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!st.k || !st.ring || ep < 0) {
		fprintf(stderr, "storm: cannot set up %u keys\n", o->n);
		goto out;
	}
	for (unsigned i = 0; i < o->n; i++)
		st.k[i].fd = -1;
	for (unsigned i = 0; i < o->n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &st.k[i]};

		if (key_init(&st.k[i], i) < 0)
			goto out;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, st.k[i].fd, &ev) < 0) {
			perror("storm: epoll_ctl");
			goto out;
		}
		st.ring[st.count++] = i;
	}
	printf("storm: %u keys ready in %.3f s; window %u, gap %.0f ms, warm-up %.1f s, "
	       "measuring %.1f s\n",
	       o->n, (br_now_ns() - now) / 1e9, window, o->gap_ms, o->warmup_s, o->duration_s);
	fflush(stdout);

	st.ts_base = br_real_ns();
	t0 = last_scan = br_now_ns();
	warm_end = t0 + (uint64_t)(o->warmup_s * 1e9);
	end = warm_end + (uint64_t)(o->duration_s * 1e9);
	while ((now = br_now_ns()) < end) {
		int n;

		if (!counting && now >= warm_end) {
			counting = true;
			warm_end = now;
			if (o->hq_pid)
				hq0 = cpu_seconds(o->hq_pid);
			me0 = own_cpu_seconds();
		}
		while (st.in_flight < window && st.count &&
		       st.k[st.ring[st.head]].ready_ns <= now) {
			struct key *k = &st.k[st.ring[st.head]];

			st.head = (st.head + 1) % o->n;
			st.count--;
			fire(k, now);
		}
		n = epoll_wait(ep, evs, 256, 1);
		now = br_now_ns();
		for (int j = 0; j < n; j++)
			receive(evs[j].data.ptr, now, counting);
		if (now - last_scan >= SCAN_EVERY_NS) {
			for (unsigned i = 0; i < o->n; i++) {
				struct key *k = &st.k[i];

				if (k->outstanding && now - k->sent_ns >= ANSWER_TIMEOUT_NS) {
					st.timeouts++;
					settle(k, now);
				}
			}
			last_scan = now;
		}
	}
	secs = (now - warm_end) / 1e9;
	if (o->hq_pid)
		hq1 = cpu_seconds(o->hq_pid);
	me1 = own_cpu_seconds();
	printf("storm: sent %lu initiations (%lu again with a cookie), %lu responses, %lu cookie "
	       "replies, %lu timeouts, %lu unexpected datagrams, %lu errors\n",
	       st.sent, st.resent, st.responses, st.cookies, st.timeouts, st.unexpected, st.errors);
	printf("storm: steady state over %.2f s: %lu responses, %.0f handshakes/s; this tool used "
	       "%.0f %% of a core\n",
	       secs, st.counted, st.counted / secs, 100 * (me1 - me0) / secs);
	if (hq0 >= 0 && hq1 > hq0)
		printf("storm: HQ vpnd used %.2f CPU-seconds (%.0f %% of a core): %.0f handshakes "
		       "per CPU-second\n",
		       hq1 - hq0, 100 * (hq1 - hq0) / secs, st.counted / (hq1 - hq0));
	printf("storm: result keys=%u responses=%lu seconds=%.3f rate=%.0f hq_cpu_s=%.3f "
	       "per_cpu_s=%.0f timeouts=%lu\n",
	       o->n, st.counted, secs, st.counted / secs, hq1 > hq0 ? hq1 - hq0 : 0,
	       hq1 > hq0 ? st.counted / (hq1 - hq0) : 0, st.timeouts);
	fflush(stdout);
	rc = st.counted ? 0 : 1;
out:
	for (unsigned i = 0; st.k && i < o->n; i++) {
		if (st.k[i].fd >= 0)
			close(st.k[i].fd);
		if (st.k[i].noise.cb.index_drop) /* set up, at least in part */
			wg_noise_handshake_clear(&st.k[i].noise, &st.k[i].hs);
	}
	if (st.k)
		sodium_memzero(st.k, o->n * sizeof(*st.k)); /* private keys */
	free(st.k);
	free(st.ring);
	if (ep >= 0)
		close(ep);
	return rc;
}
