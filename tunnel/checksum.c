/* The Internet checksum. Summed 32 bits at a time into a 64-bit accumulator: the carries
 * are folded once at the end, which keeps this far below the cost of the encryption that
 * follows it on the same bytes. */
#include "checksum.h"

#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>

uint32_t wg_csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	uint64_t acc = sum;

	/* Words are read in host order and summed; the ones'-complement sum is
	 * byte-order independent up to a final swap (RFC 1071, 2.B), done below. */
	uint64_t host = 0;
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, data, 4);
		host += w;
		data += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, data, 2);
		host += w;
		data += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {data[0], 0};
		uint16_t w;
		memcpy(&w, last, 2);
		host += w;
	}
	while (host >> 16)
		host = (host & 0xffff) + (host >> 16);
	acc += ntohs((uint16_t)host);
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t wg_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t wg_csum_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			uint32_t transport_len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t sum = wg_csum_add(0, src, alen);

	sum = wg_csum_add(sum, dst, alen);
	sum += proto;
	sum += transport_len >> 16;
	sum += transport_len & 0xffff;
	return sum;
}

uint16_t wg_csum_ipv4_header(const uint8_t *hdr, size_t ihl_bytes)
{
	return (uint16_t)~wg_csum_fold(wg_csum_add(0, hdr, ihl_bytes));
}

uint16_t wg_csum_replace16(uint16_t check, uint16_t old, uint16_t new_word)
{
	/* HC' = ~(~HC + ~m + m'): unlike HC - ~m - m' (RFC 1141) this never yields the
	 * 0x0000 that a header summing to 0xffff cannot have. */
	uint32_t sum = (uint16_t)~check + (uint16_t)~old + (uint32_t)new_word;

	return (uint16_t)~wg_csum_fold(sum);
}
