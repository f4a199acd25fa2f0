/* The fork-join pool (see worker_pool.h). Jobs are claimed a few at a time from one
 * atomic counter; workers sleep on a condition variable between batches, so an idle
 * gateway spends nothing on them. */
#include "worker_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Jobs claimed per grab: fewer atomic operations, still an even spread. */
#define CHUNK 4
/* Fewer jobs than this run on the caller alone. */
#define MIN_PARALLEL 8
#define MAX_THREADS  WG_POOL_MAX_THREADS

struct wg_pool {
	pthread_t threads[MAX_THREADS];
	unsigned n_workers;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	uint64_t generation; /* bumped for each batch */
	unsigned busy;	     /* workers still inside the current batch */
	bool stopping;
	int (*thread_init)(void);
	int init_failed;
	unsigned started;
	/* the current batch */
	void (*fn)(void *ctx, unsigned i);
	void *ctx;
	unsigned n;
	atomic_uint next;
};

static void run_jobs(struct wg_pool *p)
{
	for (;;) {
		unsigned first = atomic_fetch_add_explicit(&p->next, CHUNK, memory_order_relaxed);
		if (first >= p->n)
			return;
		unsigned last = first + CHUNK < p->n ? first + CHUNK : p->n;
		for (unsigned i = first; i < last; i++)
			p->fn(p->ctx, i);
	}
}

static void *worker_main(void *arg)
{
	struct wg_pool *p = arg;
	uint64_t seen = 0;
	int init;

	/* Named, so that ps, top and the tests tell the workers from the main thread. */
	pthread_setname_np(pthread_self(), WG_POOL_THREAD_NAME);
	init = p->thread_init ? p->thread_init() : 0;

	pthread_mutex_lock(&p->lock);
	if (init < 0)
		p->init_failed = init;
	p->started++;
	pthread_cond_broadcast(&p->done);
	if (init < 0) {
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	for (;;) {
		while (!p->stopping && p->generation == seen)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		seen = p->generation;
		pthread_mutex_unlock(&p->lock);
		run_jobs(p);
		pthread_mutex_lock(&p->lock);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct wg_pool *wg_pool_new(unsigned threads, int (*thread_init)(void))
{
	struct wg_pool *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->thread_init = thread_init;
	for (unsigned i = 0; i + 1 < threads; i++) {
		if ((err = pthread_create(&p->threads[i], NULL, worker_main, p)) != 0) {
			wg_pool_free(p);
			errno = err;
			return NULL;
		}
		p->n_workers++;
	}
	/* Wait for every worker's own setup, so a failed one fails the pool now rather
	 * than leaving it a thread short. */
	pthread_mutex_lock(&p->lock);
	while (p->started < p->n_workers)
		pthread_cond_wait(&p->done, &p->lock);
	err = p->init_failed;
	pthread_mutex_unlock(&p->lock);
	if (err < 0) {
		wg_pool_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void wg_pool_free(struct wg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_workers; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

unsigned wg_pool_threads(const struct wg_pool *p)
{
	return p->n_workers + 1;
}

void wg_pool_run(struct wg_pool *p, unsigned n, void (*fn)(void *ctx, unsigned i), void *ctx)
{
	if (!p || p->n_workers == 0 || n < MIN_PARALLEL) {
		for (unsigned i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	p->busy = p->n_workers;
	p->generation++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);

	run_jobs(p);

	pthread_mutex_lock(&p->lock);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
