/* The site policy: its config keys (every problem with its line), the rule grammar, and
 * the verdicts and counters of the compiled policy for packets from stand-in peers:
 * A -> B against A <-> B, `local`, the default both ways, deny over allow, counters that
 * survive a reload, and a thousand peers judged by the cache rather than by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/config_policy.h"
#include "daemon/policy.h"
#include "tunnel/peer.h"
#include "vpnd/key.h"

static char dir[64];
static char path[128];

/* Public keys of the peers the configs name, in base64. */
#define N_KEYS 1024
static char keys[N_KEYS][VPND_KEY_B64_LEN + 1];

static int setup(void **state)
{
	uint8_t priv[32], pub[32];
	char b64[VPND_KEY_B64_LEN + 1], kpath[128];
	FILE *f;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/vpnd-policy.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/site.conf", dir);
	snprintf(kpath, sizeof(kpath), "%s/k", dir);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_to_base64(b64, priv);
	f = fopen(kpath, "w");
	if (!f || fprintf(f, "%s\n", b64) < 0 || fclose(f) != 0 || chmod(kpath, 0600) != 0)
		return -1;
	for (int i = 0; i < N_KEYS; i++) {
		randombytes_buf(priv, sizeof(priv));
		crypto_scalarmult_base(pub, priv);
		vpnd_key_to_base64(keys[i], pub);
	}
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

static int teardown(void **state)
{
	char p[160];

	(void)state;
	snprintf(p, sizeof(p), "%s/k", dir);
	unlink(p);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The file is: line 1 interface, 2 key, 3 address, 4 networks, then `body` from line 5,
 * then peers br1, br2, br3 (4 lines each, br1 opening the line after body). */
static void write_conf(const char *body)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"interface = \"vpn0\"\n"
		"private-key-file = \"k\"\n"
		"address = {\"10.99.0.1/24\", \"fd99::1/64\"}\n"
		"networks = {\"10.1.0.0/24\", \"fd01::/64\"}\n"
		"%s",
		body);
	for (int i = 0; i < 3; i++)
		fprintf(f,
			"peer \"br%d\" {\n    public-key = \"%s\"\n    allowed-ips = "
			"{\"10.%d.0.0/24\"}\n}\n",
			i + 1, keys[i], i + 2);
	assert_int_equal(fclose(f), 0);
}

static struct vpnd_config *load(const char *body)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;

	write_conf(body);
	c = vpnd_config_load(path, &errs);
	if (!c) {
		for (unsigned i = 0; i < errs.count; i++)
			print_message("    %s\n", errs.lines[i]);
		fail_msg("the config did not load");
	}
	vpnd_config_errors_free(&errs);
	return c;
}

struct expected {
	int line;
	const char *phrase;
};

/* body has exactly these problems, each "FILE:LINE: ..." with its phrase. */
static void expect_problems(const char *body, const struct expected *e, unsigned n)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	char prefix[200];

	write_conf(body);
	c = vpnd_config_load(path, &errs);
	if (c) {
		vpnd_config_free(c);
		fail_msg("loaded, but it has problems:\n%s", body);
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned j;

		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, e[i].line);
		for (j = 0; j < errs.count; j++)
			if (!strncmp(errs.lines[j], prefix, strlen(prefix)) &&
			    strstr(errs.lines[j], e[i].phrase))
				break;
		if (j == errs.count) {
			for (j = 0; j < errs.count; j++)
				print_message("    %s\n", errs.lines[j]);
			fail_msg("no problem on line %d with '%s'", e[i].line, e[i].phrase);
		}
	}
	if (errs.count != n) {
		for (unsigned j = 0; j < errs.count; j++)
			print_message("    %s\n", errs.lines[j]);
		fail_msg("%u problems, expected %u", errs.count, n);
	}
	vpnd_config_errors_free(&errs);
}

#define EXPECT(body, ...)                                                                          \
	do {                                                                                       \
		const struct expected e_[] = {__VA_ARGS__};                                        \
		expect_problems(body, e_, sizeof(e_) / sizeof(e_[0]));                             \
	} while (0)

