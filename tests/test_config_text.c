/* The config text made fit for libconfuse: runs of peer sections wrapped in groups (only
 * characters inserted, lines unchanged, at most CONFIG_PEER_GROUP_MAX a group, anything
 * else at the top level ending a run), and every text it must leave alone. Then through
 * the loader: 200 peers come out in file order with their lines, and a duplicate name
 * across groups or a wrong option deep in the file is reported on its own line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/config.h"
#include "daemon/config_text.h"
#include "vpnd/key.h"

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* s grouped: the groups are there, and without them the text is s again. */
static char *grouped(const char *s, unsigned groups)
{
	char *g = config_group_peers(s), *copy, *p;
	size_t n = strlen(CONFIG_PEER_GROUP "{");

	assert_non_null(g);
	assert_int_equal(count(g, CONFIG_PEER_GROUP "{"), groups);
	assert_int_equal(count(g, "\n"), count(s, "\n"));
	copy = strdup(g);
	assert_non_null(copy);
	while ((p = strstr(copy, CONFIG_PEER_GROUP "{")))
		memmove(p, p + n, strlen(p + n) + 1);
	/* Each group's closing brace follows a peer section's own. */
	while ((p = strstr(copy, "}}")))
		memmove(p + 1, p + 2, strlen(p + 2) + 1);
	assert_string_equal(copy, s);
	free(copy);
	return g;
}

static void test_groups_runs(void **state)
{
	const char *s = "interface = \"vpn0\"\n"
			"peer \"a\" {\n public-key = \"k\"\n allowed-ips = {\"10.0.0.1/32\"}\n}\n"
			"peer b { }\n"
			"mtu = 1400\n"
			"peer 'c}' {\n endpoint = \"x:1\"\n}\n";
	char *g;
	(void)state;

	g = grouped(s, 2);
	assert_non_null(strstr(g, CONFIG_PEER_GROUP "{peer \"a\""));
	assert_non_null(strstr(g, "peer b { }}\nmtu"));
	assert_non_null(strstr(g, CONFIG_PEER_GROUP "{peer 'c}' {\n endpoint = \"x:1\"\n}}\n"));
	free(g);
}

static void test_groups_are_bounded(void **state)
{
	char *s = NULL, *g;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	(void)state;

	assert_non_null(f);
	for (int i = 0; i < 3 * CONFIG_PEER_GROUP_MAX + 1; i++)
		fprintf(f, "peer \"p%d\" {\n    allowed-ips = {\"10.0.%d.0/24\"}\n}\n\n", i,
			i % 256);
	fclose(f);
	g = grouped(s, 4);
	free(g);
	free(s);
}

static void test_left_alone(void **state)
{
	static const char *const texts[] = {
	    "interface = \"vpn0\"\n",			   /* no peer */
	    "peer {\n public-key = \"k\"\n}\n",		   /* no title */
	    "peer = \"x\"\n",				   /* not a section */
	    "peer \"a\" {\n",				   /* never closed */
	    "peer \"a\" { x = \"}\n",			   /* a quote never closed */
	    "peer \"a\" { }\n}\npeer \"b\" { }\n",	   /* a stray brace */
	    "peer \"a\" { }\n" CONFIG_PEER_GROUP " { }\n", /* groups of its own */
	    "interface = peer\npeer \"a\" { }\n",	   /* a value that reads "peer" */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *g = config_group_peers(texts[i]);

		if (g)
			print_message("grouped: %s\n", texts[i]);
		assert_null(g);
	}
}

static void test_words_are_not_keywords(void **state)
{
	/* "peers", "apeer" and a quoted "peer" are no peer sections; the real one is. */
	const char *s = "uapi-socket = \"peer\"\npeers-x = apeer\npeer \"a\" { }\n";
	char *g;
	(void)state;

	g = grouped(s, 1);
	assert_non_null(strstr(g, "apeer\n" CONFIG_PEER_GROUP "{peer \"a\" { }}"));
	free(g);
}

/* ---- through the loader ---- */

struct file {
	char path[64];
	char key[4096];
};

