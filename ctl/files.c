/* Whole-or-nothing file writes: data goes to a file that no one else has opened (O_EXCL,
 * or a fresh temporary), is fsynced, and only then gets its name; the directory is synced
 * so the name survives a crash too. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "subcommands.h"
#include "vpnd/sync_dir.h"
#include "vpnd/write_all.h"

int ctl_read_file(const char *path, size_t max, char **text, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*text = NULL;
	if (fd < 0) {
		vpnctl_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(max + 1);
	if (!buf) {
		vpnctl_error("out of memory");
		close(fd);
		return -1;
	}
	while (n <= max) {
		got = read(fd, buf + n, max + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			vpnctl_error("cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		vpnctl_error("%s is larger than %zu bytes", path, max);
		goto fail;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
fail:
	sodium_memzero(buf, max + 1);
	free(buf);
	close(fd);
	return -1;
}

int ctl_read_key_file(const char *path, uint8_t key[VPND_KEY_LEN])
{
	struct stat st;
	char *text;
	size_t len;
	int ret = -1;

	if (stat(path, &st) < 0) {
		vpnctl_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		vpnctl_error("%s is not a regular file", path);
		return -1;
	}
	/* The same rule as vpnd's for its key files. */
	if (st.st_mode & 077) {
		vpnctl_error("%s has mode %04o: a key file must not be accessible by group or "
			     "others (chmod 600)",
			     path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (ctl_read_file(path, 128, &text, &len) < 0)
		return -1;
	if (vpnd_key_from_base64(key, text))
		ret = 0;
	else
		vpnctl_error("%s does not hold one base64 key (44 characters)", path);
	sodium_memzero(text, len);
	free(text);
	return ret;
}

int ctl_write_new_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);

	if (fd < 0) {
		vpnctl_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away; add them back only now, after creation. */
	if (fchmod(fd, mode) < 0 || vpnd_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		vpnctl_error("cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		vpnctl_error("cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	vpnd_sync_dir_of(path);
	return 0;
}

int ctl_replace_file(const char *name, const char *data, size_t len)
{
	struct stat st;
	char *path, *tmp = NULL;
	int fd;

	/* A config reached through a symbolic link is replaced where it really is. */
	path = realpath(name, NULL);
	if (!path || stat(path, &st) < 0) {
		vpnctl_error("cannot find %s: %s", name, strerror(errno));
		free(path);
		return -1;
	}
	if (asprintf(&tmp, "%s.vpnctl-XXXXXX", path) < 0) {
		vpnctl_error("out of memory");
		free(path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		vpnctl_error("cannot create a temporary file beside %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
	    vpnd_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		vpnctl_error("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		vpnctl_error("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		vpnctl_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	vpnd_sync_dir_of(path);
	free(tmp);
	free(path);
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	free(path);
	return -1;
}
