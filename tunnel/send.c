/* The send path: transport encryption, staged packets, keepalives and handshake messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine_impl.h"
#include "tai64n.h"

static void nonce_from_counter(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	wg_le64_write(nonce + 4, counter);
}

/* The last gates before anything leaves for p: 0 or -errno. */
static int peer_reachable(struct wg_engine *e, struct wg_peer *p)
{
	/* Nothing at all goes to a revoked peer. */
	if (p->revoked)
		return -EPERM;
	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC) {
		wg_engine_drop(e, p, WG_DROP_NO_ENDPOINT);
		return -EDESTADDRREQ;
	}
	return 0;
}

int wg_send_to_peer(struct wg_engine *e, struct wg_peer *p, const uint8_t *buf, size_t len)
{
	int ret = peer_reachable(e, p);

	if (ret == 0)
		ret = e->io.send_datagram(e->io.ctx, &p->endpoint, buf, len);
	if (ret == 0)
		p->stats.tx_bytes += len;
	return ret;
}

/* Hand the daemon a data message to seal itself (io.send_unsealed): len is header and
 * padded plaintext; what leaves, and is counted, is len + the tag. */
static int send_unsealed_to_peer(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp,
				 uint8_t *msg, size_t len, uint64_t counter)
{
	int ret = peer_reachable(e, p);

	if (ret == 0)
		ret = e->io.send_unsealed(e->io.ctx, &p->endpoint, msg, len, kp->send_key, counter);
	if (ret == 0)
		p->stats.tx_bytes += len + WG_AUTHTAG_LEN;
	return ret;
}

/* A session may still send when it is fresh enough and has counters left. */
static bool keypair_can_send(const struct wg_keypair *kp, uint64_t now)
{
	return kp && kp->send_valid &&
	       !wg_has_expired(kp->birth_ns, wg_seconds(WG_REJECT_AFTER_TIME), now) &&
	       kp->send_counter < WG_REJECT_AFTER_MESSAGES;
}

/* Start a new handshake ahead of expiry: after 2^60 messages, or after REKEY_AFTER_TIME
 * on sessions we initiated. The responder does not rekey on time, so the two sides never
 * start at once: crossing initiations cancel each other (each side's handshake state is
 * taken over by the other's initiation) and cost a REKEY_TIMEOUT to recover.
 *
 * With rekey-after-time shortened, the operator wants that interval held even when the
 * initiator is a stock WireGuard peer that rekeys only every 120 s: the responder then
 * takes over, but only a REKEY_TIMEOUT after the initiator's turn, which an initiator
 * that honours the same interval has long used. */
static void keep_key_fresh(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	struct wg_keypair *kp = p->keypairs.current;
	uint64_t rekey = wg_seconds(e->settings.rekey_after_time);

	if (!kp || !kp->send_valid)
		return;
	if (!kp->i_am_the_initiator) {
		if (e->settings.rekey_after_time >= WG_REKEY_AFTER_TIME)
			rekey = UINT64_MAX;
		else
			rekey += wg_seconds(WG_REKEY_TIMEOUT);
	}
	if (kp->send_counter > WG_REKEY_AFTER_MESSAGES ||
	    (rekey != UINT64_MAX && wg_has_expired(kp->birth_ns, rekey, now.mono_ns)))
		wg_send_handshake_initiation(e, p, false, now);
}

/* Encrypt one inner packet (len may be 0: a keepalive) under kp and send it. */
static int encrypt_and_send(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp,
			    const uint8_t *pkt, size_t len, struct wg_time now)
{
	struct wg_msg_data *hdr = (struct wg_msg_data *)e->out;
	size_t padded = len, total;
	unsigned long long clen;
	uint8_t nonce[12];
	uint64_t counter;
	int ret;

	/* Pad to a multiple of 16 to blur packet lengths, but never beyond the MTU. */
	if (len % WG_MESSAGE_PADDING_MULTIPLE) {
		padded = len + WG_MESSAGE_PADDING_MULTIPLE - len % WG_MESSAGE_PADDING_MULTIPLE;
		if (padded > e->settings.mtu)
			padded = len > e->settings.mtu ? len : e->settings.mtu;
	}
	if (padded > sizeof(e->out) - WG_DATA_OVERHEAD)
		return -EMSGSIZE;
	counter = kp->send_counter++;
	wg_le32_write(&hdr->header, WG_MSG_DATA);
	wg_le32_write(&hdr->key_idx, kp->remote_index);
	wg_le64_write(&hdr->counter, counter);
	memcpy(hdr->encrypted_data, pkt, len);
	memset(hdr->encrypted_data + len, 0, padded - len);
	if (e->io.send_unsealed) {
		/* Sealed by the daemon, with the rest of its batch, on the cores it has. */
		ret = send_unsealed_to_peer(e, p, kp, e->out, sizeof(*hdr) + padded, counter);
	} else {
		nonce_from_counter(nonce, counter);
		crypto_aead_chacha20poly1305_ietf_encrypt(hdr->encrypted_data, &clen,
							  hdr->encrypted_data, padded, NULL, 0,
							  NULL, nonce, kp->send_key);
		total = sizeof(*hdr) + (size_t)clen;
		ret = wg_send_to_peer(e, p, e->out, total);
	}
	if (ret < 0)
		return ret;
	if (len)
		p->stats.tx_packets++;
	wg_timers_any_authenticated_packet_traversal(p, now.mono_ns);
	wg_timers_any_authenticated_packet_sent(p, now.mono_ns);
	if (len)
		wg_timers_data_sent(p, now.mono_ns);
	return 0;
}

