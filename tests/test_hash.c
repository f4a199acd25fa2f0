/* BLAKE2s, keyed BLAKE2s, HMAC-BLAKE2s and the Noise HKDF against vectors we did not
 * compute ourselves: RFC 7693, wireguard-go's device/kdf_test.go, and Python's hashlib
 * and hmac modules (an independent BLAKE2s and HMAC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tunnel/hash.h"
#include "tunnel/messages.h"

static size_t unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &len, NULL), 0);
	return len;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[64];

	assert_int_equal(unhex(want, sizeof(want), want_hex), len);
	assert_memory_equal(got, want, len);
}

static void test_blake2s_rfc7693(void **state)
{
	uint8_t out[WG_BLAKE2S_OUTLEN];

	(void)state;
	/* RFC 7693, appendix B. */
	wg_hash(out, "abc", 3);
	assert_hex(out, sizeof(out),
		   "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	wg_hash(out, "", 0);
	assert_hex(out, sizeof(out),
		   "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

static void test_hash2_is_hash_of_concatenation(void **state)
{
	uint8_t a[WG_BLAKE2S_OUTLEN], b[WG_BLAKE2S_OUTLEN];

	(void)state;
	wg_hash2(a, "ab", 2, "c", 1);
	wg_hash(b, "abc", 3);
	assert_memory_equal(a, b, sizeof(a));

	/* The two constants every WireGuard handshake starts from. */
	wg_hash(a, WG_CONSTRUCTION, strlen(WG_CONSTRUCTION));
	assert_hex(a, sizeof(a),
		   "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	wg_hash2(b, a, sizeof(a), WG_IDENTIFIER, strlen(WG_IDENTIFIER));
	assert_hex(b, sizeof(b),
		   "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");

	/* The output may be the first input, as Mix-Hash uses it. */
	wg_hash2(a, a, sizeof(a), WG_IDENTIFIER, strlen(WG_IDENTIFIER));
	assert_memory_equal(a, b, sizeof(a));
}

static void test_mac_is_keyed_blake2s_128(void **state)
{
	uint8_t key[32], in[64], out[16];
	size_t i;

	(void)state;
	/* hashlib.blake2s(data, key=key, digest_size=16) */
	wg_mac(out, (const uint8_t *)"mac1----", 8, "WireGuard", 9);
	assert_hex(out, sizeof(out), "32d4205a8c40644245e4adc8aefdb538");

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	wg_mac(out, key, sizeof(key), in, sizeof(in));
	assert_hex(out, sizeof(out), "f1efa90d2547036841ecd3627fafbc36");
}

static void test_hmac(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t key[100], out[WG_BLAKE2S_OUTLEN];
	size_t i;

	(void)state;
	/* hmac.new(key, msg, hashlib.blake2s) */
	wg_hmac(out, (const uint8_t *)"key", 3, fox, strlen(fox));
	assert_hex(out, sizeof(out),
		   "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	/* A key of exactly one block is used as is... */
	wg_hmac(out, key, 64, "message", 7);
	assert_hex(out, sizeof(out),
		   "ff8bca3074af8b7a53b76b5b69fe511d796ef1253beac4259f83cc9b5d1b7855");
	/* ...a longer one is hashed first. */
	wg_hmac(out, key, sizeof(key), "message", 7);
	assert_hex(out, sizeof(out),
		   "0d91cbef198cf7e3847de5efd2c35fa5e8b8f90b5d751a12f7c76154a6d0b56f");
}

/* wireguard-go, device/kdf_test.go. */
static const struct {
	const char *key, *input, *t0, *t1, *t2;
} kdf_vectors[] = {
    {"746573742d6b6579", "746573742d696e707574",
     "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
     "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
     "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
    {"776972656775617264", "776972656775617264",
     "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
     "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
     "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
    {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
     "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
     "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
};

static void test_hkdf_wireguard_go_vectors(void **state)
{
	uint8_t key[32], input[32], t0[32], t1[32], t2[32];
	size_t keylen, inlen, i;

	(void)state;
	for (i = 0; i < sizeof(kdf_vectors) / sizeof(kdf_vectors[0]); i++) {
		keylen = unhex(key, sizeof(key), kdf_vectors[i].key);
		inlen = unhex(input, sizeof(input), kdf_vectors[i].input);

		memset(t0, 0, 32);
		memset(t1, 0, 32);
		memset(t2, 0, 32);
		wg_hkdf(t0, t1, t2, key, keylen, input, inlen);
		assert_hex(t0, 32, kdf_vectors[i].t0);
		assert_hex(t1, 32, kdf_vectors[i].t1);
		assert_hex(t2, 32, kdf_vectors[i].t2);

		/* KDF2 and KDF1 are prefixes of KDF3 and leave other outputs alone. */
		memset(t0, 0, 32);
		memset(t1, 0, 32);
		memset(t2, 0xaa, 32);
		wg_hkdf(t0, t1, NULL, key, keylen, input, inlen);
		assert_hex(t0, 32, kdf_vectors[i].t0);
		assert_hex(t1, 32, kdf_vectors[i].t1);
		for (size_t j = 0; j < 32; j++)
			assert_int_equal(t2[j], 0xaa);

		memset(t0, 0, 32);
		wg_hkdf(t0, NULL, NULL, key, keylen, input, inlen);
		assert_hex(t0, 32, kdf_vectors[i].t0);
	}
}

static void test_kdf_with_chaining_key(void **state)
{
	uint8_t ck[32], t[3][32], alias[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ck); i++)
		ck[i] = (uint8_t)i;
	/* Computed with Python's hmac over hashlib.blake2s. */
	wg_kdf(t[0], t[1], t[2], ck, "input", 5);
	assert_hex(t[0], 32, "87b7f70b24183c6db5dc4f6d9f4c47cdb203321aa2a0bef714896adb3107a040");
	assert_hex(t[1], 32, "538a02e1eb2e31b7e4d4b82476d1fe2acf50085d3fb584537279195f5d1f5824");
	assert_hex(t[2], 32, "9ad858025593be88de0f9442a589cfe84a88dc19e4753d93684d1c5efc4837f9");

	/* Noise writes the new chaining key over the old one: (C, k) = KDF2(C, x). */
	memcpy(alias, ck, sizeof(ck));
	wg_kdf(alias, t[1], NULL, alias, "input", 5);
	assert_memory_equal(alias, t[0], 32);
	assert_hex(t[1], 32, "538a02e1eb2e31b7e4d4b82476d1fe2acf50085d3fb584537279195f5d1f5824");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blake2s_rfc7693),
	    cmocka_unit_test(test_hash2_is_hash_of_concatenation),
	    cmocka_unit_test(test_mac_is_keyed_blake2s_128),
	    cmocka_unit_test(test_hmac),
	    cmocka_unit_test(test_hkdf_wireguard_go_vectors),
	    cmocka_unit_test(test_kdf_with_chaining_key),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