/* ---- the rule grammar ---------------------------------------------------------------- */

static void test_rule_grammar(void **state)
{
	static const struct {
		const char *text;
		const char *from, *to;
		int both; /* -1: not a rule */
	} table[] = {
	    {"br1 -> br2", "br1", "br2", 0},
	    {"br1->br2", "br1", "br2", 0},
	    {"  br1\t<->  br2 ", "br1", "br2", 1},
	    {"br-east -> local", "br-east", "local", 0},
	    {"br--> x", "br-", "x", 0}, /* '-' is a name character; the arrow ends at '>' */
	    {"a.b_c <-> D-9", "a.b_c", "D-9", 1},
	    {"br1 <- br2", NULL, NULL, -1},
	    {"br1 => br2", NULL, NULL, -1},
	    {"br1 > br2", NULL, NULL, -1},
	    {"br1 -> br2 -> br3", NULL, NULL, -1},
	    {"-> br2", NULL, NULL, -1},
	    {"br1 ->", NULL, NULL, -1},
	    {"br1", NULL, NULL, -1},
	    {"", NULL, NULL, -1},
	    {"br 1 -> br2", NULL, NULL, -1},
	    {"br1 <-> <br2", NULL, NULL, -1},
	    {"br1 -> br/2", NULL, NULL, -1},
	};
	struct vpnd_policy_rule r;
	char why[256], text[VPND_POLICY_RULE_TEXT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		bool ok = config_policy_parse_rule(table[i].text, &r, why, sizeof(why));

		if (ok != (table[i].both >= 0))
			fail_msg("'%s': %s", table[i].text, ok ? "accepted" : why);
		if (!ok) {
			assert_non_null(strstr(why, table[i].text));
			continue;
		}
		assert_string_equal(r.from, table[i].from);
		assert_string_equal(r.to, table[i].to);
		assert_int_equal(r.both, table[i].both);
	}
	assert_true(config_policy_parse_rule(" br1<->br2", &r, why, sizeof(why)));
	assert_string_equal(config_policy_rule_text(text, &r), "br1 <-> br2");
}

/* ---- config problems, each on its line ----------------------------------------------- */

static void test_unknown_peer(void **state)
{
	(void)state;
	EXPECT("policy {\n"			  /* 5 */
	       "    default = \"deny\"\n"	  /* 6 */
	       "    allow = {\"br1 -> local\",\n" /* 7 */
	       "             \"br9 -> br2\"}\n"	  /* 8 */
	       "    deny = {\"br2 -> hq\"}\n"	  /* 9 */
	       "}\n",
	       {8, "allow: 'br9 -> br2': no peer is named 'br9'"},
	       {9, "deny: 'br2 -> hq': no peer is named 'hq'"});
}

static void test_malformed(void **state)
{
	(void)state;
	EXPECT("policy {\n"					  /* 5 */
	       "    default = \"block\"\n"			  /* 6 */
	       "    allow = {\"br1 => br2\"}\n"			  /* 7 */
	       "    deny = {\"br1 <-> br1\", \"local -> br2\"}\n" /* 8 */
	       "}\n",
	       {6, "default: 'block' is neither \"allow\" nor \"deny\""},
	       {7, "allow: 'br1 => br2' is not a rule"},
	       {8, "deny: 'br1 <-> br1' names one site twice"},
	       {8, "deny: 'local -> br2': packets from this site are not checked"});
}

static void test_duplicates(void **state)
{
	(void)state;
	EXPECT("policy {\n"					   /* 5 */
	       "    allow = {\"br1 <-> br2\", \"br3 -> local\"}\n" /* 6 */
	       "    deny = {\"br2 <-> br1\",\n"			   /* 7 */
	       "            \"br3 -> br1\", \"br3->br1\"}\n"	   /* 8 */
	       "}\n",
	       {7, "deny: 'br2 <-> br1' is also in allow (line 6)"},
	       {8, "deny: 'br3 -> br1' is listed twice (first at line 8)"});
}

