/* The UAPI socket (protocol in uapi.h). Like the control socket, every client is its own
 * event source in the daemon's epoll set, all I/O is nonblocking, and clients are
 * limited in number, in buffered bytes (one request of at most VPND_UAPI_MAX_REQUEST)
 * and in idle time. Unlike it, a connection carries any number of requests: the client
 * is read until a whole request is buffered, answered, and read again, so that nothing
 * a client sends (garbage, a request cut short, a flood of pipelined requests, never
 * reading the answers) blocks the daemon or lets one client starve the others.
 *
 * The second half binds the protocol to the running daemon (struct vpnd_runtime). */
#include "unix_socket.h"
#include "uapi_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "event.h"
#include "log.h"
#include "runtime.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define NSEC_PER_MSEC	1000000ULL
#define ACCEPT_BATCH	16
#define ACCEPT_RETRY_NS (1000 * NSEC_PER_MSEC)
#define READ_CHUNK	16384
/* Reads and requests handled per wake-up before the other event sources get a turn. */
#define STEP_BUDGET 64

struct conn {
	struct vpnd_event_source src;
	struct vpnd_uapi_server *srv;
	struct conn *prev, *next;
	uint64_t deadline; /* monotonic ns */
	uint32_t polling;  /* the events registered for src */
	bool expired;	   /* shut down by the timer; the conn's own handler frees it */
	bool eof;	   /* the client will send nothing more */
	bool close_after;  /* close once the answer is out */
	size_t resume;	   /* for vpnd_uapi_handle */
	struct vpnd_uapi_buf in, out;
	size_t sent; /* bytes of out written */
};

