/* Batched UDP (see udp_batch.h). */
#include "udp_batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* One message per sendmmsg slot: a GSO run or a single datagram. */
struct tx_msg {
	struct wg_udp_destination d;
	struct iovec iov;
	unsigned first, n; /* entries */
};

int wg_udp_tx_init(struct wg_udp_tx_batch *b, unsigned cap, bool gso)
{
	memset(b, 0, sizeof(*b));
	b->entries = calloc(cap, sizeof(*b->entries));
	b->data_cap = (size_t)cap * WG_UDP_BATCH_SLOT;
	b->data = malloc(b->data_cap);
	if (!b->entries || !b->data) {
		wg_udp_tx_free(b);
		return -ENOMEM;
	}
	b->cap = cap;
	b->gso = gso;
	return 0;
}

void wg_udp_tx_free(struct wg_udp_tx_batch *b)
{
	free(b->entries);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

uint8_t *wg_udp_tx_reserve(struct wg_udp_tx_batch *b, struct wg_endpoint *to, size_t len)
{
	struct wg_udp_tx_entry *e;
	uint8_t *at;

	if (b->count == b->cap || len > WG_UDP_BATCH_SLOT || b->used + len > b->data_cap)
		return NULL;
	e = &b->entries[b->count++];
	e->to = to;
	e->dest = *to;
	e->off = (uint32_t)b->used;
	e->len = (uint16_t)len;
	at = b->data + b->used;
	b->used += len;
	return at;
}

int wg_udp_tx_add(struct wg_udp_tx_batch *b, struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	uint8_t *at = wg_udp_tx_reserve(b, to, len);

	if (!at)
		return -ENOSPC;
	memcpy(at, buf, len);
	return 0;
}

static bool same_destination(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (!wg_endpoint_eq(a, b) || a->has_src != b->has_src)
		return false;
	if (!a->has_src)
		return true;
	return a->addr.sa.sa_family == AF_INET ? a->src.src4.s_addr == b->src.src4.s_addr
					       : memcmp(&a->src.src6, &b->src.src6, 16) == 0;
}

/* Append UDP_SEGMENT to a destination's control data. */
static void add_segment_cmsg(struct wg_udp_destination *d, uint16_t size)
{
	struct cmsghdr *c = (struct cmsghdr *)(d->control + d->controllen);

	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(size));
	memcpy(CMSG_DATA(c), &size, sizeof(size));
	d->controllen += CMSG_SPACE(sizeof(size));
}

/* The slow path for one message's entries: each datagram alone, with wg_udp_send's
 * handling of a source address that is gone. */
static void send_singly(struct wg_udp *u, struct wg_udp_tx_batch *b, const struct tx_msg *m)
{
	for (unsigned i = m->first; i < m->first + m->n; i++) {
		struct wg_udp_tx_entry *e = &b->entries[i];
		struct wg_endpoint ep = e->dest;

		b->sends++;
		if (wg_udp_send(u, &ep, b->data + e->off, e->len) < 0)
			b->errors++;
		if (!ep.has_src && e->dest.has_src && same_destination(e->to, &e->dest)) {
			e->to->has_src = false;
			e->to->src_ifindex = 0;
		}
	}
}

