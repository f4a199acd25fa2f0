/* rtnetlink requests through libmnl, in the shape of libmnl's examples/rtnl: put the
 * header, the family header, the attributes; send; run the callbacks until the ACK. Every
 * request carries NLM_F_ACK so success is confirmed, not assumed. */
#include "netlink.h"
#include "log.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Routes are tagged "proto static": they are configuration applied by an administrator's
 * tool, and `ip route` shows the name without an rt_protos entry. They live and die
 * with the TUN device, so no private protocol number is needed to find them later. */
#define VPND_RTPROT RTPROT_STATIC

/* Our requests are a few dozen bytes and the answers are ACKs; this is libmnl's
 * MNL_SOCKET_BUFFER_SIZE on 4 KiB-page machines, without a variable-length array. */
#define NL_BUFFER_SIZE 8192

struct vpnd_netlink {
	struct mnl_socket *sock;
	unsigned int portid;
	uint32_t seq;
};

struct vpnd_netlink *vpnd_netlink_open(void)
{
	struct vpnd_netlink *nl = calloc(1, sizeof(*nl));
	int one = 1, err;

	if (!nl)
		return NULL;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* Errors without an echo of our request (we know what we sent), but with the
	 * kernel's explanation ("Invalid prefix for given prefix length"). Both are
	 * optional: old kernels lack them and we still get the errno. */
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return nl;

fail:
	err = errno;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
	errno = err;
	return NULL;
}

void vpnd_netlink_close(struct vpnd_netlink *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

/* NLMSG_ERROR carries the result of our request: 0 is the ACK. The extended-ack message,
 * if any, is logged at debug level; the caller reports the errno with its own context. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t hdrlen = sizeof(*err);
	(void)data;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error == 0)
		return MNL_CB_STOP;

	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hdrlen += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && mnl_nlmsg_size(hdrlen) < nlh->nlmsg_len) {
		const struct nlattr *attr;

		mnl_attr_for_each(attr, nlh, hdrlen)
		{
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
				log_debug("netlink: kernel says: %s", mnl_attr_get_str(attr));
		}
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

/* Send the request in buf and wait for its ACK: 0 or -errno. */
static int request(struct vpnd_netlink *nl, struct nlmsghdr *nlh)
{
	char buf[NL_BUFFER_SIZE];
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = error_cb};
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(buf, (size_t)n, nl->seq, nl->portid, NULL, NULL, ctl,
				  NLMSG_MIN_TYPE);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int vpnd_netlink_ifindex(struct vpnd_netlink *nl, const char *ifname)
{
	unsigned int index;
	(void)nl;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	index = if_nametoindex(ifname);
	if (index == 0)
		return errno ? -errno : -ENODEV;
	return (int)index;
}

static struct nlmsghdr *link_request(char *buf, uint16_t type, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

int vpnd_netlink_set_mtu(struct vpnd_netlink *nl, int ifindex, unsigned mtu)
{
	char buf[NL_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_request(buf, RTM_NEWLINK, ifindex);

	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return request(nl, nlh);
}

int vpnd_netlink_set_up(struct vpnd_netlink *nl, int ifindex, bool up)
{
	char buf[NL_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_request(buf, RTM_NEWLINK, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	/* ifi_change limits the update to IFF_UP; other flags stay as they are. */
	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	return request(nl, nlh);
}

int vpnd_netlink_delete_link(struct vpnd_netlink *nl, const char *ifname)
{
	char buf[NL_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	nlh = link_request(buf, RTM_DELLINK, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return request(nl, nlh);
}

/* Address length of family, 0 if we do not route it. */
static size_t family_addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int vpnd_netlink_address(struct vpnd_netlink *nl, int ifindex, bool add, int family,
			 const uint8_t *addr, uint8_t prefixlen)
{
	char buf[NL_BUFFER_SIZE];
	size_t alen = family_addr_len(family);
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int err;

	if (!alen)
		return -EAFNOSUPPORT;
	if (prefixlen > alen * 8)
		return -EINVAL;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	if (family == AF_INET) {
		/* IFA_LOCAL is our address; IFA_ADDRESS is the peer's on point-to-point
		 * links. Setting both alike gives a plain "inet a.b.c.d/len" with the
		 * subnet route, as `ip addr add` does. */
		mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
		mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	} else {
		/* There is nobody on a TUN link to collide with: duplicate address
		 * detection would only keep the address "tentative" (unusable) a while. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	}

	err = request(nl, nlh);
	if (add && err == -EEXIST)
		return 0;
	if (!add && (err == -EADDRNOTAVAIL || err == -ESRCH || err == -ENOENT))
		return 0;
	return err;
}

int vpnd_netlink_route(struct vpnd_netlink *nl, int ifindex, bool add, int family,
		       const uint8_t *dst, uint8_t prefixlen)
{
	char buf[NL_BUFFER_SIZE];
	size_t alen = family_addr_len(family);
	uint8_t prefix[16] = {0};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int err;

	if (!alen)
		return -EAFNOSUPPORT;
	if (prefixlen > alen * 8)
		return -EINVAL;
	/* Allowed-IPs like 10.2.0.1/24 mean 10.2.0.0/24 (as in WireGuard); IPv4 routing
	 * rejects host bits, so clear them here and route what the peer is allowed. */
	memcpy(prefix, dst, prefixlen / 8);
	if (prefixlen % 8)
		prefix[prefixlen / 8] = dst[prefixlen / 8] & (uint8_t)(0xff << (8 - prefixlen % 8));

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefixlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = VPND_RTPROT;
	/* Scope link: the destination is reached directly through the TUN, no gateway. */
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, alen, prefix);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);

	err = request(nl, nlh);
	if (add && err == -EEXIST)
		return 0;
	if (!add && (err == -ESRCH || err == -ENOENT))
		return 0;
	return err;
}
