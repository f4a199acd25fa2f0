/* The batched packet path (see datapath.h). */
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "runtime.h"
#include "sandbox.h"
#include "tunnel/messages.h"
#include "tunnel/tun.h"
#include "tunnel/worker_pool.h"

/* Datagrams read per recvmmsg; the UDP GRO buffers are 64 KiB each, so this is 2 MiB. */
#define RX_BATCH 32
/* Datagrams collected before a flush is forced: a 64 KiB super-packet is ~48. */
#define TX_BATCH 256
/* Packets collected for merging before they are written. */
#define GRO_BATCH    64
#define SEG_BUF_SIZE (WG_GSO_MAX_SEGMENTS * 2048)
/* Datagrams one receive batch may hold: the kernel puts at most UDP_GRO_CNT_MAX (64) in
 * one GRO buffer. A batch with more is handled in parts. */
#define RX_ITEMS (RX_BATCH * 64)
/* Fewer bytes of cryptography than this in a batch are done on this thread alone: at
 * ~1 GB/s per core they take less time than waking the workers (a futex wake and a
 * scheduler round trip each). A batch of ACKs, keepalives or a few packets stays here. */
#define PARALLEL_MIN_BYTES (16 * 1024)

/* Handshake messages that may wait (handshake_queue.h): about 0.15 s of responder work
 * at 140 µs each, 200 KiB. The last eighth is kept for peers' known endpoints; from a
 * queue an eighth full on, the engine asks for cookies, as the Linux module does. */
#define HS_QUEUE_CAP	    1024
#define HS_QUEUE_RESERVE    (HS_QUEUE_CAP / 8)
#define HS_QUEUE_UNDER_LOAD (HS_QUEUE_CAP / 8)

_Static_assert(VPND_MAX_THREADS <= WG_POOL_MAX_THREADS, "config allows what the pool runs");

int vpnd_datapath_init(struct vpnd_datapath *dp, int tun_fd, struct wg_udp *udp, unsigned mtu,
		       bool vnet, bool udp_gso)
{
	memset(dp, 0, sizeof(*dp));
	dp->tun_fd = tun_fd;
	dp->udp = udp;
	dp->mtu = mtu;
	dp->vnet = vnet;
	dp->tun_buf = malloc(WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE);
	dp->seg_buf = malloc(SEG_BUF_SIZE);
	/* One sealing job per datagram the send batch can hold; allocated once, here. */
	dp->tx_jobs = calloc(TX_BATCH, sizeof(*dp->tx_jobs));
	dp->rx_items = calloc(RX_ITEMS, sizeof(*dp->rx_items));
	dp->rx_jobs = calloc(RX_ITEMS, sizeof(*dp->rx_jobs));
	dp->rx_cap = RX_ITEMS;
	if (wg_handshake_queue_init(&dp->handshakes, HS_QUEUE_CAP, HS_QUEUE_RESERVE) < 0) {
		vpnd_datapath_free(dp);
		return -ENOMEM;
	}
	dp->stats.handshake_queue_cap = HS_QUEUE_CAP;
	if (!dp->tun_buf || !dp->seg_buf || !dp->tx_jobs || !dp->rx_items || !dp->rx_jobs ||
	    wg_udp_tx_init(&dp->tx, TX_BATCH, udp_gso) < 0 ||
	    wg_udp_rx_init(&dp->rx, RX_BATCH) < 0 ||
	    (vnet && wg_gro_init(&dp->gro, GRO_BATCH) < 0)) {
		vpnd_datapath_free(dp);
		return -ENOMEM;
	}
	return 0;
}

