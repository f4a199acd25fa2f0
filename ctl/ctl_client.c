/* The client end of the control socket. Connect uses the socket's send timeout (a full
 * listen backlog would otherwise block forever); reads and writes are nonblocking with
 * poll, each wait bounded by CTL_TIMEOUT_MS. */
#include "ctl_client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "subcommands.h"
#include "vpnd/control.h"
#include "vpnd/limits.h"

#define STATUS_MAX 6 /* "error\n" */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_socket_name(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".sock") == 0;
}

char *ctl_find_socket(const char *sock)
{
	char *names[16], *path = NULL, list[512] = "";
	unsigned n = 0, more = 0;
	struct dirent *de;
	DIR *dir;

	if (sock) {
		if (!*sock) {
			vpnctl_error("the socket path given with -s is empty");
			return NULL;
		}
		path = strdup(sock);
		if (!path)
			vpnctl_error("out of memory");
		return path;
	}
	dir = opendir(VPND_RUN_DIR);
	if (!dir) {
		vpnctl_error("cannot open %s: %s (is vpnd running? name a socket with -s SOCKET)",
			     VPND_RUN_DIR, strerror(errno));
		return NULL;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (!is_socket_name(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISSOCK(st.st_mode))
			continue;
		if (n == sizeof(names) / sizeof(names[0])) {
			more++;
			continue;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), by_name);
	if (n == 1 && asprintf(&path, "%s/%s", VPND_RUN_DIR, names[0]) < 0) {
		path = NULL;
		vpnctl_error("out of memory");
	} else if (n == 0) {
		vpnctl_error("no control socket in %s (is vpnd running? name one with -s SOCKET)",
			     VPND_RUN_DIR);
	} else if (n > 1) {
		for (unsigned i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", names[i]);
		vpnctl_error("several control sockets in %s: %s%s (choose one with -s SOCKET)",
			     VPND_RUN_DIR, list, more ? ", ..." : "");
	}
	for (unsigned i = 0; i < n; i++)
		free(names[i]);
	return path;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = CTL_TIMEOUT_MS / 1000};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		vpnctl_error("socket path '%s' is too long (at most %zu bytes)", path,
			     sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		vpnctl_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;

		if (err == EAGAIN || err == EINPROGRESS)
			vpnctl_error("cannot connect to %s: vpnd did not accept within %d seconds",
				     path, CTL_TIMEOUT_MS / 1000);
		else
			vpnctl_error("cannot connect to %s: %s%s", path, strerror(err),
				     err == ENOENT || err == ECONNREFUSED ? " (is vpnd running?)"
									  : "");
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		vpnctl_error("fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait until fd is ready for `events`; false after printing why. */
static bool wait_for(int fd, short events, const char *path)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	do
		n = poll(&pfd, 1, CTL_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		vpnctl_error("poll: %s", strerror(errno));
		return false;
	}
	if (n == 0) {
		vpnctl_error("%s: vpnd did not answer within %d seconds", path,
			     CTL_TIMEOUT_MS / 1000);
		return false;
	}
	return true;
}

static int send_request(int fd, const char *path, const char *line, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			vpnctl_error("%s: sending the request: %s", path, strerror(errno));
			return -1;
		}
		if (!wait_for(fd, POLLOUT, path))
			return -1;
	}
	return 0;
}

/* Everything up to the server's close, at most the status line plus VPND_CTL_MAX_REPLY. */
static int read_reply(int fd, const char *path, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0, max = STATUS_MAX + VPND_CTL_MAX_REPLY;
	char *buf = malloc(cap + 1), *grown;

	if (!buf) {
		vpnctl_error("out of memory");
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap >= max + 1) {
				vpnctl_error("%s: reply longer than %u bytes", path,
					     (unsigned)VPND_CTL_MAX_REPLY);
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				vpnctl_error("out of memory");
				goto fail;
			}
			buf = grown;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			vpnctl_error("%s: reading the reply: %s", path, strerror(errno));
			goto fail;
		}
		if (!wait_for(fd, POLLIN, path))
			goto fail;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

int ctl_call(const char *sock, const char *request, struct ctl_reply *reply)
{
	char *path = NULL, *line = NULL, *raw = NULL;
	size_t len = strlen(request), raw_len, status;
	int fd = -1, ret = -1;

	memset(reply, 0, sizeof(*reply));
	if (len + 1 > VPND_CTL_MAX_REQUEST) {
		vpnctl_error("request longer than %d bytes", VPND_CTL_MAX_REQUEST);
		return -1;
	}
	path = ctl_find_socket(sock);
	if (!path)
		return -1;
	line = malloc(len + 2);
	if (!line) {
		vpnctl_error("out of memory");
		goto out;
	}
	memcpy(line, request, len);
	memcpy(line + len, "\n", 2);
	fd = connect_to(path);
	if (fd < 0 || send_request(fd, path, line, len + 1) < 0 ||
	    read_reply(fd, path, &raw, &raw_len) < 0)
		goto out;
	if (raw_len == 0) {
		vpnctl_error("%s: vpnd closed the connection without a reply", path);
		goto out;
	}
	if (!strncmp(raw, VPND_CTL_REPLY_OK, strlen(VPND_CTL_REPLY_OK))) {
		reply->ok = true;
		status = strlen(VPND_CTL_REPLY_OK);
	} else if (!strncmp(raw, VPND_CTL_REPLY_ERROR, strlen(VPND_CTL_REPLY_ERROR))) {
		status = strlen(VPND_CTL_REPLY_ERROR);
	} else {
		vpnctl_error("%s: malformed reply (no status line)", path);
		goto out;
	}
	/* The body moves to the front of the buffer so it can be freed as one. */
	memmove(raw, raw + status, raw_len - status + 1);
	reply->body = raw;
	reply->len = raw_len - status;
	raw = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(raw);
	if (line) /* a request may carry a preshared key (peer-add) */
		sodium_memzero(line, len + 1);
	free(line);
	free(path);
	return ret;
}

bool ctl_check_peer_name(const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= VPND_PEER_NAME_MAX;

	for (const char *p = name; ok && *p; p++)
		ok = *p > 0x20 && *p < 0x7f;
	if (!ok)
		vpnctl_error("'%s' is not a peer name (printable ASCII without spaces, at most %d "
			     "characters)",
			     name, VPND_PEER_NAME_MAX);
	return ok;
}

void ctl_reply_free(struct ctl_reply *reply)
{
	free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

int ctl_print_reply(const struct ctl_reply *reply)
{
	const char *p = reply->body, *end = reply->body + reply->len;

	if (reply->ok) {
		if (fwrite(reply->body, 1, reply->len, stdout) != reply->len || fflush(stdout)) {
			vpnctl_error("cannot write to stdout: %s", strerror(errno));
			return 1;
		}
		return 0;
	}
	if (p == end)
		vpnctl_error("vpnd reported an error without a reason");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n)
			vpnctl_error("%.*s", (int)n, p);
		p += n + 1;
	}
	return 1;
}

int ctl_run(const char *sock, const char *request)
{
	struct ctl_reply reply;
	int ret;

	if (ctl_call(sock, request, &reply) < 0)
		return 1;
	ret = ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ret;
}
