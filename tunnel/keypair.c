/* Keypairs live on the heap so that the three slots of a peer can be rotated by
 * moving pointers; every byte is wiped before the memory is returned. */
#include "keypair.h"

#include <stdlib.h>

#include <sodium.h>

struct wg_keypair *wg_keypair_new(void)
{
	return calloc(1, sizeof(struct wg_keypair));
}

void wg_keypair_free(struct wg_keypair *kp)
{
	if (!kp)
		return;
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}
