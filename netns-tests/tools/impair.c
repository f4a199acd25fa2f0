/* impair: a userspace bridge between two interfaces that impairs what crosses it, for
 * tests on a kernel without netem. Run it in a namespace holding both interfaces (no
 * addresses, no IP forwarding): every Ethernet frame read on one side is sent on the
 * other, and IP datagrams may be lost, duplicated, reordered, delayed with jitter or
 * corrupted on the way. Corruption flips a payload byte of a UDP datagram and fixes the
 * UDP checksum, so the damaged datagram is delivered to the application, as a faulty
 * link with a broken middlebox would. ARP and other non-IP frames pass untouched.
 *
 * usage: impair -a IFACE -b IFACE [--loss PCT] [--dup PCT] [--reorder PCT]
 *               [--delay MS] [--jitter MS] [--corrupt PCT] [--seed N] [--duration S]
 * Prints counters on SIGTERM/SIGINT or at the end of --duration. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX  9216
#define QUEUE_MAX  4096 /* frames held for delay or reordering */

struct frame {
	uint64_t due_ns;
	int out; /* side index */
	uint16_t len;
	uint8_t data[FRAME_MAX];
};

struct opts {
	double loss, dup, reorder, corrupt; /* probabilities 0..1 */
	unsigned delay_ms, jitter_ms;
	unsigned duration_s;
};

static struct frame *queue[QUEUE_MAX];
static unsigned queued;
static volatile sig_atomic_t stop;
static struct {
	unsigned long in, out, lost, duplicated, reordered, corrupted, overflow;
} count;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double chance(void)
{
	return (double)random() / ((double)RAND_MAX + 1.0);
}

static int open_side(const char *ifname)
{
	struct sockaddr_ll sll = {0};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0) {
		perror("impair: socket(AF_PACKET)");
		exit(1);
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "impair: no interface '%s'\n", ifname);
		exit(1);
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("impair: bind");
		exit(1);
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &(int){1}, sizeof(int)) < 0) {
		perror("impair: PACKET_AUXDATA");
		exit(1);
	}
	return fd;
}

/* One's-complement sum over a buffer, continuing from sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The transport header (UDP or TCP, per *proto) and its length in an IPv4/IPv6 frame,
 * or NULL. */
static uint8_t *find_l4(uint8_t *f, size_t len, size_t *l4_len, int *family, uint8_t **ip,
			int *proto)
{
	struct ether_header *eth = (struct ether_header *)f;
	uint8_t *l3 = f + sizeof(*eth);
	size_t l3len = len - sizeof(*eth);

	if (len < sizeof(*eth))
		return NULL;
	*ip = l3;
	if (ntohs(eth->ether_type) == ETHERTYPE_IP && l3len >= sizeof(struct iphdr)) {
		struct iphdr *h = (struct iphdr *)l3;
		size_t ihl = (size_t)h->ihl * 4;
		if ((h->protocol != IPPROTO_UDP && h->protocol != IPPROTO_TCP) || ihl < 20 ||
		    l3len < ihl + sizeof(struct udphdr) || (ntohs(h->frag_off) & 0x3fff))
			return NULL;
		*family = AF_INET;
		*proto = h->protocol;
		*l4_len = ntohs(h->tot_len) - ihl;
		if (*l4_len > l3len - ihl)
			return NULL;
		return l3 + ihl;
	}
	if (ntohs(eth->ether_type) == ETHERTYPE_IPV6 && l3len >= 40 + sizeof(struct udphdr)) {
		struct ip6_hdr *h = (struct ip6_hdr *)l3;
		if (h->ip6_nxt != IPPROTO_UDP && h->ip6_nxt != IPPROTO_TCP)
			return NULL;
		*family = AF_INET6;
		*proto = h->ip6_nxt;
		*l4_len = ntohs(h->ip6_plen);
		if (*l4_len > l3len - 40)
			return NULL;
		return l3 + 40;
	}
	return NULL;
}

