/* revoke, unrevoke and rotate-key. The revocation list is read, changed and written back
 * on every change (an administrator may have edited it since vpnd read it), and the
 * engine then follows the whole list. The engine acts first: a compromised key must stop
 * at once, whatever the disk does; a list that cannot be written is reported as an
 * error, since the revocation would then not survive a restart. */
#include "control_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit_events.h"
#include "config_values.h"
#include "key_rotation.h"
#include "log.h"
#include "persistent_state.h"
#include "runtime.h"
#include "state.h"
#include "vpnd/key.h"

/* The list on disk with key added (add) or removed, written back and put in force. 0, or
 * -1 after an error reply; the list in memory then has the change all the same. */
static int change_list(struct vpnd_runtime *rt, const uint8_t key[32], bool add,
		       const char *comment, struct vpnd_reply *r)
{
	struct vpnd_persistent *ps = &rt->persist;
	struct vpnd_config_errors errs = {0};
	struct vpnd_revocations fresh;
	int ret;

	ret = vpnd_revocations_load(&fresh, ps->revoked_path, &errs);
	if (ret == 0) {
		ret = add ? vpnd_revocations_add(&fresh, key, comment)
			  : vpnd_revocations_remove(&fresh, key);
		/* Listed already, or not at all: the file is right as it is. */
		if (ret == -EEXIST || ret == -ENOENT)
			ret = 0;
		else if (ret >= 0)
			ret = vpnd_revocations_save(&fresh, ps->revoked_path);
		if (ret < 0)
			vpnd_state_error(&errs, "%s: cannot write the revocation list: %s",
					 ps->revoked_path, strerror(-ret));
	}
	if (ret == 0) {
		vpnd_revocations_free(&ps->revoked);
		ps->revoked = fresh;
		return 0;
	}
	vpnd_revocations_free(&fresh);
	if (add)
		vpnd_revocations_add(&ps->revoked, key, comment);
	else
		vpnd_revocations_remove(&ps->revoked, key);
	for (unsigned i = 0; i < errs.count; i++) {
		vpnd_reply_error(r, "%s", errs.lines[i]);
		log_err("%s", errs.lines[i]);
	}
	vpnd_config_errors_free(&errs);
	return -1;
}

void vpnd_cmd_revoke(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	struct wg_peer *p = wg_engine_find_peer_by_name(rt->engine, argv[1]);
	char b64[VPND_KEY_B64_LEN + 1], when[VPND_STATE_TIME_MAX], *comment = NULL;
	uint8_t key[32];
	bool was;
	int ret;

	(void)argc;
	if (!p) {
		vpnd_reply_error(r, "no peer named '%s'", argv[1]);
		return;
	}
	memcpy(key, p->handshake.remote_static, 32);
	vpnd_key_to_base64(b64, key);
	was = p->revoked && vpnd_revocations_has(&rt->persist.revoked, key);
	if (!p->revoked)
		wg_engine_peer_set_revoked(rt->engine, p, true);
	if (asprintf(&comment, "%s, revoked at %s by uid %u", p->name,
		     vpnd_state_iso_time(when, vpnd_now().real_ns), (unsigned)caller) < 0)
		comment = NULL;
	ret = change_list(rt, key, true, comment, r);
	free(comment);
	/* The list may hold more than this key now (edits by hand): all of it applies. */
	vpnd_persistent_sync_revoked(rt);
	if (was && !ret) {
		vpnd_reply_printf(r, "peer %s was revoked already (%s)\n", argv[1],
				  rt->persist.revoked_path);
		return;
	}
	log_notice("peer %s revoked by uid %u: sessions ended, key %s refused from now on%s%s",
		   argv[1], (unsigned)caller, b64, ret ? "; NOT recorded in " : "; recorded in ",
		   rt->persist.revoked_path);
	vpnd_audit_event("peer-revoked", VPND_AUDIT_STR("peer", argv[1]),
			 VPND_AUDIT_STR("public_key", b64), VPND_AUDIT_UINT("uid", caller),
			 VPND_AUDIT_STR("file", rt->persist.revoked_path),
			 VPND_AUDIT_BOOL("recorded", ret == 0));
	if (ret)
		vpnd_reply_error(r,
				 "peer %s is revoked now, but only until vpnd restarts or "
				 "reloads: the revocation list could not be updated",
				 argv[1]);
	else
		vpnd_reply_printf(r,
				  "peer %s revoked: sessions ended, key %s refused from now on "
				  "(recorded in %s)\n",
				  argv[1], b64, rt->persist.revoked_path);
}

