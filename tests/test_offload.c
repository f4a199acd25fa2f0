/* TUN offloads: checksums, splitting TSO/USO super-packets, merging TCP segments back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tunnel/checksum.h"
#include "tunnel/offload.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void test_rfc1071_example(void **state)
{
	(void)state;
	const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(wg_csum_fold(wg_csum_add(0, data, sizeof(data))), 0xddf2);
	/* odd length: the last byte is the high byte of a zero-padded word */
	const uint8_t odd[] = {0x12, 0x34, 0x56};
	assert_int_equal(wg_csum_fold(wg_csum_add(0, odd, 3)), 0x1234 + 0x5600);
	/* pieces of even length add up like the whole */
	uint8_t big[1001];
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(wg_csum_fold(wg_csum_add(wg_csum_add(0, big, 500), big + 500, 501)),
			 wg_csum_fold(wg_csum_add(0, big, sizeof(big))));
}

/* A TCP (or UDP) packet with `payload` bytes of pattern, correct checksums. */
static size_t make_packet(uint8_t *p, int family, uint8_t proto, size_t payload, uint32_t seq,
			  uint8_t flags, uint8_t seed)
{
	size_t ip_hlen = family == AF_INET ? 20 : 40, l4_hlen = proto == IPPROTO_TCP ? 32 : 8;
	size_t len = ip_hlen + l4_hlen + payload;
	uint8_t *l4 = p + ip_hlen;

	memset(p, 0, ip_hlen + l4_hlen);
	if (family == AF_INET) {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)len);
		put16(p + 4, 0x1000);
		put16(p + 6, 0x4000); /* DF */
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, (uint8_t[]){10, 2, 0, 2}, 4);
		memcpy(p + 16, (uint8_t[]){10, 1, 0, 2}, 4);
		put16(p + 10, wg_csum_ipv4_header(p, 20));
	} else {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)(len - 40));
		p[6] = proto;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 2;
		p[24] = 0xfd;
		p[39] = 1;
	}
	put16(l4, 40000);
	put16(l4 + 2, 5201);
	if (proto == IPPROTO_TCP) {
		put16(l4 + 4, (uint16_t)(seq >> 16));
		put16(l4 + 6, (uint16_t)seq);
		put16(l4 + 8, 0x1111);
		put16(l4 + 10, 0x2222);
		l4[12] = 8 << 4; /* 32-byte header: 12 bytes of options */
		l4[13] = flags;
		put16(l4 + 14, 512);
		l4[20] = 1;
		l4[21] = 1;
		l4[22] = 8; /* timestamps option */
		l4[23] = 10;
		put16(l4 + 24, 0xabcd);
	} else {
		put16(l4 + 4, (uint16_t)(8 + payload));
	}
	for (size_t i = 0; i < payload; i++)
		l4[l4_hlen + i] = (uint8_t)(seed + i * 13 + (i >> 8));
	unsigned at = proto == IPPROTO_TCP ? 16 : 6;
	uint32_t sum =
	    wg_csum_pseudo(family, p + (family == AF_INET ? 12 : 8),
			   p + (family == AF_INET ? 16 : 24), proto, (uint32_t)(l4_hlen + payload));
	put16(l4 + at, (uint16_t)~wg_csum_fold(wg_csum_add(sum, l4, l4_hlen + payload)));
	return len;
}

static void assert_checksums_valid(const uint8_t *p, size_t len)
{
	int family = p[0] >> 4 == 4 ? AF_INET : AF_INET6;
	size_t ip_hlen = family == AF_INET ? 20 : 40;
	uint8_t proto = family == AF_INET ? p[9] : p[6];

	if (family == AF_INET) {
		assert_int_equal(wg_csum_fold(wg_csum_add(0, p, 20)), 0xffff);
		assert_int_equal(get16(p + 2), len);
	} else {
		assert_int_equal(get16(p + 4) + 40, len);
	}
	uint32_t sum =
	    wg_csum_pseudo(family, p + (family == AF_INET ? 12 : 8),
			   p + (family == AF_INET ? 16 : 24), proto, (uint32_t)(len - ip_hlen));
	assert_int_equal(wg_csum_fold(wg_csum_add(sum, p + ip_hlen, len - ip_hlen)), 0xffff);
}

