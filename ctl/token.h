/* Token tables, as in OpenBSD's ospfctl and ikectl: a word names a table entry when it is
 * the entry's name or, failing that, the beginning of exactly one name ("sh" is show).
 * A table is any array of structs whose first member is the `const char *name`. */
#ifndef VPND_CTL_TOKEN_H
#define VPND_CTL_TOKEN_H

#include <stddef.h>

#define CTL_TOKEN_UNKNOWN   (-1)
#define CTL_TOKEN_AMBIGUOUS (-2)

/* The index of the entry `word` names, CTL_TOKEN_UNKNOWN or CTL_TOKEN_AMBIGUOUS. */
int ctl_token_lookup(const void *table, size_t n, size_t stride, const char *word);

/* The same, but on failure prints one line and returns the negative code:
 *   vpnctl: unknown WHAT 'word' (valid WHATs: a, b, c)
 *   vpnctl: ambiguous WHAT 'word': could be a, b */
int ctl_token_find(const void *table, size_t n, size_t stride, const char *word, const char *what);

#define CTL_TOKEN_TABLE(t) (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0])

#endif
