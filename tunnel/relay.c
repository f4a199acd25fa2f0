/* Relay between peers inside the engine. A hub (HQ) forwards a branch's packet to another
 * branch without a round trip through the TUN and the kernel's forwarding, so it works
 * with forwarding off and needs no routes. It behaves as a router would: the destination
 * is looked up in the allowed-ips (the routing table), the site policy is asked, the
 * TTL or hop limit goes down by one and a packet that would leave with none is dropped.
 * The packet is encrypted again from the receive buffer it was decrypted in: no copy and
 * no allocation unless the other peer has no session yet and it must wait. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <netinet/ip.h>
#include <netinet/ip6.h>

#include "checksum.h"
#include "engine_impl.h"

/* Any non-NULL value marks a local prefix in e->local. */
static char local_mark;

int wg_engine_set_local_networks(struct wg_engine *e, const struct wg_allowed_ip *nets, unsigned n)
{
	struct wg_allowedips fresh;

	for (unsigned i = 0; i < n; i++)
		if ((nets[i].family != AF_INET || nets[i].cidr > 32) &&
		    (nets[i].family != AF_INET6 || nets[i].cidr > 128))
			return -EINVAL;
	wg_allowedips_init(&fresh);
	for (unsigned i = 0; i < n; i++) {
		if (wg_allowedips_insert(&fresh, nets[i].family, nets[i].addr, nets[i].cidr,
					 &local_mark) < 0) {
			wg_allowedips_free(&fresh);
			return -ENOMEM;
		}
	}
	wg_allowedips_free(&e->local);
	e->local = fresh;
	return 0;
}

/* The peer a destination belongs to, or NULL for the local side: the longest prefix
 * wins between the peers' allowed-ips and this site's own networks, a tie going to the
 * local side (a branch whose HQ peer covers 0.0.0.0/0 still keeps its own LAN). */
static struct wg_peer *route_lookup(const struct wg_engine *e, int family, const uint8_t *dst)
{
	int peer_cidr, local_cidr;
	struct wg_peer *to = wg_allowedips_lookup_prefix(&e->allowedips, family, dst, &peer_cidr);

	if (to && e->local.count &&
	    wg_allowedips_lookup_prefix(&e->local, family, dst, &local_cidr) &&
	    local_cidr >= peer_cidr)
		return NULL;
	return to;
}

static bool policy_allows(struct wg_engine *e, const struct wg_peer *from, const struct wg_peer *to,
			  const uint8_t *pkt, size_t len)
{
	return !e->io.policy_allows || e->io.policy_allows(e->io.ctx, from, to, pkt, len);
}

/* A router's TTL step: false when the packet may not be forwarded (TTL or hop limit 0
 * or 1). The IPv4 header checksum follows the change incrementally (RFC 1624, eqn. 3):
 * TTL is the high byte of the TTL/protocol word. */
static bool decrement_ttl(uint8_t *pkt, int family)
{
	const size_t ttl_at =
	    family == AF_INET ? offsetof(struct iphdr, ttl) : offsetof(struct ip6_hdr, ip6_hlim);
	uint16_t old_word, new_word, check;

	if (pkt[ttl_at] <= 1)
		return false;
	if (family == AF_INET6) {
		pkt[ttl_at]--;
		return true;
	}
	old_word = (uint16_t)(pkt[ttl_at] << 8 | pkt[ttl_at + 1]);
	pkt[ttl_at]--;
	new_word = (uint16_t)(pkt[ttl_at] << 8 | pkt[ttl_at + 1]);
	check = (uint16_t)(pkt[offsetof(struct iphdr, check)] << 8 |
			   pkt[offsetof(struct iphdr, check) + 1]);
	check = wg_csum_replace16(check, old_word, new_word);
	pkt[offsetof(struct iphdr, check)] = (uint8_t)(check >> 8);
	pkt[offsetof(struct iphdr, check) + 1] = (uint8_t)check;
	return true;
}

void wg_relay_route(struct wg_engine *e, struct wg_peer *from, uint8_t *pkt, size_t len, int family,
		    struct wg_time now)
{
	const uint8_t *dst = pkt + (family == AF_INET ? offsetof(struct iphdr, daddr)
						      : offsetof(struct ip6_hdr, ip6_dst));
	struct wg_peer *to = route_lookup(e, family, dst);

	if (!to) {
		if (!policy_allows(e, from, NULL, pkt, len)) {
			wg_engine_drop(e, from, WG_DROP_POLICY);
			return;
		}
		e->io.deliver_packet(e->io.ctx, from, pkt, len);
		return;
	}
	/* Sending it back where it came from would only bounce it until the TTL ran out. */
	if (to == from) {
		wg_engine_drop(e, from, WG_DROP_LOOP);
		return;
	}
	if (!policy_allows(e, from, to, pkt, len)) {
		wg_engine_drop(e, from, WG_DROP_POLICY);
		return;
	}
	if (!decrement_ttl(pkt, family)) {
		wg_engine_drop(e, from, WG_DROP_TTL);
		return;
	}
	if (to->revoked) {
		wg_engine_drop(e, to, WG_DROP_REVOKED);
		return;
	}
	if (to->endpoint.addr.sa.sa_family == AF_UNSPEC) {
		wg_engine_drop(e, to, WG_DROP_NO_ENDPOINT);
		return;
	}
	from->stats.relayed_packets++;
	wg_send_packet(e, to, pkt, len, now);
}
