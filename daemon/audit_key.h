/* The audit log's Ed25519 signing key: loaded from its file, or created there (mode 0600)
 * with its public half beside it as FILE.pub for verifiers. The secret lives in
 * sodium_malloc'd memory, inaccessible except while signing, and is wiped when freed. */
#ifndef VPND_DAEMON_AUDIT_KEY_H
#define VPND_DAEMON_AUDIT_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "vpnd/audit.h"

struct vpnd_audit_key {
	unsigned char *sk; /* crypto_sign_SECRETKEYBYTES, guarded */
	uint8_t pk[VPND_AUDIT_PUBKEY_LEN];
	uint8_t fpr[VPND_AUDIT_FPR_LEN];
};

/* Load path, or create it if it does not exist; (re)write path.pub if it is missing or
 * does not match. 0, or -errno after log_err saying what is wrong with which file. */
int vpnd_audit_key_load(struct vpnd_audit_key *k, const char *path);
void vpnd_audit_key_sign(const struct vpnd_audit_key *k, uint8_t sig[VPND_AUDIT_SIG_LEN],
			 const uint8_t *msg, size_t len);
/* Wipes and frees; a zeroed or already freed key is fine. */
void vpnd_audit_key_free(struct vpnd_audit_key *k);

#endif