/* Write a complete transport checksum over the pseudo-header and the segment. */
static void fix_l4_checksum(uint8_t *l4, size_t l4_len, int family, const uint8_t *ip, int proto)
{
	uint8_t *field = l4 + (proto == IPPROTO_UDP ? 6 : 16);
	uint32_t sum = 0;
	uint16_t c;

	if (proto == IPPROTO_TCP && l4_len < 20)
		return;
	field[0] = field[1] = 0;
	if (family == AF_INET)
		sum = csum_add(sum, ip + offsetof(struct iphdr, saddr), 8);
	else
		sum = csum_add(sum, ip + offsetof(struct ip6_hdr, ip6_src), 32);
	sum += (uint32_t)proto + (uint32_t)l4_len;
	sum = csum_add(sum, l4, l4_len);
	c = csum_fold(sum);
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	field[0] = (uint8_t)(c >> 8);
	field[1] = (uint8_t)c;
}

/* veth hands us segments whose checksum was left to offload (TP_STATUS_CSUMNOTREADY):
 * sent on as they are, the receiver would drop them. */
static void complete_checksum(uint8_t *f, size_t len)
{
	size_t l4_len;
	int family, proto;
	uint8_t *ip, *l4 = find_l4(f, len, &l4_len, &family, &ip, &proto);

	if (l4)
		fix_l4_checksum(l4, l4_len, family, ip, proto);
}

/* Flip one payload byte of a UDP datagram and fix its checksum, so it is delivered. */
static bool corrupt(uint8_t *f, size_t len)
{
	size_t l4_len;
	int family, proto;
	uint8_t *ip, *l4 = find_l4(f, len, &l4_len, &family, &ip, &proto);

	if (!l4 || proto != IPPROTO_UDP || l4_len <= sizeof(struct udphdr))
		return false;
	l4[sizeof(struct udphdr) + (size_t)random() % (l4_len - sizeof(struct udphdr))] ^=
	    (uint8_t)(1 + random() % 255);
	fix_l4_checksum(l4, l4_len, family, ip, proto);
	return true;
}

static bool is_ip(const uint8_t *f, size_t len)
{
	const struct ether_header *eth = (const struct ether_header *)f;
	return len >= sizeof(*eth) && (ntohs(eth->ether_type) == ETHERTYPE_IP ||
				       ntohs(eth->ether_type) == ETHERTYPE_IPV6);
}

static void enqueue(const uint8_t *data, size_t len, int out, uint64_t due)
{
	struct frame *fr;

	if (queued == QUEUE_MAX || !(fr = malloc(sizeof(*fr)))) {
		count.overflow++;
		return;
	}
	fr->due_ns = due;
	fr->out = out;
	fr->len = (uint16_t)len;
	memcpy(fr->data, data, len);
	queue[queued++] = fr;
}

static uint64_t delay_for(const struct opts *o, uint64_t now)
{
	double d = o->delay_ms;

	if (o->jitter_ms)
		d += (chance() * 2.0 - 1.0) * o->jitter_ms;
	if (d < 0)
		d = 0;
	return now + (uint64_t)(d * 1e6);
}

static void handle(const struct opts *o, uint8_t *buf, size_t len, int out, uint64_t now,
		   bool csum_not_ready)
{
	uint64_t due;

	count.in++;
	if (csum_not_ready)
		complete_checksum(buf, len);
	if (!is_ip(buf, len)) {
		enqueue(buf, len, out, now);
		return;
	}
	if (chance() < o->loss) {
		count.lost++;
		return;
	}
	if (chance() < o->corrupt && corrupt(buf, len))
		count.corrupted++;
	due = delay_for(o, now);
	/* Reordering: hold this one back long enough that later frames overtake it. */
	if (chance() < o->reorder) {
		due += 2000000 + (uint64_t)(chance() * 8e6);
		count.reordered++;
	}
	enqueue(buf, len, out, due);
	if (chance() < o->dup) {
		enqueue(buf, len, out, delay_for(o, now));
		count.duplicated++;
	}
}

static void flush_due(int fds[2], uint64_t now)
{
	for (unsigned i = 0; i < queued;) {
		struct frame *fr = queue[i];
		if (fr->due_ns > now) {
			i++;
			continue;
		}
		if (send(fds[fr->out], fr->data, fr->len, 0) == (ssize_t)fr->len)
			count.out++;
		free(fr);
		/* Keep arrival order among frames due at once: shift, do not swap. */
		memmove(&queue[i], &queue[i + 1], (queued - i - 1) * sizeof(queue[0]));
		queued--;
	}
}

