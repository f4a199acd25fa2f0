/* The site policy in `vpnctl show`: its rules and how many packets each denied. */
#ifndef VPND_DAEMON_SHOW_POLICY_H
#define VPND_DAEMON_SHOW_POLICY_H

#include "policy.h"
#include "reply.h"

/* Lines under the interface, "  policy: default deny, 3 denied" then one per rule;
 * nothing while there is no rule and the default allows. */
void vpnd_show_policy_text(struct vpnd_reply *r, const struct vpnd_policy *p);
/* The member "policy": {"default", "denied", "default_denied", "rules": [{"action",
 * "rule", "line", "denied"}]}, without a separator after it. NULL p: allow everything. */
void vpnd_show_policy_json(struct vpnd_reply *r, const struct vpnd_policy *p);

#endif
