/* The control socket (protocol in include/vpnd/control.h). Every client gets its own
 * connection struct, registered in the daemon's epoll set like any other event source,
 * and walks one way: read one request line, run its command, write the reply, close.
 * Nothing a client does (garbage, silence, half-close, reset, not reading) can block the
 * daemon or make it hold more than one request buffer and one capped reply per client:
 * all I/O is nonblocking, clients are limited in number and in lifetime. */
#include "unix_socket.h"
#include "control_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit_events.h"
#include "event.h"
#include "vpnd/control.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define NSEC_PER_MSEC	 1000000ULL
#define ACCEPT_BATCH	 16
#define ACCEPT_RETRY_NS	 (1000 * NSEC_PER_MSEC)
#define STR_(x)		 #x
#define STR(x)		 STR_(x)
#define TOO_MANY_CLIENTS "error\ntoo many control clients (at most " STR(VPND_CTL_MAX_CLIENTS) ")\n"
#define TIMED_OUT_REPLY	 "error\nrequest timed out\n"

struct conn {
	struct vpnd_event_source src;
	struct vpnd_control *ctl;
	struct conn *prev, *next;
	uid_t uid;
	uint64_t deadline; /* monotonic ns */
	bool expired;	   /* shut down by the timer; the conn's own handler frees it */
	bool replying;
	struct vpnd_reply reply;
	size_t sent; /* bytes of status line + body written so far */
	size_t req_len;
	char req[VPND_CTL_MAX_REQUEST];
};