static void test_networks_problems(void **state)
{
	(void)state;
	EXPECT("networks = {\"10.5.0.0/24\", \"10.5.0.0/24\",\n" /* 5 */
	       "            \"10.6.0.1/24\", \"10.7.0.0\"}\n",	 /* 6 */
	       /* networks is given twice: libconfuse keeps the last, on lines 5 and 6 */
	       {5, "networks: '10.5.0.0/24' is listed twice (first at line 5)"},
	       {6, "networks: '10.6.0.1/24' has host bits set (the prefix is 10.6.0.0/24)"},
	       {6, "networks: '10.7.0.0' has no prefix length"});
}

/* libconfuse would merge a second section into the first, list by list. */
static void test_second_policy_section(void **state)
{
	(void)state;
	EXPECT("policy {\n"			/* 5 */
	       "    allow = {\"br1 -> br2\"}\n" /* 6 */
	       "}\n"				/* 7 */
	       "policy {\n"			/* 8 */
	       "    default = \"deny\"\n"	/* 9 */
	       "}\n",				/* 10 */
	       {10, "policy: a second policy section (the first ends at line 7)"});
}

/* A policy section before the peers must not disturb where peer sections are said to
 * start (the loader marks peer sections by their first value). */
static void test_peer_lines_after_policy(void **state)
{
	(void)state;
	EXPECT("policy {\n"			       /* 5 */
	       "    allow = {\"br1 -> br2\"}\n"	       /* 6 */
	       "}\n"				       /* 7 */
	       "peer \"br0\" {\n"		       /* 8 */
	       "    allowed-ips = {\"10.9.0.0/24\"}\n" /* 9 */
	       "}\n",
	       {8, "peer 'br0': public-key is required"});
}

static void test_local_peer_name(void **state)
{
	FILE *f;
	struct vpnd_config_errors errs;
	char prefix[320];

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"interface = \"vpn0\"\nprivate-key-file = \"k\"\n"
		"policy {\n    allow = {\"local <-> br1\"}\n}\n" /* 3..5 */
		"peer \"local\" {\n    public-key = \"%s\"\n}\n" /* 6..8 */
		"peer \"br1\" {\n    public-key = \"%s\"\n}\n",
		keys[0], keys[1]);
	assert_int_equal(fclose(f), 0);
	assert_null(vpnd_config_load(path, &errs));
	assert_int_equal(errs.count, 1);
	snprintf(prefix, sizeof(prefix),
		 "%s:4: allow: 'local <-> br1': 'local' means this site, "
		 "but peer 'local' (line 6)",
		 path);
	assert_memory_equal(errs.lines[0], prefix, strlen(prefix));
	vpnd_config_errors_free(&errs);
}

/* ---- verdicts ------------------------------------------------------------------------ */

static struct wg_peer *peer(const char *name, int key)
{
	struct wg_peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	snprintf(p->name, sizeof(p->name), "%s", name);
	assert_true(vpnd_key_from_base64(p->handshake.remote_static, keys[key]));
	return p;
}

/* An IPv4 (or, with ':' in it, IPv6) packet header from src to dst. */
struct pkt {
	uint8_t b[40];
	size_t len;
};

static struct pkt ip(const char *src, const char *dst)
{
	struct pkt p = {{0}, 0};

	if (strchr(dst, ':')) {
		p.b[0] = 0x60;
		p.b[6] = 58;
		assert_int_equal(inet_pton(AF_INET6, src, p.b + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, p.b + 24), 1);
		p.len = 40;
	} else {
		p.b[0] = 0x45;
		p.b[9] = 1;
		assert_int_equal(inet_pton(AF_INET, src, p.b + 12), 1);
		assert_int_equal(inet_pton(AF_INET, dst, p.b + 16), 1);
		p.len = 20;
	}
	return p;
}

static bool check(struct vpnd_policy *pol, const struct wg_peer *from, const struct wg_peer *to,
		  const char *src, const char *dst, int *rule)
{
	struct pkt p = ip(src, dst);
	int dummy;

	return vpnd_policy_check(pol, from, to, p.b, p.len, rule ? rule : &dummy);
}

struct fixture {
	struct vpnd_config *c;
	struct vpnd_policy *pol;
	struct wg_peer *br1, *br2, *br3;
};

