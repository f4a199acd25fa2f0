/* The configuration file (libconfuse), parsed and checked in full before anything is
 * applied: vpnd never starts, or reloads, half-configured. */
#ifndef VPND_DAEMON_CONFIG_H
#define VPND_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/endpoint_list.h"
#include "tunnel/endpoint.h"
#include "tunnel/peer.h"

struct vpnd_policy_conf;

/* `threads`: the most crypto threads vpnd runs (the worker pool's own cap). */
#define VPND_MAX_THREADS 64

struct vpnd_address {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefixlen;
};

struct vpnd_peer_conf {
	char name[WG_PEER_NAME_MAX];
	int line; /* where the peer section starts */
	uint8_t public_key[32];
	/* Key rotation: handshakes from this key are accepted too; the first that succeeds
	 * makes it the peer's key (recorded in the state directory). */
	bool has_next_public_key;
	uint8_t next_public_key[32];
	bool has_preshared_key;
	uint8_t preshared_key[32];
	char *preshared_key_file;
	char *endpoint_spec;	     /* as written (a list joined by ", "), NULL if none */
	struct wg_endpoint endpoint; /* the first entry if an address; else AF_UNSPEC */
	struct vpnd_endpoint_entry *endpoints; /* in order of preference (endpoints.c) */
	unsigned n_endpoints;
	struct wg_allowed_ip *allowed_ips;
	unsigned n_allowed_ips;
	uint16_t persistent_keepalive;
};

struct vpnd_config {
	char *path;
	char interface[16];
	char *private_key_file;	 /* the config file itself when private_key_inline */
	bool private_key_inline; /* `private-key` written in the config file */
	uint8_t private_key[32];
	uint8_t public_key[32];
	uint16_t listen_port;
	struct vpnd_address *addresses;
	unsigned n_addresses;
	unsigned mtu;
	char *control_socket;
	unsigned control_socket_mode; /* default 0600 */
	unsigned rekey_after_time;
	unsigned endpoint_refresh; /* seconds between lookups of endpoint names; 0 = never */
	bool uapi;		   /* serve the WireGuard UAPI (wg tool) */
	bool offload;		   /* TUN offloads and UDP GSO/GRO (default true) */
	unsigned threads;	   /* crypto threads, 1..VPND_MAX_THREADS; 0 = one per online CPU */
	bool seccomp;		   /* the process-wide system call allow-list (default true) */
	char *user;		   /* the account vpnd runs as once set up (default "vpnd") */
	int user_line;		   /* where `user` is written; 0 = the default */
	char *uapi_socket;	   /* default /run/wireguard/<interface>.sock */
	char *metrics_listen;	   /* "ip:port" for /metrics, NULL = off */
	struct wg_endpoint metrics_addr;
	char *audit_log;	    /* default /var/lib/vpnd/<interface>.audit */
	char *audit_key_file;	    /* Ed25519 signing key; default <audit_log>.key */
	uint64_t audit_rotate_size; /* bytes; a new file is started past it */
	char *state_directory;	    /* default /var/lib/vpnd: revocations, rotations, clock */
	char *revoked_keys_file;    /* default <state_directory>/<interface>.revoked */
	char *public_endpoint;	    /* HOST:PORT other sites use to reach this one, or NULL */
	struct vpnd_peer_conf *peers;
	unsigned n_peers;
	/* config_policy.c: this site's LANs (with the addresses, what the policy calls
	 * "local"), and the site policy (never NULL in a loaded config). */
	struct wg_allowed_ip *networks;
	unsigned n_networks;
	struct vpnd_policy_conf *policy;
};

/* Problems found while loading, each "FILE:LINE: what is wrong" (or "FILE: ..." when no
 * line applies). */
struct vpnd_config_errors {
	char **lines;
	unsigned count;
};

/* Parse, read key files and check everything (endpoint names are looked up later, by
 * endpoints.c). Returns the config, or NULL with every problem in errs (which the caller
 * frees). */
struct vpnd_config *vpnd_config_load(const char *path, struct vpnd_config_errors *errs);
/* Wipes every key and frees. NULL is fine. */
void vpnd_config_free(struct vpnd_config *c);
void vpnd_config_errors_free(struct vpnd_config_errors *errs);
const struct vpnd_peer_conf *vpnd_config_find_peer(const struct vpnd_config *c, const char *name);

#endif
