/* A cmocka fixture for tests that write files: a fresh directory under /tmp per test,
 * with the path of one file in it, removed afterwards with all it holds. The including
 * test defines TEMP_DIR_PREFIX (the directory's name before .XXXXXX) and TEMP_DIR_FILE
 * (the file's name) first. */
#ifndef VPND_TESTS_TEMP_DIR_H
#define VPND_TESTS_TEMP_DIR_H

#include <stdio.h>
#include <stdlib.h>

struct dir {
	char path[64];
	char file[128];
};

static int dir_up(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/%s.XXXXXX", TEMP_DIR_PREFIX);
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	snprintf(d->file, sizeof(d->file), "%s/%s", d->path, TEMP_DIR_FILE);
	*state = d;
	return 0;
}

static int dir_down(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

#endif
