/* What `vpnctl show` prints: the engine's state read through its public interface only,
 * as text laid out like `wg show` for people, and as the JSON document of the contract
 * for scripts. Reading never changes the engine. */
#include "show.h"
#include "datapath.h"
#include "storage_health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_values.h"
#include "show_endpoints.h"
#include "revocation.h"
#include "show_policy.h"
#include "tunnel/endpoint.h"
#include "tunnel/messages.h"
#include "tunnel/peer.h"
#include "tunnel/stats.h"
#include "vpnd/key.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

enum vpnd_peer_state vpnd_peer_state(const struct wg_peer *p, uint64_t now_mono_ns)
{
	const struct wg_keypair *kp = p->keypairs.current;

	/* A session born "after" now comes from a clock the caller read earlier: fresh. */
	if (kp && kp->send_valid &&
	    (now_mono_ns <= kp->birth_ns ||
	     now_mono_ns - kp->birth_ns < (uint64_t)WG_REJECT_AFTER_TIME * NSEC_PER_SEC))
		return VPND_PEER_UP;
	if (p->timers.retransmit_handshake)
		return VPND_PEER_CONNECTING;
	return VPND_PEER_DOWN;
}

const char *vpnd_peer_state_name(enum vpnd_peer_state s)
{
	switch (s) {
	case VPND_PEER_UP:
		return "up";
	case VPND_PEER_CONNECTING:
		return "connecting";
	case VPND_PEER_DOWN:
		break;
	}
	return "down";
}

const char *vpnd_show_peer_state(const struct wg_peer *p, uint64_t now_mono_ns)
{
	return vpnd_peer_state_name(vpnd_peer_state(p, now_mono_ns));
}

const char *vpnd_show_duration(char buf[VPND_SHOW_TIME_MAX], uint64_t left)
{
	static const struct {
		const char *name;
		uint64_t seconds;
	} units[] = {
	    {"year", 365 * 24 * 60 * 60},
	    {"day", 24 * 60 * 60},
	    {"hour", 60 * 60},
	    {"minute", 60},
	    {"second", 1},
	};
	size_t off = 0;

	if (left == 0) {
		snprintf(buf, VPND_SHOW_TIME_MAX, "Now");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = left / units[i].seconds;

		left %= units[i].seconds;
		if (!n)
			continue;
		/* 12 digits of years at most: all five units fit, this only guards. */
		if (off >= VPND_SHOW_TIME_MAX)
			break;
		off += (size_t)snprintf(buf + off, VPND_SHOW_TIME_MAX - off, "%s%" PRIu64 " %s%s",
					off ? ", " : "", n, units[i].name, n == 1 ? "" : "s");
	}
	return buf;
}

const char *vpnd_show_ago(char buf[VPND_SHOW_TIME_MAX], uint64_t now_s, uint64_t then_s)
{
	size_t len;

	if (then_s == 0)
		snprintf(buf, VPND_SHOW_TIME_MAX, "never");
	else if (then_s == now_s)
		snprintf(buf, VPND_SHOW_TIME_MAX, "Now");
	else if (then_s > now_s)
		snprintf(buf, VPND_SHOW_TIME_MAX,
			 "(System clock wound backward; connection problems may ensue.)");
	else {
		vpnd_show_duration(buf, now_s - then_s);
		len = strlen(buf);
		snprintf(buf + len, VPND_SHOW_TIME_MAX - len, " ago");
	}
	return buf;
}

const char *vpnd_show_bytes(char buf[VPND_SHOW_BYTES_MAX], uint64_t b)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	size_t i = 0;

	if (b < 1024) {
		snprintf(buf, VPND_SHOW_BYTES_MAX, "%" PRIu64 " B", b);
		return buf;
	}
	for (v /= 1024; v >= 1024 && i + 1 < sizeof(units) / sizeof(units[0]); i++)
		v /= 1024;
	snprintf(buf, VPND_SHOW_BYTES_MAX, "%.2f %s", v, units[i]);
	return buf;
}

