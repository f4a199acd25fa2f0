/* Writing a whole buffer to a file descriptor, through short writes and EINTR: the one
 * loop that key files, state files and vpnctl's output all need. */
#ifndef VPND_WRITE_ALL_H
#define VPND_WRITE_ALL_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* 0 once all len bytes are written; else -errno, with errno set too (EIO for a write
 * that wrote nothing), so callers may report either. */
static inline int vpnd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#endif
