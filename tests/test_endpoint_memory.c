/* The endpoint memory (daemon/endpoint_memory.c): its file format, and a start that
 * fills in the remembered endpoints of peers the config gives none, never overrides a
 * configured one, ignores what it cannot use, initiates a handshake with every peer the
 * run before reached (and no other), and writes the reached peers' endpoints back. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/endpoint_memory.h"
#include "daemon/storage_health.h"
#include "tunnel/messages.h"
#include "vpnd/key.h"

#define MAX_SENT 16

static struct {
	char to[MAX_SENT][WG_ENDPOINT_STRLEN];
	uint8_t type[MAX_SENT];
	unsigned n;
} sent;

static int record_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)len;
	if (sent.n < MAX_SENT) {
		wg_endpoint_format(to, sent.to[sent.n]);
		sent.type[sent.n++] = buf[0];
	}
	return 0;
}

static void no_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)from;
	(void)pkt;
	(void)len;
}

static struct wg_engine *new_engine(void)
{
	struct wg_engine_io io = {.send_datagram = record_send, .deliver_packet = no_deliver};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	struct wg_engine *e = wg_engine_new(&io, &set);
	uint8_t priv[32];

	assert_non_null(e);
	randombytes_buf(priv, sizeof(priv));
	assert_int_equal(wg_engine_set_private_key(e, priv), 0);
	sodium_memzero(priv, sizeof(priv));
	return e;
}

/* A peer with a fresh public key (in pub) and the given endpoint (NULL: none). */
static struct wg_peer *add_peer(struct wg_engine *e, const char *name, const char *ep,
				uint8_t pub[32], struct wg_time now)
{
	struct wg_peer_config c = {.name = name};
	uint8_t priv[32];
	struct wg_peer *p;

	randombytes_buf(priv, sizeof(priv));
	crypto_scalarmult_base(pub, priv);
	memcpy(c.public_key, pub, 32);
	if (ep)
		assert_int_equal(wg_endpoint_parse(&c.endpoint, ep), 0);
	p = wg_engine_add_peer(e, &c, now);
	assert_non_null(p);
	return p;
}

static const char *ep_of(const struct wg_peer *p)
{
	static char buf[WG_ENDPOINT_STRLEN];

	return wg_endpoint_format(&p->endpoint, buf);
}

static void test_parse(void **state)
{
	static const struct {
		const char *line;
		int want;
		const char *ep;
	} cases[] = {
	    {"", 0, NULL},
	    {"\n", 0, NULL},
	    {"# a comment\n", 0, NULL},
	    {"   # indented comment", 0, NULL},
	    {"KEY 192.0.2.2:51822\n", 1, "192.0.2.2:51822"},
	    {"KEY [2001:db8::1]:51820", 1, "[2001:db8::1]:51820"},
	    {"\tKEY   198.51.100.7:1  \n", 1, "198.51.100.7:1"},
	    {"KEY", -EINVAL, NULL},
	    {"KEY 192.0.2.2", -EINVAL, NULL},
	    {"KEY 192.0.2.2:51822 extra", -EINVAL, NULL},
	    {"KEY host.example:51820", -EINVAL, NULL},
	    {"KEY 192.0.2.2:99999", -EINVAL, NULL},
	    {"notakey 192.0.2.2:51822", -EINVAL, NULL},
	    {"KEYKEY 192.0.2.2:51822", -EINVAL, NULL},
	};
	uint8_t key[32], got[32];
	char b64[VPND_KEY_B64_LEN + 1], line[256], fmt[WG_ENDPOINT_STRLEN];
	struct wg_endpoint ep;
	(void)state;

	randombytes_buf(key, sizeof(key));
	vpnd_key_to_base64(b64, key);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *k = strstr(cases[i].line, "KEY");
		int r;

		/* KEY stands for the base64 key, KEYKEY for a word that is too long. */
		if (k && !strncmp(k, "KEYKEY", 6))
			snprintf(line, sizeof(line), "%.*s%s%s%s", (int)(k - cases[i].line),
				 cases[i].line, b64, b64, k + 6);
		else if (k)
			snprintf(line, sizeof(line), "%.*s%s%s", (int)(k - cases[i].line),
				 cases[i].line, b64, k + 3);
		else
			snprintf(line, sizeof(line), "%s", cases[i].line);
		memset(got, 0, sizeof(got));
		r = vpnd_endpoint_memory_parse(line, got, &ep);
		if (r != cases[i].want)
			fail_msg("case %zu '%s': got %d, want %d", i, cases[i].line, r,
				 cases[i].want);
		if (r == 1) {
			assert_memory_equal(got, key, 32);
			assert_string_equal(wg_endpoint_format(&ep, fmt), cases[i].ep);
		}
	}
}