struct vpnd_control {
	struct vpnd_event_source listener;
	struct vpnd_event_source timer;
	int epfd;
	char *path;
	dev_t dev;
	ino_t ino;
	const struct vpnd_control_command *cmds;
	void *ctx;
	struct conn *conns;
	unsigned n_conns;
	uint64_t timeout_ns;
	bool paused; /* out of file descriptors: accept again at resume_at */
	uint64_t resume_at;
};

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vpnd_control_parse_request(char *line, int *argc, char **argv, int max_argv, const char **why)
{
	const char *unused;
	size_t len = strlen(line);
	int words = 1;

	if (!why)
		why = &unused;
	*argc = 0;
	if (len == 0) {
		*why = "empty request";
		return -EINVAL;
	}
	/* Validate the whole line before splitting it, so a bad line is left intact. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c > 0x7e) {
			*why = "non-printable byte";
			return -EINVAL;
		}
		if (c != ' ')
			continue;
		if (i == 0) {
			*why = "leading space";
			return -EINVAL;
		}
		if (i == len - 1) {
			*why = "trailing space";
			return -EINVAL;
		}
		if (line[i + 1] == ' ') {
			*why = "double space";
			return -EINVAL;
		}
		words++;
	}
	if (words > max_argv) {
		*why = "too many words";
		return -EINVAL;
	}
	for (char *p = line, *sp;; p = sp + 1) {
		argv[(*argc)++] = p;
		sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = '\0';
	}
	return 0;
}

/* The earliest moment the timer has to act: a client's deadline or a paused accept. */
static void arm_timer(struct vpnd_control *ctl)
{
	struct itimerspec its = {0};
	uint64_t next = UINT64_MAX;

	for (struct conn *c = ctl->conns; c; c = c->next)
		if (!c->expired && c->deadline < next)
			next = c->deadline;
	if (ctl->paused && ctl->resume_at < next)
		next = ctl->resume_at;
	if (next != UINT64_MAX) {
		/* An absolute time of zero would disarm the timer instead of firing it. */
		if (next == 0)
			next = 1;
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	timerfd_settime(ctl->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void resume_accepting(struct vpnd_control *ctl)
{
	if (ctl->paused && vpnd_event_mod(ctl->epfd, &ctl->listener, EPOLLIN) == 0)
		ctl->paused = false;
}

static void close_conn(struct conn *c)
{
	struct vpnd_control *ctl = c->ctl;

	vpnd_event_del(ctl->epfd, &c->src);
	close(c->src.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_conns--;
	vpnd_reply_free(&c->reply);
	free(c);
	/* A descriptor was freed: if accept ran out of them, it may work again. */
	resume_accepting(ctl);
	arm_timer(ctl);
}

static const struct vpnd_control_command *find_command(const struct vpnd_control *ctl,
						       const char *name)
{
	for (const struct vpnd_control_command *cmd = ctl->cmds; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

static bool check_arg_count(const struct vpnd_control_command *cmd, int nargs, struct vpnd_reply *r)
{
	int want = nargs < cmd->min_args ? cmd->min_args : cmd->max_args;
	const char *s = want == 1 ? "" : "s";

	if (nargs >= cmd->min_args && nargs <= cmd->max_args)
		return true;
	if (cmd->max_args == 0)
		vpnd_reply_error(r, "'%s' takes no arguments, got %d", cmd->name, nargs);
	else if (cmd->min_args == cmd->max_args)
		vpnd_reply_error(r, "'%s' takes exactly %d argument%s, got %d", cmd->name, want, s,
				 nargs);
	else if (nargs < cmd->min_args)
		vpnd_reply_error(r, "'%s' takes at least %d argument%s, got %d", cmd->name, want, s,
				 nargs);
	else
		vpnd_reply_error(r, "'%s' takes at most %d argument%s, got %d", cmd->name, want, s,
				 nargs);
	return false;
}

/* c->req holds one complete line, its newline replaced by a NUL. */
static void run_request(struct conn *c)
{
	const struct vpnd_control_command *cmd;
	char *argv[VPND_CTL_MAX_ARGS];
	const char *why;
	int argc;

	if (vpnd_control_parse_request(c->req, &argc, argv, VPND_CTL_MAX_ARGS, &why) < 0) {
		vpnd_reply_error(&c->reply, "malformed request: %s (at most %d words)", why,
				 VPND_CTL_MAX_ARGS);
		return;
	}
	cmd = find_command(c->ctl, argv[0]);
	if (!cmd) {
		vpnd_reply_error(&c->reply, "unknown command '%s'", argv[0]);
		return;
	}
	if (!check_arg_count(cmd, argc - 1, &c->reply))
		return;
	cmd->handler(c->ctl->ctx, argc, argv, c->uid, &c->reply);
	/* Every command that ran, in one place: who asked, what, and how it went. */
	vpnd_audit_control(c->uid, argc, argv, !c->reply.error);
}

/* From now on the client is only written to: reading more would let it keep us busy. */
static bool start_reply(struct conn *c)
{
	c->replying = true;
	if (vpnd_event_mod(c->ctl->epfd, &c->src, EPOLLOUT) < 0) {
		close_conn(c);
		return false;
	}
	return true;
}

/* Read what has arrived; returns false if the connection was closed. */
static bool conn_read(struct conn *c)
{
	for (;;) {
		size_t room = sizeof(c->req) - c->req_len;
		ssize_t n;

		if (room == 0) {
			vpnd_reply_error(&c->reply, "request longer than %d bytes",
					 VPND_CTL_MAX_REQUEST);
			return start_reply(c);
		}
		n = recv(c->src.fd, c->req + c->req_len, room, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			close_conn(c); /* reset: nobody to answer */
			return false;
		}
		if (n == 0) {
			vpnd_reply_error(&c->reply, c->req_len ? "request ended without a newline"
							       : "empty request");
			return start_reply(c);
		}
		for (size_t i = c->req_len; i < c->req_len + (size_t)n; i++) {
			unsigned char ch = (unsigned char)c->req[i];

			if (ch == '\n') {
				c->req[i] = '\0';
				c->req_len = i;
				run_request(c);
				return start_reply(c);
			}
			if (ch < 0x20 || ch > 0x7e) {
				vpnd_reply_error(
				    &c->reply,
				    "request has a non-printable byte 0x%02x at offset %zu", ch, i);
				return start_reply(c);
			}
		}
		c->req_len += (size_t)n;
	}
}

/* Closing a Unix socket with unread data makes the peer's next read fail with ECONNRESET
 * instead of seeing the end of the reply; the remains of an oversized request or bytes
 * after the newline are usually all in the buffer already, so discard them first. */
static void drain(int fd)
{
	char scratch[4096];

	for (int i = 0; i < 16; i++)
		if (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
			break;
}

/* Write the status line and body; returns false if the connection was closed. */
static bool conn_write(struct conn *c)
{
	const char *status = c->reply.error ? VPND_CTL_REPLY_ERROR : VPND_CTL_REPLY_OK;
	size_t status_len = strlen(status), total = status_len + c->reply.len;

	while (c->sent < total) {
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		ssize_t n;

		if (c->sent < status_len) {
			iov[0] = (struct iovec){(void *)(status + c->sent), status_len - c->sent};
			iov[1] = (struct iovec){c->reply.buf, c->reply.len};
			msg.msg_iovlen = c->reply.len ? 2 : 1;
		} else {
			iov[0] =
			    (struct iovec){c->reply.buf + (c->sent - status_len), total - c->sent};
			msg.msg_iovlen = 1;
		}
		/* MSG_NOSIGNAL: a client that went away must not kill the daemon with SIGPIPE. */
		n = sendmsg(c->src.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true; /* EPOLLOUT brings us back */
			break;
		}
		c->sent += (size_t)n;
	}
	if (c->sent == total)
		drain(c->src.fd);
	close_conn(c);
	return false;
}

static void conn_event(struct vpnd_event_source *src, uint32_t events)
{
	struct conn *c = container_of(src, struct conn, src);

	(void)events; /* errors and hang-ups show up as results of recv and send */
	if (c->expired) {
		close_conn(c);
		return;
	}
	if (!c->replying && !conn_read(c))
		return;
	if (c->replying)
		conn_write(c);
}

/* Called from the timer: the client is shut down here but freed by its own handler, so
 * that no event of it still waiting in the current epoll batch can reach freed memory.
 * Re-registering polls the fd at once, and after shutdown it reports a hang-up. */
static void expire_conn(struct conn *c)
{
	c->expired = true;
	if (!c->replying)
		send(c->src.fd, TIMED_OUT_REPLY, strlen(TIMED_OUT_REPLY),
		     MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->src.fd, SHUT_RDWR);
	vpnd_event_mod(c->ctl->epfd, &c->src, EPOLLIN | EPOLLOUT);
}

static void timer_event(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_control *ctl = container_of(src, struct vpnd_control, timer);
	uint64_t expirations, now = now_mono();

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: a spurious wake-up; the deadlines below are checked anyway. */
	}
	if (ctl->paused && now >= ctl->resume_at)
		resume_accepting(ctl);
	for (struct conn *c = ctl->conns; c; c = c->next)
		if (!c->expired && c->deadline <= now)
			expire_conn(c);
	arm_timer(ctl);
}

static void reject_client(int fd)
{
	/* The socket is new and its buffer empty: this short write cannot block. */
	send(fd, TOO_MANY_CLIENTS, strlen(TOO_MANY_CLIENTS), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void add_client(struct vpnd_control *ctl, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;

	if (ctl->n_conns >= VPND_CTL_MAX_CLIENTS) {
		reject_client(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->src.fd = fd;
	c->src.handler = conn_event;
	c->ctl = ctl;
	c->uid = cred.uid;
	c->deadline = now_mono() + ctl->timeout_ns;
	vpnd_reply_init(&c->reply);
	if (vpnd_event_add(ctl->epfd, &c->src, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->n_conns++;
}

static void listener_event(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_control *ctl = container_of(src, struct vpnd_control, listener);

	(void)events;
	/* A bounded batch: the listener stays readable if more are waiting, and other
	 * event sources get their turn in between. */
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			add_client(ctl, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered epoll would wake us in a busy loop until a
			 * descriptor frees up: stop listening for a while instead. */
			if (vpnd_event_mod(ctl->epfd, &ctl->listener, 0) == 0) {
				ctl->paused = true;
				ctl->resume_at = now_mono() + ACCEPT_RETRY_NS;
			}
		}
		break;
	}
	arm_timer(ctl);
}

struct vpnd_control *vpnd_control_open(int epfd, const char *path, unsigned mode,
				       const struct vpnd_control_command *cmds, void *ctx)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct vpnd_control *ctl;
	bool bound = false;
	struct stat st;
	mode_t old_umask;
	int rc, err;

	if (!path || !*path || !cmds || (mode & ~0777u)) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	ctl->listener = (struct vpnd_event_source){.fd = -1, .handler = listener_event};
	ctl->timer = (struct vpnd_event_source){.fd = -1, .handler = timer_event};
	ctl->epfd = epfd;
	ctl->cmds = cmds;
	ctl->ctx = ctx;
	ctl->timeout_ns = VPND_CTL_CLIENT_TIMEOUT_MS * NSEC_PER_MSEC;
	ctl->path = strdup(path);
	if (!ctl->path)
		goto fail;
	if (vpnd_unix_socket_make_parent_dirs(path) < 0 || vpnd_unix_socket_remove_stale(&sun) < 0)
		goto fail;

	ctl->listener.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->listener.fd < 0)
		goto fail;
	/* The umask makes the socket appear with exactly `mode`, never wider for a moment;
	 * the chmod covers file systems that ignore the umask for sockets. */
	old_umask = umask(~mode & 0777);
	rc = bind(ctl->listener.fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	umask(old_umask);
	if (rc < 0) {
		errno = err;
		goto fail;
	}
	bound = true;
	if (chmod(path, mode) < 0 || listen(ctl->listener.fd, VPND_CTL_MAX_CLIENTS) < 0 ||
	    stat(path, &st) < 0)
		goto fail;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;

	ctl->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctl->timer.fd < 0)
		goto fail;
	rc = vpnd_event_add(epfd, &ctl->listener, EPOLLIN);
	if (rc == 0) {
		rc = vpnd_event_add(epfd, &ctl->timer, EPOLLIN);
		if (rc < 0)
			vpnd_event_del(epfd, &ctl->listener);
	}
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	return ctl;

fail:
	err = errno;
	if (bound)
		unlink(path);
	if (ctl->listener.fd >= 0)
		close(ctl->listener.fd);
	if (ctl->timer.fd >= 0)
		close(ctl->timer.fd);
	free(ctl->path);
	free(ctl);
	errno = err;
	return NULL;
}

void vpnd_control_set_client_timeout(struct vpnd_control *ctl, unsigned ms)
{
	ctl->timeout_ns = (uint64_t)ms * NSEC_PER_MSEC;
}

void vpnd_control_close(struct vpnd_control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	while (ctl->conns)
		close_conn(ctl->conns);
	/* Only our own socket: a newer vpnd may have replaced the file meanwhile. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	vpnd_event_del(ctl->epfd, &ctl->listener);
	close(ctl->listener.fd);
	vpnd_event_del(ctl->epfd, &ctl->timer);
	close(ctl->timer.fd);
	free(ctl->path);
	free(ctl);
}
