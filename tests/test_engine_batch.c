/* The engine's hooks for batched, multi-core cryptography: messages the daemon seals
 * itself (io.send_unsealed) and messages opened off the engine's thread
 * (wg_engine_prepare_decrypt, a crypto job on a worker pool, wg_engine_receive_decrypted)
 * behave exactly as the inline path: the same packets delivered in the same order with
 * the same counters, a session replaced while the job ran is a drop, a forgery is a
 * decryption failure that moves no window, a replay is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/crypto_job.h"
#include "tunnel/endpoint.h"
#include "tunnel/worker_pool.h"

static bool batch_mode; /* engines made while true seal through batch_send_unsealed */
static int batch_send_unsealed(void *ctx, struct wg_endpoint *to, uint8_t *msg, size_t len,
			       const uint8_t key[32], uint64_t counter);
#define PAIR_SEND_UNSEALED (batch_mode ? batch_send_unsealed : NULL)
#include "engine_pair.h"

static struct wg_pool *pool;

/* Messages queued unsealed in a site's out[], sealed by seal_pending() on the pool before
 * anything moves them (as the daemon seals its send batch before the flush). */
static struct wg_crypto_job pending[2 * PAIR_QUEUE];
static unsigned n_pending, unsealed_calls;
/* What the batched receive did: prepared messages, and the largest batch of jobs. */
static unsigned prepared_total, largest_job_batch;

static int batch_send_unsealed(void *ctx, struct wg_endpoint *to, uint8_t *msg, size_t len,
			       const uint8_t key[32], uint64_t counter)
{
	struct site *s = ctx;
	struct datagram *d;
	struct wg_crypto_job *j;

	(void)to;
	assert_true(len >= 16);
	assert_int_equal(msg[0], WG_MSG_DATA);
	if (len + 16 > sizeof(s->out[0].buf) || s->n_out == PAIR_QUEUE)
		return -ENOBUFS;
	assert_true(n_pending < sizeof(pending) / sizeof(pending[0]));
	unsealed_calls++;
	s->sent_by_type[WG_MSG_DATA]++;
	if (s->blackhole)
		return 0;
	d = &s->out[s->n_out++];
	memcpy(d->buf, msg, len);
	d->len = len + 16;
	j = &pending[n_pending++];
	*j = (struct wg_crypto_job){
	    .counter = counter, .data = d->buf + 16, .len = len - 16, .encrypt = true};
	memcpy(j->key, key, 32);
	return 0;
}

static void seal_pending(void)
{
	wg_pool_run(pool, n_pending, wg_crypto_job_run_at, pending);
	for (unsigned i = 0; i < n_pending; i++)
		assert_true(pending[i].ok);
	n_pending = 0;
}

/* One receive batch the daemon's way: prepare all, open all on the pool, then handle
 * each in order. */
static void receive_batch(struct wg_engine *e, const struct wg_endpoint *from,
			  struct datagram *batch, unsigned n, struct wg_time now)
{
	static struct wg_crypto_job jobs[PAIR_QUEUE];
	int job_of[PAIR_QUEUE];
	unsigned n_jobs = 0;

	for (unsigned i = 0; i < n; i++) {
		job_of[i] = -1;
		if (wg_engine_prepare_decrypt(e, batch[i].buf, batch[i].len, &jobs[n_jobs],
					      now.mono_ns))
			job_of[i] = (int)n_jobs++;
	}
	prepared_total += n_jobs;
	if (n_jobs > largest_job_batch)
		largest_job_batch = n_jobs;
	wg_pool_run(pool, n_jobs, wg_crypto_job_run_at, jobs);
	for (unsigned i = 0; i < n; i++) {
		if (job_of[i] >= 0)
			wg_engine_receive_decrypted(e, from, batch[i].buf, batch[i].len,
						    &jobs[job_of[i]], now);
		else
			wg_engine_receive(e, from, batch[i].buf, batch[i].len, now);
	}
}

