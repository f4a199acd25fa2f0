/* Merging decrypted TCP segments into super-packets before they are written to the TUN,
 * under the rules of the kernel's own TCP GRO: same addresses, ports, acknowledgement,
 * window, options and IP header fields; sequence numbers that continue each other; only
 * ACK (and PSH on the last) set; every segment the size of the first except a shorter
 * last one. A segment whose checksums do not verify is passed on alone, so the kernel
 * drops it as it would have: merging must never turn a bad checksum into a good one. */
#include "checksum.h"
#include "offload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <sodium.h>

#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define SLOT_SIZE    (WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE)

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

int wg_gro_init(struct wg_gro *g, unsigned cap)
{
	memset(g, 0, sizeof(*g));
	g->items = calloc(cap, sizeof(*g->items));
	g->arena = malloc((size_t)cap * SLOT_SIZE);
	if (!g->items || !g->arena) {
		wg_gro_free(g);
		return -ENOMEM;
	}
	g->cap = cap;
	for (unsigned i = 0; i < cap; i++)
		g->items[i].buf = g->arena + (size_t)i * SLOT_SIZE;
	return 0;
}

void wg_gro_free(struct wg_gro *g)
{
	/* The arena held decrypted traffic. */
	if (g->arena)
		sodium_memzero(g->arena, (size_t)g->cap * SLOT_SIZE);
	free(g->arena);
	free(g->items);
	memset(g, 0, sizeof(*g));
}

/* Parse a TCP packet's flow key (addresses, ports, then the acknowledgement number) into
 * it: false when pkt is not TCP at all. *mergeable says whether the kernel would merge
 * it: only ACK (and PSH) set, a payload, verified checksums. */
static bool tcp_segment(const uint8_t *pkt, size_t len, struct wg_gro_item *it, uint32_t *seq,
			size_t *payload, bool *mergeable)
{
	size_t ip_hlen, tcp_hlen;
	const uint8_t *tcp;
	uint32_t sum;

	*mergeable = false;
	if (len < 1)
		return false;
	if (pkt[0] == 0x45) { /* IPv4 without options */
		ip_hlen = 20;
		if (len < 40 || pkt[9] != IPPROTO_TCP || get16(pkt + 2) != len)
			return false;
		it->family = AF_INET;
	} else if (pkt[0] >> 4 == 6) {
		ip_hlen = 40;
		if (len < 60 || pkt[6] != IPPROTO_TCP || (size_t)get16(pkt + 4) + 40 != len)
			return false;
		it->family = AF_INET6;
	} else {
		return false;
	}
	tcp = pkt + ip_hlen;
	tcp_hlen = (size_t)(tcp[12] >> 4) * 4;
	if (tcp_hlen < 20 || ip_hlen + tcp_hlen > len)
		return false;
	it->ip_hlen = (uint8_t)ip_hlen;
	it->tcp_hlen = (uint8_t)tcp_hlen;
	if (it->family == AF_INET) {
		memcpy(it->key, pkt + 12, 8);
		it->key_len = 8;
	} else {
		memcpy(it->key, pkt + 8, 32);
		it->key_len = 32;
	}
	memcpy(it->key + it->key_len, tcp, 4);
	memcpy(it->key + it->key_len + 4, tcp + 8, 4);
	it->key_len += 8;
	*seq = get32(tcp + 4);
	*payload = len - ip_hlen - tcp_hlen;

	if (*payload == 0)
		return true;
	/* fragments (MF or an offset) never merge; DF may be set */
	if (it->family == AF_INET &&
	    ((get16(pkt + 6) & 0x3fff) != 0 || wg_csum_fold(wg_csum_add(0, pkt, 20)) != 0xffff))
		return true;
	if ((tcp[13] & (uint8_t) ~(TCP_FLAG_ACK | TCP_FLAG_PSH)) != 0 || !(tcp[13] & TCP_FLAG_ACK))
		return true;
	sum = wg_csum_pseudo(it->family, pkt + (it->family == AF_INET ? 12 : 8),
			     pkt + (it->family == AF_INET ? 16 : 24), IPPROTO_TCP,
			     (uint32_t)(len - ip_hlen));
	*mergeable = wg_csum_fold(wg_csum_add(sum, tcp, len - ip_hlen)) == 0xffff;
	return true;
}

/* The IP fields that must agree (v4: TOS, flags, TTL; v6: class, flow, hop limit) and
 * the TCP window and options. */
static bool same_headers(const uint8_t *a, const uint8_t *b, const struct wg_gro_item *it)
{
	if (it->family == AF_INET) {
		if (a[1] != b[1] || a[6] != b[6] || a[8] != b[8])
			return false;
	} else if (memcmp(a, b, 4) != 0 || a[7] != b[7]) {
		return false;
	}
	a += it->ip_hlen;
	b += it->ip_hlen;
	return memcmp(a + 14, b + 14, 2) == 0 && memcmp(a + 20, b + 20, it->tcp_hlen - 20) == 0;
}

