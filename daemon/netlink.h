/* rtnetlink through libmnl: one request per function, each waits for its ACK. All return
 * 0 or a negative errno. */
#ifndef VPND_DAEMON_NETLINK_H
#define VPND_DAEMON_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct vpnd_netlink;

struct vpnd_netlink *vpnd_netlink_open(void);
void vpnd_netlink_close(struct vpnd_netlink *nl);

/* Interface index by name, or a negative errno (-ENODEV). */
int vpnd_netlink_ifindex(struct vpnd_netlink *nl, const char *ifname);
int vpnd_netlink_set_mtu(struct vpnd_netlink *nl, int ifindex, unsigned mtu);
int vpnd_netlink_set_up(struct vpnd_netlink *nl, int ifindex, bool up);
/* Adding an address or route that exists already succeeds; deleting one that is gone
 * succeeds too, so callers can apply desired state idempotently. */
int vpnd_netlink_address(struct vpnd_netlink *nl, int ifindex, bool add, int family,
			 const uint8_t *addr, uint8_t prefixlen);
int vpnd_netlink_route(struct vpnd_netlink *nl, int ifindex, bool add, int family,
		       const uint8_t *dst, uint8_t prefixlen);
/* Remove a link by name (a stale TUN left by a crash): 0, or -ENODEV if absent. */
int vpnd_netlink_delete_link(struct vpnd_netlink *nl, const char *ifname);

#endif