static uint8_t big[WG_GSO_MAX_SIZE], out[WG_GSO_MAX_SIZE * 2], whole[WG_GSO_MAX_SIZE];
static uint16_t seg_len[WG_GSO_MAX_SEGMENTS];

static void split_tcp(int family)
{
	const size_t payload = 5000;
	size_t ip_hlen = family == AF_INET ? 20 : 40, hdrs = ip_hlen + 32;
	size_t len = make_packet(big, family, IPPROTO_TCP, payload, 0xfffff000u, 0x18, 1);
	struct wg_vnet_hdr h = {
	    .flags = WG_VNET_F_NEEDS_CSUM,
	    .gso_type = family == AF_INET ? WG_VNET_GSO_TCPV4 : WG_VNET_GSO_TCPV6,
	    .hdr_len = (uint16_t)hdrs,
	    .gso_size = 1400,
	    .csum_start = (uint16_t)ip_hlen,
	    .csum_offset = 16,
	};
	/* what the kernel leaves in the field of a TSO packet: not a final checksum */
	put16(big + ip_hlen + 16, 0x1234);
	int n = wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, WG_GSO_MAX_SEGMENTS);
	/* gso_size 1400 does not fit 1420 with 72/92 bytes of headers: chunks shrink */
	size_t chunk = 1420 - hdrs;
	assert_int_equal(n, (int)((payload + chunk - 1) / chunk));

	size_t off = 0, got = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *s = out + off;
		assert_true(seg_len[i] <= 1420);
		assert_checksums_valid(s, seg_len[i]);
		assert_int_equal(get32(s + ip_hlen + 4), (uint32_t)(0xfffff000u + got));
		/* PSH only on the last segment */
		assert_int_equal((s[ip_hlen + 13] & 0x08) != 0, i == n - 1);
		if (family == AF_INET)
			assert_int_equal(get16(s + 4), 0x1000 + i);
		/* headers beyond the changed fields are the original's (options) */
		assert_memory_equal(s + ip_hlen + 20, big + ip_hlen + 20, 12);
		memcpy(whole + got, s + hdrs, seg_len[i] - hdrs);
		got += seg_len[i] - hdrs;
		off += seg_len[i];
	}
	assert_int_equal(got, payload);
	assert_memory_equal(whole, big + hdrs, payload);
}

static void test_split_tcp4(void **state)
{
	(void)state;
	split_tcp(AF_INET);
}

static void test_split_tcp6(void **state)
{
	(void)state;
	split_tcp(AF_INET6);
}

static void test_split_udp_l4(void **state)
{
	(void)state;
	size_t len = make_packet(big, AF_INET, IPPROTO_UDP, 3000, 0, 0, 9);
	struct wg_vnet_hdr h = {.flags = WG_VNET_F_NEEDS_CSUM,
				.gso_type = WG_VNET_GSO_UDP_L4,
				.gso_size = 1000,
				.csum_start = 20,
				.csum_offset = 6};
	int n = wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, WG_GSO_MAX_SEGMENTS);
	assert_int_equal(n, 3);
	for (int i = 0, off = 0; i < n; off += seg_len[i], i++) {
		assert_int_equal(seg_len[i], 1028);
		assert_checksums_valid(out + off, seg_len[i]);
		assert_int_equal(get16(out + off + 24), 1008);
	}
}

