/* The record of rotated peer keys, and new private keys for the gateway's own rotation. */
#include "key_rotation.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config_values.h"
#include "state.h"
#include "storage_health.h"
#include "vpnd/key.h"
#include "vpnd/write_all.h"

#define HEADER                                                                                     \
	"# vpnd key rotations: the peer configured with public-key OLD (first key) and\n"          \
	"# next-public-key NEW (second key) has switched to NEW, and OLD is refused. A line\n"     \
	"# goes away once the configuration names NEW as public-key. Written by vpnd.\n"

/* One word of at most max bytes from *s (moved past it and the blanks after it). */
static size_t word(const char **s, const char *end, char *out, size_t max)
{
	const char *p = *s;
	size_t n = 0;

	while (p < end && *p != ' ' && *p != '\t') {
		if (n < max)
			out[n] = *p;
		n++;
		p++;
	}
	out[n < max ? n : max - 1] = '\0';
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*s = p;
	return n;
}

/* One line: 1 (a record in *rec, comment malloc'd), 0 (blank or comment), -1 (why set),
 * -ENOMEM. */
static int parse_line(const char *line, size_t len, struct vpnd_rotation *rec, char *why,
		      size_t whylen)
{
	const char *hash = memchr(line, '#', len), *end = hash ? hash : line + len, *p = line;
	char w[2][64], buf[96];
	const char *names[2] = {"the old key", "the new key"};
	uint8_t *keys[2] = {rec->old_key, rec->new_key};

	memset(rec, 0, sizeof(*rec));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return 0;
	for (int i = 0; i < 2; i++) {
		size_t n = word(&p, end, w[i], sizeof(w[i]));

		if (!n) {
			snprintf(why, whylen, "two public keys expected (old, new), found %d", i);
			return -1;
		}
		if (n >= sizeof(w[i]) || !vpnd_key_from_base64(keys[i], w[i])) {
			snprintf(why, whylen, "%s is not a public key: the text %s", names[i],
				 n >= sizeof(w[i]) ? "is too long"
						   : config_key_problem(w[i], buf, sizeof(buf)));
			return -1;
		}
	}
	if (p != end) {
		snprintf(why, whylen, "more than two keys before the comment");
		return -1;
	}
	if (hash) {
		const char *c = hash + 1, *e = line + len;

		while (c < e && (*c == ' ' || *c == '\t'))
			c++;
		if (c < e && !(rec->comment = strndup(c, (size_t)(e - c))))
			return -ENOMEM;
	}
	return 1;
}

int vpnd_rotations_parse(struct vpnd_rotations *r, const char *path, const char *text,
			 struct vpnd_config_errors *errs)
{
	struct vpnd_rotation rec, *grown;
	const char *line;
	size_t pos = 0, len;
	unsigned lineno = 0, bad = 0;
	char why[160];

	*r = (struct vpnd_rotations){0};
	while (vpnd_state_next_line(text, &pos, &line, &len)) {
		int ret = parse_line(line, len, &rec, why, sizeof(why));

		lineno++;
		if (ret == -ENOMEM)
			goto oom;
		if (ret < 0) {
			bad++;
			if (!vpnd_state_error(errs, "%s:%u: %s", path, lineno, why))
				goto oom;
			continue;
		}
		if (!ret)
			continue;
		grown = reallocarray(r->items, r->count + 1, sizeof(*grown));
		if (!grown) {
			free(rec.comment);
			goto oom;
		}
		r->items = grown;
		r->items[r->count++] = rec;
	}
	if (bad) {
		vpnd_rotations_free(r);
		return -EINVAL;
	}
	return 0;
oom:
	vpnd_rotations_free(r);
	return -ENOMEM;
}

int vpnd_rotations_load(struct vpnd_rotations *r, const char *path, struct vpnd_config_errors *errs)
{
	char *text;
	int ret = vpnd_state_read(path, &text);

	*r = (struct vpnd_rotations){0};
	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		vpnd_state_error(errs, "%s: cannot read the key rotation record: %s", path,
				 ret == -EINVAL ? "not a text file" : strerror(-ret));
		return ret;
	}
	ret = vpnd_rotations_parse(r, path, text, errs);
	free(text);
	if (ret == -ENOMEM)
		vpnd_state_error(errs, "%s: out of memory", path);
	return ret;
}

