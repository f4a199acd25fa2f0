/* The batched packet path (see datapath.h). */
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "runtime.h"
#include "tunnel/tun.h"

/* Datagrams read per recvmmsg; the UDP GRO buffers are 64 KiB each, so this is 2 MiB. */
#define RX_BATCH 32
/* Datagrams collected before a flush is forced: a 64 KiB super-packet is ~48. */
#define TX_BATCH 256
/* Packets collected for merging before they are written. */
#define GRO_BATCH 64
#define SEG_BUF_SIZE (WG_GSO_MAX_SEGMENTS * 2048)

int vpnd_datapath_init(struct vpnd_datapath *dp, int tun_fd, struct wg_udp *udp,
		       unsigned mtu, bool vnet, bool udp_gso)
{
	memset(dp, 0, sizeof(*dp));
	dp->tun_fd = tun_fd;
	dp->udp = udp;
	dp->mtu = mtu;
	dp->vnet = vnet;
	dp->tun_buf = malloc(WG_VNET_HDR_LEN + WG_GSO_MAX_SIZE);
	dp->seg_buf = malloc(SEG_BUF_SIZE);
	if (!dp->tun_buf || !dp->seg_buf || wg_udp_tx_init(&dp->tx, TX_BATCH, udp_gso) < 0 ||
	    wg_udp_rx_init(&dp->rx, RX_BATCH) < 0 || (vnet && wg_gro_init(&dp->gro, GRO_BATCH) < 0)) {
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

int vpnd_datapath_send(struct vpnd_datapath *dp, struct wg_endpoint *to, const uint8_t *buf,
		       size_t len)
{
	if (!dp->in_batch || len > WG_UDP_BATCH_SLOT)
		return wg_udp_send(dp->udp, to, buf, len);
	if (wg_udp_tx_add(&dp->tx, to, buf, len) == -ENOSPC) {
		wg_udp_tx_flush(dp->udp, &dp->tx);
		return wg_udp_tx_add(&dp->tx, to, buf, len);
	}
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
	wg_udp_tx_flush(dp->udp, &dp->tx);
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

void vpnd_datapath_udp_readable(struct vpnd_datapath *dp, struct wg_engine *e, int fd,
				int budget)
{
	dp->in_batch = true;
	for (int i = 0; i < budget; i++) {
		int n = wg_udp_rx_read(fd, &dp->rx);
		struct wg_time now;

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
				wg_engine_receive(e, &dp->rx.from[m], p, l, now);
				p += l;
				left -= l;
			}
		}
		/* Write what this read produced before reading more, so the TUN sees
		 * packets with the delay of one batch at most. */
		if (dp->vnet)
			wg_gro_flush(&dp->gro, gro_write, dp);
		wg_udp_tx_flush(dp->udp, &dp->tx);
		if (n < (int)dp->rx.cap)
			break;
	}
	end_batch(dp);
}
