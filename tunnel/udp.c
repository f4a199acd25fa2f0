/* UDP underlay. One dual-stack IPv6 socket normally carries both families; IPv4 peers
 * appear on it as ::ffff:a.b.c.d and are unmapped at this boundary so the rest of the
 * engine only ever sees AF_INET or AF_INET6. The local address every datagram arrived on
 * is read from IP_PKTINFO / IPV6_PKTINFO and used as the source of replies, so a
 * multi-homed gateway answers from the address the peer talks to (otherwise a NAT or
 * firewall in between sees a reply from a stranger and drops it). */
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Enough for a burst at line rate while the event loop is busy elsewhere; the default
 * (~200 KiB) drops handshakes under load. */
#define UDP_SOCKET_BUFFER (4 << 20)

/* How often to retry the two-socket setup with port 0: the IPv6 socket picks a free
 * port that may already be taken for IPv4 only. */
#define UDP_BIND_ATTEMPTS 16

/* Room for both pktinfo messages: a dual-stack socket delivers IPV6_PKTINFO (mapped)
 * and IP_PKTINFO for the same IPv4 datagram. */
union udp_cmsg_buf {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
};

static void set_buffer(int fd, int force_opt, int opt)
{
	int size = UDP_SOCKET_BUFFER;

	/* The *FORCE variants pass net.core.{r,w}mem_max, which root may do; without
	 * CAP_NET_ADMIN fall back to the capped request. A small buffer costs throughput,
	 * not correctness, so failure is not an error. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

static int set_int(int fd, int level, int opt, int value)
{
	if (setsockopt(fd, level, opt, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
}

/* A bound, configured socket of family, or -errno. dual: accept IPv4 on the IPv6 socket.
 * *port is the port to bind (0 = any) and receives the bound port. */
static int open_socket(int family, bool dual, uint16_t *port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	socklen_t addrlen;
	int fd, err;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;

	memset(&addr, 0, sizeof(addr));
	if (family == AF_INET6) {
		/* Set explicitly both ways: the default follows net.ipv6.bindv6only. */
		err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !dual);
		if (err)
			goto fail;
		err = set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
		if (err)
			goto fail;
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_addr = in6addr_any;
		addr.in6.sin6_port = htons(*port);
		addrlen = sizeof(addr.in6);
	} else {
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_addr.s_addr = htonl(INADDR_ANY);
		addr.in4.sin_port = htons(*port);
		addrlen = sizeof(addr.in4);
	}
	/* Also on the dual-stack IPv6 socket: Linux then reports the local IPv4 address
	 * of mapped traffic as IP_PKTINFO, and accepts IP_PKTINFO on send. */
	if (family == AF_INET || dual) {
		err = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
		if (err)
			goto fail;
	}
	set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);

	if (bind(fd, &addr.sa, addrlen) < 0) {
		err = -errno;
		goto fail;
	}
	addrlen = sizeof(addr);
	if (getsockname(fd, &addr.sa, &addrlen) < 0) {
		err = -errno;
		goto fail;
	}
	*port = ntohs(family == AF_INET6 ? addr.in6.sin6_port : addr.in4.sin_port);
	return fd;

fail:
	close(fd);
	return err;
}

/* IPv6-only socket plus an IPv4 socket on the same port. */
static int open_pair(struct wg_udp *u, uint16_t port)
{
	for (int attempt = 0; attempt < UDP_BIND_ATTEMPTS; attempt++) {
		uint16_t p = port;

		u->fd6 = open_socket(AF_INET6, false, &p);
		if (u->fd6 < 0 && u->fd6 != -EAFNOSUPPORT)
			return u->fd6;
		if (u->fd6 < 0)
			u->fd6 = -1; /* no IPv6 on this host: IPv4 alone */
		u->fd4 = open_socket(AF_INET, false, &p);
		if (u->fd4 >= 0) {
			u->port = p;
			return 0;
		}
		if (u->fd6 >= 0)
			close(u->fd6);
		u->fd6 = -1;
		/* Only a port of our own choosing may be retried with another one. */
		if (u->fd4 != -EADDRINUSE || port != 0)
			return u->fd4;
	}
	return -EADDRINUSE;
}