char *vpnd_rotations_text(const struct vpnd_rotations *r, size_t *len)
{
	char old_b64[VPND_KEY_B64_LEN + 1], new_b64[VPND_KEY_B64_LEN + 1], *buf = NULL;
	FILE *mem = open_memstream(&buf, len);

	if (!mem)
		return NULL;
	fputs(HEADER, mem);
	for (unsigned i = 0; i < r->count; i++) {
		vpnd_key_to_base64(old_b64, r->items[i].old_key);
		vpnd_key_to_base64(new_b64, r->items[i].new_key);
		fprintf(mem, "%s %s", old_b64, new_b64);
		if (r->items[i].comment)
			fprintf(mem, " # %s", r->items[i].comment);
		fputc('\n', mem);
	}
	if (fclose(mem) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int vpnd_rotations_save(const struct vpnd_rotations *r, const char *path)
{
	size_t len;
	char *text;
	int ret;

	if (!r->count) {
		ret = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
		vpnd_store_note(VPND_STORE_STATE, path, -ret);
		return ret;
	}
	text = vpnd_rotations_text(r, &len);
	if (!text)
		return -ENOMEM;
	ret = vpnd_state_write(path, text, len);
	free(text);
	return ret;
}

int vpnd_rotations_add(struct vpnd_rotations *r, const uint8_t old_key[32],
		       const uint8_t new_key[32], const char *comment)
{
	struct vpnd_rotation *rec = NULL, *grown;
	char *c = NULL;

	if (comment && !(c = strdup(comment)))
		return -ENOMEM;
	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (unsigned i = 0; i < r->count && !rec; i++)
		if (sodium_memcmp(r->items[i].old_key, old_key, 32) == 0)
			rec = &r->items[i];
	if (!rec) {
		grown = reallocarray(r->items, r->count + 1, sizeof(*grown));
		if (!grown) {
			free(c);
			return -ENOMEM;
		}
		r->items = grown;
		rec = &r->items[r->count++];
		memset(rec, 0, sizeof(*rec));
	}
	free(rec->comment);
	memcpy(rec->old_key, old_key, 32);
	memcpy(rec->new_key, new_key, 32);
	rec->comment = c;
	rec->used = true;
	return 0;
}

unsigned vpnd_rotations_apply(struct vpnd_rotations *r, struct vpnd_config *c)
{
	unsigned changed = 0;

	for (unsigned i = 0; i < r->count; i++)
		r->items[i].used = false;
	for (unsigned j = 0; j < c->n_peers; j++) {
		struct vpnd_peer_conf *pc = &c->peers[j];

		if (!pc->has_next_public_key)
			continue;
		for (unsigned i = 0; i < r->count; i++) {
			struct vpnd_rotation *rec = &r->items[i];

			if (sodium_memcmp(pc->public_key, rec->old_key, 32) != 0 ||
			    sodium_memcmp(pc->next_public_key, rec->new_key, 32) != 0)
				continue;
			memcpy(pc->public_key, rec->new_key, 32);
			pc->has_next_public_key = false;
			memset(pc->next_public_key, 0, sizeof(pc->next_public_key));
			rec->used = true;
			changed++;
			break;
		}
	}
	return changed;
}

unsigned vpnd_rotations_prune(struct vpnd_rotations *r)
{
	unsigned kept = 0, dropped = 0;

	for (unsigned i = 0; i < r->count; i++) {
		if (!r->items[i].used) {
			free(r->items[i].comment);
			dropped++;
			continue;
		}
		r->items[kept++] = r->items[i];
	}
	r->count = kept;
	return dropped;
}

void vpnd_rotations_free(struct vpnd_rotations *r)
{
	for (unsigned i = 0; i < r->count; i++)
		free(r->items[i].comment);
	free(r->items);
	*r = (struct vpnd_rotations){0};
}

/* Written under a temporary name and linked into place: link(2), unlike rename(2), never
 * replaces a file, so a pending next key that was already handed out cannot be lost. */
int vpnd_key_rotation_new_key_file(const char *path, uint8_t pub[32])
{
	uint8_t priv[VPND_KEY_LEN];
	char line[VPND_KEY_B64_LEN + 2], *tmp = NULL, *copy = NULL;
	int fd = -1, dfd, ret;

	if (access(path, F_OK) == 0)
		return -EEXIST;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	vpnd_key_to_base64(line, priv);
	line[VPND_KEY_B64_LEN] = '\n';
	if (crypto_scalarmult_base(pub, priv) != 0)
		ret = -EINVAL;
	else if (fchmod(fd, 0600) < 0)
		ret = -errno;
	else
		ret = vpnd_write_all(fd, line, VPND_KEY_B64_LEN + 1);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && link(tmp, path) < 0)
		ret = -errno;
	unlink(tmp);
	if (!ret && (copy = strdup(path)) &&
	    (dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(line, sizeof(line));
	free(copy);
	free(tmp);
	return ret;
}
