/* TAI64N timestamps for handshake initiations. */
#ifndef VPND_TUNNEL_TAI64N_H
#define VPND_TUNNEL_TAI64N_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

/* Encode wall-clock time (nanoseconds since the Unix epoch) as a 12-byte big-endian
 * TAI64N label, with the nanoseconds rounded down to WG_INITIATION_TIMESTAMP_GRANULARITY_NS
 * so that the timestamp does not leak a precise clock. */
void wg_tai64n_encode(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_ns);
/* Whether a is strictly later than b (both encoded labels; big-endian compares bytewise). */
bool wg_tai64n_after(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN]);

#endif
