/* The events vpnd records, and their fields. */
#include "audit_events.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "vpnd/audit.h"
#include "vpnd/key.h"

int vpnd_audit_daemon_start(const struct vpnd_config *cfg, int epfd)
{
	struct vpnd_audit_settings s = {.path = cfg->audit_log,
					.key_file = cfg->audit_key_file,
					.rotate_size = cfg->audit_rotate_size};
	int ret = vpnd_audit_open(&s, epfd);

	if (ret < 0)
		return ret;
	vpnd_audit_event("daemon-start", VPND_AUDIT_STR("version", VPND_VERSION),
			 VPND_AUDIT_UINT("pid", (uint64_t)getpid()),
			 VPND_AUDIT_STR("interface", cfg->interface));
	vpnd_audit_config(cfg->path, cfg->n_peers, 0, NULL);
	/* Signed at once: even a run that crashes in its first minute is on record. */
	vpnd_audit_checkpoint();
	return 0;
}

void vpnd_audit_signal(int signo, uid_t uid, pid_t pid)
{
	char name[32];
	const char *abbrev = sigabbrev_np(signo);

	if (abbrev)
		snprintf(name, sizeof(name), "SIG%s", abbrev);
	else
		snprintf(name, sizeof(name), "%d", signo);
	vpnd_audit_event("signal", VPND_AUDIT_STR("signal", name), VPND_AUDIT_UINT("uid", uid),
			 VPND_AUDIT_UINT("pid", (uint64_t)pid));
}

void vpnd_audit_daemon_stop(const char *reason)
{
	vpnd_audit_event("daemon-stop", VPND_AUDIT_STR("reason", reason));
}

void vpnd_audit_reloaded(const struct vpnd_config *cfg, bool applied, const struct vpnd_reply *r)
{
	char first[VPND_AUDIT_VALUE_MAX + 1] = "";
	unsigned problems = 0;

	if (!vpnd_audit_is_open())
		return;
	if (applied) {
		vpnd_audit_config(cfg->path, cfg->n_peers, 0, NULL);
		vpnd_audit_settings_changed(
		    &(struct vpnd_audit_settings){.path = cfg->audit_log,
						  .key_file = cfg->audit_key_file,
						  .rotate_size = cfg->audit_rotate_size});
		return;
	}
	/* The reply holds one line per problem, as vpnctl reload prints them. */
	for (const char *p = r->buf, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		if (!problems++)
			snprintf(first, sizeof(first), "%.*s", (int)(nl - p), p);
	}
	vpnd_audit_config(cfg->path, cfg->n_peers, problems ? problems : 1,
			  problems ? first : "refused");
}

void vpnd_audit_control(uid_t caller, int argc, char *const argv[], bool ok)
{
	char args[4096] = "";
	size_t len = 0;

	if (!vpnd_audit_is_open() || argc < 1)
		return;
	for (int i = 1; i < argc && len < sizeof(args) - 1; i++)
		len += (size_t)snprintf(args + len, sizeof(args) - len, "%s%s", i > 1 ? " " : "",
					argv[i]);
	vpnd_audit_event("control-command", VPND_AUDIT_UINT("uid", caller),
			 VPND_AUDIT_STR("command", argv[0]), VPND_AUDIT_STR("args", args),
			 VPND_AUDIT_STR("result", ok ? "ok" : "error"));
}

void vpnd_audit_config(const char *path, unsigned peers, unsigned n_problems,
		       const char *first_problem)
{
	crypto_generichash_state st;
	uint8_t hash[VPND_AUDIT_HASH_LEN], buf[8192];
	char hex[2 * VPND_AUDIT_HASH_LEN + 1];
	const char *err = NULL;
	ssize_t n;
	int fd;

	if (!vpnd_audit_is_open())
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = strerror(errno);
	} else {
		crypto_generichash_init(&st, NULL, 0, sizeof(hash));
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			crypto_generichash_update(&st, buf, (unsigned long long)n);
		if (n < 0)
			err = strerror(errno);
		crypto_generichash_final(&st, hash, sizeof(hash));
		close(fd);
		vpnd_audit_hex(hex, hash, sizeof(hash));
	}
	if (n_problems == 0)
		vpnd_audit_event("config-loaded", VPND_AUDIT_STR("path", path),
				 VPND_AUDIT_STR("blake2b", err ? NULL : hex),
				 VPND_AUDIT_UINT("peers", peers));
	else
		vpnd_audit_event("config-refused", VPND_AUDIT_STR("path", path),
				 VPND_AUDIT_STR("blake2b", err ? NULL : hex),
				 VPND_AUDIT_UINT("problems", n_problems),
				 VPND_AUDIT_STR("first_problem", first_problem));
}

void vpnd_audit_peer(const char *event, const char *name, const uint8_t public_key[32])
{
	char b64[VPND_KEY_B64_LEN + 1];

	if (!vpnd_audit_is_open())
		return;
	vpnd_key_to_base64(b64, public_key);
	vpnd_audit_event(event, VPND_AUDIT_STR("peer", name), VPND_AUDIT_STR("public_key", b64));
}
