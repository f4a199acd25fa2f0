/* branches: what the modes of the many-branches tool share (branches.c: keys, config and
 * the live run; branches_storm.c: the handshake storm). */
#ifndef VPND_NETNS_BRANCHES_H
#define VPND_NETNS_BRANCHES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct branches_opts {
	unsigned n;	  /* branches (keys) */
	unsigned first;	  /* number of the first branch (-o): play branches first.. */
	const char *seed; /* keys are derived from it and the branch number */
	uint32_t tun_net; /* tunnel prefix of the branches, host order */
	unsigned tun_len;
	struct sockaddr_in hq; /* HQ's underlay address and port */
	bool have_hq;
	uint8_t hq_pub[32]; /* HQ's public key */
	bool have_hq_key;
	uint32_t hq_tun;  /* HQ's tunnel address, host order; 0 = unset */
	uint32_t src_net; /* source addresses the branches bind to, host order */
	unsigned src_len;
	bool have_src;	   /* false: every branch binds 0.0.0.0 (one address) */
	unsigned window;   /* handshakes in flight at once */
	double wait_s;	   /* run: give up after this long */
	unsigned echoes;   /* run: echo replies each branch waits for */
	double duration_s; /* storm: how long to fire */
	double warmup_s;   /* storm: not counted in the steady rate */
	double gap_ms;	   /* storm: pause of one key between its handshakes */
	int hq_pid;	   /* storm: HQ's vpnd, for its CPU time; 0 = unknown */
};

/* CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
uint64_t br_now_ns(void);
uint64_t br_real_ns(void);
/* Branch i's private key (clamped): BLAKE2b of the seed and i, so a test can write HQ's
 * configuration before the branches exist and get the same keys in every run. */
void br_private_key(const char *seed, unsigned i, uint8_t out[32]);
/* Branch i's tunnel address (host order): the (i + 2)th of the tunnel prefix, as .1 is
 * usually HQ's. Branch numbers are absolute: opts.first is added by the callers. */
uint32_t br_tunnel_addr(const struct branches_opts *o, unsigned i);
/* A non-blocking UDP socket for the i-th branch played (0 = opts.first), bound to its own
 * source address (see branches_opts.src_net) and an ephemeral port. -1 after printing
 * why. */
int br_open_socket(const struct branches_opts *o, unsigned i);
/* The handshake storm (branches_storm.c). Exit status. */
int br_storm(const struct branches_opts *o);

#endif
