/* The config keys of onboarding (daemon/config.c, config_secret.c): `private-key` and a
 * peer's `preshared-key` written inline, which make the config file a secret of its own,
 * and `public-endpoint`. Each file is written here with the mode the case is about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "vpnd/key.h"

static char dir[] = "/tmp/test_config_inline.XXXXXX";
static char path[128], priv_b64[VPND_KEY_B64_LEN + 1], psk_b64[VPND_KEY_B64_LEN + 1];
static uint8_t priv[32], psk[32];
static const char *peer_key = "QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPhxw=";

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir) || sodium_init() < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/site.conf", dir);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	randombytes_buf(psk, sizeof(psk));
	vpnd_key_to_base64(priv_b64, priv);
	vpnd_key_to_base64(psk_b64, psk);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_conf(mode_t mode, const char *text)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* body's %s are filled in order by the private key and the preshared key. */
static char *conf_text(const char *body)
{
	static char text[2048];

	snprintf(text, sizeof(text), body, priv_b64, psk_b64);
	return text;
}

/* Loads must fail with exactly one problem, at line, containing phrase, and no secret. */
static void expect_problem(int line, const char *phrase)
{
	struct vpnd_config_errors errs;
	char prefix[160];

	assert_null(vpnd_config_load(path, &errs));
	for (unsigned i = 0; i < errs.count; i++)
		print_message("    %s\n", errs.lines[i]);
	assert_int_equal(errs.count, 1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	assert_true(strncmp(errs.lines[0], prefix, strlen(prefix)) == 0);
	if (!strstr(errs.lines[0], phrase))
		fail_msg("expected '%s' in: %s", phrase, errs.lines[0]);
	assert_null(strstr(errs.lines[0], priv_b64));
	assert_null(strstr(errs.lines[0], psk_b64));
	assert_null(strstr(errs.lines[0], "cIA6"));
	vpnd_config_errors_free(&errs);
}

static const char *good = "interface = \"vpn0\"\n"
			  "private-key = \"%s\"\n"
			  "public-endpoint = \"hq.example.com:51820\"\n"
			  "peer \"hq\" {\n"
			  "    public-key = \"QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPhxw=\"\n"
			  "    preshared-key = \"%s\"\n"
			  "    allowed-ips = {\"10.99.0.0/24\"}\n"
			  "}\n";

static void test_inline_keys(void **state)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	uint8_t pub[32], key[32];

	(void)state;
	write_conf(0600, conf_text(good));
	c = vpnd_config_load(path, &errs);
	for (unsigned i = 0; i < errs.count; i++)
		print_message("    %s\n", errs.lines[i]);
	assert_non_null(c);
	assert_true(c->private_key_inline);
	assert_memory_equal(c->private_key, priv, 32);
	crypto_scalarmult_base(pub, priv);
	assert_memory_equal(c->public_key, pub, 32);
	/* Messages about the key name the file that holds it: this one. */
	assert_string_equal(c->private_key_file, path);
	assert_string_equal(c->public_endpoint, "hq.example.com:51820");
	assert_true(c->peers[0].has_preshared_key);
	assert_memory_equal(c->peers[0].preshared_key, psk, 32);
	assert_null(c->peers[0].preshared_key_file);
	assert_true(vpnd_key_from_base64(key, peer_key));
	assert_memory_equal(c->peers[0].public_key, key, 32);
	vpnd_config_free(c);
}

static void test_file_must_be_private(void **state)
{
	(void)state;
	write_conf(0640, conf_text(good));
	/* Both inline keys are refused; the first problem is the private key's. */
	{
		struct vpnd_config_errors errs;

		assert_null(vpnd_config_load(path, &errs));
		assert_int_equal(errs.count, 2);
		assert_non_null(strstr(errs.lines[0], ":2: private-key: "));
		assert_non_null(strstr(errs.lines[0], "has mode 0640"));
		assert_non_null(strstr(errs.lines[1], ":6: preshared-key: "));
		vpnd_config_errors_free(&errs);
	}
	/* Readable by others alone is refused as well. */
	write_conf(0604, conf_text("interface = \"vpn0\"\nprivate-key = \"%s\"\n"));
	expect_problem(2, "has mode 0604: a file holding a key must not be accessible");
}

static void test_bad_values(void **state)
{
	(void)state;
	write_conf(0600, conf_text("interface = \"vpn0\"\nprivate-key = \"cIA6notakey\"\n"));
	expect_problem(2, "private-key: the key");
	write_conf(0600, conf_text("interface = \"vpn0\"\nprivate-key = \"%s\"\n"
				   "private-key-file = \"k\"\n"));
	expect_problem(2, "give either private-key or private-key-file (line 3), not both");
	write_conf(0600, conf_text("interface = \"vpn0\"\nprivate-key = \"%s\"\npeer \"a\" {\n"
				   "public-key = \"QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPhxw=\"\n"
				   "preshared-key-file = \"x\"\npreshared-key = \"%s\"\n}\n"));
	expect_problem(6, "give either preshared-key or preshared-key-file (line 5), not both");
	write_conf(0600, conf_text("interface = \"vpn0\"\nprivate-key = \"%s\"\n"
				   "public-endpoint = \"hq.example.com\"\n"));
	expect_problem(3, "public-endpoint: 'hq.example.com' ");
	write_conf(0600, conf_text("interface = \"vpn0\"\nprivate-key = \"%s\"\n"
				   "public-endpoint = \"hq.example.com:0\"\n"));
	expect_problem(3, "public-endpoint: 'hq.example.com:0' ");
	write_conf(0600, conf_text("interface = \"vpn0\"\n"));
	{
		struct vpnd_config_errors errs;

		assert_null(vpnd_config_load(path, &errs));
		assert_int_equal(errs.count, 1);
		assert_non_null(strstr(errs.lines[0], "private-key-file is required (or "
						      "private-key"));
		vpnd_config_errors_free(&errs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inline_keys),
	    cmocka_unit_test(test_file_must_be_private),
	    cmocka_unit_test(test_bad_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