void vpnd_datapath_free(struct vpnd_datapath *dp)
{
	/* These buffers held plaintext. */
	if (dp->tun_buf)
		sodium_memzero(dp->tun_buf, WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE);
	if (dp->seg_buf)
		sodium_memzero(dp->seg_buf, SEG_BUF_SIZE);
	free(dp->tun_buf);
	free(dp->seg_buf);
	/* The workers first: nothing may run a job while its buffers go. */
	wg_pool_free(dp->pool);
	dp->pool = NULL;
	/* Jobs not yet run hold key copies; the send batch may hold unsealed plaintext. */
	if (dp->tx_jobs)
		sodium_memzero(dp->tx_jobs, TX_BATCH * sizeof(*dp->tx_jobs));
	if (dp->rx_jobs)
		sodium_memzero(dp->rx_jobs, (size_t)dp->rx_cap * sizeof(*dp->rx_jobs));
	if (dp->tx.data)
		sodium_memzero(dp->tx.data, dp->tx.data_cap);
	free(dp->tx_jobs);
	free(dp->rx_items);
	free(dp->rx_jobs);
	dp->tx_jobs = dp->rx_jobs = NULL;
	dp->rx_items = NULL;
	wg_handshake_queue_free(&dp->handshakes);
	wg_udp_tx_free(&dp->tx);
	wg_udp_rx_free(&dp->rx);
	if (dp->gro.arena)
		wg_gro_free(&dp->gro);
	dp->tun_buf = dp->seg_buf = NULL;
}

static void tun_write(struct vpnd_datapath *dp, const uint8_t *buf, size_t len)
{
	dp->stats.tun_writes++;
	if (wg_tun_write(dp->tun_fd, buf, len) < 0)
		dp->stats.tun_write_errors++;
}

static void gro_write(void *ctx, const uint8_t *buf, size_t len)
{
	tun_write(ctx, buf, len);
}

int vpnd_datapath_start_workers(struct vpnd_datapath *dp, unsigned threads)
{
	if (threads <= 1)
		return 0;
	dp->pool = wg_pool_new(threads, vpnd_sandbox_crypto_worker);
	return dp->pool ? 0 : -errno;
}

unsigned vpnd_datapath_threads(const struct vpnd_datapath *dp)
{
	return dp->pool ? wg_pool_threads(dp->pool) : 1;
}

/* Run n jobs: on the pool when there is enough work to be worth waking it. */
static void run_jobs(struct vpnd_datapath *dp, struct wg_crypto_job *jobs, unsigned n, size_t bytes)
{
	if (dp->pool && bytes >= PARALLEL_MIN_BYTES) {
		wg_pool_run(dp->pool, n, wg_crypto_job_run_at, jobs);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		wg_crypto_job_run(&jobs[i]);
}

/* The send batch leaves: first every message in it is sealed. */
static void flush_tx(struct vpnd_datapath *dp)
{
	run_jobs(dp, dp->tx_jobs, dp->n_tx_jobs, dp->tx_job_bytes);
	dp->n_tx_jobs = 0;
	dp->tx_job_bytes = 0;
	wg_udp_tx_flush(dp->udp, &dp->tx);
}

int vpnd_datapath_send(struct vpnd_datapath *dp, struct wg_endpoint *to, const uint8_t *buf,
		       size_t len)
{
	if (!dp->in_batch || len > WG_UDP_BATCH_SLOT)
		return wg_udp_send(dp->udp, to, buf, len);
	if (wg_udp_tx_add(&dp->tx, to, buf, len) == -ENOSPC) {
		flush_tx(dp);
		return wg_udp_tx_add(&dp->tx, to, buf, len);
	}
	return 0;
}

int vpnd_datapath_send_unsealed(struct vpnd_datapath *dp, struct wg_endpoint *to, uint8_t *msg,
				size_t len, const uint8_t key[32], uint64_t counter)
{
	const size_t hdr = sizeof(struct wg_msg_data), sealed = len + WG_AUTHTAG_LEN;
	struct wg_crypto_job *j, now = {.counter = counter, .encrypt = true};
	uint8_t *slot;

	if (len < hdr)
		return -EINVAL;
	if (!dp->in_batch || sealed > WG_UDP_BATCH_SLOT) {
		/* What the batch holds was made earlier and leaves first. */
		if (dp->in_batch)
			flush_tx(dp);
		memcpy(now.key, key, sizeof(now.key));
		now.data = msg + hdr;
		now.len = len - hdr;
		wg_crypto_job_run(&now); /* wipes its key copy */
		return wg_udp_send(dp->udp, to, msg, sealed);
	}
	slot = wg_udp_tx_reserve(&dp->tx, to, sealed);
	if (!slot) {
		flush_tx(dp);
		slot = wg_udp_tx_reserve(&dp->tx, to, sealed);
		if (!slot)
			return -ENOSPC;
	}
	memcpy(slot, msg, len);
	/* As many jobs as the batch has entries, so this never overflows. */
	j = &dp->tx_jobs[dp->n_tx_jobs++];
	*j = (struct wg_crypto_job){
	    .counter = counter, .data = slot + hdr, .len = len - hdr, .encrypt = true};
	memcpy(j->key, key, sizeof(j->key));
	dp->tx_job_bytes += len;
	return 0;
}

void vpnd_datapath_deliver(struct vpnd_datapath *dp, const uint8_t *pkt, size_t len)
{
	if (dp->vnet && dp->in_batch) {
		if (wg_gro_add(&dp->gro, pkt, len) == -ENOSPC) {
			wg_gro_flush(&dp->gro, gro_write, dp);
			(void)wg_gro_add(&dp->gro, pkt, len);
		}
		return;
	}
	if (dp->vnet) {
		/* A plain packet still needs its (empty) virtio header. */
		static const uint8_t none[WG_VNET_HDR_LEN];
		struct iovec iov[2] = {{(void *)none, sizeof(none)}, {(void *)pkt, len}};
		ssize_t n;

		dp->stats.tun_writes++;
		do
			n = writev(dp->tun_fd, iov, 2);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)(sizeof(none) + len))
			dp->stats.tun_write_errors++;
		return;
	}
	tun_write(dp, pkt, len);
}