int wg_udp_open(struct wg_udp *u, uint16_t port)
{
	uint16_t p = port;
	int fd, err;

	u->fd6 = -1;
	u->fd4 = -1;
	u->port = 0;

	fd = open_socket(AF_INET6, true, &p);
	if (fd >= 0) {
		u->fd6 = fd;
		u->port = p;
		return 0;
	}
	/* EAFNOSUPPORT: IPv6 compiled out or disabled at boot. EINVAL/ENOPROTOOPT on
	 * IPV6_V6ONLY=0 or IP_PKTINFO: no dual-stack here. Either way two sockets. */
	if (fd != -EAFNOSUPPORT && fd != -EINVAL && fd != -ENOPROTOOPT)
		return fd;
	err = open_pair(u, port);
	if (err) {
		u->fd4 = -1;
		u->fd6 = -1;
	}
	return err;
}

void wg_udp_close(struct wg_udp *u)
{
	if (u->fd6 >= 0)
		close(u->fd6);
	if (u->fd4 >= 0)
		close(u->fd4);
	u->fd6 = -1;
	u->fd4 = -1;
	u->port = 0;
}

static void read_pktinfo(struct msghdr *msg, struct wg_endpoint *from)
{
	bool have_v4_info = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo info;

			memcpy(&info, CMSG_DATA(c), sizeof(info));
			/* ipi_spec_dst, not ipi_addr: for a datagram sent to a broadcast
			 * address it is the interface address, the one a reply can use. */
			from->src.src4 = info.ipi_spec_dst;
			from->src_ifindex = info.ipi_ifindex;
			from->has_src = true;
			have_v4_info = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo info;

			memcpy(&info, CMSG_DATA(c), sizeof(info));
			if (IN6_IS_ADDR_V4MAPPED(&info.ipi6_addr)) {
				if (have_v4_info)
					continue;
				memcpy(&from->src.src4, &info.ipi6_addr.s6_addr[12], 4);
			} else {
				from->src.src6 = info.ipi6_addr;
			}
			from->src_ifindex = (int)info.ipi6_ifindex;
			from->has_src = true;
		}
	}
}

int wg_udp_source(const struct sockaddr_storage *ss, struct msghdr *msg, struct wg_endpoint *from)
{
	memset(from, 0, sizeof(*from));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			from->addr.in4.sin_family = AF_INET;
			from->addr.in4.sin_port = in6->sin6_port;
			memcpy(&from->addr.in4.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			from->addr.in6 = *in6;
		}
	} else if (ss->ss_family == AF_INET) {
		from->addr.in4 = *(const struct sockaddr_in *)ss;
	} else {
		return -EAFNOSUPPORT;
	}
	read_pktinfo(msg, from);
	return 0;
}

ssize_t wg_udp_recv(int fd, void *buf, size_t len, struct wg_endpoint *from)
{
	struct sockaddr_storage ss;
	union udp_cmsg_buf control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg;
	ssize_t n;

	/* A zero-length datagram is no WireGuard message; skip it so that 0 keeps its one
	 * meaning, "queue empty", for the caller's read loop. */
	do {
		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &ss;
		msg.msg_namelen = sizeof(ss);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		n = recvmsg(fd, &msg, 0);
	} while ((n < 0 && errno == EINTR) || n == 0);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	/* The datagram was larger than any message we accept; what we hold is a prefix. */
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;

	if (wg_udp_source(&ss, &msg, from) < 0)
		return -EAFNOSUPPORT;
	return n;
}

