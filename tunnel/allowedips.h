/* Cryptokey routing table: a binary trie per address family mapping prefixes to peers,
 * longest prefix wins (WireGuard paper, section 2). */
#ifndef VPND_TUNNEL_ALLOWEDIPS_H
#define VPND_TUNNEL_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct wg_allowedips_node;

struct wg_allowedips {
	struct wg_allowedips_node *root4;
	struct wg_allowedips_node *root6;
	size_t count; /* number of prefixes stored */
};

void wg_allowedips_init(struct wg_allowedips *t);
void wg_allowedips_free(struct wg_allowedips *t);
/* family is AF_INET (addr 4 bytes) or AF_INET6 (16 bytes); bits of addr beyond cidr
 * are ignored. An existing identical prefix is re-pointed at peer. 0 or -EINVAL (bad
 * family or cidr) or -ENOMEM. */
int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 void *peer);
/* Remove the prefix if it points at peer: 0, or -ENOENT. */
int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 void *peer);
/* The peer holding exactly this prefix, or NULL. */
void *wg_allowedips_get(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr);
/* Remove every prefix that points at peer (a walk of the whole trie). */
void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer);
/* The peer of the longest prefix containing addr, or NULL. */
void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr);
/* The same, and the length of the prefix that matched in *cidr (-1: none). */
void *wg_allowedips_lookup_prefix(const struct wg_allowedips *t, int family, const uint8_t *addr,
				  int *cidr);
/* The peer of exactly this prefix, or NULL. */
void *wg_allowedips_lookup_exact(const struct wg_allowedips *t, int family, const uint8_t *addr,
				 uint8_t cidr);

#endif
