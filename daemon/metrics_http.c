/* GET /metrics with libmicrohttpd in "external epoll" mode: MHD keeps its sockets in an
 * epoll set of its own, whose fd is one event source in vpnd's loop; when it is readable
 * MHD_run() does the work without blocking. MHD's deadlines (idle connections, work it
 * has buffered) are kept by a timerfd of our own, re-armed from MHD_get_timeout() after
 * every run, as MHD requires of an external loop. Everything, the rendering included,
 * happens on the one thread that also drives the engine. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "event.h"
#include "log.h"
#include "metrics.h"
#include "vpnd/control.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define METRICS_PATH   "/metrics"
#define LISTEN_BACKLOG 16

struct vpnd_metrics_http {
	int epfd;
	vpnd_metrics_render_fn render;
	void *ctx;
	struct MHD_Daemon *mhd;		  /* NULL: not serving */
	struct vpnd_event_source mhd_src; /* MHD's epoll fd, while serving */
	struct vpnd_event_source timer_src;
	uint16_t port;
	unsigned idle_timeout_s;
	struct wg_endpoint addr; /* being served, if mhd */
	/* MHD's complaints about clients are theirs to cause: at most one line a second. */
	time_t logged_at;
	unsigned log_suppressed;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct vpnd_metrics_http *h = cls;
	time_t now = time(NULL);
	char msg[512];
	size_t len;

	if (h->logged_at == now) {
		h->log_suppressed++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	if (h->log_suppressed)
		log_warn("metrics http: %s (%u more messages not logged)", msg, h->log_suppressed);
	else
		log_warn("metrics http: %s", msg);
	h->logged_at = now;
	h->log_suppressed = 0;
}

/* MHD calls this on a broken internal invariant, never for anything a client sent; the
 * default would only print to stderr, which under systemd may go nowhere. */
static void mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
	(void)cls;
	log_err("libmicrohttpd: fatal internal error at %s:%u: %s", file ? file : "?", line,
		reason ? reason : "(no reason given)");
	abort();
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       char *body, size_t len, enum MHD_ResponseMemoryMode mode,
			       bool allow_header)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* out of memory: MHD closes the connection */
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (allow_header &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text,
				    bool allow_header)
{
	return respond(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
		       MHD_RESPMEM_PERSISTENT, allow_header);
}

/* Called once the request's headers are in: the answer never depends on a body, so it
 * is given at once (MHD then discards any body and closes that connection). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct vpnd_metrics_http *h = cls;
	struct vpnd_reply r;
	char *body;
	size_t len;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	if (strcmp(url, METRICS_PATH) != 0)
		return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", false);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed: use GET or HEAD\n", true);

	vpnd_reply_init(&r);
	h->render(h->ctx, &r);
	if (r.truncated || r.error || !r.buf) {
		/* A cut exposition would be read as counters that went down: refuse it. */
		if (r.truncated)
			log_warn("metrics http: the exposition did not fit in %u bytes",
				 (unsigned)VPND_CTL_MAX_REPLY);
		else
			log_warn("metrics http: the exposition came out empty");
		vpnd_reply_free(&r);
		return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "metrics could not be rendered\n", false);
	}
	body = r.buf;
	len = r.len;
	r.buf = NULL; /* the response owns it now and frees it */
	vpnd_reply_free(&r);
	return respond(conn, MHD_HTTP_OK, VPND_METRICS_CONTENT_TYPE, body, len,
		       MHD_RESPMEM_MUST_FREE, false);
}

/* After every MHD_run: tell our timerfd when MHD must run again even if no socket of it
 * becomes ready (0 ms: it holds work already, run it on the next loop turn). */
static void rearm(struct vpnd_metrics_http *h)
{
	struct itimerspec its = {0};
	MHD_UNSIGNED_LONG_LONG ms;

	if (h->mhd && MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
		if (ms > 24ULL * 3600 * 1000)
			ms = 24ULL * 3600 * 1000;
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		if (ms == 0)
			its.it_value.tv_nsec = 1; /* all zero would disarm */
	}
	timerfd_settime(h->timer_src.fd, 0, &its, NULL);
}

static void run(struct vpnd_metrics_http *h)
{
	/* An event of a listener replaced during this epoll batch arrives here too: running
	 * the current daemon once more is harmless, it never blocks. */
	if (!h->mhd)
		return;
	MHD_run(h->mhd);
	/* At the connection limit MHD takes its listening socket out of its epoll set and
	 * puts it back only at the start of a later run, after the run that freed a slot;
	 * with no connection left, nothing would ever call that run. So run once more. */
	MHD_run(h->mhd);
	rearm(h);
}

static void on_mhd(struct vpnd_event_source *src, uint32_t events)
{
	(void)events;
	run(container_of(src, struct vpnd_metrics_http, mhd_src));
}

