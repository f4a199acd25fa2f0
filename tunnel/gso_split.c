/* Cutting a TSO/USO super-packet from the TUN into MTU-sized IP packets, as the kernel's
 * own GSO would on a real interface: every segment gets the headers of the original with
 * its own lengths, IPv4 id, TCP sequence number, flags and checksums. */
#include "checksum.h"
#include "offload.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_CWR 0x80

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IP header length and transport protocol, or -EINVAL. IPv6 extension headers are not
 * followed: the kernel never builds GSO packets with them for a TUN. */
static int parse_ip(const uint8_t *pkt, size_t len, int *family, size_t *ip_hlen, uint8_t *proto)
{
	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == 4) {
		if (len < 20 || (pkt[0] & 0x0f) < 5)
			return -EINVAL;
		*family = AF_INET;
		*ip_hlen = (size_t)(pkt[0] & 0x0f) * 4;
		*proto = pkt[9];
	} else if (pkt[0] >> 4 == 6) {
		if (len < 40)
			return -EINVAL;
		*family = AF_INET6;
		*ip_hlen = 40;
		*proto = pkt[6];
	} else {
		return -EINVAL;
	}
	return *ip_hlen <= len ? 0 : -EINVAL;
}

/* Complete a checksum the kernel left partial: the field holds the pseudo-header sum,
 * and everything from csum_start on is to be summed into it. */
static int complete_partial(uint8_t *pkt, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t c;

	if ((size_t)start + offset + 2 > len)
		return -EINVAL;
	c = (uint16_t)~wg_csum_fold(wg_csum_add(0, pkt + start, len - start));
	/* UDP: a computed zero is sent as all ones (zero means "no checksum"). */
	if (c == 0 && offset == 6)
		c = 0xffff;
	put16(pkt + start + offset, c);
	return 0;
}

/* Write the lengths, id and checksums of one segment whose headers and payload are in
 * place: seg is the segment, ip_hlen and l4_hlen its header sizes. */
static void finish_segment(uint8_t *seg, size_t seg_len, int family, size_t ip_hlen, uint8_t proto,
			   unsigned index)
{
	size_t l4_len = seg_len - ip_hlen;
	uint8_t *l4 = seg + ip_hlen;
	unsigned check_at = proto == IPPROTO_TCP ? 16 : 6;
	uint16_t c;

	if (family == AF_INET) {
		put16(seg + 2, (uint16_t)seg_len);
		put16(seg + 4, (uint16_t)(get16(seg + 4) + index));
		put16(seg + 10, 0);
		put16(seg + 10, wg_csum_ipv4_header(seg, ip_hlen));
	} else {
		put16(seg + 4, (uint16_t)l4_len);
	}
	if (proto == IPPROTO_UDP)
		put16(l4 + 4, (uint16_t)l4_len);
	put16(l4 + check_at, 0);
	c = (uint16_t)~wg_csum_fold(wg_csum_add(
	    wg_csum_pseudo(family, seg + (family == AF_INET ? 12 : 8),
			   seg + (family == AF_INET ? 16 : 24), proto, (uint32_t)l4_len),
	    l4, l4_len));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff;
	put16(l4 + check_at, c);
}

int wg_gso_split(const struct wg_vnet_hdr *h, const uint8_t *pkt, size_t len, unsigned mtu,
		 uint8_t *out, size_t out_cap, uint16_t *seg_len, unsigned max_segs)
{
	int family;
	size_t ip_hlen, l4_hlen, hdrs, payload, chunk, used = 0;
	uint8_t proto, gso = h->gso_type & (uint8_t)~WG_VNET_GSO_ECN;
	unsigned n = 0;
	uint32_t seq = 0;

	if (gso == WG_VNET_GSO_NONE) {
		if (len > out_cap)
			return -ENOSPC;
		if (max_segs < 1)
			return -ENOSPC;
		memcpy(out, pkt, len);
		if ((h->flags & WG_VNET_F_NEEDS_CSUM) &&
		    complete_partial(out, len, h->csum_start, h->csum_offset) < 0)
			return -EINVAL;
		seg_len[0] = (uint16_t)len;
		return 1;
	}
	if (parse_ip(pkt, len, &family, &ip_hlen, &proto) < 0)
		return -EINVAL;
	if ((gso == WG_VNET_GSO_TCPV4 && (family != AF_INET || proto != IPPROTO_TCP)) ||
	    (gso == WG_VNET_GSO_TCPV6 && (family != AF_INET6 || proto != IPPROTO_TCP)) ||
	    (gso == WG_VNET_GSO_UDP_L4 && proto != IPPROTO_UDP) ||
	    (gso != WG_VNET_GSO_TCPV4 && gso != WG_VNET_GSO_TCPV6 && gso != WG_VNET_GSO_UDP_L4))
		return -EINVAL;
	if (proto == IPPROTO_TCP) {
		if (len < ip_hlen + 20)
			return -EINVAL;
		l4_hlen = (size_t)(pkt[ip_hlen + 12] >> 4) * 4;
		if (l4_hlen < 20)
			return -EINVAL;
		seq = (uint32_t)get16(pkt + ip_hlen + 4) << 16 | get16(pkt + ip_hlen + 6);
	} else {
		l4_hlen = 8;
	}
	hdrs = ip_hlen + l4_hlen;
	if (hdrs > len || h->gso_size == 0)
		return -EINVAL;
	payload = len - hdrs;
	/* The segment size the kernel asked for, never more than our MTU allows. */
	chunk = h->gso_size;
	if (mtu <= hdrs)
		return -EINVAL;
	if (chunk > mtu - hdrs)
		chunk = mtu - hdrs;

	for (size_t off = 0; off < payload || (payload == 0 && n == 0); off += chunk) {
		size_t this = payload - off < chunk ? payload - off : chunk;
		uint8_t *seg = out + used;
		bool last = off + this >= payload;

		if (n >= max_segs || used + hdrs + this > out_cap)
			return -ENOSPC;
		memcpy(seg, pkt, hdrs);
		memcpy(seg + hdrs, pkt + hdrs + off, this);
		if (proto == IPPROTO_TCP) {
			uint8_t *tcp = seg + ip_hlen;
			uint32_t s = seq + (uint32_t)off;
			put16(tcp + 4, (uint16_t)(s >> 16));
			put16(tcp + 6, (uint16_t)s);
			if (!last)
				tcp[13] &= (uint8_t) ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
			if (n > 0)
				tcp[13] &= (uint8_t)~TCP_FLAG_CWR;
		}
		finish_segment(seg, hdrs + this, family, ip_hlen, proto, n);
		seg_len[n++] = (uint16_t)(hdrs + this);
		used += hdrs + this;
		if (payload == 0)
			break;
	}
	return (int)n;
}
