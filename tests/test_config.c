/* The config loader against the fixtures in configs/: a complete file, the defaults, every
 * way to write an endpoint, and one fixture per kind of problem. Each problem is pinned
 * to its exact "FILE:LINE: " prefix: the fixtures start with comments, after which
 * libconfuse 3.3 alone would miscount lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/config.h"
#include "vpnd/key.h"

/* The secrets among the fixtures: no message may ever show one, even in part. */
static const char *const secrets[] = {
    "MOLu950ixkqy9+weamxhgaaK6nN5nJw55d", /* hq.key */
    "1BshK0YO/H6+QytBcxXpOmSBRrBs1tLtuc", /* br1.psk */
    "KhwFVXxMdC6nMUItb+MEvvC6fwnQaqxJzV", /* open.key */
    "MOtEg4MJ6YHhz4bUWlgQGt+abc3+sUJbvP", /* short.key */
};

struct expected {
	int line; /* 0: "FILE: ..." */
	const char *phrase;
};

static int setup(void **state)
{
	(void)state;
	/* git keeps no file modes: give the key files the ones the tests are about. */
	if (chmod("configs/hq.key", 0600) || chmod("configs/br1.psk", 0600) ||
	    chmod("configs/short.key", 0600) || chmod("configs/unclamped.key", 0600) ||
	    chmod("configs/open.key", 0644)) {
		perror("chmod configs/*.key");
		return -1;
	}
	return 0;
}

static void print_problems(const struct vpnd_config_errors *errs)
{
	unsigned i;

	for (i = 0; i < errs->count; i++)
		print_message("    %s\n", errs->lines[i]);
}

static void key(uint8_t out[VPND_KEY_LEN], const char *b64)
{
	assert_true(vpnd_key_from_base64(out, b64));
}

/* Loads a fixture that must fail; every problem is one line and shows no secret. */
static struct vpnd_config_errors problems_of(const char *path)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c = vpnd_config_load(path, &errs);
	unsigned i, j;

	if (c) {
		vpnd_config_free(c);
		fail_msg("%s loaded, but it has problems", path);
	}
	assert_true(errs.count > 0);
	for (i = 0; i < errs.count; i++) {
		assert_null(strchr(errs.lines[i], '\n'));
		for (j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
			if (strstr(errs.lines[i], secrets[j]))
				fail_msg("a secret in: %s", errs.lines[i]);
	}
	return errs;
}

static bool is_problem(const char *line, const char *path, const struct expected *e)
{
	char prefix[256];
	size_t n;

	if (e->line)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, e->line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	n = strlen(prefix);
	return !strncmp(line, prefix, n) && strstr(line + n, e->phrase);
}

/* path has exactly these problems, in any order. */
static void expect_problems(const char *path, const struct expected *e, unsigned n)
{
	struct vpnd_config_errors errs = problems_of(path);
	unsigned i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < errs.count && !is_problem(errs.lines[j], path, &e[i]); j++)
			;
		if (j == errs.count) {
			print_problems(&errs);
			fail_msg("%s: no problem on line %d with '%s'", path, e[i].line,
				 e[i].phrase);
		}
	}
	if (errs.count != n) {
		print_problems(&errs);
		fail_msg("%s: %u problems, expected %u", path, errs.count, n);
	}
	vpnd_config_errors_free(&errs);
}

#define EXPECT(path, ...)                                                                          \
	do {                                                                                       \
		const struct expected e_[] = {__VA_ARGS__};                                        \
		expect_problems(path, e_, sizeof(e_) / sizeof(e_[0]));                             \
	} while (0)

static struct vpnd_config *load_good(const char *path)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c = vpnd_config_load(path, &errs);

	if (!c) {
		print_problems(&errs);
		fail_msg("%s did not load", path);
	}
	assert_int_equal(errs.count, 0);
	vpnd_config_errors_free(&errs);
	return c;
}

static void assert_v4(const struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	assert_int_equal(ep->addr.sa.sa_family, AF_INET);
	assert_memory_equal(&ep->addr.in4.sin_addr, &a, sizeof(a));
	assert_int_equal(ntohs(ep->addr.in4.sin_port), port);
}

static void assert_v6(const struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, ip, &a), 1);
	assert_int_equal(ep->addr.sa.sa_family, AF_INET6);
	assert_memory_equal(&ep->addr.in6.sin6_addr, &a, sizeof(a));
	assert_int_equal(ntohs(ep->addr.in6.sin6_port), port);
}

