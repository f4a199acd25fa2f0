/* A new or renamed file is durable only once the directory that names it is on disk:
 * fsync the directory of a path. Best effort, for callers that report the file's own
 * write errors and have nothing to add when a file system cannot sync a directory. */
#ifndef VPND_SYNC_DIR_H
#define VPND_SYNC_DIR_H

#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void vpnd_sync_dir_of(const char *path)
{
	char *copy = strdup(path); /* dirname may change its argument */
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

#endif
