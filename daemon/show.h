/* The state report behind `vpnctl show`: human text modelled on `wg show`, and the JSON
 * document of the contract. */
#ifndef VPND_DAEMON_SHOW_H
#define VPND_DAEMON_SHOW_H

#include <stdint.h>

#include "reply.h"
#include "tunnel/engine.h"

struct vpnd_show_input {
	const char *interface;
	uint16_t listen_port;
	const struct wg_engine *engine;
	uint64_t now_real_ns;
};

/* only_peer: a peer name, or NULL for all. Returns -ENOENT (and writes an error) when the
 * named peer does not exist. */
int vpnd_show_text(struct vpnd_reply *r, const struct vpnd_show_input *in,
		   const char *only_peer);
void vpnd_show_json(struct vpnd_reply *r, const struct vpnd_show_input *in);

#endif
