/* The show report on real engines: the text against whole expected documents, the JSON
 * through a strict syntax check plus its field values, and the wg-style time and byte
 * formatting against tables. State is made by the engine itself (peers, a handshake
 * between two engines, a garbage datagram); counters a test cannot cheaply provoke are
 * set directly in the peer's public stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/show.h"
#include "show_sites.h"
#include "tunnel/engine.h"
#include "tunnel/messages.h"
#include "tunnel/peer.h"
#include "tunnel/stats.h"
#include "vpnd/key.h"

/* ---- formatting tables ---- */

struct duration_case {
	uint64_t seconds;
	const char *text;
};

static const struct duration_case durations[] = {
    {0, "Now"},
    {1, "1 second"},
    {2, "2 seconds"},
    {59, "59 seconds"},
    {60, "1 minute"},
    {63, "1 minute, 3 seconds"},
    {120, "2 minutes"},
    {3600, "1 hour"},
    {3661, "1 hour, 1 minute, 1 second"},
    {7322, "2 hours, 2 minutes, 2 seconds"},
    {86400, "1 day"},
    {90061, "1 day, 1 hour, 1 minute, 1 second"},
    {86400 + 5, "1 day, 5 seconds"},
    {365ULL * 86400, "1 year"},
    {366ULL * 86400, "1 year, 1 day"},
    {2 * 365ULL * 86400 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6,
     "2 years, 3 days, 4 hours, 5 minutes, 6 seconds"},
    {UINT64_MAX, "584942417355 years, 26 days, 7 hours, 15 seconds"},
};

static void test_duration_table(void **state)
{
	char buf[VPND_SHOW_TIME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		const char *got = vpnd_show_duration(buf, durations[i].seconds);

		if (strcmp(got, durations[i].text) != 0)
			fail_msg("%zu: %llu s gave '%s', want '%s'", i,
				 (unsigned long long)durations[i].seconds, got, durations[i].text);
	}
}

static void test_ago(void **state)
{
	char buf[VPND_SHOW_TIME_MAX];

	(void)state;
	assert_string_equal(vpnd_show_ago(buf, 1000, 0), "never");
	assert_string_equal(vpnd_show_ago(buf, 1000, 1000), "Now");
	assert_string_equal(vpnd_show_ago(buf, 1000, 999), "1 second ago");
	assert_string_equal(vpnd_show_ago(buf, 1000, 937), "1 minute, 3 seconds ago");
	assert_string_equal(vpnd_show_ago(buf, 1000, 1001),
			    "(System clock wound backward; connection problems may ensue.)");
	assert_string_equal(vpnd_show_ago(buf, UINT64_MAX, 1),
			    "584942417355 years, 26 days, 7 hours, 14 seconds ago");
}

static void test_bytes_table(void **state)
{
	static const struct {
		uint64_t n;
		const char *text;
	} cases[] = {
	    {0, "0 B"},
	    {1023, "1023 B"},
	    {1024, "1.00 KiB"},
	    {1536, "1.50 KiB"},
	    {1268777, "1.21 MiB"},
	    {3565158, "3.40 MiB"},
	    {1ULL << 30, "1.00 GiB"},
	    {1ULL << 40, "1.00 TiB"},
	    {1ULL << 50, "1024.00 TiB"},
	};
	char buf[VPND_SHOW_BYTES_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(vpnd_show_bytes(buf, cases[i].n), cases[i].text);
}

/* ---- a strict JSON syntax check (RFC 8259), enough to know the document parses ---- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_str(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_num(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.' || *p == 'e' || *p == 'E')
		return NULL; /* the document has integers only */
	return p;
}

static const char *json_list(const char *p, char close, bool object, int depth)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = json_str(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 16)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_list(p, '}', true, depth);
	case '[':
		return json_list(p, ']', false, depth);
	case '"':
		return json_str(p);
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	default:
		return json_num(p);
	}
}

static bool json_valid(const char *doc)
{
	const char *end = json_value(doc, 0);

	return end && *json_ws(end) == '\0';
}

