/* Drop reason names are part of the show/JSON/metrics output: changing one breaks
 * dashboards and scripts, so they are spelled once, here. */
#include "stats.h"

static const char *const drop_names[WG_DROP__COUNT] = {
    [WG_DROP_MALFORMED] = "malformed",
    [WG_DROP_BAD_MAC] = "bad_mac",
    [WG_DROP_HANDSHAKE_REFUSED] = "handshake_refused",
    [WG_DROP_UNKNOWN_INDEX] = "unknown_index",
    [WG_DROP_REPLAY] = "replay",
    [WG_DROP_DECRYPT] = "decrypt",
    [WG_DROP_EXPIRED_KEY] = "expired_key",
    [WG_DROP_BAD_SOURCE] = "bad_source",
    [WG_DROP_NO_ROUTE] = "no_route",
    [WG_DROP_QUEUE_FULL] = "queue_full",
    [WG_DROP_UNDER_LOAD] = "under_load",
    [WG_DROP_NO_ENDPOINT] = "no_endpoint",
    [WG_DROP_RATE_LIMITED] = "rate_limited",
    [WG_DROP_REVOKED] = "revoked",
    [WG_DROP_POLICY] = "policy_denied",
    [WG_DROP_TTL] = "ttl_expired",
    [WG_DROP_LOOP] = "relay_loop",
    [WG_DROP_HANDSHAKE_BACKLOG] = "handshake_backlog",
};

const char *wg_drop_reason_name(enum wg_drop_reason r)
{
	/* The enum may arrive from arithmetic or a cast; never index past the table. */
	if ((unsigned int)r >= WG_DROP__COUNT || !drop_names[r])
		return "unknown";
	return drop_names[r];
}
