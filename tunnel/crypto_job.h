/* One transport message's symmetric cryptography, detached from the engine so that a
 * batch of them can run on several cores (worker_pool.h): the engine decides keys,
 * counters and order on its own thread and hands out jobs that touch only their own
 * buffer and their own copy of the key. */
#ifndef VPND_TUNNEL_CRYPTO_JOB_H
#define VPND_TUNNEL_CRYPTO_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_crypto_job {
	uint8_t key[32];     /* a copy: the keypair may be replaced before the job runs */
	uint64_t counter;    /* the nonce */
	uint8_t *data;	     /* encrypted or decrypted in place */
	size_t len;	     /* encrypt: plaintext length (tag appended); decrypt: with tag */
	const void *keypair; /* decrypt: which keypair it was for, checked afterwards */
	uint64_t keypair_id;
	bool encrypt;
	bool ok; /* the result: decryption authenticated (always true for encryption) */
};

/* Run the job; its key is wiped afterwards. */
void wg_crypto_job_run(struct wg_crypto_job *j);
/* The same over jobs[i], for wg_pool_run. */
void wg_crypto_job_run_at(void *jobs, unsigned i);

#endif
