/* Relay inside the engine: a hub forwards between its branches like a router (allowed-ips
 * lookup, site policy, TTL), with engines exchanging real WireGuard messages in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/ip6.h>
#include <sodium.h>

#include "engine_mesh.h"
#include "tunnel/checksum.h"
#include "tunnel/peer.h"

enum { HQ, BR1, BR2, BR3 };

struct hub {
	struct mesh m;
	struct wg_peer *hq_br[4]; /* HQ's peers, by node */
	struct wg_peer *br_hq[4]; /* each branch's HQ peer */
};

/* HQ (10.0.0.0/24) knows every branch and its endpoint; each branch knows HQ and routes
 * HQ's LAN and the other branches' LANs (v4 and v6) to it, plus `branch_extra`. */
static void hub_init(struct hub *h, const char *branch_extra)
{
	static const char *names[] = {"hq", "br1", "br2", "br3"};
	static const char *lan4[] = {"10.0.0.0/24", "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"};
	static const char *lan6[] = {"fd00:0::/64", "fd00:1::/64", "fd00:2::/64", "fd00:3::/64"};

	memset(h, 0, sizeof(*h));
	mesh_init(&h->m, 4);
	for (unsigned b = BR1; b <= BR3; b++) {
		const char *hq_side[] = {lan4[b], lan6[b], NULL};
		const char *br_side[9] = {NULL};
		unsigned n = 0;

		for (unsigned o = HQ; o <= BR3; o++) {
			if (o == b)
				continue;
			br_side[n++] = lan4[o];
			br_side[n++] = lan6[o];
		}
		br_side[n] = branch_extra;
		h->hq_br[b] = mesh_link(&h->m, HQ, b, names[b], true, hq_side);
		h->br_hq[b] = mesh_link(&h->m, b, HQ, "hq", true, br_side);
	}
}

static size_t ipv6_packet(uint8_t *buf, size_t len, const char *src, const char *dst, uint8_t hops)
{
	struct ip6_hdr *ip6 = (struct ip6_hdr *)buf;

	memset(buf, 0x66, len);
	memset(ip6, 0, sizeof(*ip6));
	ip6->ip6_vfc = 0x60;
	ip6->ip6_plen = htons((uint16_t)(len - sizeof(*ip6)));
	ip6->ip6_nxt = 253;
	ip6->ip6_hlim = hops;
	inet_pton(AF_INET6, src, &ip6->ip6_src);
	inet_pton(AF_INET6, dst, &ip6->ip6_dst);
	return len;
}

static void test_branch_to_branch_through_hub(void **state)
{
	static struct hub h; /* queues are large: not on the stack */
	struct mesh_node *hq = &h.m.node[HQ], *br2 = &h.m.node[BR2];
	const uint8_t *got;
	(void)state;

	hub_init(&h, NULL);
	/* HQ has no session with br2 yet: the relayed packet waits for its handshake. */
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 64, 0x42);
	mesh_pump(&h.m);
	assert_int_equal(br2->n_delivered, 1);
	got = br2->delivered[0].buf;
	assert_int_equal(br2->delivered[0].len, 120);
	assert_int_equal(got[8], 63); /* one router hop */
	assert_true(mesh_ipv4_checksum_ok(got));
	assert_int_equal(got[119], 0x42);
	assert_int_equal(hq->n_delivered, 0); /* never went through HQ's TUN */
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 1);
	assert_int_equal(h.hq_br[BR2]->stats.relayed_packets, 0);
	assert_int_equal(h.hq_br[BR2]->stats.tx_packets, 1);
	assert_true(hq->policy_calls >= 1);

	/* The answer, now with sessions on both legs: sent at once. */
	mesh_send_ipv4(&h.m, BR2, "10.2.0.9", "10.1.0.5", 64, 0x43);
	mesh_pump(&h.m);
	assert_int_equal(h.m.node[BR1].n_delivered, 1);
	assert_int_equal(h.m.node[BR1].delivered[0].buf[8], 63);
	assert_true(mesh_ipv4_checksum_ok(h.m.node[BR1].delivered[0].buf));
	assert_int_equal(h.hq_br[BR2]->stats.relayed_packets, 1);

	/* IPv6 too: the hop limit goes down by one. */
	{
		uint8_t pkt[100];

		wg_engine_send(h.m.node[BR1].engine, pkt,
			       ipv6_packet(pkt, sizeof(pkt), "fd00:1::5", "fd00:2::9", 9), h.m.now);
		mesh_pump(&h.m);
		assert_int_equal(br2->n_delivered, 2);
		assert_int_equal(((struct ip6_hdr *)br2->delivered[1].buf)->ip6_hlim, 8);
	}
	/* And HQ's own LAN is delivered to HQ, untouched. */
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.0.0.7", 64, 0x44);
	mesh_pump(&h.m);
	assert_int_equal(hq->n_delivered, 1);
	assert_int_equal(hq->delivered[0].buf[8], 64);
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 2);
	mesh_free(&h.m);
}

