/* A pair of transport keys derived from one completed handshake, and the three slots a
 * peer keeps them in (previous, current, next) as in the WireGuard paper, section 6. */
#ifndef VPND_TUNNEL_KEYPAIR_H
#define VPND_TUNNEL_KEYPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"
#include "replay.h"

struct wg_peer;

struct wg_keypair {
	uint8_t send_key[WG_KEY_LEN];
	uint8_t recv_key[WG_KEY_LEN];
	uint64_t send_counter; /* the nonce of the next packet sent */
	struct wg_replay_counter recv_counter;
	uint32_t local_index;  /* the index peers put in data messages to us */
	uint32_t remote_index; /* the index we put in data messages to them */
	uint64_t birth_ns;     /* monotonic time the session was derived */
	bool i_am_the_initiator;
	bool with_next_static; /* derived with the peer's next static key (key rotation) */
	bool send_valid;
	bool recv_valid;
	struct wg_peer *peer;
	/* Unique per engine, set when the keypair is derived: a decryption done off the
	 * engine's thread names its keypair by pointer and serial, so one freed and another
	 * allocated at the same address in between is told apart. */
	uint64_t serial;
};

struct wg_keypairs {
	struct wg_keypair *previous;
	struct wg_keypair *current;
	struct wg_keypair *next; /* responder side: confirmed by the first data packet */
};

/* Allocation wipes nothing useful yet; freeing wipes every key byte. */
struct wg_keypair *wg_keypair_new(void);
void wg_keypair_free(struct wg_keypair *kp);

#endif
