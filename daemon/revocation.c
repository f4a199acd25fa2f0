/* The revocation list's file format and the list in memory. No engine, no runtime: the
 * daemon decides what a listed key means (control_keys.c, persistent_state.c). */
#include "revocation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config_values.h"
#include "state.h"
#include "vpnd/key.h"

#define HEADER                                                                                     \
	"# vpnd revocation list: handshakes from these public keys are refused, whatever the\n"    \
	"# configuration says. One base64 key per line; '#' starts a comment. Remove a key\n"      \
	"# with `vpnctl unrevoke KEY` (or edit this file and reload).\n"

static bool append_line(struct vpnd_revocations *list, const char *text, size_t len,
			const uint8_t *key)
{
	struct vpnd_revocation_line *grown, *l;

	grown = reallocarray(list->lines, list->n_lines + 1, sizeof(*grown));
	if (!grown)
		return false;
	list->lines = grown;
	l = &list->lines[list->n_lines];
	memset(l, 0, sizeof(*l));
	l->text = strndup(text, len);
	if (!l->text)
		return false;
	if (key) {
		l->has_key = true;
		memcpy(l->key, key, 32);
	}
	list->n_lines++;
	return true;
}

/* One line: 1 with key set, 0 for a blank or comment line, -1 (why set) for neither. */
static int parse_line(const char *line, size_t len, uint8_t key[32], char *why, size_t whylen)
{
	const char *hash = memchr(line, '#', len);
	char word[128];
	size_t n = hash ? (size_t)(hash - line) : len, start = 0;

	while (start < n && (line[start] == ' ' || line[start] == '\t'))
		start++;
	while (n > start && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	if (n == start)
		return 0;
	if (n - start >= sizeof(word)) {
		snprintf(why, whylen, "not a public key: %zu characters, a key is %d", n - start,
			 VPND_KEY_B64_LEN);
		return -1;
	}
	memcpy(word, line + start, n - start);
	word[n - start] = '\0';
	if (strpbrk(word, " \t")) {
		snprintf(why, whylen, "more than one word before the comment: one key per line");
		return -1;
	}
	if (!vpnd_key_from_base64(key, word)) {
		char buf[96];

		/* Never quoted: a private key pasted here by mistake must not reach a log. */
		snprintf(why, whylen, "not a public key: the text %s",
			 config_key_problem(word, buf, sizeof(buf)));
		sodium_memzero(word, sizeof(word));
		return -1;
	}
	sodium_memzero(word, sizeof(word));
	return 1;
}

int vpnd_revocations_parse(struct vpnd_revocations *list, const char *path, const char *text,
			   struct vpnd_config_errors *errs)
{
	const char *line;
	size_t pos = 0, len;
	unsigned lineno = 0, bad = 0;
	uint8_t key[32];
	char why[160];

	*list = (struct vpnd_revocations){0};
	while (vpnd_state_next_line(text, &pos, &line, &len)) {
		int r = parse_line(line, len, key, why, sizeof(why));

		lineno++;
		if (r < 0) {
			bad++;
			if (!vpnd_state_error(errs, "%s:%u: %s", path, lineno, why))
				goto oom;
			continue;
		}
		if (!append_line(list, line, len, r ? key : NULL))
			goto oom;
	}
	if (bad) {
		vpnd_revocations_free(list);
		return -EINVAL;
	}
	return 0;
oom:
	vpnd_revocations_free(list);
	return -ENOMEM;
}

int vpnd_revocations_load(struct vpnd_revocations *list, const char *path,
			  struct vpnd_config_errors *errs)
{
	char *text;
	int ret = vpnd_state_read(path, &text);

	*list = (struct vpnd_revocations){0};
	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		vpnd_state_error(errs, "%s: cannot read the revocation list: %s", path,
				 ret == -EINVAL ? "not a text file" : strerror(-ret));
		return ret;
	}
	ret = vpnd_revocations_parse(list, path, text, errs);
	free(text);
	if (ret == -ENOMEM)
		vpnd_state_error(errs, "%s: out of memory", path);
	return ret;
}

char *vpnd_revocations_text(const struct vpnd_revocations *list, size_t *len)
{
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, len);

	if (!mem)
		return NULL;
	for (unsigned i = 0; i < list->n_lines; i++)
		fprintf(mem, "%s\n", list->lines[i].text);
	if (fclose(mem) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int vpnd_revocations_save(const struct vpnd_revocations *list, const char *path)
{
	size_t len;
	char *text = vpnd_revocations_text(list, &len);
	int ret;

	if (!text)
		return -ENOMEM;
	ret = vpnd_state_write(path, text, len);
	free(text);
	return ret;
}

bool vpnd_revocations_has(const struct vpnd_revocations *list, const uint8_t key[32])
{
	for (unsigned i = 0; i < list->n_lines; i++)
		if (list->lines[i].has_key && sodium_memcmp(list->lines[i].key, key, 32) == 0)
			return true;
	return false;
}

int vpnd_revocations_add(struct vpnd_revocations *list, const uint8_t key[32], const char *comment)
{
	char b64[VPND_KEY_B64_LEN + 1], *line;
	int n;

	if (vpnd_revocations_has(list, key))
		return -EEXIST;
	if (!list->n_lines) {
		for (const char *h = HEADER, *nl; *h; h = nl + 1) {
			nl = strchr(h, '\n');
			if (!append_line(list, h, (size_t)(nl - h), NULL))
				return -ENOMEM;
		}
	}
	vpnd_key_to_base64(b64, key);
	n = comment && *comment ? asprintf(&line, "%s # %s", b64, comment)
				: asprintf(&line, "%s", b64);
	if (n < 0)
		return -ENOMEM;
	/* A comment is one line: nothing in it may start another. */
	for (char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (!append_line(list, line, (size_t)n, key)) {
		free(line);
		return -ENOMEM;
	}
	free(line);
	return 0;
}

int vpnd_revocations_remove(struct vpnd_revocations *list, const uint8_t key[32])
{
	unsigned kept = 0;
	int removed = 0;

	for (unsigned i = 0; i < list->n_lines; i++) {
		struct vpnd_revocation_line *l = &list->lines[i];

		if (l->has_key && sodium_memcmp(l->key, key, 32) == 0) {
			free(l->text);
			removed++;
			continue;
		}
		list->lines[kept++] = *l;
	}
	list->n_lines = kept;
	return removed ? removed : -ENOENT;
}

unsigned vpnd_revocations_count(const struct vpnd_revocations *list)
{
	unsigned n = 0;

	for (unsigned i = 0; i < list->n_lines; i++)
		n += list->lines[i].has_key;
	return n;
}

void vpnd_revocations_free(struct vpnd_revocations *list)
{
	for (unsigned i = 0; i < list->n_lines; i++)
		free(list->lines[i].text);
	free(list->lines);
	*list = (struct vpnd_revocations){0};
}
