/* Benchmark: transport encryption and decryption through the engine, in Gbit/s of inner
 * packets per CPU core, on 1420-byte IPv4 packets. Two engines in memory complete a real
 * handshake; then A's wg_engine_send (route lookup, staging, padding, ChaCha20-Poly1305,
 * the send callback) and B's wg_engine_receive (index lookup, decryption, replay window,
 * source check, the deliver callback) are timed separately, in batches of 64 packets so
 * that reading the clock costs nothing measurable. libsodium's AEAD alone on the same
 * sizes is printed first: the ceiling the engine is measured against.
 *
 *   meson test -C build --benchmark bench_transport --verbose
 *   build/tests/bench_transport [SECONDS]          (CPU seconds per phase, default 2) */
#include "bench_engines.h"

#define PKT_LEN 1420

static double aead_gbps(double seconds, bool decrypt_too)
{
	uint8_t key[32], nonce[12] = {0}, buf[PKT_LEN + 16];
	unsigned long long clen, mlen, n = 0;
	double t0 = bench_cpu(), t;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(buf, PKT_LEN);
	do {
		for (int i = 0; i < 1024; i++, n++) {
			memcpy(nonce + 4, &n, sizeof(n));
			crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, PKT_LEN, NULL, 0,
								  NULL, nonce, key);
			if (decrypt_too &&
			    crypto_aead_chacha20poly1305_ietf_decrypt(buf, &mlen, NULL, buf, clen,
								      NULL, 0, nonce, key) != 0) {
				fprintf(stderr, "bench_transport: AEAD round trip failed\n");
				exit(1);
			}
		}
		t = bench_cpu() - t0;
	} while (t < seconds);
	sodium_memzero(key, sizeof(key));
	return (double)n * PKT_LEN * 8 / t / 1e9;
}

int main(int argc, char **argv)
{
	static struct bench_node a, b; /* mailboxes of 128 KiB: not on the stack */
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	struct wg_time now = {.mono_ns = 1000 * WG_NSEC_PER_SEC,
			      .real_ns = 1700000000ULL * WG_NSEC_PER_SEC};
	uint8_t pkt[PKT_LEN];
	double t_send = 0, t_recv = 0, w0, wall, enc, dec, t;
	unsigned long long sent = 0;

	if (sodium_init() < 0 || !(seconds > 0)) {
		fprintf(stderr, "usage: bench_transport [SECONDS > 0]\n");
		return 1;
	}
	printf("libsodium ChaCha20-Poly1305 (IETF), %d-byte packets: encrypt %.2f Gbit/s per "
	       "core, encrypt+decrypt %.2f Gbit/s per core\n",
	       PKT_LEN, aead_gbps(seconds / 2, false), aead_gbps(seconds / 2, true));

	bench_node_init(&a, "192.0.2.1");
	bench_node_init(&b, "192.0.2.2");
	a.peer =
	    bench_add_peer(&a, "b", wg_engine_public_key(b.engine), &b.addr, "10.2.0.0", 24, now);
	b.peer = bench_add_peer(&b, "a", wg_engine_public_key(a.engine), NULL, "10.1.0.0", 24, now);
	bench_ipv4(pkt, sizeof(pkt), "10.1.0.5", "10.2.0.9");

	/* The first packet starts the handshake; pump until it is done and delivered. */
	wg_engine_send(a.engine, pkt, sizeof(pkt), now);
	for (int round = 0; round < 8 && (a.n_mail || b.n_mail); round++) {
		bench_deliver_mail(&a, &b, now);
		bench_deliver_mail(&b, &a, now);
	}
	if (b.delivered != 1) {
		fprintf(stderr, "bench_transport: the handshake did not complete\n");
		return 1;
	}
	b.delivered = b.delivered_bytes = 0;

	w0 = bench_wall();
	do {
		t = bench_cpu();
		for (int i = 0; i < BENCH_MAILBOX; i++)
			wg_engine_send(a.engine, pkt, sizeof(pkt), now);
		t_send += bench_cpu() - t;
		sent += BENCH_MAILBOX;
		t = bench_cpu();
		bench_deliver_mail(&a, &b, now);
		t_recv += bench_cpu() - t;
		b.n_mail = 0; /* nothing answers data; keep B's box empty regardless */
	} while (t_send + t_recv < 2 * seconds);
	wall = bench_wall() - w0;
	if (b.delivered != sent || b.delivered_bytes != sent * PKT_LEN || a.mail_overflow) {
		fprintf(stderr,
			"bench_transport: %llu packets sent, %llu delivered (%llu bytes), "
			"%llu lost in the mailbox\n",
			sent, b.delivered, b.delivered_bytes, a.mail_overflow);
		return 1;
	}
	enc = (double)sent * PKT_LEN * 8 / t_send / 1e9;
	dec = (double)sent * PKT_LEN * 8 / t_recv / 1e9;
	printf("engine transport, %d-byte packets, %llu packets: encrypt %.2f Gbit/s per core "
	       "(%.0f ns/packet), decrypt %.2f Gbit/s per core (%.0f ns/packet)\n",
	       PKT_LEN, sent, enc, t_send / (double)sent * 1e9, dec, t_recv / (double)sent * 1e9);
	printf("engine transport encrypt+decrypt: %.2f Gbit/s per core "
	       "(one core doing both ends; %.2f s wall)\n",
	       (double)sent * PKT_LEN * 8 / (t_send + t_recv) / 1e9, wall);
	bench_node_free(&a);
	bench_node_free(&b);
	return 0;
}
