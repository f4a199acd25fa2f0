/* vpnctl audit verify [--key PUBFILE]... [--live] [FILE...]: check audit log files
 * offline (no daemon needed). Without FILE: the only *.audit in /var/lib/vpnd with its
 * rotated files, oldest first. Without --key: BASE.key.pub beside the log, which is where
 * vpnd writes it when audit-key-file is left at its default. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_verify.h"
#include "subcommands.h"
#include "vpnd/control.h"

#define MAX_KEYS 16

struct file_list {
	char **items;
	size_t n;
};

static int list_add(struct file_list *l, char *path)
{
	char **grown = realloc(l->items, (l->n + 1) * sizeof(*grown));

	if (!grown || !path) {
		free(path);
		vpnctl_error("out of memory");
		return -1;
	}
	l->items = grown;
	l->items[l->n++] = path;
	return 0;
}

static void list_free(struct file_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
}

/* The number N of "base.N" (N >= 1, digits only), or 0. */
static unsigned long rotated_number(const char *name, const char *base)
{
	size_t blen = strlen(base);
	unsigned long v;
	char *end;

	if (strncmp(name, base, blen) != 0 || name[blen] != '.' || name[blen + 1] < '1' ||
	    name[blen + 1] > '9')
		return 0;
	v = strtoul(name + blen + 1, &end, 10);
	return *end ? 0 : v;
}

static int by_number(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The only *.audit in the state directory, its rotated files first (path.1, path.2, ...). */
static int default_files(struct file_list *out)
{
	char *log = NULL, *p;
	unsigned long *nums = NULL, *grown;
	size_t n_nums = 0;
	struct dirent *de;
	int found = 0;
	DIR *d = opendir(VPND_STATE_DIR);

	if (!d) {
		vpnctl_error("no FILE given and %s cannot be read: %s", VPND_STATE_DIR,
			     strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 6 && !strcmp(de->d_name + len - 6, ".audit") && de->d_name[0] != '.') {
			if (found++ == 0)
				log = strdup(de->d_name);
		}
	}
	if (found != 1 || !log) {
		closedir(d);
		free(log);
		vpnctl_error(
		    "no FILE given and %s holds %d *.audit files: name the files to verify",
		    VPND_STATE_DIR, found);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		unsigned long v = rotated_number(de->d_name, log);
		if (!v)
			continue;
		grown = realloc(nums, (n_nums + 1) * sizeof(*nums));
		if (!grown)
			break;
		nums = grown;
		nums[n_nums++] = v;
	}
	closedir(d);
	qsort(nums, n_nums, sizeof(*nums), by_number);
	for (size_t i = 0; i < n_nums; i++) {
		if (asprintf(&p, "%s/%s.%lu", VPND_STATE_DIR, log, nums[i]) < 0)
			p = NULL;
		if (list_add(out, p) < 0)
			goto fail;
	}
	if (asprintf(&p, "%s/%s", VPND_STATE_DIR, log) < 0)
		p = NULL;
	if (list_add(out, p) < 0)
		goto fail;
	free(nums);
	free(log);
	return 0;
fail:
	free(nums);
	free(log);
	return -1;
}

/* path without a rotation suffix ".N", then ".key.pub". */
static char *default_key_path(const char *path)
{
	size_t len = strlen(path), end = len;
	char *out;

	while (end > 0 && path[end - 1] >= '0' && path[end - 1] <= '9')
		end--;
	if (end == len || end == 0 || path[end - 1] != '.')
		end = len;
	else
		end--;
	if (asprintf(&out, "%.*s.key.pub", (int)end, path) < 0)
		return NULL;
	return out;
}

static void print_note(void *ctx, const char *file, unsigned long line, const char *msg)
{
	(void)ctx;
	if (line)
		vpnctl_error("note: %s:%lu: %s", file, line, msg);
	else
		vpnctl_error("note: %s: %s", file, msg);
}

static int verify(int argc, char *argv[])
{
	struct audit_key keys[MAX_KEYS];
	struct audit_verify_result res;
	struct file_list files = {0};
	const char *key_paths[MAX_KEYS];
	char why[256], hex[2 * VPND_AUDIT_HASH_LEN + 1], fpr[2 * VPND_AUDIT_FPR_LEN + 1];
	char *default_key = NULL;
	size_t n_keys = 0;
	bool live = false;
	int i, ret = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--live")) {
			live = true;
		} else if (!strcmp(argv[i], "--key") && i + 1 < argc && n_keys < MAX_KEYS) {
			key_paths[n_keys++] = argv[++i];
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			vpnctl_error(
			    "usage: vpnctl audit verify [--key PUBFILE]... [--live] [FILE...]");
			return 1;
		}
	}
	for (; i < argc; i++)
		if (list_add(&files, strdup(argv[i])) < 0)
			goto out;
	if (!files.n && default_files(&files) < 0)
		goto out;
	if (!n_keys) {
		default_key = default_key_path(files.items[files.n - 1]);
		if (!default_key) {
			vpnctl_error("out of memory");
			goto out;
		}
		key_paths[n_keys++] = default_key;
	}
	for (size_t k = 0; k < n_keys; k++) {
		if (audit_key_read(key_paths[k], &keys[k], why, sizeof(why)) < 0) {
			vpnctl_error("audit public key %s: %s", key_paths[k], why);
			goto out;
		}
	}

	ret = audit_verify((const char *const *)files.items, files.n, keys, n_keys, live,
			   print_note, NULL, &res);
	if (ret < 0) {
		vpnctl_error("%s: %s", res.file, res.message);
		ret = 2;
		goto out;
	}
	if (ret > 0) {
		if (res.line)
			vpnctl_error("%s:%lu: %s", res.file, res.line, res.message);
		else
			vpnctl_error("%s: %s", res.file, res.message);
		goto out;
	}
	vpnd_audit_hex(hex, res.head, VPND_AUDIT_HASH_LEN);
	vpnd_audit_hex(fpr, keys[0].fpr, VPND_AUDIT_FPR_LEN);
	if (res.records)
		printf("%" PRIu64 " records verified (records %" PRIu64 "..%" PRIu64
		       " in %zu file%s)\n",
		       res.records, res.first_seq, res.first_seq + res.records - 1, files.n,
		       files.n == 1 ? "" : "s");
	else
		printf("0 records verified: no checkpoint yet\n");
	if (res.unsigned_records)
		printf("%" PRIu64
		       " more records after the last checkpoint (%s:%lu, %s) are chained "
		       "but not yet signed\n",
		       res.unsigned_records, res.checkpoint_file ? res.checkpoint_file : "none",
		       res.checkpoint_line, res.checkpoint_file ? res.checkpoint_time : "-");
	printf("last record %" PRIu64 ", chain head %s\n", res.last_seq, hex);
	if (n_keys == 1)
		printf("audit key %s (%s)\n", fpr, key_paths[0]);
	ret = 0;
out:
	free(default_key);
	list_free(&files);
	return ret;
}

int audit_main(int argc, char *argv[], const char *sock)
{
	(void)sock;
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return verify(argc - 1, argv + 1);
	vpnctl_error("usage: vpnctl audit verify [--key PUBFILE]... [--live] [FILE...]");
	return 1;
}
