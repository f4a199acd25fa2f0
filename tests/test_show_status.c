/* `vpnctl status` and `vpnctl show --dot` on real engines: whole documents for the states
 * a monitor must tell apart (up after a real handshake, connecting, down), the "overall"
 * line that becomes vpnctl's exit status, and names that would break out of a DOT
 * string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/show_status.h"
#include "show_sites.h"
#include "tunnel/messages.h"

/* The last line of a status reply, without its newline. */
static const char *overall_line(const struct vpnd_reply *r)
{
	static char line[64];
	const char *p;

	assert_true(r->len >= 2);
	assert_int_equal(r->buf[r->len - 1], '\n');
	for (p = r->buf + r->len - 1; p > r->buf && p[-1] != '\n'; p--)
		;
	snprintf(line, sizeof(line), "%.*s", (int)(r->buf + r->len - 1 - p), p);
	return line;
}

/* Site a with peer "b" up after a real handshake at offset 0. */
struct up_pair {
	struct site a, b;
	struct wg_peer *b_at_a;
};

static void up_pair_init(struct up_pair *u)
{
	struct wg_allowed_ip ip;

	site_init(&u->a, "192.0.2.1");
	site_init(&u->b, "192.0.2.2");
	prefix(&ip, "10.2.0.0", 24);
	u->b_at_a = add_peer(&u->a, "b", u->b.pub, "192.0.2.2:51820", 0, &ip, 1);
	prefix(&ip, "10.1.0.0", 24);
	add_peer(&u->b, "a", u->a.pub, NULL, 0, &ip, 1);
	wg_engine_peer_connect(u->a.engine, u->b_at_a, at(0));
	assert_true(sites_exchange(&u->a, &u->b, at(0)) >= 2);
	assert_int_equal(vpnd_peer_state(u->b_at_a, at(0).mono_ns), VPND_PEER_UP);
}

static void up_pair_free(struct up_pair *u)
{
	wg_engine_free(u->a.engine);
	wg_engine_free(u->b.engine);
}

static struct vpnd_show_input input(struct wg_engine *e, uint64_t offset_s)
{
	return (struct vpnd_show_input){.interface = "vpn0",
					.listen_port = 51820,
					.engine = e,
					.now_real_ns = REAL_T0 + offset_s * SEC,
					.now_mono_ns = MONO_T0 + offset_s * SEC};
}

/* ---- status ---- */

static void test_status_table(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;

	(void)state;
	hq_init(&h);
	h.br1->stats.rx_bytes = 1268777;
	h.br1->stats.tx_bytes = 3565158;
	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_status(&r, &in, NULL), 0);
	assert_false(r.error);
	/* Columns as wide as their widest cell, two spaces apart; no trailing blanks. */
	assert_string_equal(r.buf,
			    "PEER  STATE       ENDPOINT            HANDSHAKE  RX        TX\n"
			    "br1   connecting  203.0.113.10:51820  never      1.21 MiB  3.40 MiB\n"
			    "br2   down        (none)              never      0 B       0 B\n"
			    "2 peers: 1 connecting, 1 down\n"
			    "overall down\n");
	vpnd_reply_free(&r);

	/* One peer: its line alone, and the overall state is its own. */
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_status(&r, &in, "br1"), 0);
	assert_string_equal(r.buf,
			    "PEER  STATE       ENDPOINT            HANDSHAKE  RX        TX\n"
			    "br1   connecting  203.0.113.10:51820  never      1.21 MiB  3.40 MiB\n"
			    "1 peer: 1 connecting\n"
			    "overall connecting\n");
	vpnd_reply_free(&r);

	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_status(&r, &in, "br9"), -ENOENT);
	assert_true(r.error);
	assert_string_equal(r.buf, "no peer named 'br9'\n");
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

static void test_status_up_then_expired(void **state)
{
	struct up_pair u;
	struct vpnd_show_input in;
	struct vpnd_reply r;

	(void)state;
	up_pair_init(&u);
	u.b_at_a->stats.rx_bytes = 92;
	u.b_at_a->stats.tx_bytes = 148;
	in = input(u.a.engine, 63);
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_status(&r, &in, NULL), 0);
	assert_string_equal(r.buf,
			    "PEER  STATE  ENDPOINT         HANDSHAKE                RX    TX\n"
			    "b     up     192.0.2.2:51820  1 minute, 3 seconds ago  92 B  148 B\n"
			    "1 peer: 1 up\n"
			    "overall up\n");
	vpnd_reply_free(&r);

	/* The session outlives REJECT_AFTER_TIME: down, and the monitor must hear it. */
	in = input(u.a.engine, WG_REJECT_AFTER_TIME);
	vpnd_reply_init(&r);
	vpnd_show_status(&r, &in, NULL);
	assert_non_null(strstr(r.buf, "\nb     down   192.0.2.2:51820  3 minutes ago  "));
	assert_non_null(strstr(r.buf, "\n1 peer: 1 down\n"));
	assert_string_equal(overall_line(&r), "overall down");
	vpnd_reply_free(&r);
	up_pair_free(&u);
}

