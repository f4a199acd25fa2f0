/* The site policy compiled for the packet path: which site may send to which, decided
 * for every packet a peer sends, in constant time whatever the number of peers and rules.
 * Also the per-rule counters of denied packets. Pure: no I/O, no clock. */
#ifndef VPND_DAEMON_POLICY_H
#define VPND_DAEMON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vpnd_config;
struct wg_peer;
struct vpnd_policy;

/* *rule of a packet the default decided. */
#define VPND_POLICY_DEFAULT (-1)

/* The policy of a loaded config (c->policy NULL: allow everything). NULL when out of
 * memory. It keeps no pointer into c. */
struct vpnd_policy *vpnd_policy_new(const struct vpnd_config *c);
void vpnd_policy_free(struct vpnd_policy *p);

/* io.policy_allows: may a packet from peer `from` go to peer `to` (NULL: to this site's
 * side, local when its destination is in networks or addresses)? A denial is counted
 * on the rule that decided it, whose index goes to *rule (VPND_POLICY_DEFAULT: the
 * default). Peers are recognised by name once, then by their address in memory. */
bool vpnd_policy_check(struct vpnd_policy *p, const struct wg_peer *from, const struct wg_peer *to,
		       const uint8_t *pkt, size_t len, int *rule);
/* The packet's destination is this site's own side (its networks and addresses). */
bool vpnd_policy_to_local(const struct vpnd_policy *p, const uint8_t *pkt, size_t len);
/* Peers were added to the engine: a new one may sit where a removed one was. */
void vpnd_policy_peers_changed(struct vpnd_policy *p);

/* After a reload: the counters of every rule p shares with old (same rule, same list)
 * and of the default continue from old's, so that they never go down. */
void vpnd_policy_carry_counters(struct vpnd_policy *p, const struct vpnd_policy *old);
/* Same default and same rules in the same order. */
bool vpnd_policy_same_rules(const struct vpnd_policy *a, const struct vpnd_policy *b);

/* ---- for show and metrics ---- */
struct vpnd_policy_rule_info {
	const char *text; /* "A -> B", "A <-> B" */
	bool allow;	  /* in allow; else in deny */
	int line;
	uint64_t denied; /* packets this rule denied (always 0 for an allow rule) */
};

bool vpnd_policy_default_allow(const struct vpnd_policy *p);
uint64_t vpnd_policy_default_denied(const struct vpnd_policy *p);
/* Every denial, by a rule or by the default. */
uint64_t vpnd_policy_denied_total(const struct vpnd_policy *p);
/* Rules in the order of the file: allow's, then deny's. */
unsigned vpnd_policy_rule_count(const struct vpnd_policy *p);
void vpnd_policy_rule(const struct vpnd_policy *p, unsigned i, struct vpnd_policy_rule_info *out);

#endif
