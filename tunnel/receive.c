/* The receive path: every datagram from the underlay, whoever sent it. Each reason to
 * drop has its own counter; nothing unauthenticated changes any state but counters. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <sodium.h>

#include "crypto_job.h"
#include "engine_impl.h"

/* Are we under load? Counted over one-second windows; once over the threshold, stay
 * under load for a further second (as the Linux module does) so an attacker cannot
 * toggle it cheaply. */
static bool under_load(struct wg_engine *e, uint64_t now)
{
	if (now - e->load_window_start >= WG_NSEC_PER_SEC) {
		e->load_window_start = now;
		e->load_window_count = 0;
	}
	if (++e->load_window_count > WG_UNDER_LOAD_HANDSHAKES_PER_SECOND)
		e->under_load_until = now + WG_NSEC_PER_SEC;
	return now < e->under_load_until;
}

/* Whether a cookie reply may go to a source that is not a known peer endpoint. */
static bool cookie_budget_allows(struct wg_engine *e, uint64_t now)
{
	const uint64_t cost = WG_NSEC_PER_SEC / WG_COOKIE_REPLIES_PER_SECOND;
	const uint64_t depth = cost * WG_COOKIE_REPLY_BURST;

	e->cookie_budget_ns += now - e->cookie_budget_at;
	e->cookie_budget_at = now;
	if (e->cookie_budget_ns > depth)
		e->cookie_budget_ns = depth;
	if (e->cookie_budget_ns < cost)
		return false;
	e->cookie_budget_ns -= cost;
	return true;
}

static const char *refusal_reason(int err)
{
	switch (err) {
	case -EPERM:
		return "revoked key";
	case -ENOKEY:
		return "unknown public key";
	case -EEXIST:
		return "replayed or stale timestamp";
	case -ESTALE:
		return "no handshake awaiting this response";
	default:
		return "not authentic";
	}
}

/* Counted on the device (and the peer when known), and told as "REASON from IP:PORT" so
 * the log and the audit trail say who knocked. */
static void refuse(struct wg_engine *e, struct wg_peer *p, enum wg_drop_reason why, int err,
		   const struct wg_endpoint *from)
{
	char src[WG_ENDPOINT_STRLEN], detail[sizeof(src) + 48];

	wg_engine_drop(e, p, why);
	if (!e->io.event)
		return;
	snprintf(detail, sizeof(detail), "%s from %s", refusal_reason(err),
		 wg_endpoint_format(from, src));
	wg_engine_event(e, WG_EVENT_HANDSHAKE_REFUSED, p, detail);
}