static void test_json_checker_rejects(void **state)
{
	static const char *const bad[] = {
	    "{",	 "{\"a\": }", "{\"a\": 1,}", "[1 2]",	"\"a\nb\"",
	    "{\"a\" 1}", "{} {}",     "[01]",	     "\"\\x\"", "nul",
	};

	(void)state;
	assert_true(json_valid("{\"a\": [1, \"x\\\"\", null, {}], \"b\": {\"c\": 0}}"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_valid(bad[i]))
			fail_msg("accepted invalid JSON: %s", bad[i]);
}

/* ---- sites (show_sites.h) and keys ---- */

static char *b64(char out[VPND_KEY_B64_LEN + 1], const uint8_t key[32])
{
	vpnd_key_to_base64(out, key);
	return out;
}

static char *quoted_key(char out[VPND_KEY_B64_LEN + 3], const uint8_t key[32])
{
	out[0] = '"';
	vpnd_key_to_base64(out + 1, key);
	out[VPND_KEY_B64_LEN + 1] = '"';
	out[VPND_KEY_B64_LEN + 2] = '\0';
	return out;
}

static void test_text_whole_document(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	char want[2048], k0[45], k1[45], k2[45];

	(void)state;
	hq_init(&h);
	/* The keepalive peer's handshake is on its way. */
	assert_true(h.site.n_sent >= 1);
	assert_int_equal(h.site.sent[0][0], WG_MSG_HANDSHAKE_INITIATION);
	h.br1->stats.rx_bytes = 1268777;
	h.br1->stats.tx_bytes = 3565158;
	h.br1->stats.drops[WG_DROP_REPLAY] = 3;
	h.br1->stats.drops[WG_DROP_BAD_SOURCE] = 1;

	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_text(&r, &in, NULL), 0);
	assert_false(r.error);
	snprintf(want, sizeof(want),
		 "interface: vpn0\n"
		 "  public key: %s\n"
		 "  listening port: 51820\n"
		 "\n"
		 "peer: br1\n"
		 "  public key: %s\n"
		 "  state: connecting\n"
		 "  endpoint: 203.0.113.10:51820\n"
		 "  allowed ips: 10.2.0.0/24, fd02::/64\n"
		 "  latest handshake: never\n"
		 "  transfer: 1.21 MiB received, 3.40 MiB sent\n"
		 "  persistent keepalive: every 25 seconds\n"
		 "  drops: replay 3, bad_source 1\n"
		 "\n"
		 "peer: br2\n"
		 "  public key: %s\n"
		 "  state: down\n"
		 "  allowed ips: 10.99.0.0/16\n"
		 "  latest handshake: never\n"
		 "  transfer: 0 B received, 0 B sent\n",
		 b64(k0, h.site.pub), b64(k1, h.br1_pub), b64(k2, h.br2_pub));
	assert_string_equal(r.buf, want);
	vpnd_reply_free(&r);

	/* One peer alone. */
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_text(&r, &in, "br2"), 0);
	assert_non_null(strstr(want, r.buf)); /* exactly its block of the full report */
	assert_memory_equal(r.buf, "peer: br2\n", 10);
	vpnd_reply_free(&r);

	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_text(&r, &in, "br3"), -ENOENT);
	assert_true(r.error);
	assert_string_equal(r.buf, "no peer named 'br3'\n");
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

/* As with wg: a peer with a preshared key says so, and never shows the key. */
static void test_text_preshared_key_hidden(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	uint8_t psk[32];
	char psk_b64[VPND_KEY_B64_LEN + 1];

	(void)state;
	hq_init(&h);
	randombytes_buf(psk, sizeof(psk));
	wg_engine_peer_set_preshared_key(h.site.engine, h.br2, psk);
	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_text(&r, &in, "br2"), 0);
	assert_non_null(strstr(r.buf, "\n  public key: "));
	assert_non_null(strstr(r.buf, "=\n  preshared key: (hidden)\n  state: down\n"));
	assert_null(strstr(r.buf, b64(psk_b64, psk)));
	vpnd_reply_free(&r);
	vpnd_reply_init(&r);
	vpnd_show_text(&r, &in, "br1");
	assert_null(strstr(r.buf, "preshared"));
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

