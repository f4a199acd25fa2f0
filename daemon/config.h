/* The configuration file (libconfuse), parsed and checked in full before anything is
 * applied: vpnd never starts, or reloads, half-configured. */
#ifndef VPND_DAEMON_CONFIG_H
#define VPND_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/endpoint.h"
#include "tunnel/peer.h"

struct vpnd_address {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefixlen;
};

struct vpnd_peer_conf {
	char name[WG_PEER_NAME_MAX];
	int line; /* where the peer section starts */
	uint8_t public_key[32];
	bool has_preshared_key;
	uint8_t preshared_key[32];
	char *preshared_key_file;
	char *endpoint_spec;	     /* as written, NULL if none */
	struct wg_endpoint endpoint; /* resolved; AF_UNSPEC if none */
	struct wg_allowed_ip *allowed_ips;
	unsigned n_allowed_ips;
	uint16_t persistent_keepalive;
};

struct vpnd_config {
	char *path;
	char interface[16];
	char *private_key_file;
	uint8_t private_key[32];
	uint8_t public_key[32];
	uint16_t listen_port;
	struct vpnd_address *addresses;
	unsigned n_addresses;
	unsigned mtu;
	char *control_socket;
	unsigned control_socket_mode; /* default 0600 */
	unsigned rekey_after_time;
	bool uapi;		/* serve the WireGuard UAPI (wg tool) */
	char *uapi_socket;	/* default /run/wireguard/<interface>.sock */
	char *metrics_listen;	/* "ip:port" for /metrics, NULL = off */
	struct wg_endpoint metrics_addr;
	char *audit_log;	/* default /var/lib/vpnd/<interface>.audit */
	char *audit_key_file;	/* Ed25519 signing key; default <audit_log>.key */
	uint64_t audit_rotate_size; /* bytes; a new file is started past it */
	struct vpnd_peer_conf *peers;
	unsigned n_peers;
};

/* Problems found while loading, each "FILE:LINE: what is wrong" (or "FILE: ..." when no
 * line applies). */
struct vpnd_config_errors {
	char **lines;
	unsigned count;
};

/* Parse, read key files, resolve endpoints and check everything. Returns the config,
 * or NULL with every problem in errs (which the caller frees). */
struct vpnd_config *vpnd_config_load(const char *path, struct vpnd_config_errors *errs);
/* Wipes every key and frees. NULL is fine. */
void vpnd_config_free(struct vpnd_config *c);
void vpnd_config_errors_free(struct vpnd_config_errors *errs);
const struct vpnd_peer_conf *vpnd_config_find_peer(const struct vpnd_config *c, const char *name);

#endif