static void fixture_up(struct fixture *f, const char *body)
{
	f->c = load(body);
	f->pol = vpnd_policy_new(f->c);
	assert_non_null(f->pol);
	f->br1 = peer("br1", 0);
	f->br2 = peer("br2", 1);
	f->br3 = peer("br3", 2);
}

static void fixture_down(struct fixture *f)
{
	vpnd_policy_free(f->pol);
	vpnd_config_free(f->c);
	free(f->br1);
	free(f->br2);
	free(f->br3);
}

static uint64_t denied_of(const struct vpnd_policy *pol, const char *text)
{
	struct vpnd_policy_rule_info r;

	for (unsigned i = 0; i < vpnd_policy_rule_count(pol); i++) {
		vpnd_policy_rule(pol, i, &r);
		if (!strcmp(r.text, text))
			return r.denied;
	}
	fail_msg("no rule '%s'", text);
	return 0;
}

static void test_one_way_and_both_ways(void **state)
{
	struct fixture f;
	int rule;

	(void)state;
	fixture_up(&f, "policy {\n default = \"deny\"\n"
		       " allow = {\"br1 -> br2\", \"br1 <-> br3\"}\n}\n");
	/* A -> B: one way only. */
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_false(check(f.pol, f.br2, f.br1, "10.3.0.2", "10.2.0.2", &rule));
	assert_int_equal(rule, VPND_POLICY_DEFAULT);
	/* A <-> B: both. */
	assert_true(check(f.pol, f.br1, f.br3, "10.2.0.2", "10.4.0.2", NULL));
	assert_true(check(f.pol, f.br3, f.br1, "10.4.0.2", "10.2.0.2", NULL));
	/* Neither names br2 -> br3 nor anyone -> local. */
	assert_false(check(f.pol, f.br2, f.br3, "10.3.0.2", "10.4.0.2", NULL));
	assert_false(check(f.pol, f.br1, NULL, "10.2.0.2", "10.1.0.2", NULL));
	assert_int_equal(vpnd_policy_default_denied(f.pol), 3);
	assert_int_equal(vpnd_policy_denied_total(f.pol), 3);
	fixture_down(&f);
}

