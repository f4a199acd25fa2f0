/* ChaCha20-Poly1305 of one transport message (see crypto_job.h). */
#include "crypto_job.h"

#include <string.h>

#include <sodium.h>

void wg_crypto_job_run(struct wg_crypto_job *j)
{
	uint8_t nonce[12] = {0};
	unsigned long long out;

	for (int b = 0; b < 8; b++)
		nonce[4 + b] = (uint8_t)(j->counter >> (8 * b));
	if (j->encrypt) {
		crypto_aead_chacha20poly1305_ietf_encrypt(j->data, &out, j->data, j->len, NULL, 0,
							  NULL, nonce, j->key);
		j->ok = true;
	} else {
		j->ok = j->len >= crypto_aead_chacha20poly1305_ietf_ABYTES &&
			crypto_aead_chacha20poly1305_ietf_decrypt(
			    j->data, &out, NULL, j->data, j->len, NULL, 0, nonce, j->key) == 0;
	}
	sodium_memzero(j->key, sizeof(j->key));
}

void wg_crypto_job_run_at(void *jobs, unsigned i)
{
	wg_crypto_job_run(&((struct wg_crypto_job *)jobs)[i]);
}
