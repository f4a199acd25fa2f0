/* Benchmark: heap memory per idle peer, and how long adding them takes. 10,000 peers,
 * each as a config gives them (a name, a public key, an endpoint, a /32 tunnel address
 * and a /24 LAN), are added to one engine; the heap in use (mallinfo2) before and after,
 * divided by the count, is what one idle peer costs. The public keys are made before
 * the clock starts; the add time includes the engine's own per-peer work (duplicate
 * check, the static-static Diffie-Hellman, cookie keys, the allowed-IPs trie).
 *
 *   meson test -C build --benchmark bench_peer_memory --verbose
 *   build/tests/bench_peer_memory [PEERS]          (default 10000) */
#include <malloc.h>

#include "bench_engines.h"

int main(int argc, char **argv)
{
	static struct bench_node n; /* a mailbox of 128 KiB: not on the stack */
	long count = argc > 1 ? atol(argv[1]) : 10000;
	struct wg_time now = {.mono_ns = 1000 * WG_NSEC_PER_SEC,
			      .real_ns = 1700000000ULL * WG_NSEC_PER_SEC};
	struct mallinfo2 before, after;
	uint8_t(*keys)[32];
	double t0, t_add;
	size_t used;

	if (sodium_init() < 0 || count < 1 || count > 1000000) {
		fprintf(stderr, "usage: bench_peer_memory [PEERS from 1 to 1000000]\n");
		return 1;
	}
	keys = malloc((size_t)count * sizeof(*keys));
	if (!keys) {
		fprintf(stderr, "bench_peer_memory: out of memory\n");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		uint8_t priv[32];

		randombytes_buf(priv, sizeof(priv));
		crypto_scalarmult_base(keys[i], priv);
		sodium_memzero(priv, sizeof(priv));
	}
	bench_node_init(&n, "192.0.2.1");

	before = mallinfo2();
	t0 = bench_cpu();
	for (long i = 0; i < count; i++) {
		struct wg_allowed_ip ips[2] = {{.family = AF_INET, .cidr = 32},
					       {.family = AF_INET, .cidr = 24}};
		struct wg_peer_config c = {0};
		char name[32];
		struct wg_peer *p;

		snprintf(name, sizeof(name), "branch-%ld", i);
		c.name = name;
		memcpy(c.public_key, keys[i], 32);
		c.endpoint.addr.in4.sin_family = AF_INET;
		c.endpoint.addr.in4.sin_port = htons(51820);
		c.endpoint.addr.in4.sin_addr.s_addr =
		    htonl(0xc6120000u | (uint32_t)i); /* 198.18/15 */
		ips[0].addr[0] = 100;		      /* 100.64.0.0/10: tunnel addresses */
		ips[0].addr[1] = (uint8_t)(64 + ((i >> 16) & 63));
		ips[0].addr[2] = (uint8_t)(i >> 8);
		ips[0].addr[3] = (uint8_t)i;
		ips[1].addr[0] = 10; /* a /24 LAN per site */
		ips[1].addr[1] = (uint8_t)(i >> 16);
		ips[1].addr[2] = (uint8_t)(i >> 8);
		ips[1].addr[3] = (uint8_t)i;
		p = wg_engine_add_peer(n.engine, &c, now);
		if (!p || wg_engine_peer_set_allowed_ips(n.engine, p, ips, 2) < 0) {
			fprintf(stderr, "bench_peer_memory: adding peer %ld failed\n", i);
			return 1;
		}
	}
	t_add = bench_cpu() - t0;
	after = mallinfo2();
	if (n.n_mail) {
		fprintf(stderr, "bench_peer_memory: idle peers sent %u datagrams\n", n.n_mail);
		return 1;
	}
	used = after.uordblks + after.hblkhd - before.uordblks - before.hblkhd;
	printf("memory per idle peer: %.0f bytes (%zu bytes of heap for %ld peers with 2 "
	       "allowed-ips each)\n",
	       (double)used / (double)count, used, count);
	printf("adding %ld peers to an engine: %.3f s CPU (%.1f us per peer)\n", count, t_add,
	       t_add / (double)count * 1e6);
	bench_node_free(&n);
	free(keys);
	return 0;
}
