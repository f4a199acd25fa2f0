/* Benchmark: handshakes per second per CPU core as responder. A responder engine knows
 * INITIATORS real initiator engines (plus idle peers up to PEERS in all); each initiator
 * in turn makes an initiation (not timed), and the responder's wg_engine_receive on it is
 * timed: mac1, the Noise initiation consumed (DH with our static key, the initiator's
 * static key decrypted and looked up among all peers, TAI64N replay check), a fresh
 * ephemeral key, the response made (two more DHs), the session derived and the response
 * sent. The clock advances 20 ms a message, so the engine never sees more than 50
 * handshakes a second and never demands cookies: this is the cost of real work, not of
 * the DoS defence.
 *
 *   meson test -C build --benchmark bench_handshake --verbose
 *   build/tests/bench_handshake [SECONDS [INITIATORS [PEERS]]]
 * Without PEERS it runs twice: with only the initiators configured, and with 10,000
 * peers (how the static-key lookup scales). */
#include "bench_engines.h"

#define STEP_NS (20 * 1000 * 1000ULL)

static double x25519_per_s(double seconds)
{
	uint8_t s[32], p[32], q[32];
	unsigned long n = 0;
	double t0 = bench_cpu(), t;

	randombytes_buf(s, sizeof(s));
	crypto_scalarmult_base(p, s);
	do {
		for (int i = 0; i < 64; i++, n++)
			if (crypto_scalarmult(q, s, p) != 0)
				exit(1);
		t = bench_cpu() - t0;
	} while (t < seconds);
	sodium_memzero(s, sizeof(s));
	return (double)n / t;
}

static void run(double seconds, unsigned n_init, unsigned n_peers)
{
	struct bench_node *r = calloc(1, sizeof(*r));
	struct bench_node *ini = calloc(n_init, sizeof(*ini));
	struct wg_time now = {.mono_ns = 1000 * WG_NSEC_PER_SEC,
			      .real_ns = 1700000000ULL * WG_NSEC_PER_SEC};
	unsigned long long done = 0;
	double t_resp = 0, t_add, t;
	char name[32], ip[32];

	if (!r || !ini) {
		fprintf(stderr, "bench_handshake: out of memory\n");
		exit(1);
	}
	bench_node_init(r, "192.0.2.1");
	t_add = bench_cpu();
	for (unsigned i = 0; i < n_peers; i++) {
		uint8_t priv[32], pub[32];
		const uint8_t *key = pub;

		/* Idle peers first: the initiators are found at the end of the list. */
		if (i >= n_peers - n_init) {
			struct bench_node *n = &ini[i - (n_peers - n_init)];

			snprintf(ip, sizeof(ip), "198.18.%u.%u", (i >> 8) & 255, i & 255);
			bench_node_init(n, ip);
			n->peer = bench_add_peer(n, "responder", wg_engine_public_key(r->engine),
						 &r->addr, "10.0.0.0", 8, now);
			key = wg_engine_public_key(n->engine);
		} else {
			randombytes_buf(priv, sizeof(priv));
			crypto_scalarmult_base(pub, priv);
		}
		snprintf(name, sizeof(name), "site-%u", i);
		snprintf(ip, sizeof(ip), "10.%u.%u.0", (i >> 8) & 255, i & 255);
		bench_add_peer(r, name, key, NULL, ip, 24, now);
	}
	t_add = bench_cpu() - t_add;

	do {
		for (unsigned k = 0; k < n_init; k++) {
			now.mono_ns += STEP_NS;
			now.real_ns += STEP_NS;
			wg_engine_peer_connect(ini[k].engine, ini[k].peer, now);
			if (ini[k].n_mail != 1 ||
			    ini[k].mail_len[0] != sizeof(struct wg_msg_initiation)) {
				fprintf(stderr, "bench_handshake: initiator %u sent %u datagrams\n",
					k, ini[k].n_mail);
				exit(1);
			}
			t = bench_cpu();
			bench_deliver_mail(&ini[k], r, now);
			t_resp += bench_cpu() - t;
			if (r->n_mail != 1 || r->mail_len[0] != sizeof(struct wg_msg_response)) {
				fprintf(stderr,
					"bench_handshake: no response to initiation %llu (%u "
					"datagrams)\n",
					done, r->n_mail);
				exit(1);
			}
			r->n_mail = 0;
			done++;
		}
	} while (t_resp < seconds);

	printf("handshakes as responder: %.0f per second per core (%llu initiations from %u "
	       "initiators, %u peers configured, %.1f us each)\n",
	       (double)done / t_resp, done, n_init, n_peers, t_resp / (double)done * 1e6);
	printf("  (set-up: %u peers added in %.3f s CPU, keys and initiators included)\n", n_peers,
	       t_add);
	for (unsigned k = 0; k < n_init; k++)
		bench_node_free(&ini[k]);
	bench_node_free(r);
	free(ini);
	free(r);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	long n_init = argc > 2 ? atol(argv[2]) : 256;
	long n_peers = argc > 3 ? atol(argv[3]) : 0;

	/* 256 initiators at 20 ms a message: each sends again after 5.12 s of the fake
	 * clock, past the initiator's own REKEY_TIMEOUT (5 s) between initiations. */
	if (sodium_init() < 0 || !(seconds > 0) || n_init < 256 || n_init > 60000 ||
	    (argc > 3 && n_peers < n_init)) {
		fprintf(stderr, "usage: bench_handshake [SECONDS > 0 [INITIATORS >= 256 [PEERS >= "
				"INITIATORS]]]\n");
		return 1;
	}
	printf("libsodium X25519: %.0f scalar multiplications per second per core (a handshake "
	       "as responder needs 4)\n",
	       x25519_per_s(seconds / 4));
	if (argc > 3) {
		run(seconds, (unsigned)n_init, (unsigned)n_peers);
	} else {
		run(seconds, (unsigned)n_init, (unsigned)n_init);
		run(seconds, (unsigned)n_init, 10000);
	}
	return 0;
}