/* The overall state is the worst one: connecting outweighs up, down outweighs both. */
static void test_status_overall_is_worst(void **state)
{
	struct up_pair u;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	struct wg_allowed_ip ip;
	struct wg_peer *c;
	uint8_t priv[32], pub[32];

	(void)state;
	up_pair_init(&u);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	crypto_scalarmult_curve25519_base(pub, priv);
	prefix(&ip, "10.3.0.0", 24);
	c = add_peer(&u.a, "c", pub, "192.0.2.3:51820", 0, &ip, 1);
	wg_engine_peer_connect(u.a.engine, c, at(1));

	in = input(u.a.engine, 1);
	vpnd_reply_init(&r);
	vpnd_show_status(&r, &in, NULL);
	assert_non_null(strstr(r.buf, "\n2 peers: 1 up, 1 connecting\n"));
	assert_string_equal(overall_line(&r), "overall connecting");
	vpnd_reply_free(&r);

	/* Each peer alone reports its own state. */
	vpnd_reply_init(&r);
	vpnd_show_status(&r, &in, "b");
	assert_string_equal(overall_line(&r), "overall up");
	vpnd_reply_free(&r);

	prefix(&ip, "10.4.0.0", 24);
	pub[0] ^= 1;
	add_peer(&u.a, "d", pub, NULL, 0, &ip, 1);
	vpnd_reply_init(&r);
	vpnd_show_status(&r, &in, NULL);
	assert_non_null(strstr(r.buf, "\n3 peers: 1 up, 1 connecting, 1 down\n"));
	assert_string_equal(overall_line(&r), "overall down");
	vpnd_reply_free(&r);
	up_pair_free(&u);
}

static void test_status_without_peers(void **state)
{
	struct site s;
	struct vpnd_show_input in;
	struct vpnd_reply r;

	(void)state;
	site_init(&s, "192.0.2.1");
	in = input(s.engine, 0);
	vpnd_reply_init(&r);
	assert_int_equal(vpnd_show_status(&r, &in, NULL), 0);
	assert_string_equal(r.buf, "0 peers\noverall up\n");
	vpnd_reply_free(&r);
	wg_engine_free(s.engine);
}

/* ---- dot ---- */

static void test_dot_document(void **state)
{
	struct up_pair u;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	struct wg_allowed_ip ip;
	char key[VPND_KEY_B64_LEN + 1], want[4096];
	uint8_t priv[32], pub[32];

	(void)state;
	up_pair_init(&u);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	crypto_scalarmult_curve25519_base(pub, priv);
	prefix(&ip, "10.3.0.0", 24);
	add_peer(&u.a, "c", pub, NULL, 0, &ip, 1);
	vpnd_key_to_base64(key, u.a.pub);

	in = input(u.a.engine, 63);
	vpnd_reply_init(&r);
	vpnd_show_dot(&r, &in);
	assert_false(r.error);
	snprintf(want, sizeof(want),
		 "/* vpnd's sites as seen from this gateway: vpnctl show --dot | dot -Tpng > "
		 "sites.png */\n"
		 "graph \"vpn0\" {\n"
		 "\tgraph [rankdir=LR, nodesep=0.4, ranksep=1.6, fontname=\"Helvetica\", "
		 "fontsize=14, labelloc=t, label=\"vpn0: 2 peers: 1 up, 1 down\"];\n"
		 "\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
		 "fontsize=12];\n"
		 "\tedge [fontname=\"Helvetica\", fontsize=10, penwidth=2];\n"
		 "\t\"local\" [label=\"this gateway\\nvpn0, UDP port 51820\\nkey %.10s...\", "
		 "color=\"#1565c0\", fillcolor=\"#e3f2fd\", penwidth=2];\n"
		 "\t\"peer:b\" [label=\"b\\n10.2.0.0/24\", color=\"#2e7d32\", "
		 "fillcolor=\"#e8f5e9\"];\n"
		 "\t\"local\" -- \"peer:b\" [label=\"up\\nhandshake 1 minute, 3 seconds "
		 "ago\\n192.0.2.2:51820\", color=\"#2e7d32\", fontcolor=\"#2e7d32\", "
		 "style=solid];\n"
		 "\t\"peer:c\" [label=\"c\\n10.3.0.0/24\", color=\"#c62828\", "
		 "fillcolor=\"#ffebee\"];\n"
		 "\t\"local\" -- \"peer:c\" [label=\"down\\nno handshake yet\\nno endpoint\", "
		 "color=\"#c62828\", fontcolor=\"#c62828\", style=dotted];\n"
		 "}\n",
		 key);
	assert_string_equal(r.buf, want);
	vpnd_reply_free(&r);

	/* wg's "Now" is made to read as a sentence. */
	in = input(u.a.engine, 0);
	vpnd_reply_init(&r);
	vpnd_show_dot(&r, &in);
	assert_non_null(strstr(r.buf, "[label=\"up\\nhandshake just now\\n192.0.2.2:51820\""));
	vpnd_reply_free(&r);
	up_pair_free(&u);
}

