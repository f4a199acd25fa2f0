/* Clock-safe handshake timestamps. A responder accepts an initiation only when its
 * TAI64N timestamp is greater than every earlier one from the same key, so a gateway
 * whose wall clock went backwards (a router booting without a real-time clock) would be
 * locked out until its clock caught up. The daemon hands us a floor (the greatest
 * timestamp it sent before, kept across restarts); we never send one at or below it,
 * nor at or below one we already sent. */
#include "engine_impl.h"

static uint64_t round_down(uint64_t ns)
{
	return ns - ns % WG_INITIATION_TIMESTAMP_GRANULARITY_NS;
}

void wg_engine_set_timestamp_floor(struct wg_engine *e, uint64_t real_ns)
{
	e->timestamp_floor_ns = real_ns;
}

uint64_t wg_engine_last_timestamp(const struct wg_engine *e)
{
	return e->last_timestamp_ns;
}

uint64_t wg_next_timestamp(struct wg_engine *e, uint64_t real_ns)
{
	/* TAI64N drops what lies below the granularity, so compare rounded values: the
	 * smallest encodable time above x is round_down(x) + granularity. */
	uint64_t t = round_down(real_ns);
	uint64_t above_floor =
	    round_down(e->timestamp_floor_ns) + WG_INITIATION_TIMESTAMP_GRANULARITY_NS;

	if (e->timestamp_floor_ns && t < above_floor)
		t = above_floor;
	if (e->last_timestamp_ns && t <= e->last_timestamp_ns)
		t = e->last_timestamp_ns + WG_INITIATION_TIMESTAMP_GRANULARITY_NS;
	e->last_timestamp_ns = t;
	return t;
}
