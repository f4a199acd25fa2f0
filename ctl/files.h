/* The files vpnctl reads and writes for peer add and branch onboarding: key files, which
 * must be private, and files written whole or not at all. Each function prints its own
 * one-line error (vpnctl_error) and returns -1 on failure. */
#ifndef VPND_CTL_FILES_H
#define VPND_CTL_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vpnd/key.h"

/* One base64 key from a regular file that group and others cannot access. 0 or -1. */
int ctl_read_key_file(const char *path, uint8_t key[VPND_KEY_LEN]);
/* The whole file (at most max bytes), NUL-terminated, in *text (*len bytes). 0 or -1. */
int ctl_read_file(const char *path, size_t max, char **text, size_t *len);
/* Create path, which must not exist yet, with exactly `mode` (whatever the umask), holding
 * data, synced to disk. On failure nothing is left behind. 0 or -1. */
int ctl_write_new_file(const char *path, const char *data, size_t len, mode_t mode);
/* Replace the existing file path by data in one step (a temporary file beside it, renamed
 * over it), keeping its mode and owner: a crash leaves the old or the new file, never a
 * mix. 0 or -1. */
int ctl_replace_file(const char *path, const char *data, size_t len);

#endif