/* Move everything in flight both ways until nothing is left: each site's queue as one
 * batch (batched) or one datagram at a time through wg_engine_receive. */
static void pump(struct pair *p, bool batched)
{
	static struct datagram batch[PAIR_QUEUE];

	for (int round = 0; round < 64; round++) {
		struct site *sites[2] = {&p->a, &p->b};
		bool moved = false;

		for (int i = 0; i < 2; i++) {
			struct site *s = sites[i];
			unsigned n;

			seal_pending();
			n = s->n_out;
			if (!n)
				continue;
			memcpy(batch, s->out, n * sizeof(batch[0]));
			s->n_out = 0;
			moved = true;
			if (batched)
				receive_batch(s->other->engine, &s->addr, batch, n, p->now);
			else
				for (unsigned k = 0; k < n; k++)
					wg_engine_receive(s->other->engine, &s->addr, batch[k].buf,
							  batch[k].len, p->now);
		}
		if (!moved)
			return;
	}
	fail_msg("traffic did not settle");
}

/* Packets of many sizes both ways, in bursts larger than the pool's threshold. */
static void scenario(struct pair *p, bool seal_outside, bool open_outside)
{
	uint8_t pkt[1500];

	batch_mode = seal_outside;
	pair_init(p);
	batch_mode = false;
	send_from(p, &p->a, 1);
	pump(p, open_outside);
	for (unsigned round = 0; round < 5; round++) {
		for (unsigned i = 0; i < 40; i++) {
			size_t len = 20 + (round * 331 + i * 37) % 1380;
			wg_engine_send(p->a.engine, pkt,
				       make_ipv4(pkt, len, "10.1.0.5", "10.2.0.9", (uint8_t)i),
				       p->now);
		}
		for (unsigned i = 0; i < 30; i++) {
			size_t len = 20 + (round * 97 + i * 53) % 1380;
			wg_engine_send(
			    p->b.engine, pkt,
			    make_ipv4(pkt, len, "10.2.0.5", "10.1.0.9", (uint8_t)(i + 100)),
			    p->now);
		}
		pump(p, open_outside);
		pair_advance(p, 1);
		wg_engine_tick(p->a.engine, p->now);
		wg_engine_tick(p->b.engine, p->now);
		pump(p, open_outside);
	}
}

static void assert_same_site(const struct site *x, const struct site *y)
{
	assert_int_equal(x->n_delivered, y->n_delivered);
	for (unsigned i = 0; i < x->n_delivered; i++) {
		assert_int_equal(x->delivered[i].len, y->delivered[i].len);
		assert_memory_equal(x->delivered[i].buf, y->delivered[i].buf, x->delivered[i].len);
	}
	assert_int_equal(x->peer->stats.rx_packets, y->peer->stats.rx_packets);
	assert_int_equal(x->peer->stats.tx_packets, y->peer->stats.tx_packets);
	/* Underlay bytes: the sealed size is counted, tag included, as inline. */
	assert_int_equal(x->peer->stats.tx_bytes, y->peer->stats.tx_bytes);
	assert_int_equal(x->peer->stats.rx_bytes, y->peer->stats.rx_bytes);
	for (unsigned r = 0; r < WG_DROP__COUNT; r++) {
		assert_int_equal(x->peer->stats.drops[r], 0);
		assert_int_equal(y->peer->stats.drops[r], 0);
	}
}

/* Sealing and opening outside the engine, in every combination with the inline path,
 * deliver what the inline path delivers. */
static void test_same_as_inline(void **state)
{
	static struct pair plain, other;
	(void)state;

	scenario(&plain, false, false);
	assert_int_equal(plain.b.n_delivered, 201);
	assert_int_equal(plain.a.n_delivered, 150);
	for (int combo = 1; combo < 4; combo++) {
		bool seal_outside = combo & 1, open_outside = combo & 2;

		unsealed_calls = prepared_total = largest_job_batch = 0;
		scenario(&other, seal_outside, open_outside);
		assert_same_site(&plain.a, &other.a);
		assert_same_site(&plain.b, &other.b);
		if (seal_outside)
			assert_true(unsealed_calls >= 351);
		else
			assert_int_equal(unsealed_calls, 0);
		if (open_outside) {
			assert_true(prepared_total >= 351);
			assert_true(largest_job_batch >= 30); /* the pool had work to share */
		}
		pair_free(&other);
	}
	pair_free(&plain);
}