static void test_partial_checksum_completed(void **state)
{
	(void)state;
	size_t len = make_packet(big, AF_INET6, IPPROTO_UDP, 333, 0, 0, 4);
	uint8_t *udp = big + 40;
	/* the kernel leaves the pseudo-header sum, not inverted */
	put16(udp + 6, wg_csum_fold(wg_csum_pseudo(AF_INET6, big + 8, big + 24, IPPROTO_UDP,
						   (uint32_t)(len - 40))));
	struct wg_vnet_hdr h = {.flags = WG_VNET_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = 6};
	assert_int_equal(wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, 4), 1);
	assert_int_equal(seg_len[0], len);
	assert_checksums_valid(out, len);
	/* a partial checksum pointing past the packet is refused */
	h.csum_start = (uint16_t)len;
	assert_int_equal(wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, 4), -22);
}

static void test_split_rejects_nonsense(void **state)
{
	(void)state;
	struct wg_vnet_hdr h = {.gso_type = WG_VNET_GSO_TCPV4, .gso_size = 1000};
	size_t len = make_packet(big, AF_INET6, IPPROTO_TCP, 4000, 1, 0x10, 2);
	/* v6 packet announced as TCPv4 */
	assert_int_equal(wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, 64), -22);
	h.gso_type = WG_VNET_GSO_TCPV6;
	h.gso_size = 0;
	assert_int_equal(wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, 64), -22);
	h.gso_size = 1000;
	/* too few segment slots */
	assert_int_equal(wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, 2), -28);
	/* random bytes under every header kind never crash */
	srand(7);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand() % 200);
		for (size_t i = 0; i < n; i++)
			big[i] = (uint8_t)rand();
		if (n && rand() % 2)
			big[0] = (uint8_t)(rand() % 2 ? 0x45 : 0x60);
		struct wg_vnet_hdr r = {.flags = (uint8_t)(rand() % 4),
					.gso_type = (uint8_t)(rand() % 6),
					.gso_size = (uint16_t)(rand() % 3000),
					.csum_start = (uint16_t)(rand() % 220),
					.csum_offset = (uint16_t)(rand() % 20)};
		(void)wg_gso_split(&r, big, n, 1420, out, sizeof(out), seg_len, 64);
	}
}

struct collected {
	unsigned count;
	size_t len[64];
	uint8_t *buf[64];
};

static void collect(void *ctx, const uint8_t *buf, size_t len)
{
	struct collected *c = ctx;
	c->buf[c->count] = malloc(len);
	memcpy(c->buf[c->count], buf, len);
	c->len[c->count++] = len;
}

static void collected_free(struct collected *c)
{
	for (unsigned i = 0; i < c->count; i++)
		free(c->buf[i]);
	c->count = 0;
}

/* Split a super-packet, merge the segments again, split the merged one as the kernel
 * would: the segments must come back identical. */
static void round_trip(int family)
{
	struct wg_gro g;
	struct collected c = {0};
	size_t ip_hlen = family == AF_INET ? 20 : 40;
	size_t len = make_packet(big, family, IPPROTO_TCP, 20000, 77, 0x18, 5);
	struct wg_vnet_hdr h = {.gso_type =
				    family == AF_INET ? WG_VNET_GSO_TCPV4 : WG_VNET_GSO_TCPV6,
				.gso_size = 1300};
	int n = wg_gso_split(&h, big, len, 1420, out, sizeof(out), seg_len, WG_GSO_MAX_SEGMENTS);
	assert_true(n > 10);

	assert_int_equal(wg_gro_init(&g, 64), 0);
	for (int i = 0, off = 0; i < n; off += seg_len[i], i++)
		assert_int_equal(wg_gro_add(&g, out + off, seg_len[i]), 0);
	wg_gro_flush(&g, collect, &c);
	assert_int_equal(c.count, 1);

	struct wg_vnet_hdr m;
	memcpy(&m, c.buf[0], WG_VNET_HDR_LEN);
	assert_int_equal(m.gso_type, h.gso_type);
	assert_int_equal(m.gso_size, 1300);
	assert_int_equal(m.flags, WG_VNET_F_NEEDS_CSUM);
	assert_int_equal(m.csum_start, ip_hlen);
	assert_int_equal(m.csum_offset, 16);
	assert_int_equal(c.len[0] - WG_VNET_HDR_LEN, len);

	static uint8_t again[WG_GSO_MAX_SIZE * 2];
	static uint16_t again_len[WG_GSO_MAX_SEGMENTS];
	int n2 = wg_gso_split(&m, c.buf[0] + WG_VNET_HDR_LEN, c.len[0] - WG_VNET_HDR_LEN, 1420,
			      again, sizeof(again), again_len, WG_GSO_MAX_SEGMENTS);
	assert_int_equal(n2, n);
	for (int i = 0, off = 0; i < n; off += seg_len[i], i++) {
		assert_int_equal(again_len[i], seg_len[i]);
		assert_memory_equal(again + off, out + off, seg_len[i]);
	}
	collected_free(&c);
	wg_gro_free(&g);
}

