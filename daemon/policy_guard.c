/* Enforcing the site policy in the running daemon: judging each packet (policy.c),
 * telling people about denials without letting a busy LAN host flood the log or the audit
 * trail, and swapping in the policy of a reloaded config. */
#include "daemon/policy_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/audit.h"
#include "daemon/config.h"
#include "daemon/config_policy.h"
#include "daemon/log.h"
#include "tunnel/engine.h"
#include "tunnel/peer.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Source, destination and protocol of an IP packet, for people to read. */
struct packet_text {
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	unsigned proto;
};

static void describe(const uint8_t *pkt, size_t len, struct packet_text *t)
{
	snprintf(t->src, sizeof(t->src), "?");
	snprintf(t->dst, sizeof(t->dst), "?");
	t->proto = 0;
	if (len >= 20 && pkt[0] >> 4 == 4) {
		inet_ntop(AF_INET, pkt + 12, t->src, sizeof(t->src));
		inet_ntop(AF_INET, pkt + 16, t->dst, sizeof(t->dst));
		t->proto = pkt[9];
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		inet_ntop(AF_INET6, pkt + 8, t->src, sizeof(t->src));
		inet_ntop(AF_INET6, pkt + 24, t->dst, sizeof(t->dst));
		t->proto = pkt[6];
	}
}

static void report_denial(struct vpnd_policy_guard *g, const struct wg_peer *from,
			  const struct wg_peer *to, const uint8_t *pkt, size_t len, int rule)
{
	uint64_t now = mono_ns();
	bool log_now = !g->logged_at || now - g->logged_at >= VPND_POLICY_LOG_INTERVAL_NS;
	bool audit_now = !g->audited_at || now - g->audited_at >= VPND_POLICY_AUDIT_INTERVAL_NS;
	struct vpnd_policy_rule_info info = {.text = "default"};
	const char *src_site = from ? from->name : "?", *dst_site;
	char by[VPND_POLICY_RULE_TEXT_MAX + 16], more[48] = "";
	struct packet_text t;

	if (!log_now)
		g->log_suppressed++;
	if (!audit_now)
		g->audit_suppressed++;
	if (!log_now && !audit_now)
		return;
	if (rule != VPND_POLICY_DEFAULT)
		vpnd_policy_rule(g->policy, (unsigned)rule, &info);
	if (to)
		dst_site = to->name;
	else
		dst_site = vpnd_policy_to_local(g->policy, pkt, len) ? "local" : "elsewhere";
	describe(pkt, len, &t);
	if (log_now) {
		if (rule == VPND_POLICY_DEFAULT)
			snprintf(by, sizeof(by), "the default");
		else
			snprintf(by, sizeof(by), "rule '%s'", info.text);
		if (g->log_suppressed)
			snprintf(more, sizeof(more), " (%" PRIu64 " more denial%s not logged)",
				 g->log_suppressed, g->log_suppressed == 1 ? "" : "s");
		log_notice("policy denied %s -> %s: %s -> %s protocol %u, by %s%s", src_site,
			   dst_site, t.src, t.dst, t.proto, by, more);
		g->logged_at = now;
		g->log_suppressed = 0;
	}
	if (audit_now) {
		vpnd_audit_event("policy-denied", VPND_AUDIT_STR("from", src_site),
				 VPND_AUDIT_STR("to", dst_site), VPND_AUDIT_STR("rule", info.text),
				 VPND_AUDIT_STR("src", t.src), VPND_AUDIT_STR("dst", t.dst),
				 VPND_AUDIT_UINT("protocol", t.proto),
				 VPND_AUDIT_UINT("not_recorded", g->audit_suppressed));
		g->audited_at = now;
		g->audit_suppressed = 0;
	}
}

bool vpnd_policy_guard_allows(struct vpnd_policy_guard *g, const struct wg_peer *from,
			      const struct wg_peer *to, const uint8_t *pkt, size_t len)
{
	int rule;

	if (!g->policy || vpnd_policy_check(g->policy, from, to, pkt, len, &rule))
		return true;
	report_denial(g, from, to, pkt, len, rule);
	return false;
}

static void log_policy(const char *what, const struct vpnd_policy *p)
{
	unsigned n = vpnd_policy_rule_count(p), allow = 0;
	struct vpnd_policy_rule_info r;

	for (unsigned i = 0; i < n; i++) {
		vpnd_policy_rule(p, i, &r);
		allow += r.allow;
	}
	log_notice("%s: default %s, %u allow rule%s, %u deny rule%s", what,
		   vpnd_policy_default_allow(p) ? "allow" : "deny", allow, allow == 1 ? "" : "s",
		   n - allow, n - allow == 1 ? "" : "s");
}

/* The engine's view of `local`: the same prefixes as the policy's. */
static int set_local_networks(struct wg_engine *e, const struct vpnd_config *c)
{
	struct wg_allowed_ip *nets = calloc(c->n_networks + c->n_addresses + 1, sizeof(*nets));
	unsigned n = 0;
	int ret;

	if (!nets)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_networks; i++)
		nets[n++] = c->networks[i];
	for (unsigned i = 0; i < c->n_addresses; i++) {
		nets[n].family = c->addresses[i].family;
		memcpy(nets[n].addr, c->addresses[i].addr, sizeof(nets[n].addr));
		nets[n++].cidr = c->addresses[i].family == AF_INET ? 32 : 128;
	}
	ret = wg_engine_set_local_networks(e, nets, n);
	free(nets);
	return ret;
}

int vpnd_policy_guard_install(struct vpnd_policy_guard *g, struct wg_engine *e,
			      const struct vpnd_config *c)
{
	struct vpnd_policy *p = vpnd_policy_new(c);
	int ret;

	if ((ret = set_local_networks(e, c)) < 0)
		log_err("networks: cannot hand them to the engine: %s; it keeps the ones it had",
			strerror(-ret));
	if (!p) {
		log_err("policy: out of memory compiling it; %s", g->policy
								      ? "the previous one stays "
									"in force"
								      : "nothing is enforced");
		return -ENOMEM;
	}
	if (!g->policy) {
		if (vpnd_policy_rule_count(p) || !vpnd_policy_default_allow(p))
			log_policy("policy", p);
	} else {
		if (!vpnd_policy_same_rules(p, g->policy))
			log_policy("policy replaced", p);
		vpnd_policy_carry_counters(p, g->policy);
		vpnd_policy_free(g->policy);
	}
	g->policy = p;
	return 0;
}

void vpnd_policy_guard_peers_changed(struct vpnd_policy_guard *g)
{
	vpnd_policy_peers_changed(g->policy);
}

void vpnd_policy_guard_clear(struct vpnd_policy_guard *g)
{
	vpnd_policy_free(g->policy);
	*g = (struct vpnd_policy_guard){0};
}
