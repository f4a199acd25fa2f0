/* Runtime peer changes over the control socket. A peer added here is a peer like any
 * other (cryptokey routing, routes on the TUN, audit) but exists only in the running
 * engine; reload compares the file with the engine, so it puts the file's view back. */
#include "control_peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit_events.h"
#include "config_values.h"
#include "log.h"
#include "runtime.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"

/* The preshared key arrives as a word of the request, which the control server hands to
 * the audit log after the command: the word is overwritten before that. */
static void hide_secret(char *value)
{
	static const char shown[] = "(hidden)";
	size_t n = strlen(value);

	sodium_memzero(value, n);
	if (n >= sizeof(shown) - 1)
		memcpy(value, shown, sizeof(shown) - 1);
}

static bool prefix_eq(const struct wg_allowed_ip *a, const struct wg_allowed_ip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* A prefix is one peer's: the engine would silently move it, the config calls it an
 * error, and so does this command. */
static const struct wg_peer *holder_of(const struct wg_engine *e, const struct wg_allowed_ip *ip)
{
	for (const struct wg_peer *p = wg_engine_peers(e); p; p = p->next)
		for (unsigned i = 0; i < p->n_allowed_ips; i++)
			if (prefix_eq(&p->allowed_ips[i], ip))
				return p;
	return NULL;
}

/* text is "PREFIX,PREFIX,...". Every problem goes to r. */
static unsigned parse_allowed_ips(const struct vpnd_runtime *rt, const char *text,
				  struct wg_allowed_ip *ips, struct vpnd_reply *r)
{
	char buf[64 + CONFIG_PREFIX_TEXT_MAX], *save = NULL, *word;
	char *list = strdup(text);
	unsigned n = 0;

	if (!list) {
		vpnd_reply_error(r, "out of memory");
		return 0;
	}
	for (word = strtok_r(list, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
		const struct wg_peer *holder;
		const char *why;

		if (n == VPND_MAX_ALLOWED_IPS) {
			vpnd_reply_error(r, "allowed-ips: more than %d prefixes",
					 VPND_MAX_ALLOWED_IPS);
			break;
		}
		why = config_parse_network(word, &ips[n], buf, sizeof(buf));
		if (why) {
			vpnd_reply_error(r, "allowed-ips: '%s' %s", word, why);
			continue;
		}
		holder = holder_of(rt->engine, &ips[n]);
		if (holder) {
			vpnd_reply_error(r, "allowed-ips: %s belongs to peer '%s' already", word,
					 holder->name);
			continue;
		}
		for (unsigned i = 0; i < n && !why; i++)
			if (prefix_eq(&ips[i], &ips[n]))
				why = "is listed twice";
		if (why) {
			vpnd_reply_error(r, "allowed-ips: %s %s", word, why);
			continue;
		}
		n++;
	}
	free(list);
	return n;
}

static bool parse_value(const char *word, char *value, struct vpnd_peer_conf *pc,
			struct vpnd_reply *r)
{
	char why[96];
	unsigned long n;

	if (!strcmp(word, "endpoint")) {
		/* Numeric only: vpnctl resolves names, so the event loop never waits on DNS. */
		if (wg_endpoint_parse(&pc->endpoint, value) < 0) {
			vpnd_reply_error(
			    r, "endpoint: '%s' is not a numeric IP:PORT or [IPV6]:PORT", value);
			return false;
		}
		pc->endpoint_spec = value;
	} else if (!strcmp(word, "keepalive")) {
		if (!config_parse_uint(value, 10, &n) || n > 65535) {
			vpnd_reply_error(r, "keepalive: '%s' is not 0..65535 seconds", value);
			return false;
		}
		pc->persistent_keepalive = (uint16_t)n;
	} else if (!strcmp(word, "preshared-key")) {
		pc->has_preshared_key = vpnd_key_from_base64(pc->preshared_key, value);
		if (!pc->has_preshared_key)
			vpnd_reply_error(r, "preshared-key: the key %s",
					 config_key_problem(value, why, sizeof(why)));
		hide_secret(value);
		return pc->has_preshared_key;
	} else {
		vpnd_reply_error(r,
				 "unknown option '%s' (valid: endpoint, keepalive, "
				 "preshared-key)",
				 word);
		return false;
	}
	return true;
}

/* One "key=value" option; false (and the problem in r) when it is not one of ours or its
 * value is bad. The word is left as it came, but for a hidden secret. */
static bool parse_option(char *word, struct vpnd_peer_conf *pc, struct vpnd_reply *r)
{
	char *eq = strchr(word, '=');
	bool ok;

	if (!eq) {
		vpnd_reply_error(r, "'%s' is not OPTION=VALUE", word);
		return false;
	}
	*eq = '\0';
	ok = parse_value(word, eq + 1, pc, r);
	*eq = '=';
	return ok;
}

/* The applied configuration's entry for the same key, if the file has this peer: it
 * then records the endpoint set here, so that a reload sees the difference and puts the
 * file's endpoint back. */
static void note_in_applied_config(struct vpnd_runtime *rt, const struct vpnd_peer_conf *pc)
{
	for (unsigned i = 0; i < rt->config->n_peers; i++) {
		struct vpnd_peer_conf *fc = &rt->config->peers[i];

		if (sodium_memcmp(fc->public_key, pc->public_key, 32) != 0)
			continue;
		free(fc->endpoint_spec);
		fc->endpoint_spec = pc->endpoint_spec ? strdup(pc->endpoint_spec) : NULL;
		fc->endpoint = pc->endpoint;
		return;
	}
}

void vpnd_cmd_peer_add(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	struct vpnd_peer_conf pc;
	struct wg_allowed_ip *ips = NULL;
	char why[96];
	bool ok = true;
	struct wg_peer *p;
	int ret;

	memset(&pc, 0, sizeof(pc));
	pc.endpoint.addr.sa.sa_family = AF_UNSPEC;
	/* Options first: the preshared key leaves the request however the rest goes. */
	for (int i = 4; i < argc; i++)
		ok = parse_option(argv[i], &pc, r) && ok;

	if (!config_valid_name(argv[1], VPND_PEER_NAME_MAX)) {
		vpnd_reply_error(r,
				 "peer name '%s': a name is 1..%d characters of A-Z a-z 0-9 "
				 "_ . -",
				 argv[1], VPND_PEER_NAME_MAX);
		ok = false;
	} else if (wg_engine_find_peer_by_name(rt->engine, argv[1])) {
		vpnd_reply_error(r, "a peer named '%s' exists already", argv[1]);
		ok = false;
	}
	snprintf(pc.name, sizeof(pc.name), "%s", argv[1]);

	if (!vpnd_key_from_base64(pc.public_key, argv[2])) {
		vpnd_reply_error(r, "public-key: '%s' %s", argv[2],
				 config_key_problem(argv[2], why, sizeof(why)));
		ok = false;
	} else if ((p = wg_engine_find_peer(rt->engine, pc.public_key))) {
		vpnd_reply_error(r, "public-key: peer '%s' has this key already", p->name);
		ok = false;
	} else if (sodium_memcmp(pc.public_key, rt->config->public_key, 32) == 0) {
		vpnd_reply_error(r, "public-key: that is this interface's own key");
		ok = false;
	}

	ips = calloc(VPND_MAX_ALLOWED_IPS, sizeof(*ips));
	if (!ips) {
		vpnd_reply_error(r, "out of memory");
		goto out;
	}
	pc.allowed_ips = ips;
	pc.n_allowed_ips = parse_allowed_ips(rt, argv[3], ips, r);
	if (!ok || r->error)
		goto out;

	ret = vpnd_runtime_add_peer(rt, &pc, vpnd_now());
	if (ret < 0) {
		vpnd_reply_error(r, "peer '%s': the engine refused it: %s", pc.name,
				 strerror(-ret));
		goto out;
	}
	p = wg_engine_find_peer(rt->engine, pc.public_key);
	if ((ret = vpnd_runtime_sync_routes(rt)) < 0) {
		/* Without its routes the peer would be there and unreachable: take it out. */
		vpnd_audit_peer("peer-removed", pc.name, pc.public_key);
		wg_engine_remove_peer(rt->engine, p);
		vpnd_runtime_sync_routes(rt);
		vpnd_reply_error(r,
				 "peer '%s': its routes could not be installed on %s: %s; not "
				 "added",
				 pc.name, rt->ifname, strerror(-ret));
		goto out;
	}
	note_in_applied_config(rt, &pc);
	log_notice("peer %s added by uid %u over the control socket (until the next reload or "
		   "restart)",
		   pc.name, (unsigned)caller);
	vpnd_reply_printf(r, "peer %s added (until the next reload or restart)\n", pc.name);
out:
	sodium_memzero(pc.preshared_key, sizeof(pc.preshared_key));
	free(ips);
}

void vpnd_cmd_peer_remove(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	struct wg_peer *p = wg_engine_find_peer_by_name(rt->engine, argv[1]);
	uint8_t key[32];
	int ret;

	(void)argc;
	if (!p) {
		vpnd_reply_error(r, "no peer named '%s'", argv[1]);
		return;
	}
	memcpy(key, p->handshake.remote_static, sizeof(key));
	wg_engine_remove_peer(rt->engine, p);
	vpnd_audit_peer("peer-removed", argv[1], key);
	log_notice("peer %s removed by uid %u over the control socket (until the next reload "
		   "or restart)",
		   argv[1], (unsigned)caller);
	if ((ret = vpnd_runtime_sync_routes(rt)) < 0)
		log_err("%s: routes not fully in line with the peers after removing %s: %s",
			rt->ifname, argv[1], strerror(-ret));
	vpnd_reply_printf(r, "peer %s removed (until the next reload or restart)\n", argv[1]);
}
