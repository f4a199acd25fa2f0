/* The Prometheus text exposition of an engine: every family has its HELP and TYPE lines
 * followed by all its samples, as the format requires. Counters are printed even when
 * zero, so that rate() sees them from the first scrape; the only sample ever left out is
 * the handshake age of a peer that never had a handshake (an age of "never" has no
 * honest number, and a made-up one would poison min() and alerts). */
#include "metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "show.h"
#include "storage_health.h"
#include "tunnel/peer.h"
#include "tunnel/stats.h"
#include "vpnd/key.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

/* The format's three escapes in a label value; NULL for a byte that stands as it is. */
static const char *label_escape(char c)
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '"':
		return "\\\"";
	case '\n':
		return "\\n";
	default:
		return NULL;
	}
}

void vpnd_metrics_label_value(struct vpnd_reply *r, const char *s)
{
	const char *run = s, *esc;

	for (; *s; s++) {
		if (!(esc = label_escape(*s)))
			continue;
		vpnd_reply_printf(r, "%.*s%s", (int)(s - run), run, esc);
		run = s + 1;
	}
	vpnd_reply_printf(r, "%s", run);
}

static void family(struct vpnd_reply *r, const char *name, const char *type, const char *help)
{
	vpnd_reply_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void device_labels(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	vpnd_reply_printf(r, "interface=\"");
	vpnd_metrics_label_value(r, in->interface ? in->interface : "");
	vpnd_reply_printf(r, "\"");
}

static void peer_labels(struct vpnd_reply *r, const struct vpnd_metrics_input *in,
			const struct wg_peer *p)
{
	char key[VPND_KEY_B64_LEN + 1];

	vpnd_key_to_base64(key, p->handshake.remote_static);
	device_labels(r, in);
	vpnd_reply_printf(r, ",peer=\"");
	vpnd_metrics_label_value(r, p->name);
	vpnd_reply_printf(r, "\",public_key=\"%s\"", key);
}

/* Per-peer counters that are plain fields of struct wg_peer_stats. */
static const struct {
	const char *name, *help;
	size_t offset;
} peer_counters[] = {
    {"vpnd_peer_receive_bytes_total",
     "Bytes of authenticated WireGuard messages (UDP payload) received from the peer.",
     offsetof(struct wg_peer_stats, rx_bytes)},
    {"vpnd_peer_transmit_bytes_total",
     "Bytes of WireGuard messages (UDP payload) sent to the peer.",
     offsetof(struct wg_peer_stats, tx_bytes)},
    {"vpnd_peer_receive_packets_total",
     "IP packets received from the peer through the tunnel (keepalives not counted).",
     offsetof(struct wg_peer_stats, rx_packets)},
    {"vpnd_peer_transmit_packets_total",
     "IP packets sent to the peer through the tunnel (keepalives not counted).",
     offsetof(struct wg_peer_stats, tx_packets)},
    {"vpnd_peer_handshakes_total", "Handshakes completed with the peer.",
     offsetof(struct wg_peer_stats, handshakes)},
    {"vpnd_peer_relayed_packets_total",
     "IP packets from the peer that this gateway relayed on to another peer.",
     offsetof(struct wg_peer_stats, relayed_packets)},
};

static uint64_t stat_at(const struct wg_peer *p, size_t offset)
{
	return *(const uint64_t *)((const char *)&p->stats + offset);
}

static void device_counter(struct vpnd_reply *r, const struct vpnd_metrics_input *in,
			   const char *name, const char *help, uint64_t value)
{
	family(r, name, "counter", help);
	vpnd_reply_printf(r, "%s{", name);
	device_labels(r, in);
	vpnd_reply_printf(r, "} %" PRIu64 "\n", value);
}

static void device_gauge(struct vpnd_reply *r, const struct vpnd_metrics_input *in,
			 const char *name, const char *help, double value)
{
	family(r, name, "gauge", help);
	vpnd_reply_printf(r, "%s{", name);
	device_labels(r, in);
	vpnd_reply_printf(r, "} %.9g\n", value);
}

static void device_metrics(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	const struct wg_device_stats *dev = wg_engine_stats(in->engine);

	family(r, "vpnd_build_info", "gauge", "Always 1; the version label says which vpnd runs.");
	vpnd_reply_printf(r, "vpnd_build_info{version=\"");
	vpnd_metrics_label_value(r, VPND_VERSION);
	vpnd_reply_printf(r, "\"} 1\n");

	device_counter(r, in, "vpnd_handshakes_total",
		       "Handshakes completed with any peer since vpnd started.",
		       in->handshakes_completed);
	device_counter(r, in, "vpnd_handshake_initiations_received_total",
		       "Handshake initiations received, answered or not.",
		       dev->handshake_initiations_received);
	device_counter(r, in, "vpnd_cookie_replies_sent_total",
		       "Cookie replies sent instead of an answer while under load.",
		       dev->cookie_replies_sent);

	family(r, "vpnd_drops_total", "counter",
	       "Datagrams and packets dropped by the interface, by reason (those of every peer "
	       "included).");
	for (int i = 0; i < WG_DROP__COUNT; i++) {
		vpnd_reply_printf(r, "vpnd_drops_total{");
		device_labels(r, in);
		vpnd_reply_printf(r, ",reason=\"%s\"} %" PRIu64 "\n", wg_drop_reason_name(i),
				  dev->drops[i]);
	}
}

/* How the packet path batches: system calls against packets show what offloads do. */
static void datapath_metrics(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	const struct vpnd_datapath_stats *d = in->datapath;

	device_counter(r, in, "vpnd_tun_reads_total", "Reads from the TUN device.", d->tun_reads);
	device_counter(r, in, "vpnd_tun_writes_total", "Writes to the TUN device.", d->tun_writes);
	device_counter(r, in, "vpnd_tun_write_errors_total",
		       "Packets the TUN device refused (queue full or device gone).",
		       d->tun_write_errors);
	device_counter(r, in, "vpnd_tun_super_packets_total",
		       "TUN reads that were TSO/USO super-packets cut into several packets.",
		       d->super_packets);
	device_counter(r, in, "vpnd_tun_bad_offload_total",
		       "TUN reads whose offload header could not be honoured (dropped).",
		       d->bad_offload);
	device_counter(r, in, "vpnd_udp_reads_total",
		       "Batched reads (recvmmsg) that returned data.", d->udp_reads);
	device_counter(r, in, "vpnd_udp_gro_buffers_total",
		       "Received buffers that held several datagrams (UDP GRO).", d->gro_buffers);
	device_counter(r, in, "vpnd_handshakes_queued_total",
		       "Handshake messages set aside to be handled after the transport data of "
		       "their batch.",
		       d->handshakes_queued);
	device_gauge(r, in, "vpnd_handshake_queue_length", "Handshake messages waiting now.",
		     d->handshake_queue_len);
	device_gauge(r, in, "vpnd_handshake_queue_high_water",
		     "The most handshake messages that ever waited at once.",
		     d->handshake_queue_high_water);
	device_gauge(r, in, "vpnd_handshake_queue_capacity",
		     "How many handshake messages may wait; more are dropped (reason "
		     "handshake_backlog).",
		     d->handshake_queue_cap);
	device_gauge(r, in, "vpnd_handshake_wait_max_seconds",
		     "The longest a handshake message waited in the queue.",
		     (double)d->handshake_wait_max_ns / 1e9);
	device_counter(r, in, "vpnd_udp_send_calls_total",
		       "System calls that sent datagrams (one may carry many).",
		       in->udp_send_calls);
	device_counter(r, in, "vpnd_udp_send_errors_total", "Datagrams the kernel refused to send.",
		       in->udp_send_errors);
}

/* Denials by the rule that decided them: each deny rule of the policy, and "default". */
static void policy_metrics(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	struct vpnd_policy_rule_info rule;

	family(r, "vpnd_policy_denied_total", "counter",
	       "Packets from peers the site policy denied, by the rule that denied them "
	       "(\"default\": no rule matched and the default is deny).");
	vpnd_reply_printf(r, "vpnd_policy_denied_total{");
	device_labels(r, in);
	vpnd_reply_printf(r, ",rule=\"default\"} %" PRIu64 "\n",
			  vpnd_policy_default_denied(in->policy));
	for (unsigned i = 0; i < vpnd_policy_rule_count(in->policy); i++) {
		vpnd_policy_rule(in->policy, i, &rule);
		if (rule.allow)
			continue;
		vpnd_reply_printf(r, "vpnd_policy_denied_total{");
		device_labels(r, in);
		vpnd_reply_printf(r, ",rule=\"");
		vpnd_metrics_label_value(r, rule.text);
		vpnd_reply_printf(r, "\"} %" PRIu64 "\n", rule.denied);
	}
}

static void peer_metrics(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	const struct wg_peer *first = wg_engine_peers(in->engine);

	family(r, "vpnd_peer_up", "gauge",
	       "1 while the peer has a session that can carry traffic, else 0.");
	for (const struct wg_peer *p = first; p; p = p->next) {
		bool up = strcmp(vpnd_show_peer_state(p, in->now_mono_ns), "up") == 0;

		vpnd_reply_printf(r, "vpnd_peer_up{");
		peer_labels(r, in, p);
		vpnd_reply_printf(r, "} %d\n", up);
	}

	family(r, "vpnd_peer_revoked", "gauge",
	       "1 while the peer is revoked (its key is in the revocation list), else 0.");
	for (const struct wg_peer *p = first; p; p = p->next) {
		vpnd_reply_printf(r, "vpnd_peer_revoked{");
		peer_labels(r, in, p);
		vpnd_reply_printf(r, "} %d\n", p->revoked);
	}

	for (size_t c = 0; c < sizeof(peer_counters) / sizeof(peer_counters[0]); c++) {
		family(r, peer_counters[c].name, "counter", peer_counters[c].help);
		for (const struct wg_peer *p = first; p; p = p->next) {
			vpnd_reply_printf(r, "%s{", peer_counters[c].name);
			peer_labels(r, in, p);
			vpnd_reply_printf(r, "} %" PRIu64 "\n",
					  stat_at(p, peer_counters[c].offset));
		}
	}

	family(r, "vpnd_peer_last_handshake_age_seconds", "gauge",
	       "Seconds since the latest completed handshake with the peer; no sample while "
	       "there has been none.");
	for (const struct wg_peer *p = first; p; p = p->next) {
		uint64_t then = p->stats.last_handshake_real_ns, age;

		if (!then)
			continue;
		/* A wall clock set back makes the handshake look future: call it fresh. */
		age = in->now_real_ns > then ? in->now_real_ns - then : 0;
		vpnd_reply_printf(r, "vpnd_peer_last_handshake_age_seconds{");
		peer_labels(r, in, p);
		vpnd_reply_printf(r, "} %" PRIu64 ".%03" PRIu64 "\n", age / NSEC_PER_SEC,
				  age % NSEC_PER_SEC / 1000000);
	}

	family(r, "vpnd_peer_drops_total", "counter",
	       "Datagrams and packets of the peer dropped, by reason.");
	for (const struct wg_peer *p = first; p; p = p->next) {
		for (int i = 0; i < WG_DROP__COUNT; i++) {
			vpnd_reply_printf(r, "vpnd_peer_drops_total{");
			peer_labels(r, in, p);
			vpnd_reply_printf(r, ",reason=\"%s\"} %" PRIu64 "\n",
					  wg_drop_reason_name(i), p->stats.drops[i]);
		}
	}
}

void vpnd_metrics_render(struct vpnd_reply *r, const struct vpnd_metrics_input *in)
{
	device_metrics(r, in);
	if (in->datapath)
		datapath_metrics(r, in);
	if (in->policy)
		policy_metrics(r, in);
	peer_metrics(r, in);
	vpnd_store_metrics(r, in->interface);
}
