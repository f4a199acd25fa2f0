/* Keys as WireGuard writes them: 32 bytes in standard base64 with padding (44 chars). */
#ifndef VPND_KEY_H
#define VPND_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define VPND_KEY_LEN	 32
#define VPND_KEY_B64_LEN 44 /* without the terminating NUL */

static inline void vpnd_key_to_base64(char out[VPND_KEY_B64_LEN + 1], const uint8_t key[VPND_KEY_LEN])
{
	sodium_bin2base64(out, VPND_KEY_B64_LEN + 1, key, VPND_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* Accepts exactly 44 characters of standard padded base64 (leading and trailing white
 * space ignored) that decode to 32 bytes. */
static inline bool vpnd_key_from_base64(uint8_t key[VPND_KEY_LEN], const char *in)
{
	size_t n = strlen(in), binlen = 0;
	const char *end;
	uint8_t tmp[VPND_KEY_LEN + 2];
	bool ok;

	while (n && (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r'))
		in++, n--;
	while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n' ||
		     in[n - 1] == '\r'))
		n--;
	if (n != VPND_KEY_B64_LEN || in[VPND_KEY_B64_LEN - 1] != '=')
		return false;
	ok = sodium_base642bin(tmp, sizeof(tmp), in, n, NULL, &binlen, &end,
			       sodium_base64_VARIANT_ORIGINAL) == 0 &&
	     binlen == VPND_KEY_LEN && end == in + n;
	if (ok)
		memcpy(key, tmp, VPND_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return ok;
}

/* A Curve25519 private key as WireGuard clamps it. */
static inline void vpnd_key_clamp(uint8_t key[VPND_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

#endif
