/* The persistent state meets the engine: at start, at every reload, and on the engine
 * events that change it. Writes that fail are logged once, counted (storage_health) and
 * retried; they never stop the data plane. */
#include "persistent_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "audit_events.h"
#include "clock_floor.h"
#include "log.h"
#include "runtime.h"
#include "state.h"
#include "storage_health.h"
#include "vpnd/key.h"

/* A failed floor write is tried again on a later initiation, but not more often. */
#define CLOCK_RETRY_NS (5 * UINT64_C(1000000000))

static char *state_file(const struct vpnd_config *cfg, const char *suffix)
{
	char *path;

	return asprintf(&path, "%s/%s.%s", cfg->state_directory, cfg->interface, suffix) < 0 ? NULL
											     : path;
}

int vpnd_persistent_load(struct vpnd_persistent *ps, const struct vpnd_config *cfg,
			 struct vpnd_config_errors *errs)
{
	int bad = 0;

	*ps = (struct vpnd_persistent){0};
	ps->state_directory = strdup(cfg->state_directory);
	ps->revoked_path = strdup(cfg->revoked_keys_file);
	ps->rotated_path = state_file(cfg, "rotated");
	ps->clock_path = state_file(cfg, "timestamp");
	if (!ps->state_directory || !ps->revoked_path || !ps->rotated_path || !ps->clock_path) {
		vpnd_state_error(errs, "%s: out of memory", cfg->path);
		vpnd_persistent_free(ps);
		return -1;
	}
	/* Every file is read, so that one run shows every problem. */
	bad |= vpnd_revocations_load(&ps->revoked, ps->revoked_path, errs) < 0;
	bad |= vpnd_rotations_load(&ps->rotations, ps->rotated_path, errs) < 0;
	bad |= vpnd_clock_floor_load(ps->clock_path, &ps->clock_stored, errs) < 0;
	if (bad) {
		vpnd_persistent_free(ps);
		return -1;
	}
	return 0;
}

void vpnd_persistent_free(struct vpnd_persistent *ps)
{
	vpnd_revocations_free(&ps->revoked);
	vpnd_revocations_free(&ps->next_revoked);
	vpnd_rotations_free(&ps->rotations);
	free(ps->state_directory);
	free(ps->revoked_path);
	free(ps->rotated_path);
	free(ps->clock_path);
	free(ps->next_revoked_path);
	*ps = (struct vpnd_persistent){0};
}

static void save_rotations(struct vpnd_persistent *ps)
{
	int ret = vpnd_rotations_save(&ps->rotations, ps->rotated_path);

	if (ret < 0 && !ps->rotations_failing)
		log_err("state file %s: cannot write: %s (%s); a restart would forget the rotated "
			"keys recorded since (the VPN keeps running)",
			ps->rotated_path, strerror(-ret), vpnd_errno_name(-ret));
	else if (!ret && ps->rotations_failing)
		log_notice("state file %s: written again", ps->rotated_path);
	ps->rotations_failing = ret < 0;
}

/* Rotations the applied configuration no longer names as old + next are done with. */
static void prune_rotations(struct vpnd_persistent *ps)
{
	unsigned dropped = vpnd_rotations_prune(&ps->rotations);

	if (!dropped && !ps->rotations_failing)
		return;
	if (dropped)
		log_info("%s: %u key rotation record%s no longer needed by the configuration",
			 ps->rotated_path, dropped, dropped == 1 ? "" : "s");
	save_rotations(ps);
}

/* Rotated keys go into a configuration as it is loaded: the rest of vpnd then sees the
 * peer's key as it really is, and a config still naming old + next is unchanged. */
static void apply_rotations(struct vpnd_persistent *ps, struct vpnd_config *c)
{
	unsigned n = vpnd_rotations_apply(&ps->rotations, c);

	if (n)
		log_info("%u peer%s switched to the next-public-key the configuration names "
			 "(recorded in %s): that key is in use, the old one refused",
			 n, n == 1 ? "" : "s", ps->rotated_path);
}