static void assert_prefix(int family, const uint8_t *addr, unsigned len, const char *ip,
			  unsigned expect_len)
{
	uint8_t a[16] = {0};

	assert_int_equal(inet_pton(family, ip, a), 1);
	assert_memory_equal(addr, a, family == AF_INET ? 4 : 16);
	assert_int_equal(len, expect_len);
}

static void test_good(void **state)
{
	struct vpnd_config *c = load_good("configs/good.conf");
	const struct vpnd_peer_conf *br1, *br2;
	uint8_t k[VPND_KEY_LEN];

	(void)state;
	assert_string_equal(c->path, "configs/good.conf");
	assert_string_equal(c->interface, "vpn-hq");
	assert_string_equal(c->private_key_file, "configs/hq.key");
	key(k, "MOLu950ixkqy9+weamxhgaaK6nN5nJw55d/gQCdvZGA=");
	assert_memory_equal(c->private_key, k, sizeof(k));
	key(k, "G6RsIKcOjLaUyloLTmz27AZAe2c5OnmNaa66LCnj/Fw="); /* wg pubkey < hq.key */
	assert_memory_equal(c->public_key, k, sizeof(k));
	assert_int_equal(c->listen_port, 51821);
	assert_int_equal(c->n_addresses, 2);
	assert_int_equal(c->addresses[0].family, AF_INET);
	assert_prefix(AF_INET, c->addresses[0].addr, c->addresses[0].prefixlen, "10.99.0.1", 24);
	assert_int_equal(c->addresses[1].family, AF_INET6);
	assert_prefix(AF_INET6, c->addresses[1].addr, c->addresses[1].prefixlen, "fd99::1", 64);
	assert_int_equal(c->mtu, 1400);
	assert_string_equal(c->control_socket, "/tmp/vpnd-test-hq.sock");
	assert_int_equal(c->control_socket_mode, 0660);
	assert_int_equal(c->rekey_after_time, 30);
	assert_int_equal(c->n_peers, 2);

	br1 = vpnd_config_find_peer(c, "br1");
	assert_ptr_equal(br1, &c->peers[0]);
	assert_int_equal(br1->line, 14);
	key(k, "QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPhxw=");
	assert_memory_equal(br1->public_key, k, sizeof(k));
	assert_true(br1->has_preshared_key);
	assert_string_equal(br1->preshared_key_file, "configs/br1.psk");
	key(k, "1BshK0YO/H6+QytBcxXpOmSBRrBs1tLtucz7eeOyFTw=");
	assert_memory_equal(br1->preshared_key, k, sizeof(k));
	assert_string_equal(br1->endpoint_spec, "192.0.2.10:51820");
	assert_v4(&br1->endpoint, "192.0.2.10", 51820);
	assert_int_equal(br1->n_allowed_ips, 2);
	assert_int_equal(br1->allowed_ips[0].family, AF_INET);
	assert_prefix(AF_INET, br1->allowed_ips[0].addr, br1->allowed_ips[0].cidr, "10.99.0.2", 32);
	assert_prefix(AF_INET, br1->allowed_ips[1].addr, br1->allowed_ips[1].cidr, "10.2.0.0", 24);
	assert_int_equal(br1->persistent_keepalive, 25);

	br2 = vpnd_config_find_peer(c, "br2");
	assert_ptr_equal(br2, &c->peers[1]);
	assert_int_equal(br2->line, 23);
	key(k, "F1GmRzhlBbzF5v32bT5Rhg6GbsUnAjQTZg8CbCC+cVI=");
	assert_memory_equal(br2->public_key, k, sizeof(k));
	assert_false(br2->has_preshared_key);
	assert_null(br2->preshared_key_file);
	assert_string_equal(br2->endpoint_spec, "localhost:51822");
	/* A name is looked up by the running daemon, not by the loader. */
	assert_int_equal(br2->endpoint.addr.sa.sa_family, AF_UNSPEC);
	assert_int_equal(br2->n_endpoints, 1);
	assert_string_equal(br2->endpoints[0].host, "localhost");
	assert_int_equal(br2->endpoints[0].port, 51822);
	assert_false(br2->endpoints[0].numeric);
	assert_int_equal(br2->n_allowed_ips, 3);
	assert_int_equal(br2->allowed_ips[2].family, AF_INET6);
	assert_prefix(AF_INET6, br2->allowed_ips[2].addr, br2->allowed_ips[2].cidr, "fd99::3", 128);
	assert_int_equal(br2->persistent_keepalive, 0);

	assert_null(vpnd_config_find_peer(c, "br3"));
	assert_null(vpnd_config_find_peer(c, "br"));
	vpnd_config_free(c);
}

