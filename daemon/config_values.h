/* One configuration value at a time: parse it and check it, knowing nothing of the file it
 * came from. Each function says why a value is wrong; config.c says where. */
#ifndef VPND_DAEMON_CONFIG_VALUES_H
#define VPND_DAEMON_CONFIG_VALUES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/endpoint.h"
#include "tunnel/peer.h"
#include "vpnd/key.h"

/* "address/length", the longest there is, and its NUL. */
#define CONFIG_PREFIX_TEXT_MAX (INET6_ADDRSTRLEN + 4)

/* Digits only (0-7 for base 8); a value too big for unsigned long reads as ULONG_MAX. */
bool config_parse_uint(const char *s, int base, unsigned long *out);
/* 1..max characters of A-Z a-z 0-9 _ . -: names reach logs, vpnctl output and file names. */
bool config_valid_name(const char *s, size_t max);
/* As config_valid_name, and neither "." nor "..". */
bool config_valid_ifname(const char *s);
/* "address/length", host bits allowed. Returns NULL, or why s is not a prefix. */
const char *config_parse_prefix(const char *s, int *family, uint8_t addr[16], uint8_t *cidr);
/* A prefix without host bits, as allowed-ips takes. Returns NULL, or why not (in buf, or
 * a constant). */
const char *config_parse_network(const char *s, struct wg_allowed_ip *ip, char *buf, size_t len);
const char *config_format_prefix(char buf[CONFIG_PREFIX_TEXT_MAX], int family, const uint8_t *addr,
				 unsigned cidr);
/* "0000".."0777". */
bool config_parse_mode(const char *s, unsigned *mode);
/* Why s is not a base64 key (in buf, or a constant). Never quotes s: it may be a secret. */
const char *config_key_problem(const char *s, char *buf, size_t len);
/* path as written in a file in dir (NULL: the current one). NULL when out of memory. */
char *config_resolve_path(const char *dir, const char *path);
/* One base64 key from a regular file that group and others cannot touch. Returns 0, or -1
 * with *why what is wrong (to be freed; NULL when out of memory). */
int config_read_key_file(const char *path, uint8_t key[VPND_KEY_LEN], char **why);

#endif
