/* A fork-join pool for the symmetric cryptography of one batch of packets. The caller
 * hands it n independent jobs and works on them too; the call returns when all are
 * done. Everything else in the engine stays on the caller's thread, so the order in
 * which packets leave, and every piece of protocol state, is decided there alone: the
 * workers only encrypt or decrypt buffers nobody else touches meanwhile. */
#ifndef VPND_TUNNEL_WORKER_POOL_H
#define VPND_TUNNEL_WORKER_POOL_H

struct wg_pool;

/* At most this many threads, the caller included. */
#define WG_POOL_MAX_THREADS 64
/* What a worker thread is called (/proc/PID/task/TID/comm). */
#define WG_POOL_THREAD_NAME "wg-crypto"

/* threads: how many run jobs, the caller included (1 = the caller alone, no thread is
 * started). thread_init (may be NULL) runs first in every worker, e.g. to confine it to
 * the few system calls it needs; a negative return fails the pool. NULL with errno. */
struct wg_pool *wg_pool_new(unsigned threads, int (*thread_init)(void));
void wg_pool_free(struct wg_pool *p);
unsigned wg_pool_threads(const struct wg_pool *p);
/* Run fn(ctx, i) for every i in [0, n). Below a handful of jobs the caller runs them
 * alone: waking a thread costs more than it saves. */
void wg_pool_run(struct wg_pool *p, unsigned n, void (*fn)(void *ctx, unsigned i), void *ctx);

#endif
