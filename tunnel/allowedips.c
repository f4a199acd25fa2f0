/* A path-compressed binary trie per family. Every node carries a whole prefix, and a
 * child's prefix is strictly longer than its parent's, so a path has at most 33 (IPv4)
 * or 129 (IPv6) nodes: that bounds the lookup walk and the explicit stack used to
 * prune. Keys are kept as two host-order 64-bit words so that prefix comparison is an
 * XOR and a count of leading zeros rather than a byte loop.
 *
 * Invariant: a node without a peer exists only to join two subtrees, so it always has
 * both children. Removal restores the invariant by splicing such nodes out. */
#include "allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_DEPTH 129

struct wg_allowedips_node {
	struct wg_allowedips_node *child[2];
	void *peer; /* NULL: a join node holding no prefix */
	uint64_t key[2];
	uint8_t cidr;
};

struct key {
	uint64_t w[2];
};

static int family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return -1;
}

static struct wg_allowedips_node **root_of(struct wg_allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static uint64_t be64_read(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; ++i)
		v = v << 8 | (i < n ? b[i] : 0);
	return v;
}

/* IPv4 occupies the top 32 bits of the first word, so bit i means the same thing in
 * both families: bit 0 is the most significant bit of the address. */
static struct key key_from(int family, const uint8_t *addr)
{
	struct key k;

	if (family == AF_INET) {
		k.w[0] = be64_read(addr, 4);
		k.w[1] = 0;
	} else {
		k.w[0] = be64_read(addr, 8);
		k.w[1] = be64_read(addr + 8, 8);
	}
	return k;
}

static void key_mask(struct key *k, unsigned int cidr)
{
	for (unsigned int w = 0; w < 2; ++w) {
		unsigned int keep = cidr > 64 * w ? cidr - 64 * w : 0;

		if (keep == 0)
			k->w[w] = 0;
		else if (keep < 64)
			k->w[w] &= ~0ULL << (64 - keep);
	}
}

static unsigned int key_bit(const uint64_t *k, unsigned int i)
{
	return (k[i / 64] >> (63 - i % 64)) & 1;
}

/* Number of leading bits a and b share, at most limit. */
static unsigned int common_bits(const uint64_t *a, const uint64_t *b, unsigned int limit)
{
	unsigned int n;
	uint64_t x;

	if ((x = a[0] ^ b[0]))
		n = __builtin_clzll(x);
	else if ((x = a[1] ^ b[1]))
		n = 64 + __builtin_clzll(x);
	else
		n = 128;
	return n < limit ? n : limit;
}

static struct wg_allowedips_node *node_new(const struct key *k, uint8_t cidr, void *peer)
{
	struct wg_allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->key[0] = k->w[0];
	n->key[1] = k->w[1];
	n->cidr = cidr;
	n->peer = peer;
	return n;
}

/* If the node in *slot holds no prefix and no longer joins two subtrees, replace it
 * by its only child (or nothing). */
