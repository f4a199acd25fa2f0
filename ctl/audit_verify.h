/* Verifying audit log files (format: include/vpnd/audit.h): the hash chain across the
 * files given in order, every checkpoint's signature, and how the log ends. It hashes
 * the exact bytes of each line and reads nothing of a line but its chain fields. */
#ifndef VPND_CTL_AUDIT_VERIFY_H
#define VPND_CTL_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnd/audit.h"

struct audit_key {
	uint8_t pk[VPND_AUDIT_PUBKEY_LEN];
	uint8_t fpr[VPND_AUDIT_FPR_LEN];
};

/* Something worth knowing that is not a failure (a run that crashed, earlier files not
 * given). line 0: the file as a whole. */
typedef void (*audit_note_fn)(void *ctx, const char *file, unsigned long line, const char *msg);

struct audit_verify_result {
	/* On success: */
	uint64_t records; /* lines verified (signed by a checkpoint, directly or by chain) */
	uint64_t unsigned_records; /* with live: lines after the last checkpoint */
	uint64_t first_seq, last_seq;
	uint8_t head[VPND_AUDIT_HASH_LEN]; /* hash of the last line */
	const char *checkpoint_file;	   /* the last checkpoint, NULL if none */
	unsigned long checkpoint_line;
	char checkpoint_time[VPND_AUDIT_TIME_LEN + 1];
	/* On failure: where and what. line 0: the file as a whole. */
	const char *file;
	unsigned long line;
	char message[512];
};

/* Check files[0..n) as one chain, in order. With live, a log that ends after its last
 * checkpoint (a running daemon) is accepted and the lines after it are counted as
 * unsigned; otherwise the last line must be a closing checkpoint. Returns 0 when
 * everything verified, 1 when the log is not intact (res says where: the first line
 * that was edited, removed or reordered), -1 when a file cannot be read. */
int audit_verify(const char *const *files, size_t n, const struct audit_key *keys, size_t n_keys,
		 bool live, audit_note_fn note, void *ctx, struct audit_verify_result *res);

/* A public key file: one base64 line (as vpnd writes KEYFILE.pub). 0, or -1 with why. */
int audit_key_read(const char *path, struct audit_key *key, char *why, size_t whylen);

#endif
