/* The site policy as the running daemon enforces it: the compiled policy of the config in
 * force, replaced on reload, and what a denial leaves behind: a log line and an audit
 * record, both rate-limited since a LAN host can cause millions of denials. */
#ifndef VPND_DAEMON_POLICY_GUARD_H
#define VPND_DAEMON_POLICY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct vpnd_config;
struct wg_engine;
struct wg_peer;

/* At most one log line per second and one audit record per ten seconds about denials;
 * each says how many denials it stands for since the one before. */
#define VPND_POLICY_LOG_INTERVAL_NS   UINT64_C(1000000000)
#define VPND_POLICY_AUDIT_INTERVAL_NS UINT64_C(10000000000)

struct vpnd_policy_guard {
	struct vpnd_policy *policy;	/* NULL until installed: everything passes */
	uint64_t logged_at, audited_at; /* monotonic ns of the last line / record; 0 never */
	uint64_t log_suppressed, audit_suppressed;
};

/* Compile c's policy and put it in force in place of the current one, whose counters
 * carry over for the rules both share (logged when the rules changed); and tell engine e
 * what `local` is (c's networks and addresses), so that it delivers packets for them
 * here even when a peer's allowed-ips cover them too (a branch whose HQ peer has
 * 0.0.0.0/0). 0, or -ENOMEM with the current policy kept (logged). */
int vpnd_policy_guard_install(struct vpnd_policy_guard *g, struct wg_engine *e,
			      const struct vpnd_config *c);
/* Peers were added to the engine. */
void vpnd_policy_guard_peers_changed(struct vpnd_policy_guard *g);
void vpnd_policy_guard_clear(struct vpnd_policy_guard *g);
/* The engine's io.policy_allows, with the guard as context. */
bool vpnd_policy_guard_allows(struct vpnd_policy_guard *g, const struct wg_peer *from,
			      const struct wg_peer *to, const uint8_t *pkt, size_t len);

#endif