static int send_once(int fd, const struct sockaddr *sa, socklen_t salen, const void *control,
		     size_t controllen, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_name = (void *)sa,
	    .msg_namelen = salen,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = controllen ? (void *)control : NULL,
	    .msg_controllen = controllen,
	};
	ssize_t n;

	do
		n = sendmsg(fd, &msg, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* What sendmsg says when the pktinfo source is not a local address: EINVAL (IPv6, and
 * IPv4 for some address classes), ENETUNREACH (IPv4 routing), EADDRNOTAVAIL. */
bool wg_udp_source_refused(int err)
{
	return err == -EINVAL || err == -EADDRNOTAVAIL || err == -ENETUNREACH;
}

int wg_udp_destination(const struct wg_udp *u, const struct wg_endpoint *to,
		       struct wg_udp_destination *d)
{
	union udp_cmsg_buf *control = (union udp_cmsg_buf *)d->control;

	_Static_assert(sizeof(d->control) >= sizeof(union udp_cmsg_buf), "cmsg room");
	memset(d, 0, sizeof(*d));
	switch (to->addr.sa.sa_family) {
	case AF_INET:
		if (u->fd4 >= 0) {
			d->fd = u->fd4;
			d->addr.in4 = to->addr.in4;
			d->addrlen = sizeof(d->addr.in4);
		} else if (u->fd6 >= 0) {
			d->fd = u->fd6; /* dual-stack: the IPv4 peer as ::ffff:a.b.c.d */
			d->addr.in6.sin6_family = AF_INET6;
			d->addr.in6.sin6_port = to->addr.in4.sin_port;
			d->addr.in6.sin6_addr.s6_addr[10] = 0xff;
			d->addr.in6.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&d->addr.in6.sin6_addr.s6_addr[12], &to->addr.in4.sin_addr, 4);
			d->addrlen = sizeof(d->addr.in6);
		} else {
			return -EAFNOSUPPORT;
		}
		if (to->has_src) {
			struct cmsghdr *c = &control->align;
			struct in_pktinfo info = {.ipi_spec_dst = to->src.src4};

			/* No ifindex: IPv4 routing picks the interface from the source;
			 * pinning one would break when routes move. */
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(info));
			memcpy(CMSG_DATA(c), &info, sizeof(info));
			d->controllen = CMSG_SPACE(sizeof(info));
		}
		return 0;
	case AF_INET6:
		if (u->fd6 < 0)
			return -EAFNOSUPPORT;
		d->fd = u->fd6;
		d->addr.in6 = to->addr.in6;
		d->addrlen = sizeof(d->addr.in6);
		if (to->has_src) {
			struct cmsghdr *c = &control->align;
			struct in6_pktinfo info = {.ipi6_addr = to->src.src6};

			/* A link-local source exists only on its own link. */
			if (IN6_IS_ADDR_LINKLOCAL(&to->src.src6))
				info.ipi6_ifindex = (unsigned)to->src_ifindex;
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(info));
			memcpy(CMSG_DATA(c), &info, sizeof(info));
			d->controllen = CMSG_SPACE(sizeof(info));
		}
		return 0;
	default:
		return -EDESTADDRREQ;
	}
}

int wg_udp_send(struct wg_udp *u, struct wg_endpoint *to, const void *buf, size_t len)
{
	struct wg_udp_destination d;
	int err, first;

	if ((err = wg_udp_destination(u, to, &d)) < 0)
		return err;
	err = send_once(d.fd, &d.addr.sa, d.addrlen, d.control, d.controllen, buf, len);
	if (!d.controllen || !wg_udp_source_refused(err))
		return err;
	/* The source we recorded may no longer be ours (DHCP renewed, interface gone).
	 * Let routing choose; the peer's next datagram tells us the address to use from
	 * then on. IPv4 reports a foreign source as ENETUNREACH, which also means "no
	 * route": if the retry fails the same way, the source was not the cause. */
	first = err;
	err = send_once(d.fd, &d.addr.sa, d.addrlen, NULL, 0, buf, len);
	if (err != first) {
		to->has_src = false;
		to->src_ifindex = 0;
	}
	return err;
}
