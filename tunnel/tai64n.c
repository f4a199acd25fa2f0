/* A responder only compares our timestamps with our own earlier ones, but it remembers
 * the greatest it saw for our key: if a site moves between vpnd and another WireGuard
 * implementation under the same key, timestamps must keep sorting. So we label Unix time
 * exactly as wireguard-go and the Linux module do, with the TAI64 epoch plus the 10 s
 * TAI-UTC offset of 1972 (0x400000000000000a), and round the nanoseconds the same way. */
#include "tai64n.h"

#include <string.h>

#define TAI64_UNIX_EPOCH 0x400000000000000aULL

void wg_tai64n_encode(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_ns)
{
	uint64_t secs = unix_ns / WG_NSEC_PER_SEC + TAI64_UNIX_EPOCH;
	uint32_t nsec = (uint32_t)(unix_ns % WG_NSEC_PER_SEC);
	int i;

	nsec -= nsec % WG_INITIATION_TIMESTAMP_GRANULARITY_NS;
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

bool wg_tai64n_after(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN])
{
	return memcmp(a, b, WG_TIMESTAMP_LEN) > 0;
}