static void test_defaults(void **state)
{
	struct vpnd_config *c = load_good("configs/defaults.conf");
	const struct vpnd_peer_conf *p;

	(void)state;
	assert_string_equal(c->interface, "vpn7");
	assert_int_equal(c->listen_port, 51820);
	assert_int_equal(c->mtu, 1420);
	assert_int_equal(c->n_addresses, 0);
	assert_string_equal(c->control_socket, "/run/vpnd/vpn7.sock");
	assert_int_equal(c->control_socket_mode, 0600);
	assert_int_equal(c->rekey_after_time, 120);
	assert_int_equal(c->n_peers, 1);
	p = &c->peers[0];
	assert_string_equal(p->name, "quiet");
	assert_int_equal(p->line, 5);
	assert_false(p->has_preshared_key);
	assert_null(p->endpoint_spec);
	assert_int_equal(p->endpoint.addr.sa.sa_family, AF_UNSPEC);
	assert_int_equal(p->n_allowed_ips, 0);
	assert_int_equal(p->persistent_keepalive, 0);
	assert_false(p->has_next_public_key);
	assert_string_equal(c->state_directory, "/var/lib/vpnd");
	assert_string_equal(c->revoked_keys_file, "/var/lib/vpnd/vpn7.revoked");
	vpnd_config_free(c);
}

/* `threads`: absent is 0 (one per online CPU, decided at start), else 1..64. */
static void test_threads(void **state)
{
	struct vpnd_config *c;

	(void)state;
	c = load_good("configs/defaults.conf");
	assert_int_equal(c->threads, 0);
	vpnd_config_free(c);
	c = load_good("configs/threads.conf");
	assert_int_equal(c->threads, 3);
	vpnd_config_free(c);
	EXPECT("configs/bad-threads.conf", {4, "threads: 0 is out of range 1..64"});
	EXPECT("configs/bad-threads-2.conf", {4, "threads: 65 is out of range 1..64"});
	EXPECT("configs/bad-threads-3.conf", {4, "threads: 'all' is not a number"});
}

static void test_next_public_key(void **state)
{
	struct vpnd_config *c = load_good("configs/next-key.conf");
	uint8_t next[32];

	(void)state;
	assert_true(vpnd_key_from_base64(next, "Jrz1VpGQt+lWdiosSG3u5ea2mOkD4cuKgs4QVRIf2gg="));
	assert_true(c->peers[0].has_next_public_key);
	assert_memory_equal(c->peers[0].next_public_key, next, 32);
	/* Relative to the config file, as every path in it. */
	assert_string_equal(c->state_directory, "configs/state");
	assert_string_equal(c->revoked_keys_file, "/etc/vpnd/shared.revoked");
	vpnd_config_free(c);
}

static void test_bad_next_public_key(void **state)
{
	(void)state;
	EXPECT("configs/bad-next-key.conf",
	       {6, "next-public-key: peer 'br1': this is its public-key already"},
	       {10, "next-public-key: peer 'br2' has the same key as peer 'br1' (line 5)"},
	       {14, "next-public-key: 'abc' has the wrong length"});
}

static void test_endpoints(void **state)
{
	struct vpnd_config *c = load_good("configs/endpoints.conf");

	(void)state;
	assert_int_equal(c->n_peers, 4);
	assert_v4(&vpnd_config_find_peer(c, "v4")->endpoint, "198.51.100.7", 65535);
	assert_v6(&vpnd_config_find_peer(c, "v6")->endpoint, "2001:db8::1", 51820);
	assert_v6(&vpnd_config_find_peer(c, "mapped")->endpoint, "::ffff:192.0.2.1", 1);
	assert_v4(&vpnd_config_find_peer(c, "unquoted")->endpoint, "127.0.0.1", 7);
	assert_int_equal(vpnd_config_find_peer(c, "unquoted")->line, 16);
	vpnd_config_free(c);
}

