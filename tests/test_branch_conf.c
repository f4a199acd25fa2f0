/* Branch onboarding's planning and texts (ctl/branch_conf.c, compiled in): the addresses
 * picked, the route to everything behind HQ, every refusal, and both texts read back by
 * vpnd's own config loader, so that what vpnctl writes is what vpnd accepts. */
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

#include "ctl/branch_conf.h"
#include "daemon/config.h"
#include "vpnd/key.h"

static struct cidr P(const char *s) {
	struct cidr c;
	const char *why = cidr_parse(s, &c, false);

	if (why)
		fail_msg("'%s' %s", s, why);
	return c;
}

/* HQ of the netns topology: br1 and br2 with tunnel addresses and LANs. */
struct fixture {
	struct cidr addresses[2], networks[2], br1[4], br2[4], subnets[2];
	struct branch_hq_peer peers[2];
	struct branch_hq hq;
	struct branch_request rq;
};

static char dir[] = "/tmp/test_branch_conf.XXXXXX";

static const char *hq_pub = "znIJZPRAoiPCsuyR/8slcSXHTiivNIE4E+bjGRVjm3s=";

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->addresses[0] = P("10.99.0.1/24");
	f->addresses[1] = P("fd99::1/64");
	f->networks[0] = P("10.1.0.0/24");
	f->networks[1] = P("fd01::/64");
	f->br1[0] = P("10.99.0.2/32");
	f->br1[1] = P("fd99::2/128");
	f->br1[2] = P("10.2.0.0/24");
	f->br1[3] = P("fd02::/64");
	f->br2[0] = P("10.99.0.3/32");
	f->br2[1] = P("fd99::3/128");
	f->br2[2] = P("10.3.0.0/24");
	f->br2[3] = P("fd03::/64");
	f->peers[0] = (struct branch_hq_peer){"br1", f->br1, 4};
	f->peers[1] = (struct branch_hq_peer){"br2", f->br2, 4};
	f->hq = (struct branch_hq){hq_pub, f->addresses, 2, f->networks, 2, f->peers, 2};
	f->subnets[0] = P("10.4.0.0/24");
	f->rq = (struct branch_request){.name = "br3",
					.hq_name = "hq",
					.interface = "vpn0",
					.endpoint = "198.51.100.2:51820",
					.subnets = f->subnets,
					.n_subnets = 1};
}

static void list_is(const struct cidr *items, size_t n, const char *want)
{
	char got[1024] = "", buf[CIDR_TEXT_MAX];

	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 cidr_format(buf, &items[i]));
	assert_string_equal(got, want);
}

static void test_plan(void **state)
{
	struct fixture f;
	struct branch_plan plan;
	char err[256];

	(void)state;
	fixture_init(&f);
	assert_int_equal(branch_plan_make(&f.hq, &f.rq, &plan, err, sizeof(err)), 0);
	list_is(plan.addresses, plan.n_addresses, "10.99.0.4/24 fd99::4/64");
	/* HQ's tunnel networks, its LANs, and the other branches' LANs (their tunnel
	 * addresses are inside the tunnel networks already). */
	list_is(plan.hq_allowed, plan.n_hq_allowed,
		"10.99.0.0/24 fd99::/64 10.1.0.0/24 fd01::/64 10.2.0.0/24 fd02::/64 10.3.0.0/24 "
		"fd03::/64");
	branch_plan_free(&plan);

	/* IPv4 only, no LANs at HQ, no peers yet. */
	f.hq.n_addresses = 1;
	f.hq.n_networks = 0;
	f.hq.n_peers = 0;
	f.rq.n_subnets = 0;
	assert_int_equal(branch_plan_make(&f.hq, &f.rq, &plan, err, sizeof(err)), 0);
	list_is(plan.addresses, plan.n_addresses, "10.99.0.2/24");
	list_is(plan.hq_allowed, plan.n_hq_allowed, "10.99.0.0/24");
	branch_plan_free(&plan);
}

static void expect_refusal(struct fixture *f, const char *phrase)
{
	struct branch_plan plan;
	char err[256];

	assert_int_equal(branch_plan_make(&f->hq, &f->rq, &plan, err, sizeof(err)), -1);
	if (!strstr(err, phrase))
		fail_msg("expected '%s' in: %s", phrase, err);
	branch_plan_free(&plan);
}

static void test_refusals(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	f.rq.name = "br2";
	expect_refusal(&f, "HQ has a peer named 'br2' already");

	fixture_init(&f);
	f.subnets[0] = P("10.4.0.1/24");
	expect_refusal(&f, "--subnet 10.4.0.1/24 has host bits set (the network is 10.4.0.0/24)");

	fixture_init(&f);
	f.subnets[0] = P("10.3.0.0/25");
	expect_refusal(&f, "--subnet 10.3.0.0/25 overlaps 10.3.0.0/24, in the allowed-ips of "
			   "peer 'br2'");

	fixture_init(&f);
	f.subnets[0] = P("10.0.0.0/8");
	expect_refusal(&f, "--subnet 10.0.0.0/8 overlaps HQ's tunnel network 10.99.0.0/24");

	fixture_init(&f);
	f.subnets[0] = P("10.1.0.128/25");
	expect_refusal(&f, "--subnet 10.1.0.128/25 overlaps HQ's network 10.1.0.0/24");

	fixture_init(&f);
	f.subnets[1] = P("10.4.0.0/16");
	f.rq.n_subnets = 2;
	expect_refusal(&f, "--subnet 10.4.0.0/16 overlaps --subnet 10.4.0.0/24");

	fixture_init(&f);
	f.hq.n_addresses = 0;
	expect_refusal(&f, "HQ has no tunnel address");

	fixture_init(&f);
	f.addresses[0] = P("10.99.0.1/30");
	f.br1[0] = P("10.99.0.2/32");
	f.hq.n_addresses = 1;
	expect_refusal(&f, "no free address left in HQ's tunnel network 10.99.0.0/30");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct vpnd_config *load(const char *path)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c = vpnd_config_load(path, &errs);

	for (unsigned i = 0; i < errs.count; i++)
		print_message("    %s\n", errs.lines[i]);
	vpnd_config_errors_free(&errs);
	assert_non_null(c);
	return c;
}

