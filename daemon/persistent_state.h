/* What vpnd carries from one run (and one configuration) to the next, and applies after
 * every configuration load: the revocation list, the rotated peer keys and the handshake
 * timestamp floor. Each lives in its own file (revocation.h, key_rotation.h,
 * clock_floor.h); this is where they meet the engine. */
#ifndef VPND_DAEMON_PERSISTENT_STATE_H
#define VPND_DAEMON_PERSISTENT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "key_rotation.h"
#include "reply.h"
#include "revocation.h"
#include "tunnel/peer.h"

struct vpnd_runtime;

struct vpnd_persistent {
	char *state_directory;
	char *revoked_path; /* the revocation list in force */
	char *rotated_path;
	char *clock_path;
	struct vpnd_revocations revoked;
	struct vpnd_rotations rotations;
	uint64_t clock_stored;	 /* on disk: no timestamp sent so far has passed it */
	uint64_t clock_pending;	 /* to be written (a write failed); 0 = none */
	uint64_t clock_retry_at; /* monotonic ns: no new attempt before */
	bool clock_failing, rotations_failing;
	/* A reload in progress: the revocation list it read, applied if it succeeds. */
	char *next_revoked_path;
	struct vpnd_revocations next_revoked;
};

/* Read everything cfg's state directory (and revoked-keys-file) holds. 0, or -1 with one
 * line per problem in errs ("FILE:LINE: ..."). Also what `vpnd -n` checks. */
int vpnd_persistent_load(struct vpnd_persistent *ps, const struct vpnd_config *cfg,
			 struct vpnd_config_errors *errs);
void vpnd_persistent_free(struct vpnd_persistent *ps);

/* Startup, after the engine exists and before any peer is added: load (problems logged,
 * then -EINVAL), set the engine's timestamp floor, put rotated keys into rt->config. */
int vpnd_persistent_start(struct vpnd_runtime *rt);
/* Startup, once every configured peer is in the engine: revoke the listed ones, forget
 * rotations the configuration no longer needs. */
void vpnd_persistent_peers_ready(struct vpnd_runtime *rt);
/* Reload, before anything is applied: read the revocation list nc names (its problems
 * go to r: -1, the reload is to be refused) and put rotated keys into nc. 0 or -1. */
int vpnd_persistent_reload_begin(struct vpnd_runtime *rt, struct vpnd_config *nc,
				 struct vpnd_reply *r);
/* Reload, once nc is rt->config and its peers are in the engine: the list read by
 * reload_begin is in force, rotations are pruned. */
void vpnd_persistent_reload_commit(struct vpnd_runtime *rt);

/* Whether the list names one of p's keys (its public key or its next key). */
bool vpnd_persistent_is_listed(const struct vpnd_persistent *ps, const struct wg_peer *p);
/* Make every engine peer's revocation match the list (logged when it changes). Also for
 * peers added at run time. */
void vpnd_persistent_sync_revoked(struct vpnd_runtime *rt);

/* Engine events: an initiation went out (keep the floor file ahead of the timestamps);
 * a peer switched to its next key (record it, and put it in rt->config). */
void vpnd_persistent_initiation_sent(struct vpnd_runtime *rt);
void vpnd_persistent_key_rotated(struct vpnd_runtime *rt, const struct wg_peer *p);

#endif
