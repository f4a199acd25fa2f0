/* The site policy, compiled so that judging a packet costs a few table probes:
 *
 *  - every site a rule names gets a class number: 0 is every site no rule names (peers
 *    and destinations outside this site alike: only the default speaks for them), 1 is
 *    `local`, 2.. the named peers;
 *  - each (source class, destination class) pair a rule covers is one entry of a hash
 *    table holding the verdict and the rule to count a denial on; a pair without an
 *    entry gets the default. Deny rules are entered first, so a deny rule wins over an
 *    allow rule for the same pair, and among rules of one list the first written wins;
 *  - a peer's class is found by name the first time the peer is seen, then by its
 *    address in memory (a cache checked against the peer's public key, so that a peer
 *    freed and another allocated at the same address is never mistaken for it);
 *  - whether a packet delivered to this site goes to `local` (its networks and
 *    addresses) is a trie lookup, done only for sources that some rule pairs with
 *    `local`.
 * Memory is linear in the number of rules and peers, never their product. */
#include "daemon/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/config.h"
#include "daemon/config_policy.h"
#include "tunnel/allowedips.h"
#include "tunnel/peer.h"

#define CLASS_ELSEWHERE	 0
#define CLASS_LOCAL	 1
#define CLASS_FIRST_PEER 2

struct policy_rule {
	char text[VPND_POLICY_RULE_TEXT_MAX];
	bool allow;
	int line;
	uint64_t denied;
};

/* A peer a rule names, and its class. */
struct named_site {
	char name[WG_PEER_NAME_MAX];
	uint32_t cls;
};

/* A (source, destination) pair some rule covers: key = source << 16 | destination, never
 * 0 (class 0 is named by no rule). */
struct pair {
	uint32_t key;
	bool allow;
	int32_t rule;
};

struct peer_seen {
	const struct wg_peer *peer; /* NULL: free slot */
	uint8_t key[32];	    /* its public key when it was seen */
	uint32_t cls;
};

struct vpnd_policy {
	bool default_allow;
	bool passes_all; /* no rule, default allow: nothing to look up */
	uint64_t default_denied;
	struct policy_rule *rules;
	unsigned n_rules;
	struct named_site *names; /* sorted by name */
	unsigned n_names;
	struct pair *pairs;
	uint32_t pair_mask;
	bool *pairs_with_local; /* by source class: some rule pairs it with `local` */
	struct wg_allowedips local;
	struct peer_seen *seen;
	uint32_t seen_mask, n_seen;
	bool seen_stale;
};

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return (uint32_t)x;
}

/* ---- building --------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named_site *)a)->name, ((const struct named_site *)b)->name);
}

static uint32_t class_of_name(const struct vpnd_policy *p, const char *name)
{
	unsigned lo = 0, hi = p->n_names;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int d = strcmp(p->names[mid].name, name);

		if (!d)
			return p->names[mid].cls;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return CLASS_ELSEWHERE;
}

static uint32_t site_class(const struct vpnd_policy *p, const char *site)
{
	return strcmp(site, VPND_POLICY_LOCAL) == 0 ? CLASS_LOCAL : class_of_name(p, site);
}

/* Every peer the rules name, once, numbered in name order. */
static int build_names(struct vpnd_policy *p, const struct vpnd_policy_conf *pc)
{
	unsigned i, n = 0;

	p->names = calloc(2 * (size_t)pc->n_rules + 1, sizeof(*p->names));
	if (!p->names)
		return -ENOMEM;
	for (i = 0; i < pc->n_rules; i++) {
		const char *sites[2] = {pc->rules[i].from, pc->rules[i].to};

		for (int k = 0; k < 2; k++)
			if (strcmp(sites[k], VPND_POLICY_LOCAL) != 0)
				memcpy(p->names[n++].name, sites[k], WG_PEER_NAME_MAX);
	}
	if (n)
		qsort(p->names, n, sizeof(*p->names), name_cmp);
	for (i = 0; i < n; i++)
		if (!p->n_names || strcmp(p->names[p->n_names - 1].name, p->names[i].name) != 0)
			p->names[p->n_names++] = p->names[i];
	for (i = 0; i < p->n_names; i++)
		p->names[i].cls = CLASS_FIRST_PEER + i;
	return 0;
}

static struct pair *pair_slot(const struct vpnd_policy *p, uint32_t key)
{
	uint32_t i = mix64(key) & p->pair_mask;

	while (p->pairs[i].key && p->pairs[i].key != key)
		i = (i + 1) & p->pair_mask;
	return &p->pairs[i];
}

