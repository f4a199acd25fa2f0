/* The revocation list (revoked-keys-file, default <state-directory>/<interface>.revoked):
 * the public keys vpnd refuses whatever the configuration says, one base64 key per line
 * with an optional comment:
 *
 *   # vpnd revocation list: ...
 *   xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg= # br1, revoked at 2024-05-01T12:00:00Z by uid 0
 *
 * Lines are kept as written, so that comments an administrator adds survive vpnd's own
 * changes. A line that is neither blank, a comment nor a key makes the whole list
 * unusable: it could be a revocation that would otherwise be silently lost. */
#ifndef VPND_DAEMON_REVOCATION_H
#define VPND_DAEMON_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct vpnd_revocation_line {
	char *text; /* as written, without its newline */
	bool has_key;
	uint8_t key[32];
};

struct vpnd_revocations {
	struct vpnd_revocation_line *lines;
	unsigned n_lines;
};

/* Parse the text of the file at path (named in errors). 0; -EINVAL with one
 * "PATH:LINE: ..." line in errs per bad line (list then empty); -ENOMEM. */
int vpnd_revocations_parse(struct vpnd_revocations *list, const char *path, const char *text,
			   struct vpnd_config_errors *errs);
/* Read and parse path: a missing file is an empty list. 0, or -errno with the reason in
 * errs ("PATH: cannot read: ..." or the bad lines). */
int vpnd_revocations_load(struct vpnd_revocations *list, const char *path,
			  struct vpnd_config_errors *errs);
/* Write the list to path (see state.h). 0 or -errno. */
int vpnd_revocations_save(const struct vpnd_revocations *list, const char *path);
/* The file's text (malloc'd, *len bytes), NULL when out of memory. */
char *vpnd_revocations_text(const struct vpnd_revocations *list, size_t *len);

bool vpnd_revocations_has(const struct vpnd_revocations *list, const uint8_t key[32]);
/* Append "KEY # comment" (comment may be NULL); an empty list gets its explaining header
 * first. 0, -EEXIST when the key is listed already, -ENOMEM. */
int vpnd_revocations_add(struct vpnd_revocations *list, const uint8_t key[32], const char *comment);
/* Remove every line of key: how many there were, or -ENOENT for none. */
int vpnd_revocations_remove(struct vpnd_revocations *list, const uint8_t key[32]);
/* How many keys are listed (a key written twice counts once per line). */
unsigned vpnd_revocations_count(const struct vpnd_revocations *list);
void vpnd_revocations_free(struct vpnd_revocations *list);

#endif