int wg_gro_add(struct wg_gro *g, const uint8_t *pkt, size_t len)
{
	struct wg_gro_item cand = {0}, *it;
	uint32_t seq = 0;
	size_t payload = 0;

	if (len > WG_GSO_MAX_SIZE)
		return -EINVAL;
	cand.is_tcp = tcp_segment(pkt, len, &cand, &seq, &payload, &cand.mergeable);
	if (cand.mergeable) {
		/* Only the connection's latest item may grow, or segments would overtake
		 * packets of the same connection that could not be merged. */
		for (unsigned i = g->count; i-- > 0;) {
			it = &g->items[i];
			if (!it->is_tcp || it->family != cand.family ||
			    memcmp(it->key, cand.key, cand.key_len - 4) != 0)
				continue;
			if (!it->mergeable || it->closed ||
			    memcmp(it->key, cand.key, cand.key_len) != 0 || it->next_seq != seq ||
			    payload > it->gso_size || it->len + payload > 0xffff ||
			    it->segments >= WG_GSO_MAX_SEGMENTS || it->ip_hlen != cand.ip_hlen ||
			    it->tcp_hlen != cand.tcp_hlen ||
			    !same_headers(it->buf + WG_VNET_HDR_LEN, pkt, it))
				break;
			memcpy(it->buf + WG_VNET_HDR_LEN + it->len, pkt + len - payload, payload);
			it->len += payload;
			it->next_seq += (uint32_t)payload;
			it->segments++;
			if (pkt[it->ip_hlen + 13] & TCP_FLAG_PSH) {
				it->buf[WG_VNET_HDR_LEN + it->ip_hlen + 13] |= TCP_FLAG_PSH;
				it->closed = true;
			}
			if (payload < it->gso_size)
				it->closed = true;
			return 0;
		}
	}
	if (g->count == g->cap)
		return -ENOSPC;
	it = &g->items[g->count++];
	memcpy(it->buf + WG_VNET_HDR_LEN, pkt, len);
	it->len = len;
	it->mergeable = cand.mergeable;
	it->is_tcp = cand.is_tcp;
	it->closed = false;
	if (cand.is_tcp) {
		it->family = cand.family;
		it->ip_hlen = cand.ip_hlen;
		it->tcp_hlen = cand.tcp_hlen;
		memcpy(it->key, cand.key, sizeof(it->key));
		it->key_len = cand.key_len;
	}
	if (cand.mergeable) {
		it->gso_size = (uint16_t)payload;
		it->segments = 1;
		it->next_seq = seq + (uint32_t)payload;
		it->closed = (pkt[cand.ip_hlen + 13] & TCP_FLAG_PSH) != 0;
	}
	return 0;
}

/* A merged item's IP lengths, and the TCP checksum left partial for the kernel: the
 * field holds the pseudo-header sum, the rest is summed where it is consumed. */
static void finish_merged(struct wg_gro_item *it, struct wg_vnet_hdr *h)
{
	uint8_t *pkt = it->buf + WG_VNET_HDR_LEN;
	uint32_t tcp_len = (uint32_t)(it->len - it->ip_hlen);

	if (it->family == AF_INET) {
		put16(pkt + 2, (uint16_t)it->len);
		put16(pkt + 10, 0);
		put16(pkt + 10, wg_csum_ipv4_header(pkt, 20));
		put16(pkt + it->ip_hlen + 16,
		      wg_csum_fold(
			  wg_csum_pseudo(AF_INET, pkt + 12, pkt + 16, IPPROTO_TCP, tcp_len)));
		h->gso_type = WG_VNET_GSO_TCPV4;
	} else {
		put16(pkt + 4, (uint16_t)tcp_len);
		put16(pkt + it->ip_hlen + 16,
		      wg_csum_fold(
			  wg_csum_pseudo(AF_INET6, pkt + 8, pkt + 24, IPPROTO_TCP, tcp_len)));
		h->gso_type = WG_VNET_GSO_TCPV6;
	}
	h->flags = WG_VNET_F_NEEDS_CSUM;
	h->hdr_len = (uint16_t)(it->ip_hlen + it->tcp_hlen);
	h->gso_size = it->gso_size;
	h->csum_start = it->ip_hlen;
	h->csum_offset = 16;
}

void wg_gro_flush(struct wg_gro *g, void (*write_fn)(void *ctx, const uint8_t *buf, size_t len),
		  void *ctx)
{
	for (unsigned i = 0; i < g->count; i++) {
		struct wg_gro_item *it = &g->items[i];
		struct wg_vnet_hdr h = {0};

		if (it->mergeable && it->segments > 1)
			finish_merged(it, &h);
		else if (it->mergeable)
			h.flags = WG_VNET_F_DATA_VALID; /* checksums verified above */
		memcpy(it->buf, &h, WG_VNET_HDR_LEN);
		write_fn(ctx, it->buf, WG_VNET_HDR_LEN + it->len);
	}
	g->count = 0;
}
