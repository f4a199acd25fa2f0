/* Prefix matching over token tables. An exact name always wins, so a name may be the
 * beginning of another without becoming unreachable. */
#include "token.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "subcommands.h"

static const char *name_at(const void *table, size_t stride, size_t i)
{
	const char *name;

	/* The first member of each entry: copied out, as the entry has no known type. */
	memcpy(&name, (const char *)table + i * stride, sizeof(name));
	return name;
}

int ctl_token_lookup(const void *table, size_t n, size_t stride, const char *word)
{
	size_t len = strlen(word);
	int found = CTL_TOKEN_UNKNOWN;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(name_at(table, stride, i), word))
			return (int)i;
	if (!len)
		return CTL_TOKEN_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(name_at(table, stride, i), word, len))
			continue;
		if (found != CTL_TOKEN_UNKNOWN)
			return CTL_TOKEN_AMBIGUOUS;
		found = (int)i;
	}
	return found;
}

/* The names (only those starting with `prefix` when given), comma separated. Names are
 * short and tables small; a list that does not fit ends in "...". */
static void name_list(char *buf, size_t size, const void *table, size_t n, size_t stride,
		      const char *prefix)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *name = name_at(table, stride, i);
		int w;

		if (prefix && strncmp(name, prefix, strlen(prefix)))
			continue;
		w = snprintf(buf + off, size - off, "%s%s", off ? ", " : "", name);
		if (w < 0 || (size_t)w >= size - off) {
			snprintf(buf + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
			return;
		}
		off += (size_t)w;
	}
}

int ctl_token_find(const void *table, size_t n, size_t stride, const char *word, const char *what)
{
	int i = ctl_token_lookup(table, n, stride, word);
	char list[512];

	if (i == CTL_TOKEN_UNKNOWN) {
		name_list(list, sizeof(list), table, n, stride, NULL);
		vpnctl_error("unknown %s '%s' (valid %ss: %s)", what, word, what, list);
	} else if (i == CTL_TOKEN_AMBIGUOUS) {
		name_list(list, sizeof(list), table, n, stride, word);
		vpnctl_error("ambiguous %s '%s': could be %s", what, word, list);
	}
	return i;
}