static void test_branch_config_loads(void **state)
{
	struct fixture f;
	struct branch_plan plan;
	struct vpnd_config *c;
	char err[256], path[128], priv_b64[VPND_KEY_B64_LEN + 1], psk_b64[VPND_KEY_B64_LEN + 1];
	uint8_t priv[32], psk[32], hq_key[32];
	char *text;

	(void)state;
	fixture_init(&f);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	randombytes_buf(psk, sizeof(psk));
	vpnd_key_to_base64(priv_b64, priv);
	vpnd_key_to_base64(psk_b64, psk);
	assert_int_equal(branch_plan_make(&f.hq, &f.rq, &plan, err, sizeof(err)), 0);
	text = branch_config_text(&f.hq, &f.rq, &plan, priv_b64, psk_b64);
	assert_non_null(text);
	assert_non_null(strstr(text, "persistent-keepalive = 25"));

	snprintf(path, sizeof(path), "%s/br3.conf", dir);
	write_file(path, text, 0600);
	c = load(path);
	assert_string_equal(c->interface, "vpn0");
	assert_true(c->private_key_inline);
	assert_memory_equal(c->private_key, priv, 32);
	assert_int_equal(c->n_addresses, 2);
	assert_int_equal(c->addresses[0].prefixlen, 24);
	assert_int_equal(c->n_networks, 1);
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].name, "hq");
	assert_true(vpnd_key_from_base64(hq_key, hq_pub));
	assert_memory_equal(c->peers[0].public_key, hq_key, 32);
	assert_true(c->peers[0].has_preshared_key);
	assert_memory_equal(c->peers[0].preshared_key, psk, 32);
	assert_int_equal(c->peers[0].n_allowed_ips, 8);
	assert_int_equal(c->peers[0].persistent_keepalive, 25);
	assert_string_equal(c->peers[0].endpoint_spec, "198.51.100.2:51820");
	vpnd_config_free(c);
	unlink(path);

	/* The file holds the private key: readable by others, vpnd refuses it. */
	write_file(path, text, 0644);
	{
		struct vpnd_config_errors errs;

		assert_null(vpnd_config_load(path, &errs));
		assert_true(errs.count >= 1);
		assert_non_null(strstr(errs.lines[0], "has mode 0644"));
		assert_null(strstr(errs.lines[0], priv_b64));
		vpnd_config_errors_free(&errs);
	}
	unlink(path);
	sodium_memzero(text, strlen(text));
	free(text);
	branch_plan_free(&plan);
}

/* HQ's file with the section appended loads, and names the branch as planned. */
static void test_hq_section_loads(void **state)
{
	struct fixture f;
	struct branch_plan plan;
	struct vpnd_config *c;
	char err[256], path[128], key_path[128], psk_path[128], hq_priv[VPND_KEY_B64_LEN + 2];
	char pub_b64[VPND_KEY_B64_LEN + 1], *section, base[1024];
	uint8_t k[32];

	(void)state;
	fixture_init(&f);
	assert_int_equal(branch_plan_make(&f.hq, &f.rq, &plan, err, sizeof(err)), 0);
	snprintf(key_path, sizeof(key_path), "%s/hq.key", dir);
	snprintf(psk_path, sizeof(psk_path), "%s/hq.br3.psk", dir);
	randombytes_buf(k, sizeof(k));
	vpnd_key_to_base64(hq_priv, k);
	strcat(hq_priv, "\n");
	write_file(key_path, hq_priv, 0600);
	write_file(psk_path, hq_priv, 0600);
	randombytes_buf(k, sizeof(k));
	vpnd_key_to_base64(pub_b64, k);
	section = branch_hq_section(&f.rq, &plan, pub_b64, psk_path);
	assert_non_null(section);
	snprintf(base, sizeof(base),
		 "interface = \"vpn0\"\nprivate-key-file = \"%s\"\naddress = {\"10.99.0.1/24\", "
		 "\"fd99::1/64\"}\nuapi = false\n%s",
		 key_path, section);
	snprintf(path, sizeof(path), "%s/hq.conf", dir);
	write_file(path, base, 0644);
	c = load(path);
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(c->peers[0].name, "br3");
	assert_true(c->peers[0].has_preshared_key);
	assert_null(c->peers[0].endpoint_spec);
	assert_int_equal(c->peers[0].n_allowed_ips, 3); /* 10.99.0.4/32 fd99::4/128 10.4.0.0/24 */
	assert_int_equal(c->peers[0].allowed_ips[0].cidr, 32);
	assert_int_equal(c->peers[0].allowed_ips[1].cidr, 128);
	assert_int_equal(c->peers[0].allowed_ips[2].cidr, 24);
	vpnd_config_free(c);
	unlink(path);
	unlink(key_path);
	unlink(psk_path);
	free(section);
	branch_plan_free(&plan);
}

static int make_dir(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_branch_config_loads),
	    cmocka_unit_test(test_hq_section_loads),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