/* Everything a batch collected goes out: merged packets to the TUN, datagrams to UDP. */
static void end_batch(struct vpnd_datapath *dp)
{
	if (dp->vnet)
		wg_gro_flush(&dp->gro, gro_write, dp);
	flush_tx(dp);
	dp->in_batch = false;
}

void vpnd_datapath_tun_readable(struct vpnd_datapath *dp, struct wg_engine *e, int budget)
{
	struct wg_time now = vpnd_now();
	size_t hdr = dp->vnet ? WG_VNET_HDR_LEN : 0;

	dp->in_batch = true;
	for (int i = 0; i < budget; i++) {
		ssize_t n = wg_tun_read(dp->tun_fd, dp->tun_buf, WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE);
		struct wg_vnet_hdr vh;
		int segs;

		if (n <= 0 || (size_t)n <= hdr)
			break;
		dp->stats.tun_reads++;
		if (!dp->vnet) {
			wg_engine_send(e, dp->tun_buf, (size_t)n, now);
			continue;
		}
		memcpy(&vh, dp->tun_buf, WG_VNET_HDR_LEN);
		if (vh.gso_type == WG_VNET_GSO_NONE && !(vh.flags & WG_VNET_F_NEEDS_CSUM)) {
			wg_engine_send(e, dp->tun_buf + hdr, (size_t)n - hdr, now);
			continue;
		}
		segs = wg_gso_split(&vh, dp->tun_buf + hdr, (size_t)n - hdr, dp->mtu, dp->seg_buf,
				    SEG_BUF_SIZE, dp->seg_len, WG_GSO_MAX_SEGMENTS);
		if (segs < 0) {
			dp->stats.bad_offload++;
			continue;
		}
		if (segs > 1)
			dp->stats.super_packets++;
		for (int s = 0, off = 0; s < segs; off += dp->seg_len[s], s++)
			wg_engine_send(e, dp->seg_buf + off, dp->seg_len[s], now);
	}
	end_batch(dp);
}

/* A handshake message of a receive batch waits in the queue, so that the batch's
 * transport data is not held up behind Diffie-Hellman work. A full queue drops it
 * (counted); a queue filling up puts the engine under load, so that what follows gets
 * a cookie reply (cheap) rather than an answer (four X25519). */
static void set_aside_handshake(struct vpnd_datapath *dp, struct wg_engine *e,
				const struct wg_endpoint *from, const uint8_t *buf, size_t len,
				struct wg_time now)
{
	struct wg_handshake_queue *q = &dp->handshakes;

	if (!wg_handshake_queue_push(q, from, buf, len, now.mono_ns,
				     wg_engine_source_is_peer(e, from))) {
		wg_engine_note_drop(e, WG_DROP_HANDSHAKE_BACKLOG);
		return;
	}
	dp->stats.handshakes_queued++;
	dp->stats.handshake_queue_len = wg_handshake_queue_len(q);
	dp->stats.handshake_queue_high_water = q->high_water;
	if (wg_handshake_queue_len(q) >= HS_QUEUE_UNDER_LOAD)
		wg_engine_set_under_load(e, now.mono_ns + WG_NSEC_PER_SEC);
}