void vpnd_cmd_unrevoke(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	const struct wg_peer *p;
	char b64[VPND_KEY_B64_LEN + 1], why[96];
	uint8_t key[32];
	int ret;

	(void)argc;
	if (!vpnd_key_from_base64(key, argv[1])) {
		/* Not quoted: whatever was typed there may be a secret. */
		vpnd_reply_error(r,
				 "unrevoke: KEY is a base64 public key (%d characters ending in "
				 "'='); the text given %s",
				 VPND_KEY_B64_LEN, config_key_problem(argv[1], why, sizeof(why)));
		return;
	}
	vpnd_key_to_base64(b64, key);
	if (!vpnd_revocations_has(&rt->persist.revoked, key)) {
		struct vpnd_config_errors errs = {0};
		struct vpnd_revocations fresh;
		bool on_disk =
		    vpnd_revocations_load(&fresh, rt->persist.revoked_path, &errs) == 0 &&
		    vpnd_revocations_has(&fresh, key);

		vpnd_revocations_free(&fresh);
		vpnd_config_errors_free(&errs);
		if (!on_disk) {
			vpnd_reply_error(r, "%s is not in the revocation list %s", b64,
					 rt->persist.revoked_path);
			return;
		}
	}
	ret = change_list(rt, key, false, NULL, r);
	vpnd_persistent_sync_revoked(rt);
	p = wg_engine_find_peer(rt->engine, key);
	log_notice("key %s unrevoked by uid %u%s%s%s", b64, (unsigned)caller,
		   p ? ": peer " : " (no configured peer has it)", p ? p->name : "",
		   p ? " is accepted again" : "");
	vpnd_audit_event("peer-unrevoked", VPND_AUDIT_STR("peer", p ? p->name : NULL),
			 VPND_AUDIT_STR("public_key", b64), VPND_AUDIT_UINT("uid", caller),
			 VPND_AUDIT_STR("file", rt->persist.revoked_path),
			 VPND_AUDIT_BOOL("recorded", ret == 0));
	if (ret) {
		vpnd_reply_error(r,
				 "%s is accepted again until vpnd restarts or reloads, but the "
				 "revocation list still names it",
				 b64);
		return;
	}
	if (p)
		vpnd_reply_printf(r, "%s removed from %s: peer %s is accepted again\n", b64,
				  rt->persist.revoked_path, p->name);
	else
		vpnd_reply_printf(r, "%s removed from %s (no configured peer has this key)\n", b64,
				  rt->persist.revoked_path);
}

/* The public key of the private key file at path, for the message about it. */
static bool key_file_public(const char *path, char b64[VPND_KEY_B64_LEN + 1])
{
	uint8_t priv[VPND_KEY_LEN], pub[VPND_KEY_LEN];
	char *why = NULL;
	bool ok =
	    config_read_key_file(path, priv, &why) == 0 && crypto_scalarmult_base(pub, priv) == 0;

	if (ok)
		vpnd_key_to_base64(b64, pub);
	sodium_memzero(priv, sizeof(priv));
	free(why);
	return ok;
}

void vpnd_cmd_rotate_key(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	const struct vpnd_config *c = rt->config;
	char b64[VPND_KEY_B64_LEN + 1], *path = NULL;
	uint8_t pub[VPND_KEY_LEN];
	int ret;

	(void)argc;
	(void)argv;
	if (c->private_key_inline || !c->private_key_file) {
		vpnd_reply_error(r,
				 "rotate-key: %s holds the private key itself (private-key); "
				 "rotate-key writes the new key beside a private-key-file",
				 c->path);
		return;
	}
	if (asprintf(&path, "%s.next", c->private_key_file) < 0) {
		vpnd_reply_error(r, "out of memory");
		return;
	}
	ret = vpnd_key_rotation_new_key_file(path, pub);
	if (ret == -EEXIST) {
		bool known = key_file_public(path, b64);

		vpnd_reply_error(r,
				 "rotate-key: %s exists already%s%s%s: a rotation is under way; "
				 "hand that key on, or remove the file to make a new one",
				 path, known ? " (its public key is " : "", known ? b64 : "",
				 known ? ")" : "");
	} else if (ret < 0) {
		vpnd_reply_error(r, "rotate-key: cannot write %s: %s", path, strerror(-ret));
		log_err("rotate-key (uid %u): cannot write %s: %s", (unsigned)caller, path,
			strerror(-ret));
	} else {
		vpnd_key_to_base64(b64, pub);
		log_notice("rotate-key (uid %u): new private key in %s, public key %s",
			   (unsigned)caller, path, b64);
		vpnd_audit_event("key-generated", VPND_AUDIT_STR("file", path),
				 VPND_AUDIT_STR("public_key", b64), VPND_AUDIT_UINT("uid", caller));
		vpnd_reply_printf(r, "%s\n%s\n", b64, path);
	}
	free(path);
}
