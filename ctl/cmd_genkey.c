/* vpnctl genkey, genpsk and pubkey: keys in WireGuard's encoding (include/vpnd/key.h),
 * so `wg pubkey` and `vpnctl pubkey` agree on every key. Secrets are written with
 * write(2), never through stdio's buffers that we cannot wipe, and wiped afterwards. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "subcommands.h"
#include "vpnd/key.h"
#include "vpnd/write_all.h"

/* Input beyond one key and some white space is not a key. */
#define PUBKEY_INPUT_MAX 256

/* The key as one base64 line on stdout; the text is wiped before returning. */
static int print_key(const uint8_t key[VPND_KEY_LEN])
{
	char line[VPND_KEY_B64_LEN + 2];
	int ret = 0;

	vpnd_key_to_base64(line, key);
	line[VPND_KEY_B64_LEN] = '\n';
	if (vpnd_write_all(STDOUT_FILENO, line, VPND_KEY_B64_LEN + 1) < 0) {
		vpnctl_error("cannot write to stdout: %s", strerror(errno));
		ret = 1;
	}
	sodium_memzero(line, sizeof(line));
	return ret;
}

/* As wg does: a secret about to land in a file others can read deserves a word. */
static void warn_if_world_readable(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		vpnctl_error("warning: writing a secret key to a world-accessible file "
			     "(consider umask 077)");
}

static int gen(int argc, char *argv[], bool clamp)
{
	uint8_t key[VPND_KEY_LEN];
	int ret;

	if (argc != 1) {
		vpnctl_error("usage: vpnctl %s", argv[0]);
		return 1;
	}
	warn_if_world_readable();
	randombytes_buf(key, sizeof(key));
	if (clamp)
		vpnd_key_clamp(key);
	ret = print_key(key);
	sodium_memzero(key, sizeof(key));
	return ret;
}

int genkey_main(int argc, char *argv[], const char *sock)
{
	(void)sock;
	return gen(argc, argv, true);
}

int genpsk_main(int argc, char *argv[], const char *sock)
{
	(void)sock;
	return gen(argc, argv, false);
}

int pubkey_main(int argc, char *argv[], const char *sock)
{
	char input[PUBKEY_INPUT_MAX + 1];
	uint8_t priv[VPND_KEY_LEN], pub[VPND_KEY_LEN];
	size_t len = 0;
	int ret = 1;

	(void)sock;
	if (argc != 1) {
		vpnctl_error("usage: vpnctl %s < PRIVATE-KEY-FILE", argv[0]);
		return 1;
	}
	while (len <= PUBKEY_INPUT_MAX) {
		ssize_t n = read(STDIN_FILENO, input + len, PUBKEY_INPUT_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vpnctl_error("%s: cannot read stdin: %s", argv[0], strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PUBKEY_INPUT_MAX) {
		vpnctl_error("%s: input is not a key: more than %d bytes", argv[0],
			     PUBKEY_INPUT_MAX);
		goto out;
	}
	input[len] = '\0';
	if (memchr(input, '\0', len) || !vpnd_key_from_base64(priv, input)) {
		vpnctl_error("%s: input is not a base64 private key (%d characters of base64 "
			     "ending in '=')",
			     argv[0], VPND_KEY_B64_LEN);
		goto out;
	}
	/* X25519 clamps the scalar itself: unclamped input gives wg's answer too. */
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0) {
		vpnctl_error("%s: cannot derive a public key", argv[0]);
		goto out;
	}
	ret = print_key(pub);
out:
	sodium_memzero(input, sizeof(input));
	sodium_memzero(priv, sizeof(priv));
	return ret;
}