/* A established session; a's next data packet is left in a.out[0]. */
static void established(struct pair *p)
{
	pair_init(p);
	send_from(p, &p->a, 1);
	pump(p, false);
	assert_int_equal(p->b.n_delivered, 1);
	send_from(p, &p->a, 2);
	assert_int_equal(p->a.n_out, 1);
}

static uint64_t device_drops(const struct site *s, enum wg_drop_reason why)
{
	return wg_engine_stats(s->engine)->drops[why];
}

/* The session named by a job must be the very one the engine still has: same pointer,
 * same serial, else the message is dropped unread. */
static void test_keypair_replaced(void **state)
{
	static struct pair p;
	struct datagram d;
	struct wg_crypto_job job;
	const void *kp;
	(void)state;

	established(&p);
	d = p.a.out[0];
	p.a.n_out = 0;
	assert_true(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	wg_crypto_job_run(&job);
	assert_true(job.ok);
	/* another keypair at the same address: its serial differs */
	job.keypair_id++;
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(device_drops(&p.b, WG_DROP_EXPIRED_KEY), 1);
	job.keypair_id--;
	/* another keypair */
	kp = job.keypair;
	job.keypair = &job;
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(device_drops(&p.b, WG_DROP_EXPIRED_KEY), 2);
	assert_int_equal(p.b.n_delivered, 1);
	/* the job as prepared is taken */
	job.keypair = kp;
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	assert_int_equal(p.b.delivered[1].buf[99], 2);

	/* the session really ends between prepare and receive_decrypted: a new preshared
	 * key wipes it (and a new handshake makes another) */
	send_from(&p, &p.a, 3);
	d = p.a.out[0];
	p.a.n_out = 0;
	assert_true(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	wg_crypto_job_run(&job);
	uint8_t psk[32] = {9};
	wg_engine_peer_set_preshared_key(p.b.engine, p.b.peer, psk);
	wg_engine_peer_set_preshared_key(p.a.engine, p.a.peer, psk);
	pair_advance(&p, WG_REKEY_TIMEOUT + 1); /* one initiation per REKEY_TIMEOUT */
	send_from(&p, &p.a, 4);			/* staged, starts a handshake */
	pump(&p, true);
	assert_int_equal(p.b.n_delivered, 3);
	assert_int_equal(p.b.delivered[2].buf[99], 4);
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(device_drops(&p.b, WG_DROP_EXPIRED_KEY), 3);
	assert_int_equal(p.b.n_delivered, 3);

	/* a session past REJECT_AFTER_TIME: not prepared, and a job prepared before it
	 * expired is dropped as the inline path drops it */
	send_from(&p, &p.a, 5);
	d = p.a.out[0];
	p.a.n_out = 0;
	assert_true(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	wg_crypto_job_run(&job);
	pair_advance(&p, WG_REJECT_AFTER_TIME + 1);
	assert_false(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &(struct wg_crypto_job){0},
					       p.now.mono_ns));
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_EXPIRED_KEY], 1);
	assert_int_equal(p.b.n_delivered, 3);
	pair_free(&p);
}

/* A forged message fails its job and counts as a decryption failure; its counter does
 * not enter the window, so the genuine message with that counter still gets in. */
