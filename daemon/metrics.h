/* The engine's counters in the Prometheus text exposition format (version 0.0.4): what
 * GET /metrics and `vpnctl metrics` return. */
#ifndef VPND_DAEMON_METRICS_H
#define VPND_DAEMON_METRICS_H

#include <stdint.h>

#include "datapath.h"
#include "policy.h"
#include "reply.h"
#include "tunnel/engine.h"

#define VPND_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct vpnd_metrics_input {
	const char *interface;
	const struct wg_engine *engine;
	uint64_t now_real_ns; /* wall clock, for the age of the latest handshake */
	uint64_t now_mono_ns; /* monotonic, for the peer state (as vpnd_show_peer_state) */
	/* Handshakes completed since vpnd started, with peers since removed included, so
	 * that the total never goes down. */
	uint64_t handshakes_completed;
	/* The batched packet path's counters (NULL: not shown). */
	const struct vpnd_datapath_stats *datapath;
	uint64_t udp_send_calls, udp_send_errors;
	/* The site policy in force: its denials by rule (NULL: none shown). */
	const struct vpnd_policy *policy;
};

/* Append the whole exposition. Reads the engine, never changes it. */
void vpnd_metrics_render(struct vpnd_reply *r, const struct vpnd_metrics_input *in);
/* Append s as the inside of a label value: backslash, double quote and newline escaped. */
void vpnd_metrics_label_value(struct vpnd_reply *r, const char *s);

#endif
