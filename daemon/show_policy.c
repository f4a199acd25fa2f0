/* The policy part of `vpnctl show`: read-only, from the policy in force. */
#include "daemon/show_policy.h"

#include <inttypes.h>

void vpnd_show_policy_text(struct vpnd_reply *r, const struct vpnd_policy *p)
{
	unsigned n = vpnd_policy_rule_count(p);
	struct vpnd_policy_rule_info info;

	if (!n && vpnd_policy_default_allow(p))
		return;
	vpnd_reply_printf(r, "  policy: default %s",
			  vpnd_policy_default_allow(p) ? "allow" : "deny");
	if (vpnd_policy_default_denied(p))
		vpnd_reply_printf(r, " (denied %" PRIu64 ")", vpnd_policy_default_denied(p));
	vpnd_reply_printf(r, "\n");
	for (unsigned i = 0; i < n; i++) {
		vpnd_policy_rule(p, i, &info);
		vpnd_reply_printf(r, "    %s %s", info.allow ? "allow" : "deny", info.text);
		if (info.denied)
			vpnd_reply_printf(r, " (denied %" PRIu64 ")", info.denied);
		vpnd_reply_printf(r, "\n");
	}
}

void vpnd_show_policy_json(struct vpnd_reply *r, const struct vpnd_policy *p)
{
	unsigned n = vpnd_policy_rule_count(p);
	struct vpnd_policy_rule_info info;

	vpnd_reply_printf(r,
			  "\"policy\": {\"default\": \"%s\", \"denied\": %" PRIu64
			  ", \"default_denied\": %" PRIu64 ", \"rules\": [",
			  vpnd_policy_default_allow(p) ? "allow" : "deny",
			  vpnd_policy_denied_total(p), vpnd_policy_default_denied(p));
	for (unsigned i = 0; i < n; i++) {
		vpnd_policy_rule(p, i, &info);
		vpnd_reply_printf(r, "%s{\"action\": \"%s\", \"rule\": ", i ? ", " : "",
				  info.allow ? "allow" : "deny");
		vpnd_reply_json_string(r, info.text);
		vpnd_reply_printf(r, ", \"line\": %d, \"denied\": %" PRIu64 "}", info.line,
				  info.denied);
	}
	vpnd_reply_printf(r, "]}");
}
