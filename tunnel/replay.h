/* The sliding window of received transport counters (RFC 6479 style, as the Linux
 * module): 8128 counters behind the highest one seen are tracked. */
#ifndef VPND_TUNNEL_REPLAY_H
#define VPND_TUNNEL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

struct wg_replay_counter {
	uint64_t counter; /* one more than the highest counter accepted so far */
	unsigned long backtrack[WG_COUNTER_BITS_TOTAL / (8 * sizeof(unsigned long))];
};

void wg_replay_init(struct wg_replay_counter *rc);
/* Accept counter `their` exactly once. Returns false for a replay, for a counter that
 * fell behind the window, and for any counter >= WG_REJECT_AFTER_MESSAGES. Call only
 * after the packet has been authenticated. */
bool wg_replay_check_and_update(struct wg_replay_counter *rc, uint64_t their);

#endif
