/* Emergency revocation: a revoked peer keeps its configuration (so show can name it and
 * lifting the revocation needs nothing else) but has no session, no staged data, and
 * every handshake from its keys is refused before the engine spends a Diffie-Hellman
 * on it (see lookup_static in engine.c). */
#include "engine_impl.h"

void wg_engine_peer_set_revoked(struct wg_engine *e, struct wg_peer *p, bool revoked)
{
	if (p->revoked == revoked)
		return;
	p->revoked = revoked;
	if (!revoked) {
		/* A site meant to stay connected reconnects at the next tick. The deadline
		 * 1 has passed on every monotonic clock. */
		if (p->persistent_keepalive)
			p->timers.persistent_keepalive = 1;
		return;
	}
	wg_peer_clear_keypairs(e, p);
	wg_peer_clear_handshake(e, p);
	wg_peer_purge_staged(p);
	/* Nothing may wake the peer up again: no retries, keepalives or rekeying. */
	wg_timers_stop(p);
	p->timers.handshake_attempts = 0;
	p->timers.need_another_keepalive = false;
	p->last_sent_handshake = 0;
}
