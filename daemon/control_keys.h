/* The control commands that change which keys vpnd trusts (handlers for the control
 * server's table; ctx is the struct vpnd_runtime):
 *   revoke NAME      the peer's sessions end now, its key is refused from now on and
 *                    added to the revocation list
 *   unrevoke KEY     KEY leaves the revocation list; a configured peer with it is
 *                    accepted again at once
 *   rotate-key       a new private key in <private-key-file>.next; the reply is its
 *                    public key and the file's path, one per line
 * Each is recorded in the audit log with the caller's uid. */
#ifndef VPND_DAEMON_CONTROL_KEYS_H
#define VPND_DAEMON_CONTROL_KEYS_H

#include <sys/types.h>

#include "reply.h"

void vpnd_cmd_revoke(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r);
void vpnd_cmd_unrevoke(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r);
void vpnd_cmd_rotate_key(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r);

#endif
