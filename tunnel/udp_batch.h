/* Batched UDP: many datagrams per system call. Outgoing datagrams are collected during
 * one turn of the event loop and leave together: runs of equal-sized datagrams to one
 * endpoint as a single UDP GSO send (UDP_SEGMENT), the rest through sendmmsg. Incoming
 * ones are read with recvmmsg and, where the kernel has UDP GRO, several datagrams of one
 * flow arrive in one buffer. Each feature is probed at runtime; without it the batch
 * falls back to what the kernel has, down to one datagram per call. */
#ifndef VPND_TUNNEL_UDP_BATCH_H
#define VPND_TUNNEL_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "udp.h"

/* The kernel's cap on segments in one UDP GSO send (UDP_MAX_SEGMENTS). */
#define WG_UDP_GSO_MAX_SEGMENTS 64
/* A datagram in a batch: a whole message after encryption (MTU-sized inner packet). */
#define WG_UDP_BATCH_SLOT 2048

struct wg_udp_tx_entry {
	struct wg_endpoint *to;	 /* the peer's endpoint: a refused source is cleared on it */
	struct wg_endpoint dest; /* its value when queued */
	uint32_t off;
	uint16_t len;
};

struct wg_udp_tx_batch {
	struct wg_udp_tx_entry *entries;
	uint8_t *data; /* datagrams back to back, so a GSO run is one contiguous range */
	unsigned count, cap;
	size_t used, data_cap;
	bool gso;	 /* try UDP_SEGMENT; cleared when the kernel refuses it */
	uint64_t sends;	 /* system calls made, for the statistics */
	uint64_t errors; /* datagrams the kernel refused */
};

/* cap datagrams; gso: whether to try UDP GSO. 0 or -ENOMEM. */
int wg_udp_tx_init(struct wg_udp_tx_batch *b, unsigned cap, bool gso);
void wg_udp_tx_free(struct wg_udp_tx_batch *b);
/* Queue a copy of one datagram to *to (which must stay valid until the flush). Returns
 * 0, or -ENOSPC when the batch is full (flush and retry) or the datagram too large. */
int wg_udp_tx_add(struct wg_udp_tx_batch *b, struct wg_endpoint *to, const uint8_t *buf,
		  size_t len);
/* Queue a datagram of len bytes to *to and return where its bytes go, to be written
 * before the flush (e.g. encrypted in place by another thread); NULL when the batch is
 * full or the datagram too large. The data buffer never moves: the pointer stays valid
 * until the flush. */
uint8_t *wg_udp_tx_reserve(struct wg_udp_tx_batch *b, struct wg_endpoint *to, size_t len);
/* Send everything queued and empty the batch. */
void wg_udp_tx_flush(struct wg_udp *u, struct wg_udp_tx_batch *b);

/* Receiving: up to cap buffers of WG_GSO_RX_BUFFER bytes. */
#define WG_UDP_RX_BUFFER 65536
struct wg_udp_rx_batch {
	uint8_t *data;
	struct wg_endpoint *from;
	uint32_t *len;
	uint16_t *segment; /* UDP GRO segment size, 0 = one datagram */
	bool *truncated;
	unsigned cap;
	void *mmsg; /* struct mmsghdr[cap], iovecs, names, control: private */
};

int wg_udp_rx_init(struct wg_udp_rx_batch *b, unsigned cap);
void wg_udp_rx_free(struct wg_udp_rx_batch *b);
/* Read up to cap buffers from fd. The number read (0 when none is waiting) or -errno.
 * A buffer holds len bytes: one datagram, or, with segment > 0, datagrams of segment
 * bytes each (the last may be shorter) from one sender. */
int wg_udp_rx_read(int fd, struct wg_udp_rx_batch *b);
/* Ask the kernel for UDP GRO on fd: true when granted. */
bool wg_udp_enable_gro(int fd);

#endif