static void receive_handshake(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
			      size_t len, uint32_t type, struct wg_time now)
{
	enum wg_cookie_mac_state mac;
	struct wg_handshake *hs = NULL;
	struct wg_peer *p;
	uint8_t src[18];
	size_t srclen = wg_endpoint_addr_bytes(from, src);
	bool loaded = under_load(e, now.mono_ns);
	int ret;

	if (type == WG_MSG_HANDSHAKE_INITIATION)
		e->stats.handshake_initiations_received++;
	mac = wg_cookie_validate(&e->cookie_checker, buf, len, src, srclen, loaded, now.mono_ns);
	if (mac == WG_COOKIE_MAC_INVALID) {
		wg_engine_drop(e, NULL, WG_DROP_BAD_MAC);
		return;
	}
	if (loaded && mac != WG_COOKIE_MAC1_VALID_MAC2_VALID) {
		/* Make the sender prove it owns its source address before we spend a
		 * Diffie-Hellman on it. Branches we know come first; the anonymous rest
		 * share a budget. */
		if (wg_known_sources_contains(&e->known_sources, e->peers, from) ||
		    cookie_budget_allows(e, now.mono_ns))
			wg_send_cookie_reply(e, buf, len, wg_le32_read(buf + 4), from, now.mono_ns);
		wg_engine_drop(e, NULL, WG_DROP_UNDER_LOAD);
		return;
	}
	/* A proven source address may still flood: each gets its fair share. */
	if (loaded && !wg_ratelimiter_allow(&e->ratelimiter, from, now.mono_ns)) {
		wg_engine_drop(e, NULL, WG_DROP_RATE_LIMITED);
		return;
	}

	if (type == WG_MSG_HANDSHAKE_INITIATION) {
		e->refused_revoked = NULL;
		ret = wg_noise_consume_initiation(&e->noise, (struct wg_msg_initiation *)buf,
						  now.mono_ns, &hs);
		if (ret == -ENOKEY && e->refused_revoked) {
			refuse(e, e->refused_revoked, WG_DROP_REVOKED, -EPERM, from);
			e->refused_revoked = NULL;
			return;
		}
		if (ret < 0) {
			p = (ret == -EEXIST && hs) ? hs->owner : NULL;
			refuse(e, p, WG_DROP_HANDSHAKE_REFUSED, ret, from);
			return;
		}
		p = hs->owner;
		wg_peer_update_endpoint(e, p, from);
		wg_send_handshake_response(e, p, now);
	} else {
		struct wg_keypair *kp;

		ret = wg_noise_consume_response(&e->noise, (struct wg_msg_response *)buf, &hs);
		if (ret < 0) {
			refuse(e, NULL, WG_DROP_HANDSHAKE_REFUSED, ret, from);
			return;
		}
		p = hs->owner;
		wg_peer_update_endpoint(e, p, from);
		kp = wg_keypair_new();
		if (!kp || wg_noise_begin_session(&e->noise, hs, kp, now.mono_ns) < 0) {
			if (kp)
				wg_keypair_free(kp);
			wg_peer_clear_handshake(e, p);
			return;
		}
		kp->serial = ++e->keypair_serial;
		wg_peer_add_keypair(e, p, kp);
		wg_key_rotation_session_derived(e, p, kp);
		wg_timers_session_derived(p, now.mono_ns);
		wg_timers_handshake_complete(p, now.mono_ns, now.real_ns);
		wg_engine_event(e, WG_EVENT_HANDSHAKE_COMPLETE, p, "initiator");
		/* Data waiting for this session goes now; with none, a keepalive confirms
		 * the session to the responder at once. */
		wg_send_keepalive(e, p, now);
	}
	p->stats.rx_bytes += len;
	wg_timers_any_authenticated_packet_received(p, now.mono_ns);
	wg_timers_any_authenticated_packet_traversal(p, now.mono_ns);
}

