/* mac1 proves the sender knows our public key; mac2 proves it can receive at its source
 * address, because the only way to learn the cookie it is keyed with is a cookie reply
 * sent there. Section 5.4.4 and 5.4.7 of the WireGuard paper. */
#include "cookie.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "hash.h"

_Static_assert(WG_COOKIE_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "the cookie reply carries an XChaCha20 nonce");

/* The macs are the last 32 bytes of every handshake message: mac1 covers everything
 * before it, mac2 everything before it including mac1. */
#define MAC1_OFFSET(len) ((len) - sizeof(struct wg_msg_macs))
#define MAC2_OFFSET(len) ((len)-WG_MAC_LEN)

static void derive_key(uint8_t key[WG_HASH_LEN], const char *label, const uint8_t pub[WG_KEY_LEN])
{
	wg_hash2(key, label, strlen(label), pub, WG_KEY_LEN);
}

static bool secret_expired(const struct wg_cookie_checker *c, uint64_t now_ns)
{
	return !c->secret_birth_ns ||
	       now_ns - c->secret_birth_ns >= WG_COOKIE_SECRET_MAX_AGE * WG_NSEC_PER_SEC;
}

/* The maker stops using a cookie a little before the checker's secret can have
 * changed, so that a mac2 is not computed with a cookie about to become worthless. */
static bool cookie_fresh(const struct wg_cookie_maker *m, uint64_t now_ns)
{
	return m->have_cookie &&
	       now_ns - m->cookie_birth_ns <
		   (WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY) * WG_NSEC_PER_SEC;
}

void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t our_public[WG_KEY_LEN])
{
	/* Cookies handed out under an old identity die with it. */
	sodium_memzero(c, sizeof(*c));
	derive_key(c->mac1_key, WG_LABEL_MAC1, our_public);
	derive_key(c->cookie_encryption_key, WG_LABEL_COOKIE, our_public);
}

enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const void *msg,
					    size_t len, const uint8_t *src, size_t srclen,
					    bool check_cookie, uint64_t now_ns)
{
	const uint8_t *m = msg;
	uint8_t computed[WG_MAC_LEN], cookie[WG_COOKIE_LEN];
	enum wg_cookie_mac_state ret = WG_COOKIE_MAC_INVALID;

	if (len < sizeof(struct wg_msg_macs))
		goto out;
	wg_mac(computed, c->mac1_key, sizeof(c->mac1_key), m, MAC1_OFFSET(len));
	if (sodium_memcmp(computed, m + MAC1_OFFSET(len), WG_MAC_LEN) != 0)
		goto out;

	ret = WG_COOKIE_MAC1_VALID_MAC2_INVALID;
	if (!check_cookie || secret_expired(c, now_ns))
		goto out;
	wg_mac(cookie, c->secret, sizeof(c->secret), src, srclen);
	wg_mac(computed, cookie, sizeof(cookie), m, MAC2_OFFSET(len));
	if (sodium_memcmp(computed, m + MAC2_OFFSET(len), WG_MAC_LEN) != 0)
		goto out;

	ret = WG_COOKIE_MAC1_VALID_MAC2_VALID;
out:
	sodium_memzero(computed, sizeof(computed));
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *out, const void *msg,
			    size_t len, uint32_t sender_index, const uint8_t *src, size_t srclen,
			    uint64_t now_ns)
{
	const uint8_t *m = msg;
	uint8_t cookie[WG_COOKIE_LEN];

	/* Only a message with a valid mac1 earns a reply; one too short to carry macs
	 * gets an invalid message (type 0) that every peer drops. */
	memset(out, 0, sizeof(*out));
	if (len < sizeof(struct wg_msg_macs))
		goto out;

	if (secret_expired(c, now_ns)) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth_ns = now_ns;
	}
	wg_mac(cookie, c->secret, sizeof(c->secret), src, srclen);

	wg_le32_write(&out->header, WG_MSG_HANDSHAKE_COOKIE);
	wg_le32_write(&out->receiver_index, sender_index);
	randombytes_buf(out->nonce, sizeof(out->nonce));
	/* The mac1 as additional data ties the reply to the one message it answers. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->encrypted_cookie, NULL, cookie,
						   sizeof(cookie), m + MAC1_OFFSET(len), WG_MAC_LEN,
						   NULL, out->nonce, c->cookie_encryption_key);
out:
	sodium_memzero(cookie, sizeof(cookie));
}

void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[WG_KEY_LEN])
{
	sodium_memzero(m, sizeof(*m));
	derive_key(m->mac1_key, WG_LABEL_MAC1, peer_public);
	derive_key(m->cookie_decryption_key, WG_LABEL_COOKIE, peer_public);
}

void wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len, uint64_t now_ns)
{
	uint8_t *b = msg;

	wg_mac(b + MAC1_OFFSET(len), m->mac1_key, sizeof(m->mac1_key), b, MAC1_OFFSET(len));
	memcpy(m->last_mac1_sent, b + MAC1_OFFSET(len), WG_MAC_LEN);
	m->have_sent_mac1 = true;

	if (cookie_fresh(m, now_ns))
		wg_mac(b + MAC2_OFFSET(len), m->cookie, sizeof(m->cookie), b, MAC2_OFFSET(len));
	else
		memset(b + MAC2_OFFSET(len), 0, WG_MAC_LEN);
}

int wg_cookie_consume_reply(struct wg_cookie_maker *m, const struct wg_msg_cookie *msg,
			    uint64_t now_ns)
{
	uint8_t cookie[WG_COOKIE_LEN];
	int ret = -EINVAL;

	if (!m->have_sent_mac1 || wg_le32_read(&msg->header) != WG_MSG_HANDSHAKE_COOKIE)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cookie, NULL, NULL, msg->encrypted_cookie, sizeof(msg->encrypted_cookie),
		m->last_mac1_sent, WG_MAC_LEN, msg->nonce, m->cookie_decryption_key) != 0)
		goto out;

	memcpy(m->cookie, cookie, WG_COOKIE_LEN);
	m->cookie_birth_ns = now_ns;
	m->have_cookie = true;
	/* One reply per message sent: a second would only be a replay. */
	m->have_sent_mac1 = false;
	ret = 0;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}
