/* The packet path between the TUN, the engine and the UDP sockets, batched: one read of
 * the TUN may bring a 64 KiB TCP super-packet (TSO), cut here into MTU-sized packets;
 * the datagrams the engine makes while handling a batch leave together (sendmmsg, UDP
 * GSO); datagrams are read many at a time (recvmmsg, UDP GRO) and the packets they
 * carry are merged per TCP flow before they are written to the TUN. With offloads off
 * (config `offload = false`, or a kernel without them) it is one system call per
 * packet, as before. */
#ifndef VPND_DAEMON_DATAPATH_H
#define VPND_DAEMON_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/engine.h"
#include "tunnel/offload.h"
#include "tunnel/udp.h"
#include "tunnel/udp_batch.h"

struct vpnd_datapath_stats {
	uint64_t tun_reads, tun_writes, tun_write_errors;
	uint64_t super_packets; /* TUN reads that were cut into several packets */
	uint64_t bad_offload;	/* TUN reads with a virtio header we could not honour */
	uint64_t udp_reads;	/* recvmmsg calls that returned data */
	uint64_t gro_buffers;	/* UDP buffers that held several datagrams */
};

struct vpnd_datapath {
	bool vnet;	       /* the TUN carries virtio headers */
	unsigned tun_offload;  /* TUN_F_* the kernel granted */
	bool in_batch;	       /* inside a read loop: sends and deliveries are collected */
	unsigned mtu;	       /* of the TUN: segments are cut to it */
	int tun_fd;
	struct wg_udp *udp;
	struct wg_udp_tx_batch tx;
	struct wg_udp_rx_batch rx;
	struct wg_gro gro;
	uint8_t *tun_buf;  /* one TUN read: virtio header + up to 64 KiB */
	uint8_t *seg_buf;  /* the packets one super-packet is cut into */
	uint16_t seg_len[WG_GSO_MAX_SEGMENTS];
	struct vpnd_datapath_stats stats;
};

/* vnet: the TUN was opened with virtio headers (offloads wanted); udp_gso: try UDP GSO.
 * 0 or -ENOMEM. */
int vpnd_datapath_init(struct vpnd_datapath *dp, int tun_fd, struct wg_udp *udp,
		       unsigned mtu, bool vnet, bool udp_gso);
void vpnd_datapath_free(struct vpnd_datapath *dp);

/* Drain the TUN (at most `budget` reads) into the engine. */
void vpnd_datapath_tun_readable(struct vpnd_datapath *dp, struct wg_engine *e, int budget);
/* Drain one UDP socket (at most `budget` batch reads) into the engine. */
void vpnd_datapath_udp_readable(struct vpnd_datapath *dp, struct wg_engine *e, int fd,
				int budget);

/* The engine's io callbacks go through these: within a read loop the datagram or packet
 * joins the batch, otherwise it leaves at once. */
int vpnd_datapath_send(struct vpnd_datapath *dp, struct wg_endpoint *to, const uint8_t *buf,
		       size_t len);
void vpnd_datapath_deliver(struct vpnd_datapath *dp, const uint8_t *pkt, size_t len);

#endif
