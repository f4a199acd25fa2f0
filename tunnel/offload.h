/* TUN offloads. With IFF_VNET_HDR every TUN read and write carries a virtio_net_hdr, and
 * with TSO enabled the kernel hands us TCP "super-packets" of up to 64 KiB that we must
 * cut into MTU-sized packets before encryption (GSO split), while on the way in we may
 * merge consecutive segments of a TCP flow into one such super-packet so the kernel
 * takes them in one write (GRO coalesce). One read and one write per 64 KiB instead of
 * per 1.4 KiB is most of what a userspace tunnel can gain. */
#ifndef VPND_TUNNEL_OFFLOAD_H
#define VPND_TUNNEL_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* include/uapi/linux/virtio_net.h, in host byte order (TUN's legacy virtio header). */
struct wg_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};
#define WG_VNET_HDR_LEN	     10
#define WG_VNET_F_NEEDS_CSUM 1
#define WG_VNET_F_DATA_VALID 2
#define WG_VNET_GSO_NONE     0
#define WG_VNET_GSO_TCPV4    1
#define WG_VNET_GSO_UDP	     3
#define WG_VNET_GSO_TCPV6    4
#define WG_VNET_GSO_UDP_L4   5
#define WG_VNET_GSO_ECN	     0x80

/* A super-packet never exceeds the IP length field; segments never exceed this many. */
#define WG_GSO_MAX_SIZE	    65536
#define WG_GSO_MAX_SEGMENTS 128

/* Split one packet read from a TUN with a virtio header into plain IP packets of at most
 * `mtu` bytes, each with valid IPv4 header and TCP/UDP checksums. Segments are written
 * one after another into `out` (capacity out_cap); seg_len[i] gets each length. A packet
 * that is not GSO is copied through, its checksum completed if the kernel left it
 * partial. Returns the number of segments, or -EINVAL for a header or packet we cannot
 * honour (counted and dropped by the caller), -ENOSPC if out or seg_len is too small. */
int wg_gso_split(const struct wg_vnet_hdr *h, const uint8_t *pkt, size_t len, unsigned mtu,
		 uint8_t *out, size_t out_cap, uint16_t *seg_len, unsigned max_segs);

/* Merging decrypted packets bound for the TUN. Packets are added in arrival order;
 * those of one TCP flow that continue each other are merged into one super-packet,
 * anything else passes through unchanged. The caller then writes each output. */
struct wg_gro_item {
	uint8_t *buf; /* WG_VNET_HDR_LEN bytes of header space, then the packet */
	size_t len;   /* of the packet, without the header */
	/* the TCP flow (valid when is_tcp) and whether segments may join it */
	bool is_tcp, mergeable, closed;
	uint8_t family, ip_hlen, tcp_hlen;
	uint16_t gso_size;
	uint16_t segments;
	uint32_t next_seq;
	uint8_t key[40]; /* addresses, ports, ack */
	uint8_t key_len;
};

struct wg_gro {
	struct wg_gro_item *items;
	unsigned count, cap;
	uint8_t *arena; /* cap buffers of WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE */
};

/* cap: how many packets one batch may hold. 0 or -ENOMEM. */
int wg_gro_init(struct wg_gro *g, unsigned cap);
void wg_gro_free(struct wg_gro *g);
/* Add a decrypted IP packet; -ENOSPC when the batch is full (flush first). */
int wg_gro_add(struct wg_gro *g, const uint8_t *pkt, size_t len);
/* Fill each output's virtio header and hand it over, then empty the batch. write_fn
 * gets the header and packet as one buffer (WG_VNET_HDR_LEN + len bytes). */
void wg_gro_flush(struct wg_gro *g, void (*write_fn)(void *ctx, const uint8_t *buf, size_t len),
		  void *ctx);

#endif
