/* The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums, for the offload
 * code: packets split from a TSO super-packet, or merged into one, need their IPv4 header
 * and transport checksums made anew. */
#ifndef VPND_TUNNEL_CHECKSUM_H
#define VPND_TUNNEL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add len bytes to a running 32-bit ones'-complement sum (not folded, not inverted).
 * Bytes are taken in network order; an odd last byte is padded with zero. Sums of
 * separate pieces may be added only when every piece but the last has even length. */
uint32_t wg_csum_add(uint32_t sum, const uint8_t *data, size_t len);
/* Fold a running sum to 16 bits (still not inverted). */
uint16_t wg_csum_fold(uint32_t sum);
/* The pseudo-header sum for TCP/UDP: addresses (4 or 16 bytes each, by family), protocol
 * and the transport length. */
uint32_t wg_csum_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			uint32_t transport_len);
/* The value to store in an IPv4 header's checksum field (set that field to 0 first). */
uint16_t wg_csum_ipv4_header(const uint8_t *hdr, size_t ihl_bytes);

/* A header checksum (as stored) after one 16-bit word of the header changed from old to
 * new, without summing the header again (RFC 1624, equation 3). */
uint16_t wg_csum_replace16(uint16_t check, uint16_t old, uint16_t new_word);

#endif