static void test_policy_denies_one_pair(void **state)
{
	static struct hub h;
	struct mesh_node *hq = &h.m.node[HQ];
	const struct wg_device_stats *st;
	(void)state;

	hub_init(&h, NULL);
	hq->deny[hq->n_deny++] = (struct mesh_rule){"br2", "br1"};
	hq->deny[hq->n_deny++] = (struct mesh_rule){"br3", "local"};

	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 64, 1); /* allowed */
	mesh_send_ipv4(&h.m, BR2, "10.2.0.9", "10.1.0.5", 64, 2); /* denied */
	mesh_send_ipv4(&h.m, BR3, "10.3.0.9", "10.1.0.5", 64, 3); /* allowed */
	mesh_send_ipv4(&h.m, BR3, "10.3.0.9", "10.0.0.7", 64, 4); /* denied: local */
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.0.0.7", 64, 5); /* allowed: local */
	mesh_pump(&h.m);

	assert_int_equal(h.m.node[BR2].n_delivered, 1);
	assert_int_equal(h.m.node[BR2].delivered[0].buf[50], 1);
	assert_int_equal(h.m.node[BR1].n_delivered, 1);
	assert_int_equal(h.m.node[BR1].delivered[0].buf[50], 3);
	assert_int_equal(hq->n_delivered, 1);
	assert_int_equal(hq->delivered[0].buf[50], 5);

	st = wg_engine_stats(hq->engine);
	assert_int_equal(st->drops[WG_DROP_POLICY], 2);
	assert_int_equal(h.hq_br[BR2]->stats.drops[WG_DROP_POLICY], 1);
	assert_int_equal(h.hq_br[BR3]->stats.drops[WG_DROP_POLICY], 1);
	assert_int_equal(h.hq_br[BR1]->stats.drops[WG_DROP_POLICY], 0);
	assert_int_equal(h.hq_br[BR2]->stats.relayed_packets, 0);
	assert_int_equal(h.hq_br[BR3]->stats.relayed_packets, 1);
	/* Denial is a count, not a name. */
	assert_string_equal(wg_drop_reason_name(WG_DROP_POLICY), "policy_denied");
	mesh_free(&h.m);
}

static void test_ttl_runs_out_at_the_hub(void **state)
{
	static struct hub h;
	struct mesh_node *br2 = &h.m.node[BR2];
	uint8_t pkt[100];
	(void)state;

	hub_init(&h, NULL);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 1, 1);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 0, 2);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 2, 3);
	wg_engine_send(h.m.node[BR1].engine, pkt,
		       ipv6_packet(pkt, sizeof(pkt), "fd00:1::5", "fd00:2::9", 1), h.m.now);
	/* To HQ's own side the hub does not route: TTL 1 is delivered. */
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.0.0.7", 1, 4);
	mesh_pump(&h.m);

	assert_int_equal(br2->n_delivered, 1);
	assert_int_equal(br2->delivered[0].buf[8], 1);
	assert_int_equal(br2->delivered[0].buf[50], 3);
	assert_true(mesh_ipv4_checksum_ok(br2->delivered[0].buf));
	assert_int_equal(h.m.node[HQ].n_delivered, 1);
	assert_int_equal(h.hq_br[BR1]->stats.drops[WG_DROP_TTL], 3);
	assert_int_equal(wg_engine_stats(h.m.node[HQ].engine)->drops[WG_DROP_TTL], 3);
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 1);
	mesh_free(&h.m);
}

static void test_packet_back_to_its_sender_is_a_loop(void **state)
{
	static struct hub h;
	(void)state;

	/* br1 sends everything to HQ, even its own LAN's addresses. */
	hub_init(&h, "0.0.0.0/0");
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.1.0.77", 64, 1);
	mesh_pump(&h.m);
	assert_int_equal(h.hq_br[BR1]->stats.drops[WG_DROP_LOOP], 1);
	assert_int_equal(wg_engine_stats(h.m.node[HQ].engine)->drops[WG_DROP_LOOP], 1);
	assert_int_equal(h.m.node[BR1].n_delivered, 0);
	assert_int_equal(h.m.node[HQ].n_delivered, 0);
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 0);
	mesh_free(&h.m);
}

