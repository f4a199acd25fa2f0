/* The audit log's files. Nothing here ever deletes or replaces a file: rotation and
 * recovery only rename to a name that does not exist yet. */
#include "audit_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Rotated names tried before giving up (each taken by a file we did not expect). */
#define MOVE_ATTEMPTS 1000

/* The directory part of path, created (0750) with its parents if missing. */
int vpnd_audit_make_parent_dirs(const char *path, const char *what)
{
	char *copy = strdup(path), *dir, *p;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	for (p = dir + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			ret = -errno;
			log_err("%s %s: cannot create directory %s: %s", what, path, dir,
				strerror(errno));
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return ret;
}

/* The highest N among the rotated files path.N. */
static unsigned last_rotated_number(const char *path)
{
	char *copy = strdup(path), *copy2 = strdup(path);
	const char *dir, *base;
	unsigned best = 0;
	struct dirent *de;
	size_t blen;
	DIR *d;

	if (!copy || !copy2)
		goto out;
	dir = dirname(copy);
	base = basename(copy2);
	blen = strlen(base);
	d = opendir(dir);
	if (!d)
		goto out;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		unsigned long v;
		char *end;

		if (strncmp(s, base, blen) != 0 || s[blen] != '.' || s[blen + 1] < '1' ||
		    s[blen + 1] > '9')
			continue;
		errno = 0;
		v = strtoul(s + blen + 1, &end, 10);
		if (!*end && !errno && v > best && v < 1000000000)
			best = (unsigned)v;
	}
	closedir(d);
out:
	free(copy);
	free(copy2);
	return best;
}

int vpnd_audit_move_aside(const char *path, unsigned *next, char **dest)
{
	char *to = NULL;
	int ret = -EEXIST;

	if (!*next)
		*next = last_rotated_number(path) + 1;
	for (unsigned i = 0; i < MOVE_ATTEMPTS && ret == -EEXIST; i++) {
		free(to);
		if (asprintf(&to, "%s.%u", path, (*next)++) < 0)
			return -ENOMEM;
		ret = renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? -errno : 0;
		if (ret == -EINVAL || ret == -ENOSYS) {
			/* No RENAME_NOREPLACE on this file system: link refuses to replace too. */
			ret = link(path, to) < 0 ? -errno : 0;
			if (!ret && unlink(path) < 0) {
				ret = -errno;
				unlink(to);
			}
		}
	}
	if (ret) {
		free(to);
		return ret;
	}
	*dest = to;
	return 0;
}

int vpnd_audit_open_locked(const char *path, int flags)
{
	int fd = open(path, flags | O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? EBUSY : errno;
		close(fd);
		return -err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int err = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		return -err;
	}
	return fd;
}

static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

const char *vpnd_audit_read_ends(int fd, uint64_t size, char *buf, struct vpnd_audit_tail *t,
				 char *why, size_t whylen)
{
	struct vpnd_audit_line l;
	size_t want = size < VPND_AUDIT_LINE_MAX ? (size_t)size : VPND_AUDIT_LINE_MAX;
	const char *problem, *nl, *start;
	ssize_t n;

	n = pread_full(fd, buf, want, 0);
	if (n < 0 || (size_t)n != want) {
		snprintf(why, whylen, "cannot read it: %s", n < 0 ? strerror(errno) : "short read");
		return why;
	}
	nl = memchr(buf, '\n', want);
	if (!nl) {
		snprintf(why, whylen, "line 1 is incomplete");
		return why;
	}
	problem = vpnd_audit_parse_line(buf, (size_t)(nl - buf) + 1, &l);
	if (problem || !vpnd_audit_event_is(&l, VPND_AUDIT_EV_FILE)) {
		snprintf(why, whylen, "line 1 is not an audit-file record (%s)",
			 problem ? problem : "another event");
		return why;
	}
	memcpy(t->key_fpr, l.key_fpr, sizeof(t->key_fpr));

	n = pread_full(fd, buf, want, (off_t)(size - want));
	if (n < 0 || (size_t)n != want) {
		snprintf(why, whylen, "cannot read its end: %s",
			 n < 0 ? strerror(errno) : "short read");
		return why;
	}
	if (buf[want - 1] != '\n') {
		snprintf(why, whylen, "its last line is incomplete");
		return why;
	}
	nl = want > 1 ? memrchr(buf, '\n', want - 1) : NULL;
	if (!nl && want < size) {
		snprintf(why, whylen, "its last line is longer than any record");
		return why;
	}
	start = nl ? nl + 1 : buf;
	problem = vpnd_audit_parse_line(start, (size_t)(buf + want - start), &l);
	if (problem) {
		snprintf(why, whylen, "its last line is not an audit record (%s)", problem);
		return why;
	}
	t->seq = l.seq;
	t->closed = vpnd_audit_event_is(&l, VPND_AUDIT_EV_CLOSE);
	vpnd_audit_hash(t->hash, start, (size_t)(buf + want - start));
	return NULL;
}
