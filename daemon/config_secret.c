/* The file that holds an inline key is as private as a key file: ssh's rule for identity
 * files, the same as config_read_key_file applies. */
#include "daemon/config_secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *config_secret_file_problem(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(buf, len, "cannot stat '%s': %s", path, strerror(errno));
		return buf;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(buf, len, "'%s' is not a regular file", path);
		return buf;
	}
	if (st.st_mode & 077) {
		snprintf(buf, len,
			 "'%s' has mode %04o: a file holding a key must not be accessible by "
			 "group or others (chmod 600)",
			 path, (unsigned)(st.st_mode & 07777));
		return buf;
	}
	return NULL;
}