static void test_local_networks_win_over_broad_allowed_ips(void **state)
{
	static struct hub h;
	struct mesh_node *br1 = &h.m.node[BR1];
	struct wg_allowed_ip local, wide;
	(void)state;

	hub_init(&h, "0.0.0.0/0");
	/* br1's HQ peer covers everything, so a packet from HQ to br1's own LAN looks
	 * like one to be sent back to HQ... */
	mesh_send_ipv4(&h.m, HQ, "10.0.0.7", "10.1.0.5", 64, 1);
	mesh_pump(&h.m);
	assert_int_equal(br1->n_delivered, 0);
	assert_int_equal(h.br_hq[BR1]->stats.drops[WG_DROP_LOOP], 1);
	/* ...until br1 says the LAN is its own. */
	mesh_prefix(&local, "10.1.0.0", 24);
	assert_int_equal(wg_engine_set_local_networks(br1->engine, &local, 1), 0);
	mesh_send_ipv4(&h.m, HQ, "10.0.0.7", "10.1.0.5", 64, 2);
	mesh_pump(&h.m);
	assert_int_equal(br1->n_delivered, 1);
	assert_int_equal(br1->delivered[0].buf[8], 64);

	/* A peer's longer prefix still wins over a wide local one at HQ. */
	mesh_prefix(&local, "10.2.0.0", 24);
	assert_int_equal(wg_engine_set_local_networks(h.m.node[BR2].engine, &local, 1), 0);
	mesh_prefix(&wide, "10.0.0.0", 8);
	assert_int_equal(wg_engine_set_local_networks(h.m.node[HQ].engine, &wide, 1), 0);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 64, 3);
	mesh_pump(&h.m);
	assert_int_equal(h.m.node[BR2].n_delivered, 1);
	assert_int_equal(h.m.node[HQ].n_delivered, 0);

	wide.cidr = 33;
	assert_int_equal(wg_engine_set_local_networks(br1->engine, &wide, 1), -EINVAL);
	mesh_free(&h.m);
}

static void test_relay_to_peer_without_endpoint(void **state)
{
	static struct hub h;
	struct wg_endpoint none;
	(void)state;

	hub_init(&h, NULL);
	memset(&none, 0, sizeof(none));
	wg_engine_peer_set_endpoint(h.m.node[HQ].engine, h.hq_br[BR2], &none);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 64, 1);
	mesh_pump(&h.m);
	assert_int_equal(h.m.node[BR2].n_delivered, 0);
	assert_int_equal(h.hq_br[BR2]->stats.drops[WG_DROP_NO_ENDPOINT], 1);
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 0);
	mesh_free(&h.m);
}

static void test_relay_to_revoked_peer(void **state)
{
	static struct hub h;
	(void)state;

	hub_init(&h, NULL);
	wg_engine_peer_set_revoked(h.m.node[HQ].engine, h.hq_br[BR2], true);
	mesh_send_ipv4(&h.m, BR1, "10.1.0.5", "10.2.0.9", 64, 1);
	mesh_pump(&h.m);
	assert_int_equal(h.m.node[BR2].n_delivered, 0);
	assert_int_equal(h.hq_br[BR2]->stats.drops[WG_DROP_REVOKED], 1);
	assert_int_equal(wg_engine_stats(h.m.node[HQ].engine)->drops[WG_DROP_REVOKED], 1);
	assert_int_equal(h.hq_br[BR1]->stats.relayed_packets, 0);
	mesh_free(&h.m);
}

/* The incremental update equals summing the header anew, for every TTL and any header. */
static void test_checksum_incremental_update(void **state)
{
	uint8_t hdr[20];
	(void)state;

	for (int round = 0; round < 20000; round++) {
		uint16_t before, after, old_word, new_word;

		randombytes_buf(hdr, sizeof(hdr));
		if (round < 256) /* every TTL, and the all-ones/all-zeros edges */
			hdr[8] = (uint8_t)round;
		hdr[10] = hdr[11] = 0;
		before = wg_csum_ipv4_header(hdr, 20);
		hdr[10] = (uint8_t)(before >> 8);
		hdr[11] = (uint8_t)before;
		old_word = (uint16_t)(hdr[8] << 8 | hdr[9]);
		hdr[8]--;
		new_word = (uint16_t)(hdr[8] << 8 | hdr[9]);
		after = wg_csum_replace16(before, old_word, new_word);
		hdr[10] = hdr[11] = 0;
		assert_int_equal(after, wg_csum_ipv4_header(hdr, 20));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_branch_to_branch_through_hub),
	    cmocka_unit_test(test_policy_denies_one_pair),
	    cmocka_unit_test(test_ttl_runs_out_at_the_hub),
	    cmocka_unit_test(test_packet_back_to_its_sender_is_a_loop),
	    cmocka_unit_test(test_local_networks_win_over_broad_allowed_ips),
	    cmocka_unit_test(test_relay_to_peer_without_endpoint),
	    cmocka_unit_test(test_relay_to_revoked_peer),
	    cmocka_unit_test(test_checksum_incremental_update),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
