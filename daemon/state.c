/* The state directory's files: read whole, replaced whole. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage_health.h"
#include "vpnd/write_all.h"

int vpnd_state_read(const char *path, char **text)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, ret = 0;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > VPND_STATE_FILE_MAX) {
		ret = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* The size is a hint: a file that grew meanwhile is read to the limit. */
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			free(buf);
			goto out;
		}
		if (n == 0 || (got += (size_t)n) == (size_t)st.st_size)
			break;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got)) {
		free(buf);
		ret = -EINVAL;
		goto out;
	}
	*text = buf;
out:
	close(fd);
	return ret;
}

/* The rename is durable only once the directory that holds the name is on disk. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL) /* some file systems cannot sync a directory */
		ret = -errno;
	close(fd);
	return ret;
}

static int replace(const char *path, const char *dir, const char *text, size_t len)
{
	char *tmp = NULL;
	int fd, ret;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* Only the last level: a missing /var/lib is not ours to make. */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			ret = -errno;
			goto out;
		}
		/* The failed attempt filled in the template's X's. */
		memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6);
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (!ret)
		ret = vpnd_write_all(fd, text, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	/* close() is where some file systems (NFS) report a write that did not happen. */
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp); /* half a file takes the space the next attempt needs */
	else
		ret = sync_dir(dir);
out:
	free(tmp);
	return ret;
}

int vpnd_state_write(const char *path, const char *text, size_t len)
{
	char *copy = strdup(path);
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = replace(path, dirname(copy), text, len);
	free(copy);
	vpnd_store_note(VPND_STORE_STATE, path, -ret);
	return ret;
}

bool vpnd_state_next_line(const char *text, size_t *pos, const char **line, size_t *len)
{
	const char *start = text + *pos, *nl;
	size_t n;

	if (!*start)
		return false;
	nl = strchr(start, '\n');
	n = nl ? (size_t)(nl - start) : strlen(start);
	*pos += n + (nl ? 1 : 0);
	while (n && (start[n - 1] == ' ' || start[n - 1] == '\t' || start[n - 1] == '\r'))
		n--;
	*line = start;
	*len = n;
	return true;
}

bool vpnd_state_error(struct vpnd_config_errors *errs, const char *fmt, ...)
{
	char **grown, *msg;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return false;
	/* One problem, one line, whatever bytes the file held. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	grown = realloc(errs->lines, (errs->count + 1) * sizeof(*grown));
	if (!grown) {
		free(msg);
		return false;
	}
	errs->lines = grown;
	errs->lines[errs->count++] = msg;
	return true;
}

const char *vpnd_state_iso_time(char buf[VPND_STATE_TIME_MAX], uint64_t real_ns)
{
	time_t t = (time_t)(real_ns / 1000000000u);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, VPND_STATE_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, VPND_STATE_TIME_MAX, "(unknown time)");
	return buf;
}
