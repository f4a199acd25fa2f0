/* The receive counter window of the WireGuard paper as an RFC 6479 ring of words:
 * moving the window forward clears whole words instead of shifting the bitmap, so a
 * jump of any size costs at most one pass over the ring.
 * The redundant bits (BITS_TOTAL - WINDOW_SIZE) are what let a word be cleared as a
 * unit while the full window stays valid. */
#include "replay.h"

#include <string.h>

enum {
	BITS_PER_WORD = 8 * sizeof(unsigned long),
	WORDS = WG_COUNTER_BITS_TOTAL / BITS_PER_WORD,
};

_Static_assert((WORDS & (WORDS - 1)) == 0, "the ring index is taken modulo a power of two");
_Static_assert(WG_COUNTER_REDUNDANT_BITS >= 8 * sizeof(unsigned long),
	       "at least one word of slack so a cleared word never holds live counters");

void wg_replay_init(struct wg_replay_counter *rc)
{
	memset(rc, 0, sizeof(*rc));
}

bool wg_replay_check_and_update(struct wg_replay_counter *rc, uint64_t their)
{
	uint64_t index, index_current, top, i;
	unsigned long bit;
	bool seen;

	if (rc->counter >= WG_REJECT_AFTER_MESSAGES + 1 || their >= WG_REJECT_AFTER_MESSAGES)
		return false;

	/* Work one above the wire value so that counter == 0 can mean "nothing yet". */
	++their;

	if (their + WG_COUNTER_WINDOW_SIZE < rc->counter)
		return false;

	index = their / BITS_PER_WORD;

	if (their > rc->counter) {
		index_current = rc->counter / BITS_PER_WORD;
		top = index - index_current;
		if (top > WORDS)
			top = WORDS;
		for (i = 1; i <= top; ++i)
			rc->backtrack[(i + index_current) & (WORDS - 1)] = 0;
		rc->counter = their;
	}

	index &= WORDS - 1;
	bit = 1UL << (their & (BITS_PER_WORD - 1));
	seen = rc->backtrack[index] & bit;
	rc->backtrack[index] |= bit;
	return !seen;
}
