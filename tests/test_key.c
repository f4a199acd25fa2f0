/* Key encoding as wg(8) writes it. The known vectors were made once with wireguard-tools
 * (`wg genkey | tee k | wg pubkey`), so they check us against the reference, not against
 * ourselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vpnd/key.h"

static const char wg_private[] = "qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=";
static const char wg_public[] = "rnXDYMNcjX9DcbfYot/w3T6Pln2CKYO61KkJfU8jWAk=";
/* 32 bytes of 0xff, not clamped; `wg pubkey` clamps before it multiplies. */
static const char unclamped[] = "//////////////////////////////////////////8=";
static const char unclamped_clamped[] = "+P///////////////////////////////////////38=";
static const char unclamped_public[] = "hHwNLDdSNPNl5mCVUYejc1oPdhPRYJ06ak2MU66qWiI=";

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void public_of(char out[VPND_KEY_B64_LEN + 1], const char *private_b64)
{
	uint8_t priv[VPND_KEY_LEN], pub[VPND_KEY_LEN];

	assert_true(vpnd_key_from_base64(priv, private_b64));
	vpnd_key_clamp(priv);
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
	vpnd_key_to_base64(out, pub);
}

static void test_round_trip(void **state)
{
	uint8_t key[VPND_KEY_LEN], back[VPND_KEY_LEN];
	char b64[VPND_KEY_B64_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		randombytes_buf(key, sizeof(key));
		memset(b64, 'x', sizeof(b64));
		vpnd_key_to_base64(b64, key);
		assert_int_equal(strlen(b64), VPND_KEY_B64_LEN);
		assert_int_equal(b64[VPND_KEY_B64_LEN - 1], '=');
		assert_true(vpnd_key_from_base64(back, b64));
		assert_memory_equal(key, back, sizeof(key));
	}
}

static void test_known_public_key(void **state)
{
	char pub[VPND_KEY_B64_LEN + 1];

	(void)state;
	public_of(pub, wg_private);
	assert_string_equal(pub, wg_public);
}

static void test_clamp(void **state)
{
	uint8_t key[VPND_KEY_LEN];
	char b64[VPND_KEY_B64_LEN + 1];

	(void)state;
	assert_true(vpnd_key_from_base64(key, unclamped));
	vpnd_key_clamp(key);
	vpnd_key_to_base64(b64, key);
	assert_string_equal(b64, unclamped_clamped);
	public_of(b64, unclamped);
	assert_string_equal(b64, unclamped_public);
}

static void test_decodes_known_bytes(void **state)
{
	/* A fixed pattern against its RFC 4648 encoding: the round trip alone would pass
	 * for any self-consistent encoding. */
	uint8_t key[VPND_KEY_LEN], expect[VPND_KEY_LEN];
	char b64[VPND_KEY_B64_LEN + 1];
	unsigned i;

	(void)state;
	for (i = 0; i < VPND_KEY_LEN; i++)
		expect[i] = (uint8_t)i;
	vpnd_key_to_base64(b64, expect);
	assert_string_equal(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	assert_true(vpnd_key_from_base64(key, b64));
	assert_memory_equal(key, expect, sizeof(key));
}

static void test_rejects(void **state)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"", "empty"},
	    {"   \n", "only white space"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08", "missing padding (43 characters)"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n0=", "43 characters with padding"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08==", "45 characters"},
	    {"9UkXf8ntOnIRyLOKg9ZP9YZrI63hukTpYgbhH++h5g==", "44 characters, 31 bytes"},
	    {"VdoJ/3v5TVtRCsxkK4VCWvLWQfe4gC7+JCOU+8dhKxKn", "44 characters, 33 bytes"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=qJaPGBWy9ON7vAj6E+dO", "too long"},
	    {"qJaPGBWy9ON7vAj6E-dOMAinLboma1dCbyZ76uI2n08=", "URL-safe '-'"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n_8=", "URL-safe '_'"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n!8=", "'!'"},
	    {"qJaPGBWy9ON7vAj6E+dOMAi Lboma1dCbyZ76uI2n08=", "space inside"},
	    {"qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n0=8", "padding inside"},
	};
	uint8_t key[VPND_KEY_LEN], untouched[VPND_KEY_LEN];
	unsigned i;

	(void)state;
	memset(untouched, 0xa5, sizeof(untouched));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(key, untouched, sizeof(key));
		if (vpnd_key_from_base64(key, bad[i].in))
			fail_msg("accepted %s: '%s'", bad[i].why, bad[i].in);
		/* A failed parse leaves the output alone: no half-written key. */
		assert_memory_equal(key, untouched, sizeof(key));
	}
}

static void test_trims_white_space(void **state)
{
	static const char *const good[] = {
	    "qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=\n",
	    "qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=\r\n",
	    "  qJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08=",
	    "\tqJaPGBWy9ON7vAj6E+dOMAinLboma1dCbyZ76uI2n08= \t\n\n",
	};
	uint8_t expect[VPND_KEY_LEN], key[VPND_KEY_LEN];
	unsigned i;

	(void)state;
	assert_true(vpnd_key_from_base64(expect, wg_private));
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(key, 0, sizeof(key));
		if (!vpnd_key_from_base64(key, good[i]))
			fail_msg("rejected case %u", i);
		assert_memory_equal(key, expect, sizeof(key));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_known_public_key),
	    cmocka_unit_test(test_clamp),      cmocka_unit_test(test_decodes_known_bytes),
	    cmocka_unit_test(test_rejects),    cmocka_unit_test(test_trims_white_space),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