static void test_gro_round_trip4(void **state)
{
	(void)state;
	round_trip(AF_INET);
}

static void test_gro_round_trip6(void **state)
{
	(void)state;
	round_trip(AF_INET6);
}

static void test_gro_keeps_order_and_rules(void **state)
{
	(void)state;
	struct wg_gro g;
	struct collected c = {0};
	static uint8_t p[6][2000];
	size_t l[6];

	assert_int_equal(wg_gro_init(&g, 8), 0);
	l[0] = make_packet(p[0], AF_INET, IPPROTO_TCP, 1000, 1000, 0x10, 1);
	l[1] = make_packet(p[1], AF_INET, IPPROTO_TCP, 1000, 2000, 0x10, 2);
	/* a FIN of the same flow: not mergeable, and nothing may pass it */
	l[2] = make_packet(p[2], AF_INET, IPPROTO_TCP, 0, 3000, 0x11, 3);
	l[3] = make_packet(p[3], AF_INET, IPPROTO_TCP, 1000, 3000, 0x10, 4);
	/* a continuation with a broken checksum passes alone */
	l[4] = make_packet(p[4], AF_INET, IPPROTO_TCP, 1000, 4000, 0x10, 5);
	p[4][100] ^= 1;
	/* a gap in sequence numbers starts a new item */
	l[5] = make_packet(p[5], AF_INET, IPPROTO_TCP, 1000, 9000, 0x10, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(wg_gro_add(&g, p[i], l[i]), 0);
	wg_gro_flush(&g, collect, &c);
	assert_int_equal(c.count, 5);
	assert_int_equal(c.len[0], WG_VNET_HDR_LEN + l[0] + 1000); /* 0+1 merged */
	assert_memory_equal(c.buf[1] + WG_VNET_HDR_LEN, p[2], l[2]);
	assert_memory_equal(c.buf[2] + WG_VNET_HDR_LEN, p[3], l[3]);
	assert_memory_equal(c.buf[3] + WG_VNET_HDR_LEN, p[4], l[4]);
	assert_int_equal(c.buf[3][0], 0); /* not marked valid: the kernel checks it */
	assert_memory_equal(c.buf[4] + WG_VNET_HDR_LEN, p[5], l[5]);
	assert_int_equal(c.buf[4][0], WG_VNET_F_DATA_VALID);
	collected_free(&c);

	/* a full batch says so */
	for (int i = 0; i < 8; i++)
		assert_int_equal(wg_gro_add(&g, p[2], l[2]), 0);
	assert_int_equal(wg_gro_add(&g, p[2], l[2]), -28);
	wg_gro_flush(&g, collect, &c);
	assert_int_equal(c.count, 8);
	collected_free(&c);
	wg_gro_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc1071_example),
	    cmocka_unit_test(test_split_tcp4),
	    cmocka_unit_test(test_split_tcp6),
	    cmocka_unit_test(test_split_udp_l4),
	    cmocka_unit_test(test_partial_checksum_completed),
	    cmocka_unit_test(test_split_rejects_nonsense),
	    cmocka_unit_test(test_gro_round_trip4),
	    cmocka_unit_test(test_gro_round_trip6),
	    cmocka_unit_test(test_gro_keeps_order_and_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