const char *vpnd_show_prefix(char buf[VPND_SHOW_PREFIX_MAX], const struct wg_allowed_ip *ip)
{
	unsigned max = ip->family == AF_INET ? 32 : 128, cidr = ip->cidr;
	uint8_t addr[16] = {0};
	char text[INET6_ADDRSTRLEN];

	if ((ip->family != AF_INET && ip->family != AF_INET6) || cidr > max) {
		snprintf(buf, VPND_SHOW_PREFIX_MAX, "(invalid)");
		return buf;
	}
	memcpy(addr, ip->addr, max / 8);
	for (unsigned bit = cidr; bit < max; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	inet_ntop(ip->family, addr, text, sizeof(text));
	snprintf(buf, VPND_SHOW_PREFIX_MAX, "%s/%u", text, cidr);
	return buf;
}

/* The device key, or NULL before one is set (the engine reports all zeros then). */
static const char *public_key_str(char buf[VPND_KEY_B64_LEN + 1], const uint8_t *key)
{
	if (!key || sodium_is_zero(key, VPND_KEY_LEN))
		return NULL;
	vpnd_key_to_base64(buf, key);
	return buf;
}

static bool any_drops(const uint64_t drops[WG_DROP__COUNT])
{
	for (int i = 0; i < WG_DROP__COUNT; i++)
		if (drops[i])
			return true;
	return false;
}

static void text_drops(struct vpnd_reply *r, const char *indent,
		       const uint64_t drops[WG_DROP__COUNT])
{
	const char *sep = "";

	if (!any_drops(drops))
		return;
	vpnd_reply_printf(r, "%sdrops: ", indent);
	for (int i = 0; i < WG_DROP__COUNT; i++) {
		if (!drops[i])
			continue;
		vpnd_reply_printf(r, "%s%s %" PRIu64, sep, wg_drop_reason_name(i), drops[i]);
		sep = ", ";
	}
	vpnd_reply_printf(r, "\n");
}

static void text_peer(struct vpnd_reply *r, const struct vpnd_show_input *in,
		      const struct wg_peer *p)
{
	char key[VPND_KEY_B64_LEN + 1], ep[WG_ENDPOINT_STRLEN], t[VPND_SHOW_TIME_MAX];
	char prefix[VPND_SHOW_PREFIX_MAX], rx[VPND_SHOW_BYTES_MAX], tx[VPND_SHOW_BYTES_MAX];

	vpnd_key_to_base64(key, p->handshake.remote_static);
	vpnd_reply_printf(r, "peer: %s\n", p->name);
	vpnd_reply_printf(r, "  public key: %s\n", key);
	/* As wg does: whether there is one, never the key. */
	if (!sodium_is_zero(p->handshake.preshared_key, sizeof(p->handshake.preshared_key)))
		vpnd_reply_printf(r, "  preshared key: (hidden)\n");
	if (p->has_next_key) {
		vpnd_key_to_base64(key, p->next_key);
		vpnd_reply_printf(r, "  next public key: %s\n", key);
	}
	vpnd_reply_printf(r, "  state: %s\n", vpnd_show_peer_state(p, in->now_mono_ns));
	/* Said apart from the state: a revoked peer is down on purpose. */
	if (p->revoked)
		vpnd_reply_printf(r, "  revoked: yes (handshakes refused, nothing sent)\n");
	if (p->endpoint.addr.sa.sa_family != AF_UNSPEC)
		vpnd_reply_printf(r, "  endpoint: %s\n", wg_endpoint_format(&p->endpoint, ep));
	vpnd_show_endpoints_text(r, in->endpoints, p);
	vpnd_reply_printf(r, "  allowed ips: ");
	if (!p->n_allowed_ips)
		vpnd_reply_printf(r, "(none)");
	for (unsigned i = 0; i < p->n_allowed_ips; i++)
		vpnd_reply_printf(r, "%s%s", i ? ", " : "",
				  vpnd_show_prefix(prefix, &p->allowed_ips[i]));
	vpnd_reply_printf(r, "\n");
	vpnd_reply_printf(r, "  latest handshake: %s\n",
			  vpnd_show_ago(t, in->now_real_ns / NSEC_PER_SEC,
					p->stats.last_handshake_real_ns / NSEC_PER_SEC));
	vpnd_reply_printf(r, "  transfer: %s received, %s sent\n",
			  vpnd_show_bytes(rx, p->stats.rx_bytes),
			  vpnd_show_bytes(tx, p->stats.tx_bytes));
	if (p->persistent_keepalive)
		vpnd_reply_printf(r, "  persistent keepalive: every %s\n",
				  vpnd_show_duration(t, p->persistent_keepalive));
	text_drops(r, "  ", p->stats.drops);
}

int vpnd_show_text(struct vpnd_reply *r, const struct vpnd_show_input *in, const char *only_peer)
{
	const struct wg_device_stats *dev = wg_engine_stats(in->engine);
	char key[VPND_KEY_B64_LEN + 1];
	const char *pub;

	if (only_peer) {
		const struct wg_peer *p = wg_engine_find_peer_by_name(in->engine, only_peer);

		if (!p) {
			vpnd_reply_error(r, "no peer named '%s'", only_peer);
			return -ENOENT;
		}
		text_peer(r, in, p);
		return 0;
	}
	pub = public_key_str(key, wg_engine_public_key(in->engine));
	vpnd_reply_printf(r, "interface: %s\n", in->interface ? in->interface : "(unknown)");
	vpnd_reply_printf(r, "  public key: %s\n", pub ? pub : "(none)");
	vpnd_reply_printf(r, "  listening port: %u\n", (unsigned)in->listen_port);
	vpnd_store_text(r); /* only when the audit log or state files cannot be written */
	vpnd_show_policy_text(r, in->policy);
	for (const struct wg_peer *p = wg_engine_peers(in->engine); p; p = p->next) {
		vpnd_reply_printf(r, "\n");
		text_peer(r, in, p);
	}
	if (any_drops(dev->drops)) {
		vpnd_reply_printf(r, "\n");
		text_drops(r, "", dev->drops);
	}
	return 0;
}

static void json_drops(struct vpnd_reply *r, const uint64_t drops[WG_DROP__COUNT])
{
	vpnd_reply_printf(r, "{");
	for (int i = 0; i < WG_DROP__COUNT; i++) {
		vpnd_reply_printf(r, "%s", i ? ", " : "");
		vpnd_reply_json_string(r, wg_drop_reason_name(i));
		vpnd_reply_printf(r, ": %" PRIu64, drops[i]);
	}
	vpnd_reply_printf(r, "}");
}

static void json_peer(struct vpnd_reply *r, const struct vpnd_show_input *in,
		      const struct wg_peer *p)
{
	char key[VPND_KEY_B64_LEN + 1], ep[WG_ENDPOINT_STRLEN], prefix[VPND_SHOW_PREFIX_MAX];
	const struct wg_peer_stats *st = &p->stats;

	vpnd_key_to_base64(key, p->handshake.remote_static);
	vpnd_reply_printf(r, "    {\n      \"name\": ");
	vpnd_reply_json_string(r, p->name);
	vpnd_reply_printf(r, ",\n      \"public_key\": \"%s\",\n      \"endpoint\": ", key);
	vpnd_reply_json_string(r, p->endpoint.addr.sa.sa_family == AF_UNSPEC
				      ? NULL
				      : wg_endpoint_format(&p->endpoint, ep));
	vpnd_reply_printf(r, ",\n      \"endpoints\": ");
	vpnd_show_endpoints_json(r, in->endpoints, p);
	vpnd_reply_printf(r, ",\n      \"allowed_ips\": [");
	for (unsigned i = 0; i < p->n_allowed_ips; i++) {
		vpnd_reply_printf(r, "%s", i ? ", " : "");
		vpnd_reply_json_string(r, vpnd_show_prefix(prefix, &p->allowed_ips[i]));
	}
	vpnd_reply_printf(r, "],\n");
	vpnd_reply_printf(r, "      \"latest_handshake\": %" PRIu64 ",\n",
			  st->last_handshake_real_ns / NSEC_PER_SEC);
	vpnd_reply_printf(r, "      \"handshakes\": %" PRIu64 ",\n", st->handshakes);
	vpnd_reply_printf(r, "      \"rx_bytes\": %" PRIu64 ",\n", st->rx_bytes);
	vpnd_reply_printf(r, "      \"tx_bytes\": %" PRIu64 ",\n", st->tx_bytes);
	vpnd_reply_printf(r, "      \"rx_packets\": %" PRIu64 ",\n", st->rx_packets);
	vpnd_reply_printf(r, "      \"tx_packets\": %" PRIu64 ",\n", st->tx_packets);
	vpnd_reply_printf(r, "      \"relayed_packets\": %" PRIu64 ",\n", st->relayed_packets);
	vpnd_reply_printf(r, "      \"persistent_keepalive\": %u,\n",
			  (unsigned)p->persistent_keepalive);
	vpnd_reply_printf(r, "      \"state\": \"%s\",\n",
			  vpnd_show_peer_state(p, in->now_mono_ns));
	vpnd_reply_printf(r, "      \"revoked\": %s,\n", p->revoked ? "true" : "false");
	vpnd_reply_printf(r, "      \"next_public_key\": ");
	if (p->has_next_key)
		vpnd_key_to_base64(key, p->next_key);
	vpnd_reply_json_string(r, p->has_next_key ? key : NULL);
	vpnd_reply_printf(r, ",\n      \"drops\": ");
	json_drops(r, st->drops);
	vpnd_reply_printf(r, "\n    }");
}

/* What a tool needs to extend this site's configuration (vpnctl branch add): the file, as
 * an absolute path since the tool may run elsewhere, the site's own addresses and LANs,
 * and where other sites reach it. */
static void json_site(struct vpnd_reply *r, const struct vpnd_config *c)
{
	char cwd[PATH_MAX], prefix[CONFIG_PREFIX_TEXT_MAX], *abs = NULL;

	if (!c)
		return;
	vpnd_reply_printf(r, "  \"config_file\": ");
	if (c->path[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
	    asprintf(&abs, "%s/%s", cwd, c->path) < 0)
		abs = NULL;
	vpnd_reply_json_string(r, abs ? abs : c->path);
	free(abs);
	/* Who the daemon runs as: files a tool writes for it (a branch's preshared key)
	 * must be readable by that user after the privilege drop. */
	vpnd_reply_printf(r, ",\n  \"daemon_uid\": %u,\n  \"daemon_gid\": %u", (unsigned)getuid(),
			  (unsigned)getgid());
	vpnd_reply_printf(r, ",\n  \"addresses\": [");
	for (unsigned i = 0; i < c->n_addresses; i++) {
		vpnd_reply_printf(r, "%s", i ? ", " : "");
		vpnd_reply_json_string(r, config_format_prefix(prefix, c->addresses[i].family,
							       c->addresses[i].addr,
							       c->addresses[i].prefixlen));
	}
	vpnd_reply_printf(r, "],\n  \"networks\": [");
	for (unsigned i = 0; i < c->n_networks; i++) {
		vpnd_reply_printf(r, "%s", i ? ", " : "");
		vpnd_reply_json_string(r, vpnd_show_prefix(prefix, &c->networks[i]));
	}
	vpnd_reply_printf(r, "],\n  \"public_endpoint\": ");
	vpnd_reply_json_string(r, c->public_endpoint);
	vpnd_reply_printf(r, ",\n");
}

void vpnd_show_json(struct vpnd_reply *r, const struct vpnd_show_input *in)
{
	const struct wg_device_stats *dev = wg_engine_stats(in->engine);
	char key[VPND_KEY_B64_LEN + 1];

	vpnd_reply_printf(r, "{\n  \"interface\": ");
	vpnd_reply_json_string(r, in->interface);
	vpnd_reply_printf(r, ",\n  \"public_key\": ");
	vpnd_reply_json_string(r, public_key_str(key, wg_engine_public_key(in->engine)));
	vpnd_reply_printf(r, ",\n  \"listen_port\": %u,\n", (unsigned)in->listen_port);
	json_site(r, in->config);
	vpnd_reply_printf(r, "  \"drops\": ");
	json_drops(r, dev->drops);
	vpnd_reply_printf(r, ",\n  \"handshake_initiations_received\": %" PRIu64 ",\n",
			  dev->handshake_initiations_received);
	vpnd_reply_printf(r, "  \"cookie_replies_sent\": %" PRIu64 ",\n", dev->cookie_replies_sent);
	if (in->datapath)
		vpnd_reply_printf(
		    r,
		    "  \"handshake_queue\": {\"length\": %u, \"high_water\": %u, "
		    "\"capacity\": %u, \"queued\": %" PRIu64 ", \"wait_max_ms\": %.3f},\n",
		    in->datapath->handshake_queue_len, in->datapath->handshake_queue_high_water,
		    in->datapath->handshake_queue_cap, in->datapath->handshakes_queued,
		    (double)in->datapath->handshake_wait_max_ns / 1e6);
	vpnd_reply_printf(r, "  ");
	vpnd_store_json(r);
	vpnd_reply_printf(r, ",\n");
	vpnd_reply_printf(r, "  ");
	vpnd_show_policy_json(r, in->policy);
	vpnd_reply_printf(r, ",\n  \"revoked_keys\": [");
	for (unsigned i = 0, n = 0; in->revoked && i < in->revoked->n_lines; i++) {
		if (!in->revoked->lines[i].has_key)
			continue;
		vpnd_key_to_base64(key, in->revoked->lines[i].key);
		vpnd_reply_printf(r, "%s\"%s\"", n++ ? ", " : "", key);
	}
	vpnd_reply_printf(r, "],\n");
	vpnd_reply_printf(r, "  \"peers\": [");
	for (const struct wg_peer *p = wg_engine_peers(in->engine); p; p = p->next) {
		vpnd_reply_printf(r, "%s\n", p == wg_engine_peers(in->engine) ? "" : ",");
		json_peer(r, in, p);
	}
	vpnd_reply_printf(r, "%s]\n}\n", wg_engine_peers(in->engine) ? "\n  " : "");
}
