/* The site part of the configuration: `networks` (this site's LANs) and the `policy`
 * section (which site may reach which), checked against the peers of the same file. */
#ifndef VPND_DAEMON_CONFIG_POLICY_H
#define VPND_DAEMON_CONFIG_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "tunnel/peer.h"

struct vpnd_config;

/* What a rule calls this gateway's own side: its networks and its addresses. */
#define VPND_POLICY_LOCAL "local"
/* Rules in allow, and in deny, each. */
#define VPND_POLICY_MAX_RULES 4096
/* At most this many networks. */
#define VPND_MAX_NETWORKS 1024
/* "A <-> B" with two names of WG_PEER_NAME_MAX - 1 characters, and its NUL. */
#define VPND_POLICY_RULE_TEXT_MAX (2 * WG_PEER_NAME_MAX + 8)

/* One rule: "A -> B" lets packets from site A to site B through; "A <-> B" both ways.
 * A site is a peer's name or "local". */
struct vpnd_policy_rule {
	bool allow; /* in `allow`; else in `deny` */
	bool both;  /* "<->" */
	char from[WG_PEER_NAME_MAX], to[WG_PEER_NAME_MAX];
	int line;
};

struct vpnd_policy_conf {
	bool default_allow; /* default = "allow" (also when there is no policy section) */
	struct vpnd_policy_rule *rules; /* allow rules, then deny rules, each in file order */
	unsigned n_rules;
};

/* One value of the file and the line it is on. */
struct config_item {
	const char *text;
	int line;
};

/* The values as config.c read them; problem() is called with each complete message. */
struct config_site_input {
	const struct config_item *networks;
	unsigned n_networks;
	const struct config_item *def; /* NULL: not given */
	const struct config_item *allow, *deny;
	unsigned n_allow, n_deny;
	void (*problem)(void *ctx, int line, const char *msg);
	void *ctx;
};

/* Fill c->networks and c->policy from in, checking rule names against c->peers (so call it
 * once they are loaded). Every problem goes to in->problem. False when out of memory. */
bool config_site_load(const struct config_site_input *in, struct vpnd_config *c);
void config_site_free(struct vpnd_config *c);

/* "A -> B" or "A <-> B", blanks around the arrow optional. False with why filled in when
 * text is not a rule (names are not checked against any peer here). */
bool config_policy_parse_rule(const char *text, struct vpnd_policy_rule *out, char *why,
			      size_t whylen);
/* The rule as show and metrics print it: "A -> B", "A <-> B". */
const char *config_policy_rule_text(char buf[VPND_POLICY_RULE_TEXT_MAX],
				    const struct vpnd_policy_rule *r);

#endif