struct vpnd_uapi_server {
	struct vpnd_event_source listener, timer;
	int epfd;
	char *path;
	dev_t dev;
	ino_t ino;
	vpnd_uapi_device_fn device;
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

static void arm_timer(struct vpnd_uapi_server *s)
{
	struct itimerspec its = {0};
	uint64_t next = UINT64_MAX;

	for (struct conn *c = s->conns; c; c = c->next)
		if (!c->expired && c->deadline < next)
			next = c->deadline;
	if (s->paused && s->resume_at < next)
		next = s->resume_at;
	if (next != UINT64_MAX) {
		if (next == 0)
			next = 1; /* zero would disarm the timer */
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	timerfd_settime(s->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void resume_accepting(struct vpnd_uapi_server *s)
{
	if (s->paused && vpnd_event_mod(s->epfd, &s->listener, EPOLLIN) == 0)
		s->paused = false;
}

static void close_conn(struct conn *c)
{
	struct vpnd_uapi_server *s = c->srv;

	vpnd_event_del(s->epfd, &c->src);
	close(c->src.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	vpnd_uapi_buf_free(&c->in);
	vpnd_uapi_buf_free(&c->out);
	free(c);
	resume_accepting(s);
	arm_timer(s);
}

/* Register interest in exactly `events`; false if the connection had to be closed. */
static bool want(struct conn *c, uint32_t events)
{
	if (c->polling == events)
		return true;
	if (vpnd_event_mod(c->srv->epfd, &c->src, events) < 0) {
		close_conn(c);
		return false;
	}
	c->polling = events;
	return true;
}

static void log_outcome(const struct vpnd_uapi_outcome *res)
{
	if (!res->is_set) {
		if (res->err)
			log_warn("uapi: get failed (errno=%d): %s", res->err, res->msg);
		return;
	}
	if (res->err && res->line)
		log_warn("uapi: set refused (errno=%d), nothing changed: line %u: %s", res->err,
			 res->line, res->msg);
	else if (res->err)
		log_warn("uapi: set failed (errno=%d): %s", res->err, res->msg);
	else if (res->added || res->removed || res->changed)
		log_notice("uapi: set applied: %u peer%s added, %u removed, %u changed", res->added,
			   res->added == 1 ? "" : "s", res->removed, res->changed);
}

/* Closing with unread input makes the client's next read fail with ECONNRESET instead
 * of seeing the end of the answer. */
static void drain(int fd)
{
	char scratch[4096];

	for (int i = 0; i < 16; i++)
		if (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
			break;
	sodium_memzero(scratch, sizeof(scratch));
}

/* Returns false when the client has to go: closed, or at the end of its stream. */
static bool run_request(struct conn *c)
{
	struct vpnd_uapi_device dev;
	struct vpnd_uapi_outcome res;
	enum vpnd_uapi_status st;

	c->srv->device(c->srv->ctx, &dev);
	st = vpnd_uapi_handle(&dev, c->in.data, c->in.len, &c->resume, &c->out, &res);
	switch (st) {
	case VPND_UAPI_INCOMPLETE:
		return true;
	case VPND_UAPI_CLOSE:
		log_warn("uapi: closing a connection: %s", res.msg[0] ? res.msg : "out of memory");
		close_conn(c);
		return false;
	case VPND_UAPI_ANSWERED_CLOSE:
		c->close_after = true;
		/* fall through */
	case VPND_UAPI_ANSWERED:
		log_outcome(&res);
		vpnd_uapi_buf_consume(&c->in, res.used);
		c->deadline = now_mono() + c->srv->timeout_ns;
		arm_timer(c->srv);
		return true;
	}
	return true;
}

/* Move the connection as far as it can go without blocking. */
static void conn_pump(struct conn *c)
{
	char chunk[READ_CHUNK];
	size_t before;
	ssize_t n;

	for (int steps = 0;; steps++) {
		if (c->sent < c->out.len) {
			n = send(c->src.fd, c->out.data + c->sent, c->out.len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				c->sent += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				want(c, EPOLLOUT);
			else
				close_conn(c); /* the client went away */
			return;
		}
		vpnd_uapi_buf_consume(&c->out, c->out.len);
		c->sent = 0;
		if (c->close_after) {
			drain(c->src.fd);
			close_conn(c);
			return;
		}
		if (steps >= STEP_BUDGET) {
			/* Writable fires again at once: we come back after the others. */
			want(c, EPOLLOUT);
			return;
		}
		before = c->out.len;
		if (c->in.len) {
			size_t had = c->in.len;

			if (!run_request(c))
				return;
			if (c->in.len != had || c->out.len != before || c->close_after)
				continue;
		}
		if (c->eof) {
			/* A request cut short by the end of the stream has nobody to answer. */
			close_conn(c);
			return;
		}
		n = recv(c->src.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n > 0) {
			int ret = vpnd_uapi_buf_append(&c->in, chunk, (size_t)n);

			sodium_memzero(chunk, (size_t)n);
			if (ret < 0) {
				log_warn("uapi: out of memory reading a request");
				close_conn(c);
				return;
			}
			continue;
		}
		if (n == 0) {
			c->eof = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			want(c, EPOLLIN);
		else
			close_conn(c);
		return;
	}
}

static void conn_event(struct vpnd_event_source *src, uint32_t events)
{
	struct conn *c = container_of(src, struct conn, src);

	(void)events; /* errors and hang-ups show up as results of recv and send */
	if (c->expired) {
		close_conn(c);
		return;
	}
	conn_pump(c);
}

/* The timer shuts the client down and its own handler frees it, so that no event of it
 * still waiting in the current epoll batch can reach freed memory. */
static void expire_conn(struct conn *c)
{
	c->expired = true;
	shutdown(c->src.fd, SHUT_RDWR);
	/* Not want(): closing here would pull c out of the list the caller walks. If
	 * this fails, the shut-down socket still reports a hang-up to its handler. */
	if (vpnd_event_mod(c->srv->epfd, &c->src, EPOLLIN | EPOLLOUT) == 0)
		c->polling = EPOLLIN | EPOLLOUT;
}

static void timer_event(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_uapi_server *s = container_of(src, struct vpnd_uapi_server, timer);
	uint64_t expirations, now = now_mono();

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: a spurious wake-up; the deadlines are checked anyway. */
	}
	if (s->paused && now >= s->resume_at)
		resume_accepting(s);
	for (struct conn *c = s->conns; c; c = c->next)
		if (!c->expired && c->deadline <= now)
			expire_conn(c);
	arm_timer(s);
}

static void add_client(struct vpnd_uapi_server *s, int fd)
{
	struct conn *c;

	if (s->n_conns >= VPND_UAPI_MAX_CLIENTS) {
		/* The protocol has no way to say why; wg reports the closed connection. */
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
	c->srv = s;
	c->deadline = now_mono() + s->timeout_ns;
	c->polling = EPOLLIN;
	if (vpnd_event_add(s->epfd, &c->src, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
}

static void listener_event(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_uapi_server *s = container_of(src, struct vpnd_uapi_server, listener);

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			add_client(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered epoll would spin until a descriptor frees up. */
			if (vpnd_event_mod(s->epfd, &s->listener, 0) == 0) {
				s->paused = true;
				s->resume_at = now_mono() + ACCEPT_RETRY_NS;
			}
		}
		break;
	}
	arm_timer(s);
}

struct vpnd_uapi_server *vpnd_uapi_server_open(int epfd, const char *path,
					       vpnd_uapi_device_fn device, void *ctx)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct vpnd_uapi_server *s;
	bool bound = false;
	struct stat st;
	mode_t old_umask;
	int rc, err;

	if (!path || !*path || !device) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->listener = (struct vpnd_event_source){.fd = -1, .handler = listener_event};
	s->timer = (struct vpnd_event_source){.fd = -1, .handler = timer_event};
	s->epfd = epfd;
	s->device = device;
	s->ctx = ctx;
	s->timeout_ns = VPND_UAPI_CLIENT_TIMEOUT_MS * NSEC_PER_MSEC;
	s->path = strdup(path);
	if (!s->path)
		goto fail;
	if (vpnd_unix_socket_make_parent_dirs(path) < 0 || vpnd_unix_socket_remove_stale(&sun) < 0)
		goto fail;
	s->listener.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listener.fd < 0)
		goto fail;
	/* The socket never exists with wider permissions than 0600, not even briefly. */
	old_umask = umask(0177);
	rc = bind(s->listener.fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	umask(old_umask);
	if (rc < 0) {
		errno = err;
		goto fail;
	}
	bound = true;
	if (chmod(path, 0600) < 0 || listen(s->listener.fd, VPND_UAPI_MAX_CLIENTS) < 0 ||
	    stat(path, &st) < 0)
		goto fail;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer.fd < 0)
		goto fail;
	rc = vpnd_event_add(epfd, &s->listener, EPOLLIN);
	if (rc == 0) {
		rc = vpnd_event_add(epfd, &s->timer, EPOLLIN);
		if (rc < 0)
			vpnd_event_del(epfd, &s->listener);
	}
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	return s;

fail:
	err = errno;
	if (bound)
		unlink(path);
	if (s->listener.fd >= 0)
		close(s->listener.fd);
	if (s->timer.fd >= 0)
		close(s->timer.fd);
	free(s->path);
	free(s);
	errno = err;
	return NULL;
}

void vpnd_uapi_server_set_client_timeout(struct vpnd_uapi_server *s, unsigned ms)
{
	s->timeout_ns = (uint64_t)ms * NSEC_PER_MSEC;
	for (struct conn *c = s->conns; c; c = c->next)
		c->deadline = now_mono() + s->timeout_ns;
	arm_timer(s);
}

void vpnd_uapi_server_close(struct vpnd_uapi_server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->conns)
		close_conn(s->conns);
	/* Only our own socket: a newer daemon may have replaced the file meanwhile. */
	if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	vpnd_event_del(s->epfd, &s->listener);
	close(s->listener.fd);
	vpnd_event_del(s->epfd, &s->timer);
	close(s->timer.fd);
	free(s->path);
	free(s);
}

/* ---- the binding to the running daemon ---- */

static int underlay_fd(const struct vpnd_runtime *rt)
{
	return rt->udp.fd6 >= 0 ? rt->udp.fd6 : rt->udp.fd4;
}

/* The sockets are the truth about the mark: read it back rather than remember it. */
static uint32_t rt_fwmark(const struct vpnd_runtime *rt)
{
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);

	if (underlay_fd(rt) < 0 ||
	    getsockopt(underlay_fd(rt), SOL_SOCKET, SO_MARK, &mark, &len) < 0)
		return 0;
	return mark;
}

static int rt_set_fwmark(void *ctx, uint32_t mark)
{
	struct vpnd_runtime *rt = ctx;
	int fds[2] = {rt->udp.fd6, rt->udp.fd4};
	uint32_t old = rt_fwmark(rt);

	for (int i = 0; i < 2; i++) {
		int err;

		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0)
			continue;
		err = errno;
		for (int j = 0; j < i; j++)
			if (fds[j] >= 0)
				setsockopt(fds[j], SOL_SOCKET, SO_MARK, &old, sizeof(old));
		return -err;
	}
	log_notice("uapi: underlay sockets now carry fwmark %#x (until vpnd restarts)", mark);
	return 0;
}

static int rt_set_private_key(void *ctx, const uint8_t key[32])
{
	struct vpnd_runtime *rt = ctx;
	int ret = wg_engine_set_private_key(rt->engine, key);

	if (ret < 0)
		return ret;
	/* The applied configuration now holds this key, so a reload puts the file's back. */
	memcpy(rt->config->private_key, key, 32);
	crypto_scalarmult_base(rt->config->public_key, key);
	log_notice("uapi: new private key: every session restarts (a reload restores the "
		   "key of %s)",
		   rt->config->private_key_file);
	return 0;
}

static struct vpnd_peer_conf *conf_of(struct vpnd_runtime *rt, const uint8_t key[32])
{
	for (unsigned i = 0; i < rt->config->n_peers; i++)
		if (memcmp(rt->config->peers[i].public_key, key, 32) == 0)
			return &rt->config->peers[i];
	return NULL;
}

/* A configured peer removed and added again over UAPI keeps its configured name. */
static const char *rt_peer_name(void *ctx, const uint8_t key[32])
{
	struct vpnd_peer_conf *pc = conf_of(ctx, key);

	return pc ? pc->name : NULL;
}

/* Record what UAPI set in the applied configuration: reload compares the file with it
 * and so puts the file's preshared key and endpoint back. */
static void rt_peer_set(void *ctx, const struct wg_peer *p, unsigned what)
{
	struct vpnd_peer_conf *pc = conf_of(ctx, p->handshake.remote_static);
	char ep[WG_ENDPOINT_STRLEN];

	if (!pc)
		return;
	if (what & VPND_UAPI_SET_PSK) {
		memcpy(pc->preshared_key, p->handshake.preshared_key, 32);
		pc->has_preshared_key = !sodium_is_zero(pc->preshared_key, 32);
	}
	if (what & VPND_UAPI_SET_ENDPOINT) {
		pc->endpoint = p->endpoint;
		free(pc->endpoint_spec);
		pc->endpoint_spec = strdup(wg_endpoint_format(&p->endpoint, ep));
	}
}

/* The routes vpnd_prefixes_from_config would give, but from the engine's peers, which
 * include those UAPI added: every allowed-ip except the networks of the TUN's own
 * addresses, which the kernel already routes there. */
static int routes_from_engine(const struct vpnd_runtime *rt, struct vpnd_prefix_set *want)
{
	struct vpnd_prefix_set connected = {0};
	struct vpnd_prefix p;
	int ret = 0;

	for (unsigned i = 0; i < rt->config->n_addresses && !ret; i++) {
		const struct vpnd_address *a = &rt->config->addresses[i];
		unsigned bits = a->family == AF_INET ? 32 : 128;

		memset(&p, 0, sizeof(p));
		p.family = a->family;
		p.len = a->prefixlen;
		memcpy(p.addr, a->addr, bits / 8);
		for (unsigned bit = a->prefixlen; bit < bits; bit++)
			p.addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
		ret = vpnd_prefix_set_add(&connected, &p);
	}
	for (const struct wg_peer *q = wg_engine_peers(rt->engine); q && !ret; q = q->next) {
		for (unsigned j = 0; j < q->n_allowed_ips && !ret; j++) {
			memset(&p, 0, sizeof(p));
			p.family = q->allowed_ips[j].family;
			p.len = q->allowed_ips[j].cidr;
			memcpy(p.addr, q->allowed_ips[j].addr, p.family == AF_INET ? 4 : 16);
			if (!vpnd_prefix_set_has(&connected, &p))
				ret = vpnd_prefix_set_add(want, &p);
		}
	}
	vpnd_prefix_set_free(&connected);
	return ret;
}

static void rt_peers_changed(void *ctx)
{
	struct vpnd_runtime *rt = ctx;
	struct vpnd_prefix_set want = {0};
	int ret;

	/* A revoked key stays refused when `wg set` brings its peer back. */
	vpnd_persistent_sync_revoked(rt);
	ret = routes_from_engine(rt, &want);

	if (ret == 0)
		ret = vpnd_runtime_sync_prefixes(rt, &rt->routes, &want, true);
	if (ret < 0)
		log_err("uapi: routes on %s not fully in line with the peers' allowed-ips: %s",
			rt->ifname, strerror(-ret));
	vpnd_prefix_set_free(&want);
}

static void rt_device(void *ctx, struct vpnd_uapi_device *dev)
{
	struct vpnd_runtime *rt = ctx;

	*dev = (struct vpnd_uapi_device){.engine = rt->engine,
					 .private_key = rt->config->private_key,
					 .listen_port = rt->udp.port,
					 .fwmark = rt_fwmark(rt),
					 .now = vpnd_now(),
					 .ctx = rt,
					 .set_private_key = rt_set_private_key,
					 .set_fwmark = rt_set_fwmark,
					 .peer_name = rt_peer_name,
					 .peer_set = rt_peer_set,
					 .peers_changed = rt_peers_changed};
}

struct vpnd_uapi_server *vpnd_runtime_uapi_open(struct vpnd_runtime *rt)
{
	return vpnd_uapi_server_open(rt->epfd, rt->config->uapi_socket, rt_device, rt);
}
