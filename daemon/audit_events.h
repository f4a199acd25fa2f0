/* The events vpnd records in its audit log, named and shaped in one place so that every
 * caller records them alike. Later features record theirs with vpnd_audit_event
 * (daemon/audit.h), e.g.
 *   vpnd_audit_event("peer-revoked", VPND_AUDIT_STR("peer", name), VPND_AUDIT_UINT("uid", uid));
 * Every function here is a no-op while no audit log is open. */
#ifndef VPND_DAEMON_AUDIT_EVENTS_H
#define VPND_DAEMON_AUDIT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "config.h"
#include "reply.h"

/* Open the log cfg names (see vpnd_audit_open) and record daemon-start and
 * config-loaded. 0 or -errno (already logged). */
int vpnd_audit_daemon_start(const struct vpnd_config *cfg, int epfd);
/* A signal that reached the daemon, and who sent it (SIGHUP reloads, SIGTERM stops). */
void vpnd_audit_signal(int signo, uid_t uid, pid_t pid);
/* daemon-stop with why; the caller then closes the log. */
void vpnd_audit_daemon_stop(const char *reason);
/* After a reload: config-loaded, or config-refused with the problems r reports. The
 * audit settings themselves change only at restart (said in the log if they differ). */
void vpnd_audit_reloaded(const struct vpnd_config *cfg, bool applied, const struct vpnd_reply *r);
/* A control command that was run: its words, who asked, and whether it succeeded.
 * Commands must never take a secret as an argument: the words are recorded. */
void vpnd_audit_control(uid_t caller, int argc, char *const argv[], bool ok);
/* config-loaded (n_problems 0) or config-refused, with the BLAKE2b-256 of the file's
 * bytes as they are now. */
void vpnd_audit_config(const char *path, unsigned peers, unsigned n_problems,
		       const char *first_problem);
/* peer-added, peer-removed, ...: the peer's name and base64 public key. */
void vpnd_audit_peer(const char *event, const char *name, const uint8_t public_key[32]);

#endif
