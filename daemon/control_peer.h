/* The control commands that change the running peers without touching the config file
 * (`vpnctl peer add`, `vpnctl peer remove`): for an emergency or a trial, until the next
 * reload or restart brings back the file's view. */
#ifndef VPND_DAEMON_CONTROL_PEER_H
#define VPND_DAEMON_CONTROL_PEER_H

#include <sys/types.h>

#include "reply.h"

/* peer-add NAME PUBLIC-KEY PREFIX[,PREFIX...] [endpoint=IP:PORT] [keepalive=SECONDS]
 *          [preshared-key=BASE64]
 * ctx is the struct vpnd_runtime. Everything is checked before anything changes. */
void vpnd_cmd_peer_add(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r);
/* peer-remove NAME */
void vpnd_cmd_peer_remove(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r);

#endif
