/* BLAKE2s and the constructions the Noise protocol builds on it: HMAC-BLAKE2s and the
 * HKDF of the WireGuard paper (section 5.4). */
#ifndef VPND_TUNNEL_HASH_H
#define VPND_TUNNEL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define WG_BLAKE2S_OUTLEN   32
#define WG_BLAKE2S_BLOCKLEN 64

/* out = BLAKE2s-256(in) */
void wg_hash(uint8_t out[WG_BLAKE2S_OUTLEN], const void *in, size_t inlen);
/* out = BLAKE2s-256(a || b), as Mix-Hash needs */
void wg_hash2(uint8_t out[WG_BLAKE2S_OUTLEN], const void *a, size_t alen, const void *b,
	      size_t blen);
/* out = keyed BLAKE2s with 16-byte output: MAC(key, in) of the paper (mac1, mac2, cookie) */
void wg_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const void *in, size_t inlen);
/* out = HMAC-BLAKE2s(key, in) */
void wg_hmac(uint8_t out[WG_BLAKE2S_OUTLEN], const uint8_t *key, size_t keylen, const void *in,
	     size_t inlen);
/* HKDF_n(chaining_key, input) with n = number of non-NULL outputs (1..3); each output
 * is 32 bytes; intermediate values are wiped. */
void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t chaining_key[32],
	    const void *input, size_t inlen);
/* wg_kdf with a key of any length, as the published HKDF test vectors use. */
void wg_hkdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t *key, size_t keylen,
	     const void *input, size_t inlen);

#endif