static void on_timer(struct vpnd_event_source *src, uint32_t events)
{
	uint64_t expirations;
	(void)events;

	if (read(src->fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: re-armed since it fired; MHD decides whether there is work. */
	}
	run(container_of(src, struct vpnd_metrics_http, timer_src));
}

struct vpnd_metrics_http *vpnd_metrics_http_new(int epfd, vpnd_metrics_render_fn render, void *ctx)
{
	struct vpnd_metrics_http *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return NULL;
	h->epfd = epfd;
	h->render = render;
	h->ctx = ctx;
	h->idle_timeout_s = VPND_METRICS_TIMEOUT_S;
	h->mhd_src.fd = -1;
	h->mhd_src.handler = on_mhd;
	h->timer_src.handler = on_timer;
	h->timer_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->timer_src.fd < 0) {
		ret = -errno;
		free(h);
		errno = -ret;
		return NULL;
	}
	ret = vpnd_event_add(epfd, &h->timer_src, EPOLLIN);
	if (ret < 0) {
		close(h->timer_src.fd);
		free(h);
		errno = -ret;
		return NULL;
	}
	MHD_set_panic_func(mhd_panic, NULL);
	return h;
}

/* We bind the socket ourselves so that a failure names its errno (MHD only logs it),
 * and an IPv6 address listens on exactly that address (no dual-stack surprise). */
static int open_listener(const struct wg_endpoint *addr)
{
	int family = addr->addr.sa.sa_family, one = 1, fd, ret;
	socklen_t len = family == AF_INET6 ? sizeof(addr->addr.in6) : sizeof(addr->addr.in4);

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, &addr->addr.sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void stop_serving(struct vpnd_metrics_http *h)
{
	if (!h->mhd)
		return;
	vpnd_event_del(h->epfd, &h->mhd_src);
	/* Closes MHD's epoll fd, every connection and the listening socket. */
	MHD_stop_daemon(h->mhd);
	h->mhd = NULL;
	h->mhd_src.fd = -1;
	h->port = 0;
	rearm(h);
}

/* A daemon serving addr, its epoll fd registered under h->mhd_src (next to the current
 * daemon's, if any, which stays untouched). 0 or -errno. */
static int start_daemon(struct vpnd_metrics_http *h, const struct wg_endpoint *addr,
			struct MHD_Daemon **out, int *epoll_fd, uint16_t *port)
{
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &h->mhd_src};
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *mhd;
	int fd, ret;

	fd = open_listener(addr);
	if (fd < 0)
		return fd;
	*port = bound_port(fd);
	if (addr->addr.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mhd =
	    MHD_start_daemon(flags, *port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
			     mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned)VPND_METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
			     h->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			     (size_t)VPND_METRICS_CONN_MEMORY, MHD_OPTION_END);
	if (!mhd) {
		/* Whether MHD closed the socket on its way out is not documented: close it
		 * if it is still open (nothing else runs on this thread to reuse the number). */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		return -EIO;
	}
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	*epoll_fd = info ? info->epoll_fd : -1;
	if (*epoll_fd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, *epoll_fd, &ev) < 0) {
		ret = *epoll_fd < 0 ? -EIO : -errno;
		MHD_stop_daemon(mhd);
		return ret;
	}
	*out = mhd;
	return 0;
}

int vpnd_metrics_http_listen(struct vpnd_metrics_http *h, const struct wg_endpoint *addr)
{
	struct wg_endpoint old = h->addr;
	struct MHD_Daemon *mhd;
	bool was_serving = h->mhd != NULL;
	int epoll_fd, ret;
	uint16_t port;

	if (!addr) {
		stop_serving(h);
		return 0;
	}
	/* The new daemon is complete before the old one goes, so that a failure leaves the
	 * old one serving, unless the two addresses overlap (127.0.0.1:9586 becoming
	 * 0.0.0.0:9586): then the old one must let go of the port first, and comes back if
	 * the new one still cannot have it. */
	ret = start_daemon(h, addr, &mhd, &epoll_fd, &port);
	if (ret == -EADDRINUSE && was_serving) {
		stop_serving(h);
		ret = start_daemon(h, addr, &mhd, &epoll_fd, &port);
		if (ret < 0) {
			if (start_daemon(h, &old, &h->mhd, &h->mhd_src.fd, &h->port) == 0) {
				h->addr = old;
				rearm(h);
			}
			return ret;
		}
	}
	if (ret < 0)
		return ret;
	stop_serving(h);
	h->mhd = mhd;
	h->mhd_src.fd = epoll_fd;
	h->port = port;
	h->addr = *addr;
	rearm(h);
	return 0;
}

void vpnd_metrics_http_set_idle_timeout(struct vpnd_metrics_http *h, unsigned seconds)
{
	h->idle_timeout_s = seconds ? seconds : 1;
}

uint16_t vpnd_metrics_http_port(const struct vpnd_metrics_http *h)
{
	return h && h->mhd ? h->port : 0;
}

void vpnd_metrics_http_free(struct vpnd_metrics_http *h)
{
	if (!h)
		return;
	stop_serving(h);
	vpnd_event_del(h->epfd, &h->timer_src);
	close(h->timer_src.fd);
	free(h);
}
