/* The two summaries behind `vpnctl status` (one line per site, for people and monitoring
 * scripts) and `vpnctl show --dot` (the sites as a Graphviz graph). Both read the engine
 * like show.c does, through struct vpnd_show_input, and never change it. */
#ifndef VPND_DAEMON_SHOW_STATUS_H
#define VPND_DAEMON_SHOW_STATUS_H

#include "reply.h"
#include "show.h"

/* A table of the peers (or of only_peer), a summary line such as "3 peers: 2 up, 1
 * down", then the machine line "overall STATE" that vpnctl turns into its exit status
 * (protocol in include/vpnd/control.h). Returns -ENOENT (and writes an error) when the
 * named peer does not exist. */
int vpnd_show_status(struct vpnd_reply *r, const struct vpnd_show_input *in, const char *only_peer);

/* An undirected Graphviz graph: this gateway and every peer as nodes, each tunnel an
 * edge labelled and coloured by its state. */
void vpnd_show_dot(struct vpnd_reply *r, const struct vpnd_show_input *in);

#endif