int vpnd_persistent_start(struct vpnd_runtime *rt)
{
	struct vpnd_persistent *ps = &rt->persist;
	struct vpnd_config_errors errs = {0};
	char when[VPND_STATE_TIME_MAX];

	if (vpnd_persistent_load(ps, rt->config, &errs) < 0) {
		for (unsigned i = 0; i < errs.count; i++)
			log_err("%s", errs.lines[i]);
		vpnd_config_errors_free(&errs);
		return -EINVAL;
	}
	vpnd_store_set_location(VPND_STORE_STATE, ps->state_directory);
	/* Made now, so that every writer finds it; a missing parent (/var/lib) is not ours. */
	if (mkdir(ps->state_directory, 0700) < 0 && errno != EEXIST)
		log_warn("state-directory %s: cannot create it: %s; revocations, key rotations "
			 "and the timestamp floor cannot be kept until it exists",
			 ps->state_directory, strerror(errno));
	if (ps->clock_stored) {
		wg_engine_set_timestamp_floor(rt->engine, ps->clock_stored);
		log_info("handshake timestamps start after %s (%s)",
			 vpnd_state_iso_time(when, ps->clock_stored), ps->clock_path);
	}
	apply_rotations(ps, rt->config);
	return 0;
}

void vpnd_persistent_peers_ready(struct vpnd_runtime *rt)
{
	unsigned n = vpnd_revocations_count(&rt->persist.revoked);

	if (n)
		log_info("%s: %u revoked key%s", rt->persist.revoked_path, n, n == 1 ? "" : "s");
	vpnd_persistent_sync_revoked(rt);
	prune_rotations(&rt->persist);
}

int vpnd_persistent_reload_begin(struct vpnd_runtime *rt, struct vpnd_config *nc,
				 struct vpnd_reply *r)
{
	struct vpnd_persistent *ps = &rt->persist;
	struct vpnd_config_errors errs = {0};

	/* Its files are vpnd's memory: moving it is a restart, not a reload. */
	if (strcmp(nc->state_directory, ps->state_directory) != 0) {
		vpnd_reply_error(r,
				 "%s: state-directory needs a restart to change (%s is in use); "
				 "running configuration kept",
				 nc->path, ps->state_directory);
		log_err("reload refused: state-directory changed from %s to %s",
			ps->state_directory, nc->state_directory);
		return -1;
	}
	vpnd_revocations_free(&ps->next_revoked);
	free(ps->next_revoked_path);
	ps->next_revoked_path = strdup(nc->revoked_keys_file);
	if (!ps->next_revoked_path) {
		vpnd_reply_error(r, "out of memory");
		return -1;
	}
	/* The file is read again: an administrator may have edited it. A list that cannot
	 * be read could hide a revocation, so the reload is refused as for a bad config. */
	if (vpnd_revocations_load(&ps->next_revoked, ps->next_revoked_path, &errs) < 0) {
		for (unsigned i = 0; i < errs.count; i++) {
			vpnd_reply_error(r, "%s", errs.lines[i]);
			log_err("reload refused: %s", errs.lines[i]);
		}
		vpnd_config_errors_free(&errs);
		return -1;
	}
	apply_rotations(ps, nc);
	return 0;
}

void vpnd_persistent_reload_commit(struct vpnd_runtime *rt)
{
	struct vpnd_persistent *ps = &rt->persist;

	if (ps->next_revoked_path) {
		vpnd_revocations_free(&ps->revoked);
		free(ps->revoked_path);
		ps->revoked = ps->next_revoked;
		ps->revoked_path = ps->next_revoked_path;
		ps->next_revoked = (struct vpnd_revocations){0};
		ps->next_revoked_path = NULL;
	}
	vpnd_persistent_sync_revoked(rt);
	prune_rotations(ps);
}

bool vpnd_persistent_is_listed(const struct vpnd_persistent *ps, const struct wg_peer *p)
{
	return vpnd_revocations_has(&ps->revoked, p->handshake.remote_static) ||
	       (p->has_next_key && vpnd_revocations_has(&ps->revoked, p->next_key));
}

void vpnd_persistent_sync_revoked(struct vpnd_runtime *rt)
{
	for (struct wg_peer *p = wg_engine_peers(rt->engine); p; p = p->next) {
		bool want = vpnd_persistent_is_listed(&rt->persist, p);

		if (p->revoked == want)
			continue;
		wg_engine_peer_set_revoked(rt->engine, p, want);
		if (want)
			log_notice("peer %s: revoked (its key is in %s): handshakes refused, "
				   "nothing sent to it",
				   p->name, rt->persist.revoked_path);
		else
			log_notice("peer %s: no longer revoked (its key left %s)", p->name,
				   rt->persist.revoked_path);
	}
}