void wg_udp_tx_flush(struct wg_udp *u, struct wg_udp_tx_batch *b)
{
	struct tx_msg msgs[64];
	struct mmsghdr mm[64];
	unsigned i = 0;

	while (i < b->count) {
		unsigned nm = 0;

		/* Group: consecutive datagrams to one destination, all as long as the first
		 * but the last, within the kernel's segment and size limits. */
		while (i < b->count && nm < 64) {
			struct tx_msg *m = &msgs[nm];
			struct wg_udp_tx_entry *first = &b->entries[i];
			size_t total = first->len;

			m->first = i;
			m->n = 1;
			if (wg_udp_destination(u, &first->dest, &m->d) < 0) {
				b->errors++;
				i++;
				continue;
			}
			while (b->gso && i + m->n < b->count && m->n < WG_UDP_GSO_MAX_SEGMENTS) {
				const struct wg_udp_tx_entry *next = &b->entries[i + m->n];
				const struct wg_udp_tx_entry *prev = &b->entries[i + m->n - 1];
				if (!same_destination(&next->dest, &first->dest) ||
				    next->len > first->len || prev->len != first->len ||
				    total + next->len > 65000)
					break;
				total += next->len;
				m->n++;
			}
			if (m->n > 1)
				add_segment_cmsg(&m->d, first->len);
			m->iov.iov_base = b->data + first->off;
			m->iov.iov_len = total;
			memset(&mm[nm], 0, sizeof(mm[nm]));
			mm[nm].msg_hdr.msg_name = &m->d.addr;
			mm[nm].msg_hdr.msg_namelen = m->d.addrlen;
			mm[nm].msg_hdr.msg_iov = &m->iov;
			mm[nm].msg_hdr.msg_iovlen = 1;
			mm[nm].msg_hdr.msg_control = m->d.controllen ? m->d.control : NULL;
			mm[nm].msg_hdr.msg_controllen = m->d.controllen;
			i += m->n;
			nm++;
		}

		/* sendmmsg wants one socket; send runs of messages sharing one. */
		for (unsigned s = 0; s < nm;) {
			unsigned e = s + 1;
			while (e < nm && msgs[e].d.fd == msgs[s].d.fd)
				e++;
			while (s < e) {
				int sent = sendmmsg(msgs[s].d.fd, &mm[s], e - s, 0);
				b->sends++;
				if (sent > 0) {
					s += (unsigned)sent;
					continue;
				}
				if (sent < 0 && errno == EINTR)
					continue;
				/* The message at s failed. EIO or EINVAL on a GSO send: the
				 * device cannot segment (no checksum offload): stop trying. */
				if (sent < 0 && msgs[s].n > 1 && (errno == EIO || errno == EINVAL))
					b->gso = false;
				send_singly(u, b, &msgs[s]);
				s++;
			}
		}
	}
	b->count = 0;
	b->used = 0;
}

/* ---- receiving ---- */

struct rx_slot {
	struct sockaddr_storage name;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
};

struct rx_private {
	struct mmsghdr *mm;
	struct rx_slot *slots;
};

int wg_udp_rx_init(struct wg_udp_rx_batch *b, unsigned cap)
{
	struct rx_private *p;

	memset(b, 0, sizeof(*b));
	p = calloc(1, sizeof(*p));
	b->mmsg = p;
	b->data = malloc((size_t)cap * WG_UDP_RX_BUFFER);
	b->from = calloc(cap, sizeof(*b->from));
	b->len = calloc(cap, sizeof(*b->len));
	b->segment = calloc(cap, sizeof(*b->segment));
	b->truncated = calloc(cap, sizeof(*b->truncated));
	if (p) {
		p->mm = calloc(cap, sizeof(*p->mm));
		p->slots = calloc(cap, sizeof(*p->slots));
	}
	if (!p || !p->mm || !p->slots || !b->data || !b->from || !b->len || !b->segment ||
	    !b->truncated) {
		wg_udp_rx_free(b);
		return -ENOMEM;
	}
	b->cap = cap;
	return 0;
}

void wg_udp_rx_free(struct wg_udp_rx_batch *b)
{
	struct rx_private *p = b->mmsg;

	if (p) {
		free(p->mm);
		free(p->slots);
		free(p);
	}
	free(b->data);
	free(b->from);
	free(b->len);
	free(b->segment);
	free(b->truncated);
	memset(b, 0, sizeof(*b));
}

bool wg_udp_enable_gro(int fd)
{
	int one = 1;
	return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

static uint16_t gro_segment(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int size;
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 && size < 65536 ? (uint16_t)size : 0;
		}
	}
	return 0;
}

int wg_udp_rx_read(int fd, struct wg_udp_rx_batch *b)
{
	struct rx_private *p = b->mmsg;
	int n;

	for (unsigned i = 0; i < b->cap; i++) {
		struct rx_slot *s = &p->slots[i];
		struct msghdr *h = &p->mm[i].msg_hdr;

		s->iov.iov_base = b->data + (size_t)i * WG_UDP_RX_BUFFER;
		s->iov.iov_len = WG_UDP_RX_BUFFER;
		memset(h, 0, sizeof(*h));
		h->msg_name = &s->name;
		h->msg_namelen = sizeof(s->name);
		h->msg_iov = &s->iov;
		h->msg_iovlen = 1;
		h->msg_control = s->control.buf;
		h->msg_controllen = sizeof(s->control.buf);
		p->mm[i].msg_len = 0;
	}
	do
		n = recvmmsg(fd, p->mm, b->cap, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &p->mm[i].msg_hdr;

		b->len[i] = p->mm[i].msg_len;
		b->truncated[i] = (h->msg_flags & MSG_TRUNC) != 0;
		b->segment[i] = gro_segment(h);
		if (wg_udp_source(&p->slots[i].name, h, &b->from[i]) < 0)
			b->len[i] = 0; /* not from an IP sender: nothing to process */
	}
	return n;
}