static void receive_cookie(struct wg_engine *e, const uint8_t *buf, struct wg_time now)
{
	const struct wg_msg_cookie *msg = (const struct wg_msg_cookie *)buf;
	struct wg_index_entry *ent =
	    wg_index_table_lookup(&e->index, wg_le32_read(&msg->receiver_index));
	struct wg_peer *p;

	if (!ent) {
		wg_engine_drop(e, NULL, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	if (wg_cookie_consume_reply(wg_peer_cookie(ent->peer), msg, now.mono_ns) < 0) {
		wg_engine_drop(e, ent->peer, WG_DROP_BAD_MAC);
		return;
	}
	p = ent->peer;
	/* Our initiation was turned away for want of a cookie. Now that we hold one, send
	 * again at once instead of after REKEY_TIMEOUT, so a site reconnects within a
	 * round trip even while its gateway is under attack. Only a reply sealed to the
	 * mac1 we sent gets here, and only once per initiation. */
	if (ent->kind == WG_INDEX_HANDSHAKE &&
	    p->handshake.state == WG_HANDSHAKE_CREATED_INITIATION && !p->cookie_resent) {
		p->last_sent_handshake = 0;
		wg_send_handshake_initiation(e, p, true, now);
		p->cookie_resent = true;
	}
}

/* The inner packet's true length from its IP header, or 0 if it is not a plausible
 * IPv4/IPv6 packet. The rest of the plaintext is padding. */
static size_t inner_length(const uint8_t *pkt, size_t len, int *family, const uint8_t **src)
{
	if (len >= sizeof(struct iphdr) && (pkt[0] >> 4) == 4) {
		size_t tot = (size_t)pkt[2] << 8 | pkt[3];
		if (tot < sizeof(struct iphdr) || tot > len)
			return 0;
		*family = AF_INET;
		*src = pkt + offsetof(struct iphdr, saddr);
		return tot;
	}
	if (len >= sizeof(struct ip6_hdr) && (pkt[0] >> 4) == 6) {
		size_t tot = sizeof(struct ip6_hdr) + ((size_t)pkt[4] << 8 | pkt[5]);
		if (tot > len)
			return 0;
		*family = AF_INET6;
		*src = pkt + offsetof(struct ip6_hdr, ip6_src);
		return tot;
	}
	return 0;
}

static bool keypair_can_receive(const struct wg_keypair *kp, uint64_t now)
{
	return kp->recv_valid &&
	       !wg_has_expired(kp->birth_ns, wg_seconds(WG_REJECT_AFTER_TIME), now) &&
	       kp->recv_counter.counter < WG_REJECT_AFTER_MESSAGES;
}

/* The initiator rekeys before its session can no longer receive, even when it has
 * nothing to send (paper section 6.2). */
static void keep_key_fresh(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	struct wg_keypair *kp = p->keypairs.current;

	if (kp && kp->send_valid && kp->i_am_the_initiator &&
	    !p->timers.sent_lastminute_handshake &&
	    wg_has_expired(
		kp->birth_ns,
		wg_seconds(WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT),
		now.mono_ns)) {
		p->timers.sent_lastminute_handshake = true;
		wg_send_handshake_initiation(e, p, false, now);
	}
}

/* The session a data message names, if any. Looking up changes nothing in the table, so
 * this is safe where the engine is const (wg_engine_prepare_decrypt). */
static struct wg_keypair *data_keypair(const struct wg_engine *e, const uint8_t *buf)
{
	const struct wg_msg_data *msg = (const struct wg_msg_data *)buf;
	struct wg_index_entry *ent =
	    wg_index_table_lookup((struct wg_index_table *)&e->index, wg_le32_read(&msg->key_idx));

	return ent && ent->kind == WG_INDEX_KEYPAIR ? ent->keypair : NULL;
}

/* A data message after its decryption under kp, wherever that ran: authentic says whether
 * it opened. Everything from here on is the same for the inline and the batched path. */
static void receive_data_opened(struct wg_engine *e, const struct wg_endpoint *from,
				struct wg_keypair *kp, uint8_t *buf, size_t len, uint64_t counter,
				bool authentic, struct wg_time now)
{
	struct wg_msg_data *msg = (struct wg_msg_data *)buf;
	struct wg_peer *p = kp->peer;
	size_t plen = len - WG_DATA_OVERHEAD, inner;
	const uint8_t *src = NULL;
	int family = 0;

	if (!authentic) {
		wg_engine_drop(e, p, WG_DROP_DECRYPT);
		return;
	}
	/* Only now, with the packet authentic, may its counter move the window. */
	if (!wg_replay_check_and_update(&kp->recv_counter, counter)) {
		wg_engine_drop(e, p, WG_DROP_REPLAY);
		return;
	}
	wg_peer_update_endpoint(e, p, from);
	p->stats.rx_bytes += len;
	if (wg_peer_received_with_keypair(e, p, kp)) {
		wg_timers_handshake_complete(p, now.mono_ns, now.real_ns);
		wg_engine_event(e, WG_EVENT_HANDSHAKE_COMPLETE, p, "responder");
		wg_send_staged_packets(e, p, now);
	}
	keep_key_fresh(e, p, now);
	wg_timers_any_authenticated_packet_received(p, now.mono_ns);
	wg_timers_any_authenticated_packet_traversal(p, now.mono_ns);

	if (plen == 0)
		return; /* a keepalive */
	inner = inner_length(msg->encrypted_data, plen, &family, &src);
	if (!inner) {
		wg_engine_drop(e, p, WG_DROP_MALFORMED);
		return;
	}
	/* Cryptokey routing: the source must be one this peer is allowed to speak for. */
	if (wg_allowedips_lookup(&e->allowedips, family, src) != p) {
		wg_engine_drop(e, p, WG_DROP_BAD_SOURCE);
		return;
	}
	wg_timers_data_received(p, now.mono_ns);
	p->stats.rx_packets++;
	wg_relay_route(e, p, msg->encrypted_data, inner, family, now);
}

static void receive_data(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
			 size_t len, struct wg_time now)
{
	struct wg_msg_data *msg = (struct wg_msg_data *)buf;
	struct wg_keypair *kp = data_keypair(e, buf);
	uint64_t counter = wg_le64_read(&msg->counter);
	uint8_t nonce[12] = {0};
	bool authentic;

	if (!kp) {
		wg_engine_drop(e, NULL, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	if (!keypair_can_receive(kp, now.mono_ns)) {
		wg_engine_drop(e, kp->peer, WG_DROP_EXPIRED_KEY);
		return;
	}
	wg_le64_write(nonce + 4, counter);
	authentic = crypto_aead_chacha20poly1305_ietf_decrypt(
			msg->encrypted_data, NULL, NULL, msg->encrypted_data, len - sizeof(*msg),
			NULL, 0, nonce, kp->recv_key) == 0;
	receive_data_opened(e, from, kp, buf, len, counter, authentic, now);
}

bool wg_engine_prepare_decrypt(const struct wg_engine *e, uint8_t *buf, size_t len,
			       struct wg_crypto_job *job, uint64_t now_mono)
{
	const struct wg_msg_data *msg = (const struct wg_msg_data *)buf;
	struct wg_keypair *kp;

	if (len < WG_MESSAGE_MIN_DATA || wg_le32_read(buf) != WG_MSG_DATA)
		return false;
	kp = data_keypair(e, buf);
	if (!kp || !keypair_can_receive(kp, now_mono))
		return false;
	/* No replay pre-check: the window may only move for authentic packets, and a
	 * replay costs the same one decryption here as on the inline path. */
	memcpy(job->key, kp->recv_key, sizeof(job->key));
	job->counter = wg_le64_read(&msg->counter);
	job->data = buf + sizeof(*msg);
	job->len = len - sizeof(*msg);
	job->keypair = kp;
	job->keypair_id = kp->serial;
	job->encrypt = false;
	job->ok = false;
	return true;
}

void wg_engine_receive_decrypted(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
				 size_t len, const struct wg_crypto_job *job, struct wg_time now)
{
	struct wg_keypair *kp;

	/* A job for another buffer is the caller's bug; it must not pass as authentic. */
	if (len < WG_MESSAGE_MIN_DATA || job->encrypt ||
	    job->data != buf + sizeof(struct wg_msg_data) ||
	    job->len != len - sizeof(struct wg_msg_data)) {
		wg_engine_drop(e, NULL, WG_DROP_MALFORMED);
		return;
	}
	/* The session may have ended, and its memory been reused, while the job ran. The
	 * old keypair must not be touched: count on the device alone. */
	kp = data_keypair(e, buf);
	if (!kp || kp != job->keypair || kp->serial != job->keypair_id) {
		wg_engine_drop(e, NULL, WG_DROP_EXPIRED_KEY);
		return;
	}
	if (!keypair_can_receive(kp, now.mono_ns)) {
		wg_engine_drop(e, kp->peer, WG_DROP_EXPIRED_KEY);
		return;
	}
	receive_data_opened(e, from, kp, buf, len, job->counter, job->ok, now);
}

bool wg_engine_is_handshake(const uint8_t *buf, size_t len)
{
	uint32_t type;

	if (len < sizeof(struct wg_msg_header))
		return false;
	type = wg_le32_read(buf);
	return (type == WG_MSG_HANDSHAKE_INITIATION && len == sizeof(struct wg_msg_initiation)) ||
	       (type == WG_MSG_HANDSHAKE_RESPONSE && len == sizeof(struct wg_msg_response));
}

bool wg_engine_source_is_peer(struct wg_engine *e, const struct wg_endpoint *from)
{
	return wg_known_sources_contains(&e->known_sources, e->peers, from);
}

void wg_engine_receive(struct wg_engine *e, const struct wg_endpoint *from, uint8_t *buf,
		       size_t len, struct wg_time now)
{
	uint32_t type;

	if (len < sizeof(struct wg_msg_header)) {
		wg_engine_drop(e, NULL, WG_DROP_MALFORMED);
		return;
	}
	type = wg_le32_read(buf);
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		if (len != sizeof(struct wg_msg_initiation))
			break;
		receive_handshake(e, from, buf, len, type, now);
		return;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (len != sizeof(struct wg_msg_response))
			break;
		receive_handshake(e, from, buf, len, type, now);
		return;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (len != sizeof(struct wg_msg_cookie))
			break;
		receive_cookie(e, buf, now);
		return;
	case WG_MSG_DATA:
		if (len < WG_MESSAGE_MIN_DATA)
			break;
		receive_data(e, from, buf, len, now);
		return;
	}
	wg_engine_drop(e, NULL, WG_DROP_MALFORMED);
}
