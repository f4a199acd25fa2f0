/* Key rotation without downtime. A peer configured with next-public-key is reached with
 * either key; the first handshake made with the next one switches the peer to it for
 * good (the engine then refuses the old key). That switch outlives the configuration
 * that still names old + next: it is recorded in <state-directory>/<interface>.rotated,
 *
 *   # vpnd key rotations: ...
 *   OLDKEY NEWKEY # br1, rotated at 2024-05-01T12:00:00Z
 *
 * and applied to every configuration loaded afterwards, so a reload or restart keeps the
 * new key (and such a peer counts as unchanged). A record goes once the configuration no
 * longer names OLD + NEW, typically because it names NEW as public-key.
 *
 * The other half is the gateway's own key: `vpnctl rotate-key` has vpnd write a new
 * private key beside the current one, <private-key-file>.next; its public key goes to
 * the other sites as next-public-key, then this gateway switches files and reloads. */
#ifndef VPND_DAEMON_KEY_ROTATION_H
#define VPND_DAEMON_KEY_ROTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct vpnd_rotation {
	uint8_t old_key[32], new_key[32];
	char *comment; /* after '#', trimmed; NULL when none */
	bool used;     /* by the configuration last applied, or made by this run */
};

struct vpnd_rotations {
	struct vpnd_rotation *items;
	unsigned count;
};

/* Parse the file's text (path named in errors). 0; -EINVAL with one "PATH:LINE: ..."
 * per bad line (list then empty); -ENOMEM. */
int vpnd_rotations_parse(struct vpnd_rotations *r, const char *path, const char *text,
			 struct vpnd_config_errors *errs);
/* Read and parse path; a missing file is no rotation. 0 or -errno (reasons in errs). */
int vpnd_rotations_load(struct vpnd_rotations *r, const char *path,
			struct vpnd_config_errors *errs);
/* The file's text (malloc'd, *len bytes) or NULL when out of memory. */
char *vpnd_rotations_text(const struct vpnd_rotations *r, size_t *len);
/* Write the records to path (see state.h); no record: the file is removed. 0 or -errno. */
int vpnd_rotations_save(const struct vpnd_rotations *r, const char *path);
/* Record that the peer with old_key now uses new_key (marked used); a record of old_key
 * is replaced. 0 or -ENOMEM. */
int vpnd_rotations_add(struct vpnd_rotations *r, const uint8_t old_key[32],
		       const uint8_t new_key[32], const char *comment);
/* Every peer of c configured with public-key OLD and next-public-key NEW of a record
 * gets NEW as its public key and no next key; exactly those records are marked used.
 * Returns how many peers were changed. */
unsigned vpnd_rotations_apply(struct vpnd_rotations *r, struct vpnd_config *c);
/* Forget the records not marked used; how many were dropped. */
unsigned vpnd_rotations_prune(struct vpnd_rotations *r);
void vpnd_rotations_free(struct vpnd_rotations *r);

/* A new private key in path, which must not exist yet (mode 0600, made durable), and its
 * public key in pub. 0, -EEXIST, or -errno. The key never leaves this function. */
int vpnd_key_rotation_new_key_file(const char *path, uint8_t pub[32]);

#endif