static void test_tampered(void **state)
{
	static struct pair p;
	struct datagram genuine, forged;
	struct wg_crypto_job job;
	(void)state;

	established(&p);
	genuine = p.a.out[0];
	p.a.n_out = 0;
	forged = genuine;
	forged.buf[forged.len - 20] ^= 0x01;
	assert_true(
	    wg_engine_prepare_decrypt(p.b.engine, forged.buf, forged.len, &job, p.now.mono_ns));
	wg_crypto_job_run(&job);
	assert_false(job.ok);
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, forged.buf, forged.len, &job, p.now);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_DECRYPT], 1);
	assert_int_equal(device_drops(&p.b, WG_DROP_DECRYPT), 1);
	assert_int_equal(p.b.n_delivered, 1);

	receive_batch(p.b.engine, &p.a.addr, &genuine, 1, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_REPLAY], 0);
	pair_free(&p);
}

/* A counter seen before is dropped, in a later batch or twice in one. */
static void test_replay(void **state)
{
	static struct pair p;
	struct datagram twice[2];
	struct datagram d;
	(void)state;

	established(&p);
	d = p.a.out[0];
	p.a.n_out = 0;
	twice[0] = d;
	receive_batch(p.b.engine, &p.a.addr, &d, 1, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	d = twice[0];
	receive_batch(p.b.engine, &p.a.addr, &d, 1, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_REPLAY], 1);

	send_from(&p, &p.a, 7);
	twice[0] = twice[1] = p.a.out[0];
	p.a.n_out = 0;
	prepared_total = 0;
	receive_batch(p.b.engine, &p.a.addr, twice, 2, p.now);
	assert_int_equal(prepared_total, 2);
	assert_int_equal(p.b.n_delivered, 3);
	assert_int_equal(p.b.peer->stats.drops[WG_DROP_REPLAY], 2);
	pair_free(&p);
}

/* prepare reads only, and declines what is not transport data for a live session; the
 * inline path then handles (and counts) it as always. */
static void test_prepare_declines(void **state)
{
	static struct pair p;
	struct wg_device_stats before;
	struct wg_crypto_job job;
	struct datagram d, copy;
	(void)state;

	established(&p);
	d = p.a.out[0];
	p.a.n_out = 0;
	copy = d;
	before = *wg_engine_stats(p.b.engine);
	assert_true(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	assert_memory_equal(d.buf, copy.buf, d.len); /* nothing decrypted yet */
	assert_memory_equal(&before, wg_engine_stats(p.b.engine), sizeof(before));
	assert_int_equal(job.len, d.len - 16);
	assert_ptr_equal(job.data, d.buf + 16);
	assert_false(job.encrypt);
	sodium_memzero(job.key, sizeof(job.key));

	/* too short, a handshake message, an unknown index */
	assert_false(wg_engine_prepare_decrypt(p.b.engine, d.buf, 31, &job, p.now.mono_ns));
	d.buf[0] = WG_MSG_HANDSHAKE_INITIATION;
	assert_false(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	d = copy;
	d.buf[4] ^= 0xff;
	assert_false(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	wg_engine_receive(p.b.engine, &p.a.addr, d.buf, d.len, p.now);
	assert_int_equal(device_drops(&p.b, WG_DROP_UNKNOWN_INDEX), 1);

	/* a job for another buffer is refused, never taken as authentic */
	d = copy;
	assert_true(wg_engine_prepare_decrypt(p.b.engine, d.buf, d.len, &job, p.now.mono_ns));
	wg_crypto_job_run(&job);
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, copy.buf, copy.len, &job, p.now);
	assert_int_equal(device_drops(&p.b, WG_DROP_MALFORMED), 1);
	assert_int_equal(p.b.n_delivered, 1);
	wg_engine_receive_decrypted(p.b.engine, &p.a.addr, d.buf, d.len, &job, p.now);
	assert_int_equal(p.b.n_delivered, 2);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_as_inline),   cmocka_unit_test(test_keypair_replaced),
	    cmocka_unit_test(test_tampered),	     cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_prepare_declines),
	};
	int ret;

	(void)site_count_events;
	(void)pair_run;
	pool = wg_pool_new(3, NULL);
	if (!pool)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	wg_pool_free(pool);
	return ret;
}
