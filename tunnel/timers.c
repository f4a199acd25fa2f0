/* Protocol timers as deadlines (WireGuard paper section 6; the Linux module's timers.c).
 * Each event function below arms or disarms deadlines; wg_timers_run fires the expired
 * ones. A deadline of 0 means "not armed". */
#include <sodium.h>

#include "engine_impl.h"
#include "timers.h"

static uint64_t jitter(void)
{
	return randombytes_uniform((uint32_t)WG_REKEY_TIMEOUT_JITTER_MAX);
}

static void arm(uint64_t *deadline, uint64_t at)
{
	*deadline = at ? at : 1;
}

void wg_timers_data_sent(struct wg_peer *p, uint64_t now)
{
	/* No answer to our data within KEEPALIVE + REKEY_TIMEOUT: the session is probably
	 * dead on the other side, so start a new handshake. */
	if (!p->timers.new_handshake)
		arm(&p->timers.new_handshake,
		    now + wg_seconds(WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT) + jitter());
}

void wg_timers_data_received(struct wg_peer *p, uint64_t now)
{
	/* Acknowledge received data with a keepalive if we send nothing within 10 s. */
	if (!p->timers.send_keepalive)
		arm(&p->timers.send_keepalive, now + wg_seconds(WG_KEEPALIVE_TIMEOUT));
	else
		p->timers.need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_peer *p, uint64_t now)
{
	(void)now;
	p->timers.send_keepalive = 0;
}

void wg_timers_any_authenticated_packet_received(struct wg_peer *p, uint64_t now)
{
	(void)now;
	p->timers.new_handshake = 0;
}

void wg_timers_handshake_initiated(struct wg_peer *p, uint64_t now)
{
	arm(&p->timers.retransmit_handshake, now + wg_seconds(WG_REKEY_TIMEOUT) + jitter());
}

void wg_timers_handshake_complete(struct wg_peer *p, uint64_t now, uint64_t real_now)
{
	(void)now;
	p->timers.retransmit_handshake = 0;
	p->timers.handshake_attempts = 0;
	p->timers.sent_lastminute_handshake = false;
	p->stats.handshakes++;
	p->stats.last_handshake_real_ns = real_now;
}

void wg_timers_session_derived(struct wg_peer *p, uint64_t now)
{
	arm(&p->timers.zero_key_material, now + wg_seconds(WG_REJECT_AFTER_TIME * 3));
}

void wg_timers_any_authenticated_packet_traversal(struct wg_peer *p, uint64_t now)
{
	if (p->persistent_keepalive)
		arm(&p->timers.persistent_keepalive, now + wg_seconds(p->persistent_keepalive));
}

void wg_timers_stop(struct wg_peer *p)
{
	p->timers.retransmit_handshake = 0;
	p->timers.send_keepalive = 0;
	p->timers.new_handshake = 0;
	p->timers.zero_key_material = 0;
	p->timers.persistent_keepalive = 0;
}

static bool expired(uint64_t *deadline, uint64_t now)
{
	if (!*deadline || *deadline > now)
		return false;
	*deadline = 0;
	return true;
}

void wg_timers_run(struct wg_engine *e, struct wg_peer *p, uint64_t now, uint64_t real_now)
{
	struct wg_time t = {.mono_ns = now, .real_ns = real_now};

	if (expired(&p->timers.retransmit_handshake, now)) {
		if (p->timers.handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
			/* 90 s without an answer: stop trying until there is traffic again,
			 * and forget the queued packets, which are stale by now. */
			wg_engine_event(e, WG_EVENT_PEER_UNREACHABLE, p, NULL);
			p->timers.send_keepalive = 0;
			wg_peer_purge_staged(p);
			if (!p->timers.zero_key_material)
				arm(&p->timers.zero_key_material,
				    now + wg_seconds(WG_REJECT_AFTER_TIME * 3));
		} else {
			p->timers.handshake_attempts++;
			/* The route to the peer may have changed: let the kernel pick a new
			 * source address. */
			p->endpoint.has_src = false;
			/* No answer: with a next key set, the peer may hold the other one. */
			wg_key_rotation_pick(p, true);
			wg_send_handshake_initiation(e, p, true, t);
		}
	}
	if (expired(&p->timers.send_keepalive, now)) {
		wg_send_keepalive(e, p, t);
		if (p->timers.need_another_keepalive) {
			p->timers.need_another_keepalive = false;
			arm(&p->timers.send_keepalive, now + wg_seconds(WG_KEEPALIVE_TIMEOUT));
		}
	}
	if (expired(&p->timers.new_handshake, now)) {
		p->endpoint.has_src = false;
		wg_send_handshake_initiation(e, p, false, t);
	}
	if (expired(&p->timers.zero_key_material, now)) {
		wg_peer_clear_keypairs(e, p);
		wg_peer_clear_handshake(e, p);
		wg_engine_event(e, WG_EVENT_KEYS_ZEROED, p, NULL);
	}
	if (expired(&p->timers.persistent_keepalive, now) && p->persistent_keepalive)
		wg_send_keepalive(e, p, t);
}

uint64_t wg_timers_next_deadline(const struct wg_peer *p)
{
	const uint64_t d[] = {p->timers.retransmit_handshake, p->timers.send_keepalive,
			      p->timers.new_handshake, p->timers.zero_key_material,
			      p->timers.persistent_keepalive};
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && d[i] < best)
			best = d[i];
	return best;
}