void vpnd_persistent_initiation_sent(struct vpnd_runtime *rt)
{
	struct vpnd_persistent *ps = &rt->persist;
	struct wg_time now = vpnd_now();
	uint64_t want = vpnd_clock_floor_next(ps->clock_stored,
					      wg_engine_last_timestamp(rt->engine), now.real_ns);
	int ret;

	if (!ps->clock_path)
		return;
	if (want > ps->clock_pending)
		ps->clock_pending = want;
	if (!ps->clock_pending || (ps->clock_failing && now.mono_ns < ps->clock_retry_at))
		return;
	ret = vpnd_clock_floor_save(ps->clock_path, ps->clock_pending);
	if (ret < 0) {
		if (!ps->clock_failing)
			log_err("state file %s: cannot write: %s (%s); after a restart with the "
				"clock set back, peers may refuse this gateway until its clock "
				"passes their last handshake (the VPN keeps running)",
				ps->clock_path, strerror(-ret), vpnd_errno_name(-ret));
		ps->clock_failing = true;
		ps->clock_retry_at = now.mono_ns + CLOCK_RETRY_NS;
		return;
	}
	if (ps->clock_failing)
		log_notice("state file %s: written again", ps->clock_path);
	ps->clock_failing = false;
	ps->clock_stored = ps->clock_pending;
	ps->clock_pending = 0;
}

/* The configured peer whose next key p has just made its own. */
static struct vpnd_peer_conf *rotated_conf(struct vpnd_config *c, const struct wg_peer *p)
{
	struct vpnd_peer_conf *by_key = NULL;

	for (unsigned i = 0; i < c->n_peers; i++) {
		struct vpnd_peer_conf *pc = &c->peers[i];

		if (!pc->has_next_public_key ||
		    sodium_memcmp(pc->next_public_key, p->handshake.remote_static, 32) != 0)
			continue;
		if (!strcmp(pc->name, p->name))
			return pc;
		by_key = pc;
	}
	return by_key;
}

void vpnd_persistent_key_rotated(struct vpnd_runtime *rt, const struct wg_peer *p)
{
	struct vpnd_persistent *ps = &rt->persist;
	struct vpnd_peer_conf *pc = rotated_conf(rt->config, p);
	char old_b64[VPND_KEY_B64_LEN + 1], new_b64[VPND_KEY_B64_LEN + 1];
	char when[VPND_STATE_TIME_MAX], *comment = NULL;

	vpnd_key_to_base64(new_b64, p->handshake.remote_static);
	if (!pc) {
		/* Not from the configuration (a peer added at run time): nothing to keep. */
		log_notice("peer %s: switched to its next public key %s; the old key is refused "
			   "from now on",
			   p->name, new_b64);
		vpnd_audit_event("key-rotated", VPND_AUDIT_STR("peer", p->name),
				 VPND_AUDIT_STR("old_key", NULL),
				 VPND_AUDIT_STR("new_key", new_b64));
		return;
	}
	vpnd_key_to_base64(old_b64, pc->public_key);
	if (asprintf(&comment, "%s, rotated at %s", p->name,
		     vpnd_state_iso_time(when, vpnd_now().real_ns)) < 0)
		comment = NULL;
	if (vpnd_rotations_add(&ps->rotations, pc->public_key, p->handshake.remote_static,
			       comment) < 0)
		log_err("peer %s: key rotation not recorded: out of memory", p->name);
	else
		save_rotations(ps);
	free(comment);
	/* The running configuration now says what a reload of the same file will. */
	memcpy(pc->public_key, p->handshake.remote_static, 32);
	pc->has_next_public_key = false;
	memset(pc->next_public_key, 0, sizeof(pc->next_public_key));
	log_notice("peer %s: switched to its next public key %s; the old key %s is refused from "
		   "now on (recorded in %s)",
		   p->name, new_b64, old_b64, ps->rotated_path);
	vpnd_audit_event("key-rotated", VPND_AUDIT_STR("peer", p->name),
			 VPND_AUDIT_STR("old_key", old_b64), VPND_AUDIT_STR("new_key", new_b64));
}
