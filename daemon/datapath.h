/* The packet path between the TUN, the engine and the UDP sockets, batched: one read of
 * the TUN may bring a 64 KiB TCP super-packet (TSO), cut here into MTU-sized packets;
 * the datagrams the engine makes while handling a batch leave together (sendmmsg, UDP
 * GSO); datagrams are read many at a time (recvmmsg, UDP GRO) and the packets they
 * carry are merged per TCP flow before they are written to the TUN. With offloads off
 * (config `offload = false`, or a kernel without them) it is one system call per
 * packet, as before.
 *
 * The transport cryptography of a batch runs on a pool of threads (config `threads`):
 * the engine decides everything on this thread (keys, counters, order) and leaves only
 * the in-place ChaCha20-Poly1305 of each message to the pool. Outgoing messages are
 * sealed in the send batch just before it is flushed; incoming ones are opened for the
 * whole recvmmsg batch at once, then handed to the engine in their order of arrival. A
 * peer's packets therefore leave, and are delivered, in the order the engine made or
 * received them. */
#ifndef VPND_DAEMON_DATAPATH_H
#define VPND_DAEMON_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/crypto_job.h"
#include "tunnel/engine.h"
#include "tunnel/handshake_queue.h"
#include "tunnel/offload.h"
#include "tunnel/udp.h"
#include "tunnel/udp_batch.h"

struct vpnd_datapath_stats {
	uint64_t tun_reads, tun_writes, tun_write_errors;
	uint64_t super_packets; /* TUN reads that were cut into several packets */
	uint64_t bad_offload;	/* TUN reads with a virtio header we could not honour */
	uint64_t udp_reads;	/* recvmmsg calls that returned data */
	uint64_t gro_buffers;	/* UDP buffers that held several datagrams */
	/* The handshake queue: messages set aside, how many wait now and at most, its size,
	 * and the longest any message waited before it was handled. */
	uint64_t handshakes_queued;
	unsigned handshake_queue_len, handshake_queue_high_water, handshake_queue_cap;
	uint64_t handshake_wait_max_ns;
};

/* One datagram of a receive batch: where it is and how the engine takes it. */
struct vpnd_rx_item {
	uint8_t *buf;
	uint32_t len;
	uint16_t from; /* index into rx.from */
	int32_t job;   /* index into rx_jobs, -1: wg_engine_receive handles it whole */
};

struct vpnd_datapath {
	bool vnet;	      /* the TUN carries virtio headers */
	unsigned tun_offload; /* TUN_F_* the kernel granted */
	bool in_batch;	      /* inside a read loop: sends and deliveries are collected */
	unsigned mtu;	      /* of the TUN: segments are cut to it */
	int tun_fd;
	struct wg_udp *udp;
	struct wg_udp_tx_batch tx;
	struct wg_udp_rx_batch rx;
	struct wg_gro gro;
	uint8_t *tun_buf; /* one TUN read: virtio header + up to 64 KiB */
	uint8_t *seg_buf; /* the packets one super-packet is cut into */
	uint16_t seg_len[WG_GSO_MAX_SEGMENTS];
	struct wg_pool *pool; /* NULL until vpnd_datapath_start_workers: all inline */
	/* Sealing what the send batch holds: tx_jobs[i] points into tx.data. */
	struct wg_crypto_job *tx_jobs;
	unsigned n_tx_jobs;
	size_t tx_job_bytes;
	/* Opening one receive batch. */
	struct vpnd_rx_item *rx_items;
	struct wg_crypto_job *rx_jobs;
	unsigned rx_cap; /* of both */
	/* Handshake messages set aside by the receive batches (tunnel/handshake_queue.h). */
	struct wg_handshake_queue handshakes;
	struct vpnd_datapath_stats stats;
};

/* vnet: the TUN was opened with virtio headers (offloads wanted); udp_gso: try UDP GSO.
 * 0 or -ENOMEM. */
int vpnd_datapath_init(struct vpnd_datapath *dp, int tun_fd, struct wg_udp *udp, unsigned mtu,
		       bool vnet, bool udp_gso);
void vpnd_datapath_free(struct vpnd_datapath *dp);
/* threads (>= 1, the event loop's own included) share the transport cryptography; each
 * extra one is a worker confined by vpnd_sandbox_crypto_worker(). 0 or -errno (a worker
 * could not start or load its filter). */
int vpnd_datapath_start_workers(struct vpnd_datapath *dp, unsigned threads);
/* How many threads do the cryptography: 1 before start_workers. */
unsigned vpnd_datapath_threads(const struct vpnd_datapath *dp);

/* Drain the TUN (at most `budget` reads) into the engine. */
void vpnd_datapath_tun_readable(struct vpnd_datapath *dp, struct wg_engine *e, int budget);
/* Drain one UDP socket (at most `budget` batch reads) into the engine. */
void vpnd_datapath_udp_readable(struct vpnd_datapath *dp, struct wg_engine *e, int fd, int budget);

/* Handle queued handshake messages, oldest first, until the queue is empty or about
 * budget_ns of monotonic time has gone by (at least one is handled). Returns whether
 * some are still waiting: the event loop then comes back without sleeping, after
 * whatever transport data arrived meanwhile. */
bool vpnd_datapath_handshakes(struct vpnd_datapath *dp, struct wg_engine *e, uint64_t budget_ns);

/* The engine's io callbacks go through these: within a read loop the datagram or packet
 * joins the batch, otherwise it leaves at once. */
int vpnd_datapath_send(struct vpnd_datapath *dp, struct wg_endpoint *to, const uint8_t *buf,
		       size_t len);
void vpnd_datapath_deliver(struct vpnd_datapath *dp, const uint8_t *pkt, size_t len);
/* The engine's send_unsealed: msg (len bytes: data header and plaintext, room for the
 * tag behind) is sealed under key/counter and sent. Within a read loop it joins the
 * batch unsealed and is sealed with the others at the flush; otherwise at once. */
int vpnd_datapath_send_unsealed(struct vpnd_datapath *dp, struct wg_endpoint *to, uint8_t *msg,
				size_t len, const uint8_t key[32], uint64_t counter);

#endif
