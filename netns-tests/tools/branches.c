/* branches: N branch sites in one process, so that one machine can give HQ a thousand
 * live peers. Each branch is a whole WireGuard engine of our own (tunnel/), with its own
 * key pair, its own UDP socket and source address, and HQ as its only peer; epoll drives
 * them all.
 *
 * usage:
 *   branches keys  -n N [-o FIRST] [-S SEED]        public keys, one a line
 *   branches conf  -n N [-o FIRST] [-S SEED] -a PREFIX   HQ's peer sections for them
 *   branches run   -n N [-o FIRST] [-S SEED] -a PREFIX -t HQ_IP:PORT -k HQ_PUBLIC_KEY
 *                  -r HQ_TUNNEL_IP [-b SOURCE_PREFIX] [-W WINDOW] [-w SECONDS] [-e ECHOES]
 *   branches storm -n N [-o FIRST] [-S SEED] -t HQ_IP:PORT -k HQ_PUBLIC_KEY
 *                  [-b SOURCE_PREFIX] [-W WINDOW] [-d SECONDS] [-u WARMUP_SECONDS]
 *                  [-g GAP_MS] [-P HQ_PID]
 *
 * Keys come from the seed (default "vpnd-branches") and the branch number, so `conf`
 * writes HQ's configuration for exactly the branches a later `run` or `storm` plays.
 * The branches played are numbers FIRST (default 0) to FIRST + N - 1; branch number b is
 * peer "bNNNNN" (b + 1, five digits) with tunnel address number b + 2 of PREFIX (a /32
 * allowed-ip at HQ; .1 is left for HQ). The i-th branch played binds source address
 * number i + 1 of SOURCE_PREFIX: give the prefix an AnyIP route in the branches'
 * namespace (`ip route add local PREFIX dev lo`). Without -b every branch shares the
 * host's address, as branches behind one NAT would, and HQ's per-source rate limit
 * under load then holds them back.
 *
 * run: each branch sends an ICMP echo request to HQ's tunnel address through its
 * tunnel; that starts its handshake (at most WINDOW handshakes in flight, default 64),
 * and the echo reply from HQ's kernel, back through the tunnel, proves data flows both
 * ways. With -e ECHOES (default 1) each branch then sends further echoes, one at a time,
 * until it has ECHOES replies: their round-trip times measure the established tunnel.
 * Exits 0 once every branch has all its replies, 1 if any has not after -w SECONDS
 * (default 30). Prints counts, timings and latency percentiles; the last line is
 * "branches: result key=value ..."
 *
 * storm: see branches_storm.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "branches.h"
#include "tunnel/engine.h"
#include "vpnd/key.h"

#define ECHO_PAYLOAD	16
#define ECHO_RETRY_NS	(1000 * 1000000ULL) /* echo unanswered this long: ask again */
#define SWEEP_EVERY_NS	(20 * 1000000ULL)   /* timers and echo retries, all branches */
#define DEFAULT_SEED	"vpnd-branches"
#define DEFAULT_WINDOW	64
#define DEFAULT_WAIT_S	30
#define BRANCH_NAME_FMT "b%05u"

uint64_t br_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t br_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void br_private_key(const char *seed, unsigned i, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t le[4] = {i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, (i >> 24) & 0xff};

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"vpnd branch key\0", 16);
	crypto_generichash_update(&st, (const uint8_t *)seed, strlen(seed));
	crypto_generichash_update(&st, le, sizeof(le));
	crypto_generichash_final(&st, out, 32);
	vpnd_key_clamp(out);
}

uint32_t br_tunnel_addr(const struct branches_opts *o, unsigned i)
{
	return o->tun_net + i + 2;
}

int br_open_socket(const struct branches_opts *o, unsigned i)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		fprintf(stderr, "branches: branch %u: socket: %s\n", i, strerror(errno));
		return -1;
	}
	if (o->have_src) {
		uint64_t size = 1ULL << (32 - o->src_len);
		/* Skip the network's .0 and broadcast where the prefix has room for them. */
		uint64_t first = size >= 4 ? 1 : 0, count = size >= 4 ? size - 2 : size;

		sin.sin_addr.s_addr = htonl(o->src_net + (uint32_t)(first + i % count));
		/* The address may be reachable only through an AnyIP (local) route. */
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		char ip[INET_ADDRSTRLEN];
		fprintf(stderr, "branches: branch %u: bind %s: %s\n", i,
			inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip)), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* One socket per branch: lift the soft descriptor limit as far as the hard one allows. */
