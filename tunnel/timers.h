/* Per-peer protocol timers of WireGuard (paper section 6; the Linux module's timers.c),
 * kept as monotonic deadlines so the engine fires them from a single clock. The API is
 * named after protocol events: each function states when the engine calls it. */
#ifndef VPND_TUNNEL_TIMERS_H
#define VPND_TUNNEL_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

struct wg_peer;
struct wg_engine;

struct wg_peer_timers {
	/* deadlines in monotonic ns; 0 = not armed */
	uint64_t retransmit_handshake;
	uint64_t send_keepalive;
	uint64_t new_handshake;
	uint64_t zero_key_material;
	uint64_t persistent_keepalive;
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
};

/* A data packet (not a keepalive) was encrypted and sent. */
void wg_timers_data_sent(struct wg_peer *p, uint64_t now);
/* A data packet (not a keepalive) was authenticated and accepted. */
void wg_timers_data_received(struct wg_peer *p, uint64_t now);
/* Any authenticated packet (data, keepalive, handshake) was sent. */
void wg_timers_any_authenticated_packet_sent(struct wg_peer *p, uint64_t now);
/* Any authenticated packet was received. */
void wg_timers_any_authenticated_packet_received(struct wg_peer *p, uint64_t now);
/* An initiation was sent. */
void wg_timers_handshake_initiated(struct wg_peer *p, uint64_t now);
/* A handshake completed: response consumed, or first data on a responder keypair. */
void wg_timers_handshake_complete(struct wg_peer *p, uint64_t now, uint64_t real_now);
/* A session was derived (either side). */
void wg_timers_session_derived(struct wg_peer *p, uint64_t now);
/* Any authenticated packet was sent or received: re-arms the persistent keepalive. */
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *p, uint64_t now);
/* Disarm everything (peer removal). */
void wg_timers_stop(struct wg_peer *p);

/* Fire every expired timer of p. */
void wg_timers_run(struct wg_engine *e, struct wg_peer *p, uint64_t now, uint64_t real_now);
/* The earliest armed deadline of p, or UINT64_MAX. */
uint64_t wg_timers_next_deadline(const struct wg_peer *p);

#endif