/* One receive batch in three steps: the engine picks out the transport data it can
 * open (reading only), the pool opens them all, then the engine handles every datagram
 * in its order of arrival, handshakes included. */
static void receive_items(struct vpnd_datapath *dp, struct wg_engine *e, unsigned n,
			  struct wg_time now)
{
	unsigned n_jobs = 0;
	size_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		struct vpnd_rx_item *it = &dp->rx_items[i];

		it->job = -1;
		if (wg_engine_prepare_decrypt(e, it->buf, it->len, &dp->rx_jobs[n_jobs],
					      now.mono_ns)) {
			it->job = (int32_t)n_jobs++;
			bytes += it->len;
		}
	}
	run_jobs(dp, dp->rx_jobs, n_jobs, bytes);
	for (unsigned i = 0; i < n; i++) {
		struct vpnd_rx_item *it = &dp->rx_items[i];

		if (it->job >= 0)
			wg_engine_receive_decrypted(e, &dp->rx.from[it->from], it->buf, it->len,
						    &dp->rx_jobs[it->job], now);
		else if (wg_engine_is_handshake(it->buf, it->len))
			set_aside_handshake(dp, e, &dp->rx.from[it->from], it->buf, it->len, now);
		else
			wg_engine_receive(e, &dp->rx.from[it->from], it->buf, it->len, now);
	}
}

bool vpnd_datapath_handshakes(struct vpnd_datapath *dp, struct wg_engine *e, uint64_t budget_ns)
{
	struct wg_handshake_queue_item *it;
	struct wg_time now;
	uint64_t start;

	if (!wg_handshake_queue_len(&dp->handshakes))
		return false;
	now = vpnd_now();
	start = now.mono_ns;
	dp->in_batch = true; /* the responses leave together */
	while ((it = wg_handshake_queue_peek(&dp->handshakes))) {
		if (now.mono_ns - it->arrived_ns > dp->stats.handshake_wait_max_ns)
			dp->stats.handshake_wait_max_ns = now.mono_ns - it->arrived_ns;
		wg_engine_receive(e, &it->from, it->msg, it->len, now);
		wg_handshake_queue_pop(&dp->handshakes);
		now = vpnd_now();
		if (now.mono_ns - start >= budget_ns)
			break;
	}
	dp->stats.handshake_queue_len = wg_handshake_queue_len(&dp->handshakes);
	end_batch(dp);
	return dp->stats.handshake_queue_len > 0;
}

void vpnd_datapath_udp_readable(struct vpnd_datapath *dp, struct wg_engine *e, int fd, int budget)
{
	dp->in_batch = true;
	for (int i = 0; i < budget; i++) {
		int n = wg_udp_rx_read(fd, &dp->rx);
		struct wg_time now;
		unsigned items = 0;

		if (n <= 0)
			break;
		dp->stats.udp_reads++;
		now = vpnd_now();
		for (int m = 0; m < n; m++) {
			uint8_t *p = dp->rx.data + (size_t)m * WG_UDP_RX_BUFFER;
			size_t left = dp->rx.len[m];
			size_t seg = dp->rx.segment[m] ? dp->rx.segment[m] : left;

			if (dp->rx.truncated[m]) {
				/* Larger than any WireGuard message: someone else's junk. */
				wg_engine_note_drop(e, WG_DROP_MALFORMED);
				continue;
			}
			if (dp->rx.segment[m] && left > seg)
				dp->stats.gro_buffers++;
			while (left > 0) {
				size_t l = left < seg ? left : seg;

				if (items == dp->rx_cap) {
					receive_items(dp, e, items, now);
					items = 0;
				}
				dp->rx_items[items++] = (struct vpnd_rx_item){
				    .buf = p, .len = (uint32_t)l, .from = (uint16_t)m};
				p += l;
				left -= l;
			}
		}
		receive_items(dp, e, items, now);
		/* Write what this read produced before reading more, so the TUN sees
		 * packets with the delay of one batch at most. */
		if (dp->vnet)
			wg_gro_flush(&dp->gro, gro_write, dp);
		flush_tx(dp);
		if (n < (int)dp->rx.cap)
			break;
	}
	end_batch(dp);
}