/* The first rule entered for a pair decides it. */
static void enter_pair(struct vpnd_policy *p, uint32_t from, uint32_t to, bool allow, int32_t rule)
{
	uint32_t key = from << 16 | to;
	struct pair *slot = pair_slot(p, key);

	if (slot->key)
		return;
	*slot = (struct pair){.key = key, .allow = allow, .rule = rule};
	if (to == CLASS_LOCAL)
		p->pairs_with_local[from] = true;
}

static int build_pairs(struct vpnd_policy *p, const struct vpnd_policy_conf *pc)
{
	uint32_t n_classes = CLASS_FIRST_PEER + p->n_names;

	p->pair_mask = pow2_at_least(4 * (uint64_t)pc->n_rules + 1) - 1;
	p->pairs = calloc((size_t)p->pair_mask + 1, sizeof(*p->pairs));
	p->pairs_with_local = calloc(n_classes, sizeof(*p->pairs_with_local));
	if (!p->pairs || !p->pairs_with_local)
		return -ENOMEM;
	for (int deny_pass = 1; deny_pass >= 0; deny_pass--) {
		for (unsigned i = 0; i < pc->n_rules; i++) {
			const struct vpnd_policy_rule *r = &pc->rules[i];
			uint32_t a = site_class(p, r->from), b = site_class(p, r->to);

			if (r->allow == deny_pass)
				continue;
			enter_pair(p, a, b, r->allow, (int32_t)i);
			if (r->both)
				enter_pair(p, b, a, r->allow, (int32_t)i);
		}
	}
	return 0;
}

static int build_local(struct vpnd_policy *p, const struct vpnd_config *c)
{
	int ret = 0;

	for (unsigned i = 0; i < c->n_networks && !ret; i++)
		ret = wg_allowedips_insert(&p->local, c->networks[i].family, c->networks[i].addr,
					   c->networks[i].cidr, p);
	/* The gateway's own addresses, not their subnets: the rest of a tunnel subnet
	 * belongs to the peers. */
	for (unsigned i = 0; i < c->n_addresses && !ret; i++)
		ret = wg_allowedips_insert(&p->local, c->addresses[i].family, c->addresses[i].addr,
					   c->addresses[i].family == AF_INET ? 32 : 128, p);
	return ret;
}

struct vpnd_policy *vpnd_policy_new(const struct vpnd_config *c)
{
	static const struct vpnd_policy_conf allow_all = {.default_allow = true};
	const struct vpnd_policy_conf *pc = c->policy ? c->policy : &allow_all;
	struct vpnd_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	wg_allowedips_init(&p->local);
	p->default_allow = pc->default_allow;
	p->passes_all = pc->default_allow && !pc->n_rules;
	p->rules = calloc(pc->n_rules + 1, sizeof(*p->rules));
	/* Each peer is seen once; the table is kept at most half full. */
	p->seen_mask = pow2_at_least(2 * (uint64_t)c->n_peers + 16) - 1;
	p->seen = calloc((size_t)p->seen_mask + 1, sizeof(*p->seen));
	if (!p->rules || !p->seen || build_names(p, pc) < 0 || build_pairs(p, pc) < 0 ||
	    build_local(p, c) < 0) {
		vpnd_policy_free(p);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < pc->n_rules; i++) {
		config_policy_rule_text(p->rules[i].text, &pc->rules[i]);
		p->rules[i].allow = pc->rules[i].allow;
		p->rules[i].line = pc->rules[i].line;
	}
	p->n_rules = pc->n_rules;
	return p;
}

void vpnd_policy_free(struct vpnd_policy *p)
{
	if (!p)
		return;
	wg_allowedips_free(&p->local);
	free(p->rules);
	free(p->names);
	free(p->pairs);
	free(p->pairs_with_local);
	free(p->seen);
	free(p);
}

/* ---- judging ---------------------------------------------------------------------- */

static void forget_peers(struct vpnd_policy *p)
{
	memset(p->seen, 0, ((size_t)p->seen_mask + 1) * sizeof(*p->seen));
	p->n_seen = 0;
	p->seen_stale = false;
}

void vpnd_policy_peers_changed(struct vpnd_policy *p)
{
	/* Lazily: a reload adding a thousand peers clears the table once. */
	if (p)
		p->seen_stale = true;
}

