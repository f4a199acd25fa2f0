/* mac1, mac2 and cookie replies (WireGuard paper, section 5.4.4 and 5.4.7).
 *
 * The responder side (checker) validates macs on every handshake message and, under
 * load, answers with a cookie reply; its secret is a random value replaced every
 * WG_COOKIE_SECRET_MAX_AGE seconds. The initiator side (maker, one per peer) adds
 * mac1 always and mac2 while it holds a fresh cookie from that peer. */
#ifndef VPND_TUNNEL_COOKIE_H
#define VPND_TUNNEL_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

struct wg_cookie_checker {
	uint8_t secret[WG_HASH_LEN];
	uint64_t secret_birth_ns; /* monotonic; 0 = no secret yet */
	uint8_t mac1_key[WG_HASH_LEN];		   /* HASH(LABEL_MAC1 || our public key) */
	uint8_t cookie_encryption_key[WG_HASH_LEN]; /* HASH(LABEL_COOKIE || our public key) */
};

struct wg_cookie_maker {
	uint8_t mac1_key[WG_HASH_LEN];		   /* HASH(LABEL_MAC1 || peer public key) */
	uint8_t cookie_decryption_key[WG_HASH_LEN]; /* HASH(LABEL_COOKIE || peer public key) */
	uint8_t cookie[WG_COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool have_cookie;
	uint8_t last_mac1_sent[WG_MAC_LEN];
	bool have_sent_mac1;
};

enum wg_cookie_mac_state {
	WG_COOKIE_MAC_INVALID,		  /* mac1 wrong: drop silently */
	WG_COOKIE_MAC1_VALID_MAC2_INVALID, /* under load this earns a cookie reply */
	WG_COOKIE_MAC1_VALID_MAC2_VALID,
};

/* Call when the device's static key changes. */
void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t our_public[WG_KEY_LEN]);
/* msg/len is a whole handshake message (initiation or response) whose last 32 bytes are
 * the macs. src/srclen is the source address as bytes (4- or 16-byte IP followed by the
 * 2-byte port in network order): the cookie is bound to it. mac2 is only checked when
 * check_cookie is true (the daemon is under load). */
enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const void *msg,
					    size_t len, const uint8_t *src, size_t srclen,
					    bool check_cookie, uint64_t now_ns);
/* Build the cookie reply to a handshake message that had a valid mac1 but no valid mac2.
 * sender_index is the sender index of that message. Rotates the secret when it is older
 * than WG_COOKIE_SECRET_MAX_AGE. */
void wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *out,
			    const void *msg, size_t len, uint32_t sender_index,
			    const uint8_t *src, size_t srclen, uint64_t now_ns);

void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[WG_KEY_LEN]);
/* Write mac1 (and mac2 when a cookie younger than MAX_AGE - LATENCY is held) into the
 * last 32 bytes of msg. */
void wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len, uint64_t now_ns);
/* Decrypt a cookie reply addressed to our last handshake message: 0, or -EINVAL when it
 * does not authenticate or answers no mac1 we sent. */
int wg_cookie_consume_reply(struct wg_cookie_maker *m, const struct wg_msg_cookie *msg,
			    uint64_t now_ns);

#endif