static void public_key_b64(char out[VPND_KEY_B64_LEN + 1])
{
	uint8_t priv[32], pub[32];

	randombytes_buf(priv, sizeof(priv));
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
	vpnd_key_to_base64(out, pub);
}

/* A config of n peers, "p0".."p{n-1}" (name dup_of for peer dup_at when dup_at >= 0, and
 * a misspelt option in peer bad_at when bad_at >= 0); peer i opens on line 4 + 5 i. */
static void write_peers(struct file *f, int n, int dup_at, int bad_at)
{
	char b64[VPND_KEY_B64_LEN + 1];
	FILE *out;
	int fd;

	assert_non_null(getcwd(f->key, sizeof(f->key) - 32));
	strcat(f->key, "/configs/hq.key");
	assert_int_equal(chmod(f->key, 0600), 0);
	snprintf(f->path, sizeof(f->path), "/tmp/test_config_text.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	fprintf(out, "interface = \"vpn0\"\nprivate-key-file = \"%s\"\n\n", f->key);
	for (int i = 0; i < n; i++) {
		public_key_b64(b64);
		fprintf(out, "peer \"p%d\" {\n    public-key = \"%s\"\n", i == dup_at ? 0 : i, b64);
		fprintf(out, "    %s = {\"10.%d.%d.0/24\"}\n}\n\n",
			i == bad_at ? "allowed-ip" : "allowed-ips", 1 + i / 256, i % 256);
	}
	assert_int_equal(fclose(out), 0);
}

static void test_loader_order_and_lines(void **state)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	struct file f;
	char name[16];
	(void)state;

	write_peers(&f, 200, -1, -1);
	c = vpnd_config_load(f.path, &errs);
	for (unsigned i = 0; !c && i < errs.count; i++)
		print_message("%s\n", errs.lines[i]);
	assert_non_null(c);
	assert_int_equal(c->n_peers, 200);
	for (unsigned i = 0; i < c->n_peers; i++) {
		snprintf(name, sizeof(name), "p%u", i);
		assert_string_equal(c->peers[i].name, name);
		assert_int_equal(c->peers[i].line, 4 + 5 * i);
		assert_int_equal(c->peers[i].allowed_ips[0].addr[2], i % 256);
	}
	vpnd_config_free(c);
	unlink(f.path);
}

static void expect_one_problem(const struct file *f, int line, const char *phrase)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c = vpnd_config_load(f->path, &errs);
	char prefix[96];

	assert_null(c);
	for (unsigned i = 0; i < errs.count; i++)
		print_message("%s\n", errs.lines[i]);
	assert_int_equal(errs.count, 1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
	assert_memory_equal(errs.lines[0], prefix, strlen(prefix));
	assert_non_null(strstr(errs.lines[0], phrase));
	vpnd_config_errors_free(&errs);
	unlink(f->path);
}

static void test_loader_problems_keep_lines(void **state)
{
	struct file f;
	FILE *out;
	(void)state;

	/* p0 again as peer 150, in another group than the first. */
	write_peers(&f, 200, 150, -1);
	expect_one_problem(&f, 4 + 5 * 150, "peer 'p0' is defined twice (first at line 4)");
	write_peers(&f, 200, -1, 170);
	expect_one_problem(&f, 4 + 5 * 170 + 2, "allowed-ip");
	/* A group written in the file is no syntax of vpnd's. */
	write_peers(&f, 1, -1, -1);
	out = fopen(f.path, "a");
	assert_non_null(out);
	fprintf(out, CONFIG_PEER_GROUP " {\n}\n");
	assert_int_equal(fclose(out), 0);
	expect_one_problem(&f, 10, "no such option '" CONFIG_PEER_GROUP "'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_groups_runs),
	    cmocka_unit_test(test_groups_are_bounded),
	    cmocka_unit_test(test_left_alone),
	    cmocka_unit_test(test_words_are_not_keywords),
	    cmocka_unit_test(test_loader_order_and_lines),
	    cmocka_unit_test(test_loader_problems_keep_lines),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
