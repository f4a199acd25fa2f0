/* Benchmark: allowed-IPs (cryptokey routing) lookups per second with 10,000 routes, the
 * longest-prefix match the data path makes twice per packet (destination on send,
 * source on receive). The routes are what 5,000 branch sites bring: each a /24 LAN and a
 * /32 tunnel address for IPv4, a /64 and a /128 for IPv6, at random places. Half the
 * looked-up addresses fall inside a route, half are random (most of those miss).
 *
 *   meson test -C build --benchmark bench_allowedips --verbose
 *   build/tests/bench_allowedips [ROUTES [LOOKUPS]]      (defaults 10000, 10000000) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "tunnel/allowedips.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(int family, unsigned n_routes, unsigned long n_lookups)
{
	const unsigned alen = family == AF_INET ? 4 : 16;
	const uint8_t lan = family == AF_INET ? 24 : 64, host = family == AF_INET ? 32 : 128;
	struct wg_allowedips table;
	uint8_t *routes = malloc((size_t)n_routes * 16), *queries;
	char *peers = malloc(n_routes / 2 + 1); /* stand-ins: only their addresses matter */
	const unsigned n_queries = 1u << 16;	/* a power of two, cycled through */
	unsigned long hits = 0;
	uintptr_t sum = 0;
	double t0, t;

	queries = malloc((size_t)n_queries * 16);
	if (!routes || !peers || !queries) {
		fprintf(stderr, "bench_allowedips: out of memory\n");
		return 1;
	}
	wg_allowedips_init(&table);
	randombytes_buf(routes, (size_t)n_routes * 16);
	for (unsigned i = 0; i < n_routes; i++) {
		uint8_t *a = routes + (size_t)i * 16;

		if (wg_allowedips_insert(&table, family, a, i % 2 ? host : lan, &peers[i / 2]) <
		    0) {
			fprintf(stderr, "bench_allowedips: insert failed\n");
			return 1;
		}
	}
	randombytes_buf(queries, (size_t)n_queries * 16);
	for (unsigned i = 0; i < n_queries; i += 2) {
		/* Inside a random route: keep its prefix, random host bits. */
		const uint8_t *r = routes + (size_t)randombytes_uniform(n_routes) * 16;
		unsigned keep = (unsigned)(r - routes) / 16 % 2 ? alen : lan / 8;

		memcpy(queries + (size_t)i * 16, r, keep);
	}

	t0 = now_s();
	for (unsigned long i = 0; i < n_lookups; i++) {
		void *p = wg_allowedips_lookup(&table, family,
					       queries + (size_t)(i & (n_queries - 1)) * 16);
		hits += p != NULL;
		sum += (uintptr_t)p;
	}
	t = now_s() - t0;
	/* Every address taken from inside a route must be found. */
	if (hits < n_lookups / 2) {
		fprintf(stderr, "bench_allowedips: only %lu of %lu lookups hit\n", hits, n_lookups);
		return 1;
	}
	printf("allowed-IPs lookups, IPv%d, %u routes: %.2f million per second per core "
	       "(%.1f ns each, %.0f%% hits, checksum %lx)\n",
	       family == AF_INET ? 4 : 6, n_routes, (double)n_lookups / t / 1e6,
	       t / (double)n_lookups * 1e9, 100.0 * (double)hits / (double)n_lookups,
	       (unsigned long)(sum & 0xfff));
	wg_allowedips_free(&table);
	free(routes);
	free(queries);
	free(peers);
	return 0;
}

int main(int argc, char **argv)
{
	long n_routes = argc > 1 ? atol(argv[1]) : 10000;
	long n_lookups = argc > 2 ? atol(argv[2]) : 10000000;

	if (sodium_init() < 0 || n_routes < 2 || n_routes > 10000000 || n_lookups < 2) {
		fprintf(stderr, "usage: bench_allowedips [ROUTES >= 2 [LOOKUPS >= 2]]\n");
		return 1;
	}
	return run(AF_INET, (unsigned)n_routes, (unsigned long)n_lookups) ||
	       run(AF_INET6, (unsigned)n_routes, (unsigned long)n_lookups);
}
