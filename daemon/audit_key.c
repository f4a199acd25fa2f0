/* The audit signing key. Stored as WireGuard stores keys (one base64 line of 32 bytes,
 * here the Ed25519 seed) so the same permission rule and reader apply; the public key
 * goes beside it as FILE.pub, also base64, for `vpnctl audit verify`. */
#include "audit_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config_values.h"
#include "log.h"
#include "vpnd/key.h"
#include "vpnd/write_all.h"

#define SEED_LEN crypto_sign_SEEDBYTES

/* A new file holding one base64 line; never replaces an existing one (-EEXIST). */
static int create_key_line(const char *path, const uint8_t key[VPND_KEY_LEN], mode_t mode)
{
	char line[VPND_KEY_B64_LEN + 2];
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	vpnd_key_to_base64(line, key);
	line[VPND_KEY_B64_LEN] = '\n';
	ret = vpnd_write_all(fd, line, VPND_KEY_B64_LEN + 1);
	if (!ret && fchmod(fd, mode) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	sodium_memzero(line, sizeof(line));
	close(fd);
	if (ret)
		unlink(path);
	return ret;
}

/* FILE.pub, replaced atomically so a verifier never reads half a key. */
static void write_public(const char *key_path, const uint8_t pk[VPND_AUDIT_PUBKEY_LEN])
{
	char *pub = NULL, *tmp = NULL, b64[VPND_KEY_B64_LEN + 1], have[VPND_KEY_B64_LEN + 8];
	uint8_t cur[VPND_KEY_LEN];
	ssize_t n = -1;
	int fd, ret;

	vpnd_key_to_base64(b64, pk);
	if (asprintf(&pub, "%s.pub", key_path) < 0 ||
	    asprintf(&tmp, "%s.pub.tmp%ld", key_path, (long)getpid()) < 0) {
		log_warn("audit key %s: out of memory writing its .pub; the public key is %s",
			 key_path, b64);
		goto out;
	}
	fd = open(pub, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, have, sizeof(have) - 1);
		close(fd);
	}
	if (n > 0) {
		have[n] = '\0';
		if (vpnd_key_from_base64(cur, have) && memcmp(cur, pk, VPND_KEY_LEN) == 0)
			goto out;
	}
	unlink(tmp);
	ret = create_key_line(tmp, pk, 0644);
	if (!ret && rename(tmp, pub) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		log_warn("audit key %s: cannot write %s: %s; verifiers need the public key %s",
			 key_path, pub, strerror(-ret), b64);
		goto out;
	}
	log_notice("audit public key %s written to %s", b64, pub);
out:
	free(pub);
	free(tmp);
}

int vpnd_audit_key_load(struct vpnd_audit_key *k, const char *path)
{
	unsigned char *seed;
	char *why = NULL;
	int ret = 0;

	memset(k, 0, sizeof(*k));
	k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	seed = sodium_malloc(SEED_LEN);
	if (!k->sk || !seed) {
		ret = -ENOMEM;
		log_err("audit key %s: out of memory", path);
		goto out;
	}
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		randombytes_buf(seed, SEED_LEN);
		ret = create_key_line(path, seed, 0600);
		if (ret == 0)
			log_notice("audit signing key created in %s", path);
		else if (ret != -EEXIST) {
			log_err("audit-key-file %s: cannot create it: %s", path, strerror(-ret));
			goto out;
		}
	}
	/* Read back even what we just wrote: the file is the truth from now on. */
	if (config_read_key_file(path, seed, &why) < 0) {
		ret = -EINVAL;
		log_err("audit-key-file: %s", why ? why : "out of memory");
		goto out;
	}
	ret = 0;
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	vpnd_audit_fingerprint(k->fpr, k->pk);
	sodium_mprotect_noaccess(k->sk);
	write_public(path, k->pk);
out:
	free(why);
	sodium_free(seed); /* wipes */
	if (ret)
		vpnd_audit_key_free(k);
	return ret;
}

void vpnd_audit_key_sign(const struct vpnd_audit_key *k, uint8_t sig[VPND_AUDIT_SIG_LEN],
			 const uint8_t *msg, size_t len)
{
	sodium_mprotect_readonly(k->sk);
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
	sodium_mprotect_noaccess(k->sk);
}

void vpnd_audit_key_free(struct vpnd_audit_key *k)
{
	if (k->sk) {
		sodium_mprotect_readwrite(k->sk);
		sodium_free(k->sk);
	}
	sodium_memzero(k, sizeof(*k));
}