static int raise_fd_limit(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur >= need + 64)
		return 0;
	rl.rlim_cur =
	    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need + 64 ? need + 64 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need + 64) {
		fprintf(stderr,
			"branches: %u branches need %u file descriptors; the limit is %lu\n", need,
			need + 64, (unsigned long)rl.rlim_max);
		return -1;
	}
	return 0;
}

/* ---- keys and HQ's configuration ------------------------------------------------------ */

static void public_key_of(const struct branches_opts *o, unsigned i, char b64[VPND_KEY_B64_LEN + 1])
{
	uint8_t priv[32], pub[32];

	br_private_key(o->seed, o->first + i, priv);
	crypto_scalarmult_base(pub, priv);
	sodium_memzero(priv, sizeof(priv));
	vpnd_key_to_base64(b64, pub);
}

static int print_keys(const struct branches_opts *o)
{
	char b64[VPND_KEY_B64_LEN + 1];

	for (unsigned i = 0; i < o->n; i++) {
		public_key_of(o, i, b64);
		printf("%s\n", b64);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int print_conf(const struct branches_opts *o)
{
	char b64[VPND_KEY_B64_LEN + 1], ip[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < o->n; i++) {
		struct in_addr a = {htonl(br_tunnel_addr(o, o->first + i))};

		public_key_of(o, i, b64);
		printf("\npeer \"" BRANCH_NAME_FMT "\" {\n", o->first + i + 1);
		printf("    public-key = \"%s\"\n", b64);
		printf("    allowed-ips = {\"%s/32\"}\n}\n",
		       inet_ntop(AF_INET, &a, ip, sizeof(ip)));
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- run: every branch handshakes and pings HQ through its tunnel --------------------- */

struct branch {
	unsigned i;
	int fd;
	uint32_t tun; /* host order */
	struct wg_engine *e;
	uint64_t start_ns, hs_ns, echo_ns, reply_ns;
	uint16_t seq;
	unsigned replies;
	bool started, hs_done, done, finished;
	bool want_echo; /* the next echo goes once the engine has returned */
};

struct run {
	const struct branches_opts *o;
	struct branch *b;
	unsigned started, in_flight, hs_done, done, finished;
	unsigned long initiations, retransmits, cookies, echoes, bad_replies, send_errors;
	uint64_t *rtt; /* round trips of the echoes after each branch's first */
	size_t n_rtt;
};

static struct run run;

static uint16_t ip_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)p[k] << 8 | p[k + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Hand the next echo request of b to its engine: staged until a session exists, which
 * makes the engine start the handshake. */
static void send_echo(struct branch *b, uint64_t now)
{
	struct {
		struct iphdr ip;
		struct icmphdr icmp;
		uint8_t payload[ECHO_PAYLOAD];
	} __attribute__((packed)) pkt;
	struct wg_time t = {.mono_ns = now, .real_ns = br_real_ns()};

	memset(&pkt, 0, sizeof(pkt));
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.id = htons((uint16_t)b->i);
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_ICMP;
	pkt.ip.saddr = htonl(b->tun);
	pkt.ip.daddr = htonl(run.o->hq_tun);
	pkt.ip.check = ip_checksum(&pkt.ip, sizeof(pkt.ip));
	pkt.icmp.type = ICMP_ECHO;
	pkt.icmp.un.echo.id = htons((uint16_t)b->i);
	pkt.icmp.un.echo.sequence = htons(++b->seq);
	snprintf((char *)pkt.payload, sizeof(pkt.payload), "branch %u", run.o->first + b->i + 1);
	pkt.icmp.checksum = ip_checksum(&pkt.icmp, sizeof(pkt.icmp) + sizeof(pkt.payload));
	b->echo_ns = now;
	run.echoes++;
	wg_engine_send(b->e, (const uint8_t *)&pkt, sizeof(pkt), t);
}

static int io_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct branch *b = ctx;

	if (sendto(b->fd, buf, len, 0, &to->addr.sa, sizeof(to->addr.in4)) == (ssize_t)len)
		return 0;
	run.send_errors++;
	return -errno;
}

/* HQ's kernel answered our echo: the reply crossed HQ's engine and our own. */
static void io_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	struct branch *b = ctx;
	const struct iphdr *ip = (const struct iphdr *)pkt;
	const struct icmphdr *icmp = (const struct icmphdr *)(pkt + sizeof(*ip));
	uint64_t now;
	(void)from;

	if (len < sizeof(*ip) + sizeof(*icmp) || ip->version != 4 || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_ICMP || ntohl(ip->saddr) != run.o->hq_tun ||
	    ntohl(ip->daddr) != b->tun || icmp->type != ICMP_ECHOREPLY ||
	    ntohs(icmp->un.echo.id) != (uint16_t)b->i || ntohs(icmp->un.echo.sequence) > b->seq) {
		run.bad_replies++;
		return;
	}
	if (b->finished || ntohs(icmp->un.echo.sequence) != b->seq)
		return; /* late answer to an echo we asked again */
	now = br_now_ns();
	if (!b->done) {
		b->done = true;
		b->reply_ns = now;
		run.done++;
	} else {
		run.rtt[run.n_rtt++] = now - b->echo_ns;
	}
	if (++b->replies >= run.o->echoes) {
		b->finished = true;
		run.finished++;
	} else {
		b->want_echo = true;
	}
}

static void io_event(void *ctx, enum wg_event ev, const struct wg_peer *p, const char *detail)
{
	struct branch *b = ctx;
	(void)p;

	if (ev == WG_EVENT_HANDSHAKE_INITIATED) {
		run.initiations++;
		if (strcmp(detail, "1") != 0)
			run.retransmits++;
	} else if (ev == WG_EVENT_HANDSHAKE_COMPLETE && !b->hs_done) {
		b->hs_done = true;
		b->hs_ns = br_now_ns();
		run.hs_done++;
		run.in_flight--;
	}
}

static int branch_init(struct branch *b, unsigned i, uint64_t now)
{
	const struct branches_opts *o = run.o;
	struct wg_engine_io io = {
	    .ctx = b, .send_datagram = io_send, .deliver_packet = io_deliver, .event = io_event};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	struct wg_peer_config pc = {.name = "hq"};
	struct wg_allowed_ip hq_ip = {.family = AF_INET, .cidr = 32};
	struct wg_time t = {.mono_ns = now, .real_ns = br_real_ns()};
	uint8_t priv[32];
	uint32_t be = htonl(o->hq_tun);
	struct wg_peer *p;

	b->i = i;
	b->tun = br_tunnel_addr(o, o->first + i);
	b->fd = br_open_socket(o, i);
	if (b->fd < 0)
		return -1;
	b->e = wg_engine_new(&io, &set);
	if (!b->e) {
		fprintf(stderr, "branches: branch %u: out of memory\n", i);
		return -1;
	}
	br_private_key(o->seed, o->first + i, priv);
	if (wg_engine_set_private_key(b->e, priv) < 0) {
		sodium_memzero(priv, sizeof(priv));
		fprintf(stderr, "branches: branch %u: unusable private key\n", i);
		return -1;
	}
	sodium_memzero(priv, sizeof(priv));
	memcpy(pc.public_key, o->hq_pub, 32);
	pc.endpoint.addr.in4 = o->hq;
	memcpy(hq_ip.addr, &be, 4);
	p = wg_engine_add_peer(b->e, &pc, t);
	if (!p || wg_engine_peer_set_allowed_ips(b->e, p, &hq_ip, 1) < 0) {
		fprintf(stderr, "branches: branch %u: cannot add HQ as a peer: %s\n", i,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void branch_receive(struct branch *b, uint8_t *buf, size_t cap)
{
	struct sockaddr_in sin;
	socklen_t slen;
	ssize_t n;

	for (;;) {
		struct wg_endpoint from;
		struct wg_time t;

		slen = sizeof(sin);
		n = recvfrom(b->fd, buf, cap, 0, (struct sockaddr *)&sin, &slen);
		if (n < 0)
			return;
		if (n >= 4 && buf[0] == 3 && !buf[1] && !buf[2] && !buf[3])
			run.cookies++;
		memset(&from, 0, sizeof(from));
		from.addr.in4 = sin;
		t.mono_ns = br_now_ns();
		t.real_ns = br_real_ns();
		wg_engine_receive(b->e, &from, buf, (size_t)n, t);
		if (b->want_echo) {
			b->want_echo = false;
			send_echo(b, br_now_ns());
		}
	}
}

/* Protocol timers (retransmitted initiations) and unanswered echoes. */
static void sweep(uint64_t now)
{
	struct wg_time t = {.mono_ns = now, .real_ns = br_real_ns()};

	for (unsigned i = 0; i < run.started; i++) {
		struct branch *b = &run.b[i];

		if (b->finished)
			continue;
		if (wg_engine_next_deadline(b->e) <= now)
			wg_engine_tick(b->e, t);
		if (b->hs_done && now - b->echo_ns >= ECHO_RETRY_NS)
			send_echo(b, now);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* "p50 a p90 b p99 c max d" in ms over the n values (ns), sorted in place. */
static void print_percentiles(uint64_t *v, unsigned n)
{
	if (!n) {
		printf("(none)");
		return;
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("p50 %.1f p90 %.1f p99 %.1f max %.1f", v[n / 2] / 1e6, v[n * 9 / 10] / 1e6,
	       v[n * 99 / 100] / 1e6, v[n - 1] / 1e6);
}

static void report(uint64_t t0)
{
	const struct branches_opts *o = run.o;
	uint64_t *hs = calloc(o->n + 1, sizeof(*hs)), *rt = calloc(o->n + 1, sizeof(*rt));
	uint64_t hs_last = 0, rt_last = 0;
	unsigned nhs = 0, nrt = 0, missing = 0;

	if (!hs || !rt) {
		fprintf(stderr, "branches: out of memory for the report\n");
		free(hs);
		free(rt);
		return;
	}
	for (unsigned i = 0; i < o->n; i++) {
		const struct branch *b = &run.b[i];

		if (b->hs_done) {
			hs[nhs++] = b->hs_ns - b->start_ns;
			if (b->hs_ns - t0 > hs_last)
				hs_last = b->hs_ns - t0;
		}
		if (b->done) {
			rt[nrt++] = b->reply_ns - b->start_ns;
			if (b->reply_ns - t0 > rt_last)
				rt_last = b->reply_ns - t0;
		} else if (missing++ < 10) {
			fprintf(stderr, "branches: " BRANCH_NAME_FMT " got no echo reply (%s)\n",
				o->first + i + 1,
				!b->started  ? "never started"
				: b->hs_done ? "handshake done"
					     : "no handshake");
		}
	}
	printf("branches: handshakes %u/%u, the last %.3f s after the first start; start to "
	       "handshake ms: ",
	       run.hs_done, o->n, hs_last / 1e9);
	print_percentiles(hs, nhs);
	printf("\nbranches: echo round trips %u/%u, the last %.3f s after the first start; start "
	       "to reply ms: ",
	       run.done, o->n, rt_last / 1e9);
	print_percentiles(rt, nrt);
	printf("\nbranches: initiations sent %lu (%lu retransmitted), cookie replies received %lu, "
	       "echo requests %lu, unexpected packets %lu, send errors %lu\n",
	       run.initiations, run.retransmits, run.cookies, run.echoes, run.bad_replies,
	       run.send_errors);
	if (o->echoes > 1) {
		printf("branches: %zu more echo round trips on the established tunnels, ms: ",
		       run.n_rtt);
		print_percentiles(run.rtt, (unsigned)run.n_rtt);
		printf("\n");
	}
	printf("branches: result n=%u handshakes=%u echoes=%u handshake_s=%.3f all_s=%.3f "
	       "cookies=%lu retransmits=%lu rtt_p50_ms=%.3f\n",
	       o->n, run.hs_done, run.done, hs_last / 1e9, rt_last / 1e9, run.cookies,
	       run.retransmits, run.n_rtt ? run.rtt[run.n_rtt / 2] / 1e6 : 0.0);
	fflush(stdout);
	free(hs);
	free(rt);
}

static int do_run(const struct branches_opts *o)
{
	static uint8_t buf[65536];
	struct epoll_event evs[256];
	uint64_t t0, deadline, last_sweep, now = br_now_ns();
	unsigned window = o->window ? o->window : o->n;
	char ip[INET_ADDRSTRLEN];
	int ep, rc = 1;

	run.o = o;
	run.b = calloc(o->n, sizeof(*run.b));
	run.rtt = calloc((size_t)o->n * o->echoes, sizeof(*run.rtt));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!run.b || !run.rtt || ep < 0 || raise_fd_limit(o->n) < 0) {
		fprintf(stderr, "branches: cannot set up %u branches\n", o->n);
		goto out;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &run.b[i]};

		run.b[i].fd = -1;
		if (branch_init(&run.b[i], i, now) < 0)
			goto out;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, run.b[i].fd, &ev) < 0) {
			perror("branches: epoll_ctl");
			goto out;
		}
	}
	printf("branches: %u branches ready in %.3f s (keys, engines, sockets); HQ %s:%u, window "
	       "%u\n",
	       o->n, (br_now_ns() - now) / 1e9, inet_ntop(AF_INET, &o->hq.sin_addr, ip, sizeof(ip)),
	       ntohs(o->hq.sin_port), window);
	fflush(stdout);

	t0 = last_sweep = br_now_ns();
	deadline = t0 + (uint64_t)(o->wait_s * 1e9);
	while (run.finished < o->n && (now = br_now_ns()) < deadline) {
		int n;

		while (run.started < o->n && run.in_flight < window) {
			struct branch *b = &run.b[run.started++];

			b->started = true;
			b->start_ns = now;
			run.in_flight++;
			send_echo(b, now);
		}
		n = epoll_wait(ep, evs, 256, 10);
		for (int k = 0; k < n; k++)
			branch_receive(evs[k].data.ptr, buf, sizeof(buf));
		now = br_now_ns();
		if (now - last_sweep >= SWEEP_EVERY_NS) {
			sweep(now);
			last_sweep = now;
		}
	}
	report(t0);
	rc = run.finished == o->n ? 0 : 1;
out:
	for (unsigned i = 0; run.b && i < o->n; i++) {
		if (run.b[i].fd >= 0)
			close(run.b[i].fd);
		wg_engine_free(run.b[i].e); /* wipes the branch's keys */
	}
	free(run.b);
	free(run.rtt);
	if (ep >= 0)
		close(ep);
	return rc;
}

/* ---- the command line ----------------------------------------------------------------- */

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	fprintf(stderr,
		"usage: branches keys  -n N [-o FIRST] [-S SEED]\n"
		"       branches conf  -n N [-o FIRST] [-S SEED] -a PREFIX\n"
		"       branches run   -n N [-o FIRST] [-S SEED] -a PREFIX -t HQ_IP:PORT\n"
		"                      -k HQ_PUBLIC_KEY -r HQ_TUNNEL_IP [-b SOURCE_PREFIX]\n"
		"                      [-W WINDOW] [-w SECONDS] [-e ECHOES]\n"
		"       branches storm -n N [-o FIRST] [-S SEED] -t HQ_IP:PORT -k HQ_PUBLIC_KEY\n"
		"                      [-b SOURCE_PREFIX] [-W WINDOW] [-d SECONDS]\n"
		"                      [-u WARMUP_SECONDS] [-g GAP_MS] [-P HQ_PID]\n");
	exit(2);
}

/* "a.b.c.d/len" into network and length, host order, host bits cleared. */
static bool parse_prefix(const char *s, uint32_t *net, unsigned *len)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *end;
	struct in_addr a;
	unsigned long l;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	l = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || l > 32 || inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*len = (unsigned)l;
	*net = ntohl(a.s_addr) & (l ? ~0u << (32 - l) : 0);
	return true;
}

static bool parse_number(const char *s, double min, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

static void bad(const char *opt, const char *value, const char *what) __attribute__((noreturn));

static void bad(const char *opt, const char *value, const char *what)
{
	fprintf(stderr, "branches: %s: '%s' is not %s\n", opt, value, what);
	exit(2);
}

int main(int argc, char **argv)
{
	struct branches_opts o = {.seed = DEFAULT_SEED,
				  .window = DEFAULT_WINDOW,
				  .wait_s = DEFAULT_WAIT_S,
				  .echoes = 1,
				  .duration_s = 10,
				  .warmup_s = 1,
				  .gap_ms = 55};
	const char *mode;
	bool have_tun = false;
	double v;
	int opt;

	if (argc < 2 || sodium_init() < 0)
		usage();
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:o:S:a:t:k:r:b:W:w:e:d:u:g:P:")) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_number(optarg, 1, 1 << 20, &v))
				bad("-n", optarg, "a count 1..1048576");
			o.n = (unsigned)v;
			break;
		case 'o':
			if (!parse_number(optarg, 0, 1 << 20, &v))
				bad("-o", optarg, "a branch number 0..1048576");
			o.first = (unsigned)v;
			break;
		case 'S':
			o.seed = optarg;
			break;
		case 'a':
			if (!parse_prefix(optarg, &o.tun_net, &o.tun_len))
				bad("-a", optarg, "an IPv4 prefix such as 10.100.0.0/16");
			have_tun = true;
			break;
		case 't': {
			char *colon = strrchr(optarg, ':');
			double port;

			if (!colon)
				bad("-t", optarg, "IPv4:PORT");
			*colon = '\0';
			o.hq.sin_family = AF_INET;
			if (inet_pton(AF_INET, optarg, &o.hq.sin_addr) != 1 ||
			    !parse_number(colon + 1, 1, 65535, &port))
				bad("-t", optarg, "IPv4:PORT");
			o.hq.sin_port = htons((uint16_t)port);
			o.have_hq = true;
			break;
		}
		case 'k':
			if (!vpnd_key_from_base64(o.hq_pub, optarg))
				bad("-k", optarg, "a base64 public key");
			o.have_hq_key = true;
			break;
		case 'r': {
			struct in_addr a;

			if (inet_pton(AF_INET, optarg, &a) != 1)
				bad("-r", optarg, "an IPv4 address");
			o.hq_tun = ntohl(a.s_addr);
			break;
		}
		case 'b':
			if (!parse_prefix(optarg, &o.src_net, &o.src_len))
				bad("-b", optarg, "an IPv4 prefix such as 172.16.0.0/22");
			o.have_src = true;
			break;
		case 'W':
			if (!parse_number(optarg, 0, 1 << 20, &v))
				bad("-W", optarg, "a count (0 = no limit)");
			o.window = (unsigned)v;
			break;
		case 'w':
			if (!parse_number(optarg, 0.1, 3600, &o.wait_s))
				bad("-w", optarg, "seconds 0.1..3600");
			break;
		case 'e':
			if (!parse_number(optarg, 1, 100000, &v))
				bad("-e", optarg, "a count 1..100000");
			o.echoes = (unsigned)v;
			break;
		case 'd':
			if (!parse_number(optarg, 0.1, 3600, &o.duration_s))
				bad("-d", optarg, "seconds 0.1..3600");
			break;
		case 'u':
			if (!parse_number(optarg, 0, 3600, &o.warmup_s))
				bad("-u", optarg, "seconds 0..3600");
			break;
		case 'g':
			if (!parse_number(optarg, 0, 60000, &o.gap_ms))
				bad("-g", optarg, "milliseconds 0..60000");
			break;
		case 'P':
			if (!parse_number(optarg, 1, 1 << 30, &v))
				bad("-P", optarg, "a process id");
			o.hq_pid = (int)v;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o.n)
		usage();
	if ((!strcmp(mode, "conf") || !strcmp(mode, "run")) && !have_tun)
		usage();
	if (have_tun && (uint64_t)o.first + o.n + 3 > 1ULL << (32 - o.tun_len)) {
		fprintf(stderr, "branches: -a: branches up to number %u do not fit in a /%u\n",
			o.first + o.n - 1, o.tun_len);
		return 2;
	}
	if (!strcmp(mode, "keys"))
		return print_keys(&o);
	if (!strcmp(mode, "conf"))
		return print_conf(&o);
	if (!o.have_hq || !o.have_hq_key)
		usage();
	if (!strcmp(mode, "run")) {
		if (!o.hq_tun)
			usage();
		return do_run(&o);
	}
	if (!strcmp(mode, "storm"))
		return br_storm(&o);
	usage();
}