static void collapse(struct wg_allowedips_node **slot)
{
	struct wg_allowedips_node *n = *slot;

	if (!n || n->peer || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
}

/* Post-order walk that clears the prefixes pointing at peer (all of them if peer is
 * NULL) and splices out the nodes left empty. Children are finished before their
 * parent, so by the time a parent is examined its child pointers are final. */
static size_t prune(struct wg_allowedips_node **root, const void *peer)
{
	struct {
		struct wg_allowedips_node **slot;
		unsigned int next;
	} stack[MAX_DEPTH];
	unsigned int sp = 0;
	size_t removed = 0;

	if (!*root)
		return 0;
	stack[sp].slot = root;
	stack[sp++].next = 0;
	while (sp) {
		struct wg_allowedips_node *n = *stack[sp - 1].slot;

		if (stack[sp - 1].next < 2) {
			struct wg_allowedips_node **c = &n->child[stack[sp - 1].next++];

			if (*c) {
				stack[sp].slot = c;
				stack[sp++].next = 0;
			}
			continue;
		}
		--sp;
		if (n->peer && (!peer || n->peer == peer)) {
			n->peer = NULL;
			++removed;
		}
		if (!peer) {
			*stack[sp].slot = NULL;
			free(n);
		} else {
			collapse(stack[sp].slot);
		}
	}
	return removed;
}

void wg_allowedips_init(struct wg_allowedips *t)
{
	memset(t, 0, sizeof(*t));
}

void wg_allowedips_free(struct wg_allowedips *t)
{
	prune(&t->root4, NULL);
	prune(&t->root6, NULL);
	t->count = 0;
}

int wg_allowedips_insert(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 void *peer)
{
	int bits = family_bits(family);
	struct wg_allowedips_node **slot, *n, *leaf, *join;
	struct key k;

	if (bits < 0 || cidr > bits || !peer)
		return -EINVAL;
	k = key_from(family, addr);
	key_mask(&k, cidr);

	for (slot = root_of(t, family); (n = *slot);) {
		unsigned int common = common_bits(n->key, k.w, n->cidr < cidr ? n->cidr : cidr);

		if (common == n->cidr && common == cidr) {
			if (!n->peer)
				++t->count;
			n->peer = peer;
			return 0;
		}
		if (common == n->cidr) {
			slot = &n->child[key_bit(k.w, n->cidr)];
			continue;
		}
		leaf = node_new(&k, cidr, peer);
		if (!leaf)
			return -ENOMEM;
		if (common == cidr) {
			/* The new prefix contains n: it goes above n. */
			leaf->child[key_bit(n->key, cidr)] = n;
			*slot = leaf;
		} else {
			/* They part ways at bit `common`: join them under their shared prefix. */
			struct key jk = k;

			key_mask(&jk, common);
			join = node_new(&jk, common, NULL);
			if (!join) {
				free(leaf);
				return -ENOMEM;
			}
			join->child[key_bit(k.w, common)] = leaf;
			join->child[key_bit(n->key, common)] = n;
			*slot = join;
		}
		++t->count;
		return 0;
	}
	n = node_new(&k, cidr, peer);
	if (!n)
		return -ENOMEM;
	*slot = n;
	++t->count;
	return 0;
}

/* The slot holding exactly this prefix (possibly a join node), and its parent's slot. */
static struct wg_allowedips_node **find_exact(struct wg_allowedips_node **root, const struct key *k,
					      uint8_t cidr, struct wg_allowedips_node ***parent)
{
	struct wg_allowedips_node **slot = root, **up = NULL, *n;

	while ((n = *slot) && n->cidr <= cidr) {
		if (common_bits(n->key, k->w, n->cidr) < n->cidr)
			return NULL;
		if (n->cidr == cidr) {
			*parent = up;
			return slot;
		}
		up = slot;
		slot = &n->child[key_bit(k->w, n->cidr)];
	}
	return NULL;
}

int wg_allowedips_remove(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
			 void *peer)
{
	int bits = family_bits(family);
	struct wg_allowedips_node **slot, **parent;
	struct key k;

	if (bits < 0 || cidr > bits)
		return -ENOENT;
	k = key_from(family, addr);
	key_mask(&k, cidr);
	slot = find_exact(root_of(t, family), &k, cidr, &parent);
	if (!slot || !(*slot)->peer || (*slot)->peer != peer)
		return -ENOENT;
	(*slot)->peer = NULL;
	--t->count;
	collapse(slot);
	/* A leaf's removal can leave its parent joining a single subtree. */
	if (parent)
		collapse(parent);
	return 0;
}

void *wg_allowedips_get(struct wg_allowedips *t, int family, const uint8_t *addr, uint8_t cidr)
{
	int bits = family_bits(family);
	struct wg_allowedips_node **slot, **parent;
	struct key k;

	if (bits < 0 || cidr > bits)
		return NULL;
	k = key_from(family, addr);
	key_mask(&k, cidr);
	slot = find_exact(root_of(t, family), &k, cidr, &parent);
	return slot ? (*slot)->peer : NULL;
}

void wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer)
{
	if (!peer)
		return;
	t->count -= prune(&t->root4, peer);
	t->count -= prune(&t->root6, peer);
}

void *wg_allowedips_lookup_prefix(const struct wg_allowedips *t, int family, const uint8_t *addr,
				  int *cidr)
{
	int bits = family_bits(family);
	const struct wg_allowedips_node *n;
	void *best = NULL;
	struct key k;

	*cidr = -1;
	if (bits < 0)
		return NULL;
	k = key_from(family, addr);
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && common_bits(n->key, k.w, n->cidr) == n->cidr) {
		if (n->peer) {
			best = n->peer;
			*cidr = n->cidr;
		}
		if (n->cidr >= bits)
			break;
		n = n->child[key_bit(k.w, n->cidr)];
	}
	return best;
}

void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr)
{
	int cidr;

	return wg_allowedips_lookup_prefix(t, family, addr, &cidr);
}

void *wg_allowedips_lookup_exact(const struct wg_allowedips *t, int family, const uint8_t *addr,
				 uint8_t cidr)
{
	int bits = family_bits(family);
	const struct wg_allowedips_node *n;
	struct key k;

	if (bits < 0 || cidr > bits)
		return NULL;
	k = key_from(family, addr);
	key_mask(&k, cidr);
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && n->cidr < cidr && common_bits(n->key, k.w, n->cidr) == n->cidr)
		n = n->child[key_bit(k.w, n->cidr)];
	if (n && n->cidr == cidr && n->key[0] == k.w[0] && n->key[1] == k.w[1])
		return n->peer;
	return NULL;
}