static void test_local(void **state)
{
	struct fixture f;

	(void)state;
	fixture_up(&f, "policy {\n default = \"deny\"\n allow = {\"br1 -> local\"}\n}\n");
	/* networks and the gateway's own addresses are local... */
	assert_true(check(f.pol, f.br1, NULL, "10.2.0.2", "10.1.0.2", NULL));
	assert_true(check(f.pol, f.br1, NULL, "10.2.0.2", "10.99.0.1", NULL));
	assert_true(check(f.pol, f.br1, NULL, "fd02::2", "fd01::2", NULL));
	assert_true(check(f.pol, f.br1, NULL, "fd02::2", "fd99::1", NULL));
	assert_true(vpnd_policy_to_local(f.pol, ip("10.2.0.2", "10.1.0.200").b, 20));
	/* ...the rest of the tunnel subnet and the world are not. */
	assert_false(check(f.pol, f.br1, NULL, "10.2.0.2", "10.99.0.7", NULL));
	assert_false(check(f.pol, f.br1, NULL, "10.2.0.2", "192.0.2.1", NULL));
	assert_false(check(f.pol, f.br1, NULL, "fd02::2", "fd99::7", NULL));
	/* A truncated packet is nobody's. */
	assert_false(vpnd_policy_to_local(f.pol, ip("10.2.0.2", "10.1.0.2").b, 19));
	/* br2 may not reach local at all, and no rule lets br1 on to br2. */
	assert_false(check(f.pol, f.br2, NULL, "10.3.0.2", "10.1.0.2", NULL));
	assert_false(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_int_equal(vpnd_policy_default_denied(f.pol), 5);
	fixture_down(&f);
}

static void test_default_allow_with_deny(void **state)
{
	struct fixture f;
	int rule;

	(void)state;
	fixture_up(&f, "policy {\n deny = {\"br2 <-> br3\", \"br1 -> local\"}\n}\n");
	assert_true(vpnd_policy_default_allow(f.pol));
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_true(check(f.pol, f.br2, f.br1, "10.3.0.2", "10.2.0.2", NULL));
	assert_false(check(f.pol, f.br2, f.br3, "10.3.0.2", "10.4.0.2", &rule));
	assert_int_equal(rule, 0);
	assert_false(check(f.pol, f.br3, f.br2, "10.4.0.2", "10.3.0.2", &rule));
	assert_int_equal(rule, 0);
	assert_false(check(f.pol, f.br1, NULL, "10.2.0.2", "10.1.0.9", &rule));
	assert_int_equal(rule, 1);
	/* br1 to somewhere that is not local: the default. */
	assert_true(check(f.pol, f.br1, NULL, "10.2.0.2", "198.51.100.7", NULL));
	assert_int_equal(denied_of(f.pol, "br2 <-> br3"), 2);
	assert_int_equal(denied_of(f.pol, "br1 -> local"), 1);
	assert_int_equal(vpnd_policy_default_denied(f.pol), 0);
	assert_int_equal(vpnd_policy_denied_total(f.pol), 3);
	fixture_down(&f);
}

/* A deny rule wins over an allow rule for the same pair, whatever the order. */
static void test_deny_over_allow(void **state)
{
	struct fixture f;
	int rule;

	(void)state;
	fixture_up(&f, "policy {\n default = \"deny\"\n allow = {\"br1 <-> br2\"}\n"
		       " deny = {\"br2 -> br1\"}\n}\n");
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_false(check(f.pol, f.br2, f.br1, "10.3.0.2", "10.2.0.2", &rule));
	assert_int_equal(rule, 1);
	assert_int_equal(denied_of(f.pol, "br2 -> br1"), 1);
	assert_int_equal(denied_of(f.pol, "br1 <-> br2"), 0);
	fixture_down(&f);
}

static void test_no_policy_passes_all(void **state)
{
	struct fixture f;

	(void)state;
	fixture_up(&f, "");
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_true(check(f.pol, f.br1, NULL, "10.2.0.2", "8.8.8.8", NULL));
	assert_int_equal(vpnd_policy_rule_count(f.pol), 0);
	fixture_down(&f);
	/* default deny with no rule: nothing passes */
	fixture_up(&f, "policy {\n default = \"deny\"\n}\n");
	assert_false(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_false(check(f.pol, f.br1, NULL, "10.2.0.2", "10.1.0.1", NULL));
	assert_int_equal(vpnd_policy_default_denied(f.pol), 2);
	fixture_down(&f);
}

/* A reload keeps the counters of the rules it keeps, so that they never go down. */
static void test_counters_carry_over(void **state)
{
	struct fixture f;
	struct vpnd_config *c2;
	struct vpnd_policy *p2;

	(void)state;
	fixture_up(&f,
		   "policy {\n default = \"deny\"\n deny = {\"br1 -> br2\", \"br2 -> br3\"}\n}\n");
	assert_false(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_false(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	assert_false(check(f.pol, f.br2, f.br3, "10.3.0.2", "10.4.0.2", NULL));
	assert_false(check(f.pol, f.br3, f.br1, "10.4.0.2", "10.2.0.2", NULL));
	c2 = load("policy {\n default = \"deny\"\n deny = {\"br1 -> br2\", \"br3 -> br2\"}\n}\n");
	p2 = vpnd_policy_new(c2);
	assert_non_null(p2);
	assert_false(vpnd_policy_same_rules(p2, f.pol));
	vpnd_policy_carry_counters(p2, f.pol);
	assert_int_equal(denied_of(p2, "br1 -> br2"), 2);
	assert_int_equal(denied_of(p2, "br3 -> br2"), 0);
	assert_int_equal(vpnd_policy_default_denied(p2), 1);
	/* the new policy judges by its own rules */
	assert_false(check(p2, f.br3, f.br2, "10.4.0.2", "10.3.0.2", NULL));
	assert_int_equal(denied_of(p2, "br3 -> br2"), 1);
	vpnd_policy_free(p2);
	vpnd_config_free(c2);
	fixture_down(&f);
}

/* After the first packet a peer is known by its address in memory: its name is not read
 * again; a different key at that address (a peer freed and another made there, or told
 * by vpnd_policy_peers_changed) makes the policy look again. */
static void test_peer_identity(void **state)
{
	struct fixture f;

	(void)state;
	fixture_up(&f, "policy {\n default = \"deny\"\n allow = {\"br1 -> br2\"}\n}\n");
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	snprintf(f.br1->name, sizeof(f.br1->name), "br3");
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	/* Another peer at br1's address: another key. */
	assert_true(vpnd_key_from_base64(f.br1->handshake.remote_static, keys[2]));
	assert_false(check(f.pol, f.br1, f.br2, "10.4.0.2", "10.3.0.2", NULL));
	/* Renamed back in place (same key): only the notice makes it count. */
	snprintf(f.br1->name, sizeof(f.br1->name), "br1");
	assert_false(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	vpnd_policy_peers_changed(f.pol);
	assert_true(check(f.pol, f.br1, f.br2, "10.2.0.2", "10.3.0.2", NULL));
	fixture_down(&f);
}

/* A thousand peers, each allowed to local and to its successor: every verdict right, and
 * right again once every peer is cached. */
static void test_thousand_peers(void **state)
{
	enum { N = 1000 };
	struct wg_peer **peers = calloc(N, sizeof(*peers));
	char *text, *at, name[16];
	size_t cap = (size_t)N * 260 + 4096;
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	struct vpnd_policy *pol;
	FILE *f;

	(void)state;
	assert_non_null(peers);
	text = at = malloc(cap);
	assert_non_null(text);
	at +=
	    sprintf(at, "interface = \"vpn0\"\nprivate-key-file = \"k\"\n"
			"networks = {\"10.1.0.0/24\"}\npolicy {\n default = \"deny\"\n allow = {");
	for (int i = 0; i < N; i++)
		at += sprintf(at, "%s\"p%d -> local\", \"p%d -> p%d\"", i ? ", " : "", i, i,
			      (i + 1) % N);
	at += sprintf(at, "}\n}\n");
	for (int i = 0; i < N; i++)
		at += sprintf(at, "peer \"p%d\" {\n public-key = \"%s\"\n}\n", i, keys[i]);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(text);
	c = vpnd_config_load(path, &errs);
	if (!c)
		fail_msg("%s", errs.count ? errs.lines[0] : "?");
	pol = vpnd_policy_new(c);
	assert_non_null(pol);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		peers[i] = peer(name, i);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			const struct wg_peer *next = peers[(i + 1) % N],
					     *prev = peers[(i + N - 1) % N];

			assert_true(check(pol, peers[i], NULL, "10.2.0.2", "10.1.0.2", NULL));
			assert_true(check(pol, peers[i], next, "10.2.0.2", "10.3.0.2", NULL));
			assert_false(check(pol, peers[i], prev, "10.2.0.2", "10.3.0.2", NULL));
			assert_false(check(pol, peers[i], NULL, "10.2.0.2", "10.7.0.2", NULL));
		}
	}
	assert_int_equal(vpnd_policy_default_denied(pol), 4 * N);
	vpnd_policy_free(pol);
	vpnd_config_free(c);
	for (int i = 0; i < N; i++)
		free(peers[i]);
	free(peers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule_grammar),
	    cmocka_unit_test(test_unknown_peer),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_networks_problems),
	    cmocka_unit_test(test_second_policy_section),
	    cmocka_unit_test(test_peer_lines_after_policy),
	    cmocka_unit_test(test_local_peer_name),
	    cmocka_unit_test(test_one_way_and_both_ways),
	    cmocka_unit_test(test_local),
	    cmocka_unit_test(test_default_allow_with_deny),
	    cmocka_unit_test(test_deny_over_allow),
	    cmocka_unit_test(test_no_policy_passes_all),
	    cmocka_unit_test(test_counters_carry_over),
	    cmocka_unit_test(test_peer_identity),
	    cmocka_unit_test(test_thousand_peers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