void wg_send_staged_packets(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	struct wg_staged_packets *q = &p->staged;
	struct wg_keypair *kp = p->keypairs.current;

	if (!q->count)
		return;
	if (!keypair_can_send(kp, now.mono_ns)) {
		/* Expiry is final: a worn-out session never sends again. */
		if (kp)
			kp->send_valid = false;
		wg_send_handshake_initiation(e, p, false, now);
		return;
	}
	while (q->count) {
		unsigned i = q->head % WG_MAX_STAGED_PACKETS;
		uint8_t *pkt = q->buf[i];
		size_t len = q->len[i];

		q->buf[i] = NULL;
		q->head++;
		q->count--;
		if (encrypt_and_send(e, p, kp, pkt, len, now) < 0 && len)
			wg_engine_drop(e, p, WG_DROP_NO_ENDPOINT);
		sodium_memzero(pkt, len);
		free(pkt);
		if (!keypair_can_send(kp, now.mono_ns))
			break;
	}
	q->head = q->count ? q->head : 0;
	keep_key_fresh(e, p, now);
}

void wg_send_packet(struct wg_engine *e, struct wg_peer *p, const uint8_t *pkt, size_t len,
		    struct wg_time now)
{
	struct wg_keypair *kp = p->keypairs.current;

	/* Straight out when a session can take it and nothing older waits before it;
	 * staging (a copy) only while there is no session. */
	if (!p->staged.count && keypair_can_send(kp, now.mono_ns)) {
		if (encrypt_and_send(e, p, kp, pkt, len, now) < 0)
			wg_engine_drop(e, p, WG_DROP_NO_ENDPOINT);
		keep_key_fresh(e, p, now);
		return;
	}
	if (wg_peer_stage_packet(e, p, pkt, len) == 0)
		wg_send_staged_packets(e, p, now);
}

void wg_send_keepalive(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	if (p->revoked)
		return;
	/* Staged data confirms the session as well as a keepalive would. */
	if (!p->staged.count)
		wg_peer_stage_packet(e, p, NULL, 0);
	wg_send_staged_packets(e, p, now);
}

void wg_send_handshake_initiation(struct wg_engine *e, struct wg_peer *p, bool is_retry,
				  struct wg_time now)
{
	struct wg_msg_initiation msg;
	uint8_t timestamp[WG_TIMESTAMP_LEN];
	char attempt[16];

	if (p->revoked)
		return;
	if (!is_retry)
		p->timers.handshake_attempts = 0;
	/* At most one initiation per REKEY_TIMEOUT, whatever asks for it. */
	if (p->last_sent_handshake &&
	    !wg_has_expired(p->last_sent_handshake, wg_seconds(WG_REKEY_TIMEOUT), now.mono_ns))
		return;
	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC || !e->noise.identity.has_identity)
		return;
	wg_tai64n_encode(timestamp, wg_next_timestamp(e, now.real_ns));
	if (wg_noise_create_initiation(&e->noise, &p->handshake, &msg, timestamp) < 0)
		goto out;
	wg_cookie_add_macs(wg_peer_cookie(p), &msg, sizeof(msg), now.mono_ns);
	wg_timers_any_authenticated_packet_traversal(p, now.mono_ns);
	wg_timers_any_authenticated_packet_sent(p, now.mono_ns);
	p->last_sent_handshake = now.mono_ns;
	p->cookie_resent = false;
	wg_send_to_peer(e, p, (const uint8_t *)&msg, sizeof(msg));
	wg_timers_handshake_initiated(p, now.mono_ns);
	snprintf(attempt, sizeof(attempt), "%u", p->timers.handshake_attempts + 1);
	wg_engine_event(e, WG_EVENT_HANDSHAKE_INITIATED, p, attempt);
out:
	sodium_memzero(&msg, sizeof(msg));
}

void wg_send_handshake_response(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	struct wg_msg_response msg;
	struct wg_keypair *kp = NULL;

	if (wg_noise_create_response(&e->noise, &p->handshake, &msg) < 0)
		goto out;
	/* mac1 is keyed by the key the initiator used, which may be its next one. */
	wg_cookie_add_macs(wg_peer_cookie(p), &msg, sizeof(msg), now.mono_ns);
	kp = wg_keypair_new();
	if (!kp || wg_noise_begin_session(&e->noise, &p->handshake, kp, now.mono_ns) < 0) {
		wg_peer_clear_handshake(e, p);
		goto out;
	}
	kp->serial = ++e->keypair_serial;
	wg_peer_add_keypair(e, p, kp);
	wg_key_rotation_session_derived(e, p, kp);
	kp = NULL;
	wg_timers_session_derived(p, now.mono_ns);
	wg_timers_any_authenticated_packet_traversal(p, now.mono_ns);
	wg_timers_any_authenticated_packet_sent(p, now.mono_ns);
	p->last_sent_handshake = now.mono_ns;
	wg_send_to_peer(e, p, (const uint8_t *)&msg, sizeof(msg));
out:
	if (kp)
		wg_keypair_free(kp);
	sodium_memzero(&msg, sizeof(msg));
}

void wg_send_cookie_reply(struct wg_engine *e, const uint8_t *msg, size_t len,
			  uint32_t sender_index, const struct wg_endpoint *to, uint64_t now)
{
	struct wg_msg_cookie reply;
	uint8_t src[18];
	size_t srclen = wg_endpoint_addr_bytes(to, src);

	wg_cookie_reply_create(&e->cookie_checker, &reply, msg, len, sender_index, src, srclen,
			       now);
	if (e->io.send_datagram(e->io.ctx, to, (const uint8_t *)&reply, sizeof(reply)) == 0) {
		e->stats.cookie_replies_sent++;
		wg_engine_event(e, WG_EVENT_COOKIE_SENT, NULL, NULL);
	}
}
