/* Branch onboarding as pure planning: from what HQ's daemon reports about itself and
 * what the operator asks for, the branch's tunnel addresses, its route to everything
 * behind HQ, HQ's new peer section and the branch's whole config file. No I/O, no
 * randomness: cmd_branch.c brings the keys and writes the files. */
#ifndef VPND_CTL_BRANCH_CONF_H
#define VPND_CTL_BRANCH_CONF_H

#include <stddef.h>

#include "cidr.h"

struct branch_hq_peer {
	const char *name;
	const struct cidr *allowed; /* its allowed-ips */
	size_t n_allowed;
};

/* HQ as its daemon reports it (show-json). */
struct branch_hq {
	const char *public_key;	      /* base64 */
	const struct cidr *addresses; /* tunnel addresses, host bits as configured */
	size_t n_addresses;
	const struct cidr *networks; /* HQ's LANs */
	size_t n_networks;
	const struct branch_hq_peer *peers;
	size_t n_peers;
};

struct branch_request {
	const char *name;	    /* the branch's peer name at HQ */
	const char *hq_name;	    /* HQ's peer name in the branch's config */
	const char *interface;	    /* the branch's TUN device */
	const char *endpoint;	    /* HOST:PORT where the branch reaches HQ */
	const struct cidr *subnets; /* the branch's LANs (networks, no host bits) */
	size_t n_subnets;
};

#define BRANCH_KEEPALIVE 25 /* seconds: the branch may sit behind a NAT */

struct branch_plan {
	/* The branch's tunnel addresses: the next free one in the network of HQ's first
	 * address, and in that of HQ's first address of the other family, if any. */
	struct cidr addresses[2];
	size_t n_addresses;
	/* allowed-ips of the branch's HQ peer: HQ's tunnel networks, HQ's networks, and
	 * every other peer's prefixes beyond the tunnel networks (other branches are
	 * reached through HQ). */
	struct cidr *hq_allowed;
	size_t n_hq_allowed;
};

/* Check the request against HQ and plan the branch. 0, or -1 with the reason in err. */
int branch_plan_make(const struct branch_hq *hq, const struct branch_request *rq,
		     struct branch_plan *plan, char *err, size_t errlen);
void branch_plan_free(struct branch_plan *plan);

/* HQ's new peer section for the branch, starting with a blank line: its tunnel addresses
 * and subnets are its allowed-ips; no endpoint (the branch calls in). psk_file may be
 * NULL. malloc'd; NULL when out of memory. */
char *branch_hq_section(const struct branch_request *rq, const struct branch_plan *plan,
			const char *branch_public_key, const char *psk_file);
/* The branch's complete config, private key and preshared key inline. It holds secrets:
 * sodium_memzero it before freeing. NULL when out of memory. */
char *branch_config_text(const struct branch_hq *hq, const struct branch_request *rq,
			 const struct branch_plan *plan, const char *private_key, const char *psk);

#endif