static void test_line_round_trip(void **state)
{
	struct wg_time now = {.mono_ns = 1000 * WG_NSEC_PER_SEC,
			      .real_ns = 1700000000 * WG_NSEC_PER_SEC};
	struct wg_engine *e = new_engine();
	uint8_t pub[32], got[32];
	struct wg_endpoint ep;
	char line[128], fmt[WG_ENDPOINT_STRLEN];
	struct wg_peer *with = add_peer(e, "a", "[2001:db8::5]:51830", pub, now);
	struct wg_peer *without = add_peer(e, "b", NULL, got, now);
	(void)state;

	assert_int_equal(vpnd_endpoint_memory_line(line, sizeof(line), without), 0);
	assert_true(vpnd_endpoint_memory_line(line, sizeof(line), with) > 0);
	assert_int_equal(vpnd_endpoint_memory_parse(line, got, &ep), 1);
	assert_memory_equal(got, pub, 32);
	assert_string_equal(wg_endpoint_format(&ep, fmt), "[2001:db8::5]:51830");
	/* Too small a buffer: nothing rather than half a line. */
	assert_int_equal(vpnd_endpoint_memory_line(line, 20, with), 0);
	wg_engine_free(e);
}

static void read_file(const char *path, char *text, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, len - 1, f);
	fclose(f);
	text[n] = '\0';
}

static void test_start_and_save(void **state)
{
	struct wg_time now = {.mono_ns = 1000 * WG_NSEC_PER_SEC,
			      .real_ns = 1700000000 * WG_NSEC_PER_SEC};
	char dir[] = "/tmp/vpnd-epmem-XXXXXX", path[128], text[4096], b64[4][VPND_KEY_B64_LEN + 1];
	uint8_t pub[4][32], gone[32];
	struct wg_engine *e;
	struct wg_peer *nat, *fixed, *never, *unknown;
	FILE *f;
	int epfd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vpn0.endpoints", dir);
	e = new_engine();
	nat = add_peer(e, "nat", NULL, pub[0], now);
	fixed = add_peer(e, "fixed", "203.0.113.2:51821", pub[1], now);
	never = add_peer(e, "never", "203.0.113.3:51821", pub[2], now);
	unknown = add_peer(e, "new", NULL, pub[3], now);
	randombytes_buf(gone, sizeof(gone));
	for (int i = 0; i < 4; i++)
		vpnd_key_to_base64(b64[i], pub[i]);
	vpnd_key_to_base64(b64[3], gone); /* a peer no longer in the config */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(
	    f,
	    "# remembered\n%s 192.0.2.2:40001\n%s 198.51.100.99:9\ngarbage line\n%s 192.0.2.9:1\n",
	    b64[0], b64[1], b64[3]);
	fclose(f);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(epfd >= 0);
	sent.n = 0;
	assert_int_equal(vpnd_endpoint_memory_start(dir, "vpn0", e, epfd, now), 0);
	assert_string_equal(ep_of(nat), "192.0.2.2:40001");	/* filled in */
	assert_string_equal(ep_of(fixed), "203.0.113.2:51821"); /* the config wins */
	assert_string_equal(ep_of(never), "203.0.113.3:51821");
	assert_string_equal(ep_of(unknown), "(none)");
	/* A handshake initiation to each peer the file lists, none to the one never
	 * reached, in config order. */
	assert_int_equal(sent.n, 2);
	assert_int_equal(sent.type[0], WG_MSG_HANDSHAKE_INITIATION);
	assert_string_equal(sent.to[0], "192.0.2.2:40001");
	assert_int_equal(sent.type[1], WG_MSG_HANDSHAKE_INITIATION);
	assert_string_equal(sent.to[1], "203.0.113.2:51821");

	/* Stopping writes what is pending (a start always writes): the listed peers with
	 * their endpoints now; not the one gone from the config, nor the one never reached. */
	vpnd_endpoint_memory_stop();
	read_file(path, text, sizeof(text));
	assert_non_null(strstr(text, b64[0]));
	assert_non_null(strstr(text, " 192.0.2.2:40001\n"));
	assert_non_null(strstr(text, " 203.0.113.2:51821\n"));
	assert_null(strstr(text, "203.0.113.3"));
	assert_null(strstr(text, b64[3]));
	assert_null(strstr(text, "garbage"));
	assert_false(vpnd_store_health(VPND_STORE_STATE)->failing);

	/* A peer reached in this run is added. */
	assert_int_equal(vpnd_endpoint_memory_start(dir, "vpn0", e, epfd, now), 0);
	never->stats.handshakes = 1;
	vpnd_endpoint_memory_reached(never);
	vpnd_endpoint_memory_stop();
	read_file(path, text, sizeof(text));
	assert_non_null(strstr(text, " 203.0.113.3:51821\n"));
	assert_non_null(strstr(text, " 192.0.2.2:40001\n"));

	/* No state directory: nothing is read, written or reconnected. */
	unlink(path);
	sent.n = 0;
	now.mono_ns += (WG_REKEY_TIMEOUT + 1) * WG_NSEC_PER_SEC;
	assert_int_equal(vpnd_endpoint_memory_start(NULL, "vpn0", e, epfd, now), 0);
	assert_int_equal(sent.n, 0);
	vpnd_endpoint_memory_reached(never);
	vpnd_endpoint_memory_stop();
	assert_int_equal(access(path, F_OK), -1);

	rmdir(dir);
	close(epfd);
	wg_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_line_round_trip),
	    cmocka_unit_test(test_start_and_save),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