/* A connecting peer is orange and dashed; many prefixes are cut short. */
static void test_dot_connecting_and_many_prefixes(void **state)
{
	struct hq h;
	struct vpnd_show_input in;
	struct vpnd_reply r;
	struct wg_allowed_ip ips[6];

	(void)state;
	hq_init(&h);
	for (int i = 0; i < 6; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.2.%d.0", i);
		prefix(&ips[i], text, 24);
	}
	assert_int_equal(wg_engine_peer_set_allowed_ips(h.site.engine, h.br1, ips, 6), 0);
	in = hq_input(&h, 0);
	vpnd_reply_init(&r);
	vpnd_show_dot(&r, &in);
	assert_non_null(strstr(r.buf, "\t\"peer:br1\" [label=\"br1\\n10.2.0.0/24\\n10.2.1.0/"
				      "24\\n10.2.2.0/24\\n10.2.3.0/24\\n(2 more)\", "
				      "color=\"#e65100\", fillcolor=\"#fff3e0\"];\n"));
	assert_non_null(strstr(r.buf, "\t\"local\" -- \"peer:br1\" [label=\"connecting\\nno "
				      "handshake yet\\n203.0.113.10:51820\", color=\"#e65100\", "
				      "fontcolor=\"#e65100\", style=dashed];\n"));
	assert_non_null(strstr(r.buf, "label=\"vpn0: 2 peers: 1 connecting, 1 down\""));
	vpnd_reply_free(&r);
	wg_engine_free(h.site.engine);
}

/* A name with a quote, a backslash or a control character stays inside its DOT string:
 * outside the escapes, every quote is a string delimiter, and they pair up per line. */
static void test_dot_escapes_names(void **state)
{
	struct site s;
	struct vpnd_show_input in = {.interface = "vpn\"0\\", .listen_port = 1};
	struct vpnd_reply r;
	uint8_t pub[32], priv[32] = {7};

	(void)state;
	site_init(&s, "192.0.2.1");
	in.engine = s.engine;
	vpnd_key_clamp(priv);
	crypto_scalarmult_curve25519_base(pub, priv);
	add_peer(&s, "say \"hi\"\\n\x01", pub, NULL, 0, NULL, 0);
	vpnd_reply_init(&r);
	vpnd_show_dot(&r, &in);
	assert_non_null(strstr(r.buf, "graph \"vpn\\\"0\\\\\" {\n"));
	assert_non_null(strstr(r.buf, "\t\"peer:say \\\"hi\\\"\\\\n?\" [label=\"say "
				      "\\\"hi\\\"\\\\n?\", "));
	for (char *line = r.buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		unsigned quotes = 0;

		for (char *p = line; p < nl; p++) {
			if (*p == '\\' && p + 1 < nl)
				p++;
			else if (*p == '"')
				quotes++;
		}
		if (quotes % 2)
			fail_msg("unbalanced quotes in: %.*s", (int)(nl - line), line);
	}
	vpnd_reply_free(&r);
	wg_engine_free(s.engine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_status_up_then_expired),
	    cmocka_unit_test(test_status_overall_is_worst),
	    cmocka_unit_test(test_status_without_peers),
	    cmocka_unit_test(test_dot_document),
	    cmocka_unit_test(test_dot_connecting_and_many_prefixes),
	    cmocka_unit_test(test_dot_escapes_names),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