/* The engine gets the key clamped, and the public key is the one `wg pubkey` gives. */
static void test_clamps_private_key(void **state)
{
	struct vpnd_config *c = load_good("configs/unclamped.conf");
	uint8_t k[VPND_KEY_LEN];

	(void)state;
	key(k, "+P///////////////////////////////////////38=");
	assert_memory_equal(c->private_key, k, sizeof(k));
	key(k, "hHwNLDdSNPNl5mCVUYejc1oPdhPRYJ06ak2MU66qWiI=");
	assert_memory_equal(c->public_key, k, sizeof(k));
	vpnd_config_free(c);
}

static void test_missing_config(void **state)
{
	(void)state;
	EXPECT("configs/no-such.conf", {0, "cannot open: No such file or directory"});
}

static void test_unknown_key(void **state)
{
	(void)state;
	EXPECT("configs/bad-unknown-key.conf", {4, "'listen-prot'"});
	EXPECT("configs/bad-unknown-peer-key.conf", {6, "'allowed-ip'"});
}

static void test_bad_base64(void **state)
{
	(void)state;
	EXPECT("configs/bad-base64.conf",
	       {5, "public-key: 'QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPh!w=' is not base64"});
}

static void test_key_length(void **state)
{
	(void)state;
	EXPECT("configs/bad-key-length.conf", {5, "wrong length: 43 characters"},
	       {8, "wrong length: 31 bytes"}, {11, "wrong length: 33 bytes"});
	/* A key file's message says what is wrong but never quotes it (checked for all). */
	EXPECT("configs/bad-key-content.conf",
	       {3, "private-key-file: the key in 'configs/short.key' has the wrong length: 43"});
}

static void test_prefix_out_of_range(void **state)
{
	(void)state;
	EXPECT("configs/bad-prefix.conf", {4, "address: '10.99.0.1/40' is not a prefix"},
	       {7, "allowed-ips: '10.0.0.0/33' is not a prefix"},
	       {8, "'fd00::/129' is not a prefix: the length must be 0..128"},
	       {9, "'10.0.0/24' is not a prefix: bad IP address"},
	       {10, "'10.5.0.0' has no prefix length"});
}

static void test_host_bits(void **state)
{
	(void)state;
	EXPECT("configs/bad-host-bits.conf",
	       {7, "allowed-ips: '10.1.0.1/24' has host bits set (the prefix is 10.1.0.0/24)"},
	       {7, "'fd99::1:0/96' has host bits set (the prefix is fd99::/96)"});
}

static void test_duplicate_public_keys(void **state)
{
	(void)state;
	EXPECT("configs/bad-dup-pubkey.conf",
	       {8, "peer 'br2' has the same key as peer 'br1' (line 5)"});
	EXPECT("configs/bad-own-pubkey.conf",
	       {5, "peer 'self' has this interface's own public key"});
}

static void test_duplicate_prefix(void **state)
{
	(void)state;
	EXPECT("configs/bad-dup-prefix.conf",
	       {11, "allowed-ips: 10.2.0.0/24 is also claimed by peer 'br1' (line 6)"});
}

static void test_duplicate_peer_name(void **state)
{
	(void)state;
	EXPECT("configs/bad-dup-peer-name.conf",
	       {8, "peer 'br1' is defined twice (first at line 4)"});
}

static void test_key_file_mode(void **state)
{
	(void)state;
	EXPECT("configs/bad-key-mode.conf",
	       {3, "private-key-file: 'configs/open.key' has mode 0644"},
	       {6, "preshared-key-file: 'configs/open.key' has mode 0644"});
}

static void test_missing_key_files(void **state)
{
	(void)state;
	EXPECT("configs/bad-missing-files.conf",
	       {3, "private-key-file: cannot open 'configs/missing.key': No such file"},
	       {6, "preshared-key-file: cannot open '/nonexistent/vpnd/br1.psk': No such file"});
}

static void test_missing_required(void **state)
{
	(void)state;
	EXPECT("configs/bad-missing-required.conf", {0, "interface is required"},
	       {0, "private-key-file is required"}, {4, "peer 'br1': public-key is required"});
}

