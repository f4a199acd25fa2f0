#include "unix_socket.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int vpnd_unix_socket_make_parent_dirs(const char *path)
{
	char *dir = strdup(path);

	if (!dir)
		return -1;
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		if (p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			chmod(dir, 0755);
		} else if (errno != EEXIST) {
			int err = errno;

			free(dir);
			errno = err;
			return -1;
		}
		*p = '/';
	}
	free(dir);
	return 0;
}

int vpnd_unix_socket_remove_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(fd);
	/* EAGAIN: the listener's backlog is full, so somebody is listening. */
	if (rc == 0 || err == EAGAIN) {
		errno = EADDRINUSE;
		return -1;
	}
	if (err != ECONNREFUSED && err != ENOENT) {
		errno = err;
		return -1;
	}
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
