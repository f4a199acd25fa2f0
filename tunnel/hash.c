/* BLAKE2s comes from libb2; HMAC and HKDF are built here because neither libb2 nor
 * libsodium offers them over BLAKE2s, and Noise needs exactly RFC 2104 HMAC with the
 * 64-byte BLAKE2s block, not BLAKE2s's own keyed mode. */
#include "hash.h"

#include <string.h>

#include <blake2.h>
#include <sodium.h>

_Static_assert(WG_BLAKE2S_OUTLEN == BLAKE2S_OUTBYTES, "BLAKE2s-256");
_Static_assert(WG_BLAKE2S_BLOCKLEN == BLAKE2S_BLOCKBYTES, "HMAC pads keys to the block size");

void wg_hash(uint8_t out[WG_BLAKE2S_OUTLEN], const void *in, size_t inlen)
{
	blake2s_state st;

	blake2s_init(&st, WG_BLAKE2S_OUTLEN);
	blake2s_update(&st, in, inlen);
	blake2s_final(&st, out, WG_BLAKE2S_OUTLEN);
	sodium_memzero(&st, sizeof(st));
}

void wg_hash2(uint8_t out[WG_BLAKE2S_OUTLEN], const void *a, size_t alen, const void *b,
	      size_t blen)
{
	blake2s_state st;

	blake2s_init(&st, WG_BLAKE2S_OUTLEN);
	blake2s_update(&st, a, alen);
	blake2s_update(&st, b, blen);
	blake2s_final(&st, out, WG_BLAKE2S_OUTLEN);
	sodium_memzero(&st, sizeof(st));
}

void wg_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const void *in, size_t inlen)
{
	blake2s_state st;

	/* The 16-byte length goes into BLAKE2s's parameter block: this is not a
	 * truncated 32-byte MAC. */
	blake2s_init_key(&st, 16, key, keylen);
	blake2s_update(&st, in, inlen);
	blake2s_final(&st, out, 16);
	sodium_memzero(&st, sizeof(st));
}

void wg_hmac(uint8_t out[WG_BLAKE2S_OUTLEN], const uint8_t *key, size_t keylen, const void *in,
	     size_t inlen)
{
	uint8_t pad[WG_BLAKE2S_BLOCKLEN] = {0};
	uint8_t inner[WG_BLAKE2S_OUTLEN];
	blake2s_state st;
	size_t i;

	if (keylen > WG_BLAKE2S_BLOCKLEN)
		wg_hash(pad, key, keylen);
	else if (keylen)
		memcpy(pad, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	blake2s_init(&st, WG_BLAKE2S_OUTLEN);
	blake2s_update(&st, pad, sizeof(pad));
	blake2s_update(&st, in, inlen);
	blake2s_final(&st, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&st, WG_BLAKE2S_OUTLEN);
	blake2s_update(&st, pad, sizeof(pad));
	blake2s_update(&st, inner, sizeof(inner));
	blake2s_final(&st, out, WG_BLAKE2S_OUTLEN);

	sodium_memzero(&st, sizeof(st));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(pad, sizeof(pad));
}

void wg_hkdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t *key, size_t keylen,
	     const void *input, size_t inlen)
{
	uint8_t prk[WG_BLAKE2S_OUTLEN];
	uint8_t t1[WG_BLAKE2S_OUTLEN], t2[WG_BLAKE2S_OUTLEN], t3[WG_BLAKE2S_OUTLEN];
	/* T(i) = HMAC(prk, T(i-1) || i), with T(0) empty. */
	uint8_t chain[WG_BLAKE2S_OUTLEN + 1];

	wg_hmac(prk, key, keylen, input, inlen);

	chain[0] = 1;
	wg_hmac(t1, prk, sizeof(prk), chain, 1);
	if (out2) {
		memcpy(chain, t1, sizeof(t1));
		chain[WG_BLAKE2S_OUTLEN] = 2;
		wg_hmac(t2, prk, sizeof(prk), chain, sizeof(chain));
	}
	if (out2 && out3) {
		memcpy(chain, t2, sizeof(t2));
		chain[WG_BLAKE2S_OUTLEN] = 3;
		wg_hmac(t3, prk, sizeof(prk), chain, sizeof(chain));
	}

	/* Outputs are written last: callers pass the chaining key as out1 too. */
	memcpy(out1, t1, sizeof(t1));
	if (out2)
		memcpy(out2, t2, sizeof(t2));
	if (out2 && out3)
		memcpy(out3, t3, sizeof(t3));

	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	sodium_memzero(t3, sizeof(t3));
	sodium_memzero(chain, sizeof(chain));
}

void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t chaining_key[32],
	    const void *input, size_t inlen)
{
	wg_hkdf(out1, out2, out3, chaining_key, WG_BLAKE2S_OUTLEN, input, inlen);
}