static void test_out_of_range(void **state)
{
	(void)state;
	EXPECT("configs/bad-range.conf", {4, "listen-port: 65536 is out of range 0..65535"},
	       {5, "mtu: 575 is out of range 576..9000"},
	       {6, "rekey-after-time: 121 is out of range 1..120"},
	       {7, "control-socket-mode: '0800' is not an octal mode"},
	       {10, "persistent-keepalive: '-1' is not a number"});
	EXPECT("configs/bad-range-2.conf", {4, "listen-port: '0x10' is not a number"},
	       {5, "mtu: 9001 is out of range"}, {6, "rekey-after-time: 0 is out of range"},
	       {7, "control-socket-mode: '1777'"},
	       {10, "persistent-keepalive: 65536 is out of range 0..65535"});
	EXPECT("configs/bad-mtu-ipv6.conf", {5, "mtu: 1200 is below 1280"});
}

static void test_bad_endpoints(void **state)
{
	(void)state;
	EXPECT("configs/bad-endpoint.conf", {6, "endpoint: '192.0.2.1' has no port"},
	       {10, "'192.0.2.1:0' has port '0', a port is 1..65535"},
	       {14, "'2001:db8::1:51820' is ambiguous"},
	       {18, "'[2001:db8::1]' is not [IPV6-ADDRESS]:PORT"},
	       {22, "endpoint: 'a..b:51820' has host 'a..b', which has an empty label"},
	       {26, "':51820' has no host"}, {30, "'192.0.2.1:http' has port 'http'"});
}

static void test_bad_names(void **state)
{
	(void)state;
	EXPECT("configs/bad-names.conf",
	       {2, "interface: 'vpn0-is-far-too-long' is not a device name"},
	       {4, "peer 'branch east': a name is 1..63 characters"},
	       {7, "-than-63-x': a name is 1..63 characters"});
}

static void test_unclosed(void **state)
{
	(void)state;
	EXPECT("configs/bad-comment.conf", {3, "comment '/*' is never closed"});
	EXPECT("configs/bad-syntax.conf", {4, "'{' is never closed"});
}

/* One run shows everything to fix, in file order. */
static void test_reports_all_problems(void **state)
{
	static const struct expected all[] = {
	    {2, "interface: 'vpn 0' is not a device name"},
	    {3, "private-key-file: 'configs/open.key' has mode 0644"},
	    {4, "listen-port: 70000 is out of range"},
	    {5, "address: '10.99.0.1/33' is not a prefix"},
	    {7, "public-key: 'QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPh!w=' is not base64"},
	    {8, "endpoint: '192.0.2.1' has no port"},
	    {13, "allowed-ips: '10.3.0.1/24' has host bits set"},
	    {13, "allowed-ips: 10.2.0.0/24 is also claimed by peer 'br1' (line 9)"},
	    {16, "public-key: peer 'br3' has the same key as peer 'br2' (line 12)"},
	};
	const char *path = "configs/bad-many.conf";
	struct vpnd_config_errors errs = problems_of(path);
	unsigned i;

	(void)state;
	if (errs.count != sizeof(all) / sizeof(all[0])) {
		print_problems(&errs);
		fail_msg("%u problems, expected %zu", errs.count, sizeof(all) / sizeof(all[0]));
	}
	for (i = 0; i < errs.count; i++)
		if (!is_problem(errs.lines[i], path, &all[i]))
			fail_msg("problem %u is '%s', expected line %d with '%s'", i, errs.lines[i],
				 all[i].line, all[i].phrase);
	vpnd_config_errors_free(&errs);
	assert_null(errs.lines);
	assert_int_equal(errs.count, 0);
}

static void test_errors_optional(void **state)
{
	struct vpnd_config *c;

	(void)state;
	assert_null(vpnd_config_load("configs/bad-many.conf", NULL));
	c = vpnd_config_load("configs/defaults.conf", NULL);
	assert_non_null(c);
	vpnd_config_free(c);
	vpnd_config_free(NULL);
	vpnd_config_errors_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_next_public_key),
	    cmocka_unit_test(test_bad_next_public_key),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_clamps_private_key),
	    cmocka_unit_test(test_missing_config),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_bad_base64),
	    cmocka_unit_test(test_key_length),
	    cmocka_unit_test(test_prefix_out_of_range),
	    cmocka_unit_test(test_host_bits),
	    cmocka_unit_test(test_duplicate_public_keys),
	    cmocka_unit_test(test_duplicate_prefix),
	    cmocka_unit_test(test_duplicate_peer_name),
	    cmocka_unit_test(test_key_file_mode),
	    cmocka_unit_test(test_missing_key_files),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_bad_endpoints),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_unclosed),
	    cmocka_unit_test(test_reports_all_problems),
	    cmocka_unit_test(test_errors_optional),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