static int next_timeout_ms(uint64_t now)
{
	uint64_t best = UINT64_MAX;

	for (unsigned i = 0; i < queued; i++)
		if (queue[i]->due_ns < best)
			best = queue[i]->due_ns;
	if (best == UINT64_MAX)
		return 200;
	return best <= now ? 0 : (int)((best - now) / 1000000 + 1);
}

static double pct(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || v < 0 || v > 100) {
		fprintf(stderr, "impair: %s: '%s' is not a percentage 0..100\n", what, s);
		exit(2);
	}
	return v / 100.0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"loss", 1, 0, 'l'},   {"dup", 1, 0, 'd'},	   {"reorder", 1, 0, 'r'},
	    {"delay", 1, 0, 'D'},  {"jitter", 1, 0, 'j'},  {"corrupt", 1, 0, 'c'},
	    {"seed", 1, 0, 's'},   {"duration", 1, 0, 't'}, {0, 0, 0, 0}};
	struct opts o = {0};
	const char *side[2] = {NULL, NULL};
	/* Two bytes ahead of the 14-byte Ethernet header put the IP header on a 4-byte
	 * boundary, where struct iphdr may be read. */
	static uint8_t rx[FRAME_MAX + 2] __attribute__((aligned(8)));
	uint8_t *buf = rx + 2;
	uint64_t end = 0;
	int fds[2], opt;

	srandom(1);
	while ((opt = getopt_long(argc, argv, "a:b:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': side[0] = optarg; break;
		case 'b': side[1] = optarg; break;
		case 'l': o.loss = pct(optarg, "--loss"); break;
		case 'd': o.dup = pct(optarg, "--dup"); break;
		case 'r': o.reorder = pct(optarg, "--reorder"); break;
		case 'c': o.corrupt = pct(optarg, "--corrupt"); break;
		case 'D': o.delay_ms = (unsigned)atoi(optarg); break;
		case 'j': o.jitter_ms = (unsigned)atoi(optarg); break;
		case 's': srandom((unsigned)atoi(optarg)); break;
		case 't': o.duration_s = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: impair -a IFACE -b IFACE [--loss PCT] [--dup PCT] "
					"[--reorder PCT] [--delay MS] [--jitter MS] [--corrupt PCT] "
					"[--seed N] [--duration S]\n");
			return 2;
		}
	}
	if (!side[0] || !side[1]) {
		fprintf(stderr, "impair: -a and -b name the two interfaces\n");
		return 2;
	}
	fds[0] = open_side(side[0]);
	fds[1] = open_side(side[1]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (o.duration_s)
		end = now_ns() + (uint64_t)o.duration_s * 1000000000ULL;
	printf("impair: bridging %s <-> %s\n", side[0], side[1]);
	fflush(stdout);

	while (!stop && (!end || now_ns() < end)) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		int n = poll(p, 2, next_timeout_ms(now_ns()));

		if (n < 0 && errno != EINTR)
			break;
		for (int s = 0; s < 2 && n > 0; s++) {
			if (!(p[s].revents & POLLIN))
				continue;
			for (int k = 0; k < 64; k++) {
				struct sockaddr_ll from;
				union {
					struct cmsghdr align;
					uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
				} control;
				struct iovec iov = {buf, FRAME_MAX};
				struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from),
						    .msg_iov = &iov, .msg_iovlen = 1,
						    .msg_control = &control,
						    .msg_controllen = sizeof(control)};
				bool csum_not_ready = false;
				ssize_t len = recvmsg(fds[s], &mh, MSG_DONTWAIT);

				if (len <= 0)
					break;
				/* Our own transmissions come back as OUTGOING: never forward. */
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
					if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
						csum_not_ready =
						    ((struct tpacket_auxdata *)CMSG_DATA(c))->tp_status &
						    TP_STATUS_CSUMNOTREADY;
				handle(&o, buf, (size_t)len, 1 - s, now_ns(), csum_not_ready);
			}
		}
		flush_due(fds, now_ns());
	}
	printf("impair: in %lu out %lu lost %lu duplicated %lu reordered %lu corrupted %lu "
	       "overflow %lu\n",
	       count.in, count.out, count.lost, count.duplicated, count.reordered,
	       count.corrupted, count.overflow);
	return 0;
}