/* Device-wide drops come last, after the peers; a garbage datagram makes one. */
static void test_text_device_drops(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	uint8_t junk[7] = {9, 9, 9, 9, 9, 9, 9};
	const char *tail = "\ndrops: malformed 1\n";

	(void)state;
	hq_init(&h);
	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	vpnd_show_text(&r, &in, NULL);
	assert_null(strstr(r.buf, "\ndrops:"));
	vpnd_reply_free(&r);

	wg_engine_receive(h.site.engine, &h.site.addr, junk, sizeof(junk), at(1));
	assert_int_equal(wg_engine_stats(h.site.engine)->drops[WG_DROP_MALFORMED], 1);
	vpnd_reply_init(&r);
	vpnd_show_text(&r, &in, NULL);
	assert_true(r.len > strlen(tail));
	assert_string_equal(r.buf + r.len - strlen(tail), tail);
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

/* `"key": value` occurs in the document (values compared as printed). */
static void assert_field(const char *doc, const char *key, const char *value)
{
	char needle[512];

	snprintf(needle, sizeof(needle), "\"%s\": %s", key, value);
	if (!strstr(doc, needle))
		fail_msg("JSON lacks %s in:\n%s", needle, doc);
}

static void test_json_document(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	char k[VPND_KEY_B64_LEN + 3], *br1, *br2;
	uint8_t junk[3] = {1, 2, 3};

	(void)state;
	hq_init(&h);
	h.br1->stats.rx_bytes = 1000;
	h.br1->stats.tx_bytes = 2000;
	h.br1->stats.rx_packets = 10;
	h.br1->stats.tx_packets = 20;
	h.br1->stats.drops[WG_DROP_REPLAY] = 3;
	wg_engine_receive(h.site.engine, &h.site.addr, junk, sizeof(junk), at(1));

	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	vpnd_show_json(&r, &in);
	assert_false(r.error);
	if (!json_valid(r.buf))
		fail_msg("not valid JSON:\n%s", r.buf);
	assert_int_equal(r.buf[r.len - 1], '\n');

	assert_field(r.buf, "interface", "\"vpn0\"");
	assert_field(r.buf, "public_key", quoted_key(k, h.site.pub));
	assert_field(r.buf, "listen_port", "51820");
	assert_field(r.buf, "handshake_initiations_received", "0");
	assert_field(r.buf, "cookie_replies_sent", "0");
	/* Every drop reason, device-wide and per peer: 1 + 2 occurrences of each name. */
	for (int i = 0; i < WG_DROP__COUNT; i++) {
		char name[64];
		unsigned n = 0;

		snprintf(name, sizeof(name), "\"%s\": ", wg_drop_reason_name(i));
		/* A count, that is: a peer's "revoked": false is not the drop reason. */
		for (const char *p = r.buf; (p = strstr(p, name)); p++)
			n += p[strlen(name)] >= '0' && p[strlen(name)] <= '9';
		if (n != 3)
			fail_msg("drop '%s' appears %u times, want 3", wg_drop_reason_name(i), n);
	}

	/* The peers, in configuration order; each checked within its own object. */
	br1 = strstr(r.buf, "\"name\": \"br1\"");
	br2 = strstr(r.buf, "\"name\": \"br2\"");
	assert_non_null(br1);
	assert_non_null(br2);
	assert_true(br1 < br2);
	br2[-1] = '\0'; /* br1's object now ends the string */
	assert_field(br1, "public_key", quoted_key(k, h.br1_pub));
	assert_field(br1, "endpoint", "\"203.0.113.10:51820\"");
	assert_field(br1, "allowed_ips", "[\"10.2.0.0/24\", \"fd02::/64\"]");
	assert_field(br1, "latest_handshake", "0,");
	assert_field(br1, "handshakes", "0,");
	assert_field(br1, "rx_bytes", "1000,");
	assert_field(br1, "tx_bytes", "2000,");
	assert_field(br1, "rx_packets", "10,");
	assert_field(br1, "tx_packets", "20,");
	assert_field(br1, "persistent_keepalive", "25,");
	assert_field(br1, "state", "\"connecting\"");
	assert_field(br1, "replay", "3");
	assert_field(br1, "revoked", "false,");
	assert_field(br1, "next_public_key", "null,");
	assert_field(br2, "public_key", quoted_key(k, h.br2_pub));
	assert_field(br2, "endpoint", "null");
	assert_field(br2, "allowed_ips", "[\"10.99.0.0/16\"]");
	assert_field(br2, "persistent_keepalive", "0,");
	assert_field(br2, "state", "\"down\"");
	assert_field(br2, "replay", "0");
	/* The device-wide malformed drop is not any peer's. */
	assert_field(r.buf, "drops", "{\"malformed\": 1,");
	assert_field(r.buf, "revoked_keys", "[],");
	assert_field(br2, "drops", "{\"malformed\": 0,");
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

static void test_json_without_peers_and_odd_names(void **state)
{
	struct site s;
	struct vpnd_show_input in = {.interface = "vpn\"0\\", .listen_port = 0};
	struct vpnd_reply r;
	uint8_t pub[32], priv[32] = {1};

	(void)state;
	site_init(&s, "192.0.2.1");
	in.engine = s.engine;
	vpnd_reply_init(&r);
	vpnd_show_json(&r, &in);
	if (!json_valid(r.buf))
		fail_msg("not valid JSON:\n%s", r.buf);
	assert_field(r.buf, "interface", "\"vpn\\\"0\\\\\"");
	assert_field(r.buf, "peers", "[]");
	vpnd_reply_free(&r);

	/* A name with a quote in it stays inside its string. */
	vpnd_key_clamp(priv);
	crypto_scalarmult_curve25519_base(pub, priv);
	add_peer(&s, "say \"hi\"", pub, NULL, 0, NULL, 0);
	vpnd_reply_init(&r);
	vpnd_show_json(&r, &in);
	if (!json_valid(r.buf))
		fail_msg("not valid JSON:\n%s", r.buf);
	assert_field(r.buf, "name", "\"say \\\"hi\\\"\"");
	assert_field(r.buf, "allowed_ips", "[]");
	vpnd_reply_free(&r);
	wg_engine_free(s.engine);
}

/* Two engines complete a real handshake: the initiator's peer is up, its handshake age
 * follows the wall clock, and it goes down once the session is older than
 * REJECT_AFTER_TIME. */
static void test_state_follows_session(void **state)
{
	struct site a, b;
	struct wg_peer *pa, *pb;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	struct wg_allowed_ip ip;
	(void)state;
	site_init(&a, "192.0.2.1");
	site_init(&b, "192.0.2.2");
	prefix(&ip, "10.2.0.0", 24);
	pa = add_peer(&a, "b", b.pub, "192.0.2.2:51820", 0, &ip, 1);
	prefix(&ip, "10.1.0.0", 24);
	pb = add_peer(&b, "a", a.pub, NULL, 0, &ip, 1);
	(void)pb;
	assert_string_equal(vpnd_show_peer_state(pa, at(0).mono_ns), "down");

	wg_engine_peer_connect(a.engine, pa, at(0));
	assert_string_equal(vpnd_show_peer_state(pa, at(0).mono_ns), "connecting");
	/* Initiation to b, response back to a. */
	assert_true(sites_exchange(&a, &b, at(0)) >= 2);
	assert_int_equal(pa->stats.handshakes, 1);
	assert_string_equal(vpnd_show_peer_state(pa, at(0).mono_ns), "up");
	assert_string_equal(vpnd_show_peer_state(pa, at(WG_REJECT_AFTER_TIME - 1).mono_ns), "up");
	assert_string_equal(vpnd_show_peer_state(pa, at(WG_REJECT_AFTER_TIME).mono_ns), "down");

	in =
	    (struct vpnd_show_input){.interface = "vpn0", .listen_port = 51820, .engine = a.engine};
	in.now_real_ns = at(0).real_ns;
	in.now_mono_ns = at(0).mono_ns;
	vpnd_reply_init(&r);
	vpnd_show_text(&r, &in, "b");
	assert_non_null(strstr(r.buf, "  state: up\n"));
	assert_non_null(strstr(r.buf, "  latest handshake: Now\n"));
	vpnd_reply_free(&r);

	in.now_real_ns = at(63).real_ns;
	in.now_mono_ns = at(63).mono_ns;
	vpnd_reply_init(&r);
	vpnd_show_text(&r, &in, "b");
	assert_non_null(strstr(r.buf, "  latest handshake: 1 minute, 3 seconds ago\n"));
	vpnd_reply_free(&r);

	in.now_real_ns = at(3 * 3600).real_ns;
	in.now_mono_ns = at(3 * 3600).mono_ns;
	vpnd_reply_init(&r);
	vpnd_show_json(&r, &in);
	assert_true(json_valid(r.buf));
	assert_field(r.buf, "latest_handshake", "1700000000,");
	assert_field(r.buf, "handshakes", "1,");
	assert_field(r.buf, "state", "\"down\"");
	vpnd_reply_free(&r);

	wg_engine_free(a.engine);
	wg_engine_free(b.engine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_table),
	    cmocka_unit_test(test_ago),
	    cmocka_unit_test(test_bytes_table),
	    cmocka_unit_test(test_json_checker_rejects),
	    cmocka_unit_test(test_text_whole_document),
	    cmocka_unit_test(test_text_preshared_key_hidden),
	    cmocka_unit_test(test_text_device_drops),
	    cmocka_unit_test(test_json_document),
	    cmocka_unit_test(test_json_without_peers_and_odd_names),
	    cmocka_unit_test(test_state_follows_session),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