static uint32_t peer_class(struct vpnd_policy *p, const struct wg_peer *peer)
{
	const uint8_t *key = peer->handshake.remote_static;
	struct peer_seen *s;
	uint32_t i;

	if (!p->n_names)
		return CLASS_ELSEWHERE;
	if (p->seen_stale)
		forget_peers(p);
	i = mix64((uint64_t)(uintptr_t)peer) & p->seen_mask;
	for (;; i = (i + 1) & p->seen_mask) {
		s = &p->seen[i];
		if (!s->peer)
			break;
		if (s->peer == peer) {
			if (memcmp(s->key, key, sizeof(s->key)) == 0)
				return s->cls;
			goto learn; /* another peer, or this one under a rotated key */
		}
	}
	/* Peers added at run time fill the table beyond what the config had: start over
	 * rather than grow, dropping peers long removed. */
	if (p->n_seen >= (p->seen_mask + 1) / 2) {
		forget_peers(p);
		s = &p->seen[mix64((uint64_t)(uintptr_t)peer) & p->seen_mask];
	}
	p->n_seen++;
learn:
	s->peer = peer;
	memcpy(s->key, key, sizeof(s->key));
	s->cls = class_of_name(p, peer->name);
	return s->cls;
}

bool vpnd_policy_to_local(const struct vpnd_policy *p, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return wg_allowedips_lookup(&p->local, AF_INET, pkt + 16) != NULL;
	if (len >= 40 && pkt[0] >> 4 == 6)
		return wg_allowedips_lookup(&p->local, AF_INET6, pkt + 24) != NULL;
	return false;
}

bool vpnd_policy_check(struct vpnd_policy *p, const struct wg_peer *from, const struct wg_peer *to,
		       const uint8_t *pkt, size_t len, int *rule)
{
	uint32_t src, dst;
	const struct pair *e;

	*rule = VPND_POLICY_DEFAULT;
	if (p->passes_all)
		return true;
	src = from ? peer_class(p, from) : CLASS_ELSEWHERE;
	if (to)
		dst = peer_class(p, to);
	else if (p->pairs_with_local[src] && vpnd_policy_to_local(p, pkt, len))
		dst = CLASS_LOCAL;
	else
		dst = CLASS_ELSEWHERE;
	e = src && dst ? pair_slot(p, src << 16 | dst) : NULL;
	if (e && e->key) {
		if (e->allow)
			return true;
		p->rules[e->rule].denied++;
		*rule = e->rule;
		return false;
	}
	if (p->default_allow)
		return true;
	p->default_denied++;
	return false;
}

/* ---- across reloads, and for show ------------------------------------------------- */

static int rule_cmp(const void *a, const void *b)
{
	const struct policy_rule *x = *(const struct policy_rule *const *)a;
	const struct policy_rule *y = *(const struct policy_rule *const *)b;
	int d = strcmp(x->text, y->text);

	return d ? d : (int)x->allow - (int)y->allow;
}

void vpnd_policy_carry_counters(struct vpnd_policy *p, const struct vpnd_policy *old)
{
	const struct policy_rule **sorted;

	if (!p || !old)
		return;
	p->default_denied = old->default_denied;
	if (!old->n_rules || !p->n_rules)
		return;
	sorted = calloc(old->n_rules, sizeof(*sorted));
	if (!sorted)
		return; /* counters then start again; nothing else depends on it */
	for (unsigned i = 0; i < old->n_rules; i++)
		sorted[i] = &old->rules[i];
	qsort(sorted, old->n_rules, sizeof(*sorted), rule_cmp);
	for (unsigned i = 0; i < p->n_rules; i++) {
		const struct policy_rule *key = &p->rules[i];
		const struct policy_rule **hit =
		    bsearch(&key, sorted, old->n_rules, sizeof(*sorted), rule_cmp);

		if (hit)
			p->rules[i].denied = (*hit)->denied;
	}
	free(sorted);
}

bool vpnd_policy_same_rules(const struct vpnd_policy *a, const struct vpnd_policy *b)
{
	if (a->default_allow != b->default_allow || a->n_rules != b->n_rules)
		return false;
	for (unsigned i = 0; i < a->n_rules; i++)
		if (a->rules[i].allow != b->rules[i].allow ||
		    strcmp(a->rules[i].text, b->rules[i].text) != 0)
			return false;
	return true;
}

bool vpnd_policy_default_allow(const struct vpnd_policy *p)
{
	return !p || p->default_allow;
}

uint64_t vpnd_policy_default_denied(const struct vpnd_policy *p)
{
	return p ? p->default_denied : 0;
}

uint64_t vpnd_policy_denied_total(const struct vpnd_policy *p)
{
	uint64_t n = vpnd_policy_default_denied(p);

	for (unsigned i = 0; p && i < p->n_rules; i++)
		n += p->rules[i].denied;
	return n;
}

unsigned vpnd_policy_rule_count(const struct vpnd_policy *p)
{
	return p ? p->n_rules : 0;
}

void vpnd_policy_rule(const struct vpnd_policy *p, unsigned i, struct vpnd_policy_rule_info *out)
{
	const struct policy_rule *r = &p->rules[i];

	*out = (struct vpnd_policy_rule_info){
	    .text = r->text, .allow = r->allow, .line = r->line, .denied = r->denied};
}
