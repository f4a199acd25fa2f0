/* The running daemon: startup in a safe order, the event loop, shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_events.h"
#include "control_keys.h"
#include "control_peer.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "show.h"
#include "uapi_server.h"
#include "show_status.h"
#include "leftovers.h"
#include "endpoint_memory.h"
#include "endpoints.h"
#include "process_filter.h"
#include "tunnel/tun.h"

/* Datagrams or packets handled per readiness event before others get a turn. */
#define IO_BUDGET 64
/* Queued handshake work done per loop turn before transport data gets its turn again:
 * a few responder handshakes, or some hundreds of cookie replies under a flood. */
#define HANDSHAKE_SLICE_NS (500 * 1000)
/* How often the timer is re-armed while queued handshakes keep the loop busy. */
#define REARM_BUSY_NS (1000 * 1000)

struct wg_time vpnd_now(void)
{
	struct timespec m, r;

	/* CLOCK_BOOTTIME keeps counting through suspend, so sessions expire honestly. */
	clock_gettime(CLOCK_BOOTTIME, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return (struct wg_time){
	    .mono_ns = (uint64_t)m.tv_sec * WG_NSEC_PER_SEC + (uint64_t)m.tv_nsec,
	    .real_ns = (uint64_t)r.tv_sec * WG_NSEC_PER_SEC + (uint64_t)r.tv_nsec};
}

static struct vpnd_runtime *of(struct vpnd_event_source *src, size_t offset)
{
	return (struct vpnd_runtime *)((char *)src - offset);
}

/* ---- engine callbacks ---- */

static int io_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct vpnd_runtime *rt = ctx;
	/* The engine hands us its peer's endpoint; udp may forget a dead source on it. */
	int ret = vpnd_datapath_send(&rt->dp, (struct wg_endpoint *)to, buf, len);

	if (ret < 0)
		rt->udp_send_errors++;
	return ret;
}

/* Transport data: sealed in the send batch, on the crypto threads (datapath.h). */
static int io_send_unsealed(void *ctx, struct wg_endpoint *to, uint8_t *msg, size_t len,
			    const uint8_t key[32], uint64_t counter)
{
	struct vpnd_runtime *rt = ctx;
	int ret = vpnd_datapath_send_unsealed(&rt->dp, to, msg, len, key, counter);

	if (ret < 0)
		rt->udp_send_errors++;
	return ret;
}

static void io_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	struct vpnd_runtime *rt = ctx;
	(void)from;
	vpnd_datapath_deliver(&rt->dp, pkt, len);
}

static bool io_policy_allows(void *ctx, const struct wg_peer *from, const struct wg_peer *to,
			     const uint8_t *pkt, size_t len)
{
	struct vpnd_runtime *rt = ctx;

	return vpnd_policy_guard_allows(&rt->policy, from, to, pkt, len);
}

static void io_event(void *ctx, enum wg_event ev, const struct wg_peer *p, const char *detail)
{
	struct vpnd_runtime *rt = ctx;
	const char *name = p ? p->name : "?";
	uint64_t now;

	vpnd_endpoints_note_event(rt->endpoints, ev, p, vpnd_now().mono_ns);
	switch (ev) {
	case WG_EVENT_HANDSHAKE_COMPLETE:
		rt->handshakes_completed++;
		log_info("peer %s: handshake completed (%s)", name, detail);
		vpnd_audit_event("handshake-completed", VPND_AUDIT_STR("peer", name),
				 VPND_AUDIT_STR("role", detail));
		if (p)
			vpnd_endpoint_memory_reached(p);
		break;
	case WG_EVENT_HANDSHAKE_INITIATED:
		log_debug("peer %s: sending handshake initiation (attempt %s)", name, detail);
		vpnd_persistent_initiation_sent(rt);
		break;
	case WG_EVENT_PEER_UNREACHABLE:
		log_warn("peer %s: unreachable, no handshake answered for %d seconds", name,
			 WG_REKEY_ATTEMPT_TIME);
		break;
	case WG_EVENT_HANDSHAKE_REFUSED:
		vpnd_audit_handshake_refused(p ? name : NULL, detail);
		/* Anyone on the internet can cause these: at most one line a second. */
		now = vpnd_now().mono_ns;
		if (now - rt->refused_logged_at < WG_NSEC_PER_SEC) {
			rt->refused_suppressed++;
			break;
		}
		if (rt->refused_suppressed)
			log_notice("handshake refused from %s: %s (%u more refusals not logged)",
				   p ? name : "unknown sender", detail, rt->refused_suppressed);
		else
			log_notice("handshake refused from %s: %s", p ? name : "unknown sender",
				   detail);
		rt->refused_logged_at = now;
		rt->refused_suppressed = 0;
		break;
	case WG_EVENT_ENDPOINT_CHANGED:
		log_info("peer %s: endpoint is now %s", name, detail);
		vpnd_endpoint_memory_reached(p);
		break;
	case WG_EVENT_KEYS_ZEROED:
		log_info("peer %s: session keys wiped after %d seconds unused", name,
			 WG_REJECT_AFTER_TIME * 3);
		break;
	case WG_EVENT_COOKIE_SENT:
		log_debug("under load: answered a handshake with a cookie");
		break;
	case WG_EVENT_KEY_ROTATED:
		if (p)
			vpnd_persistent_key_rotated(rt, p);
		break;
	}
}

/* ---- event loop ---- */

/* Offloads: TSO (and USO) on the TUN, GRO on the UDP sockets, GSO when sending. Each is
 * probed; whatever the kernel lacks, the packet path does by hand. */
static int datapath_start(struct vpnd_runtime *rt)
{
	const struct vpnd_config *cfg = rt->config;
	unsigned granted = 0;
	bool gro = false;
	int ret;

	if (cfg->offload) {
		granted = wg_tun_set_offload(rt->tun_fd);
		if (rt->udp.fd6 >= 0)
			gro = wg_udp_enable_gro(rt->udp.fd6);
		if (rt->udp.fd4 >= 0)
			gro = wg_udp_enable_gro(rt->udp.fd4) || gro;
	}
	ret =
	    vpnd_datapath_init(&rt->dp, rt->tun_fd, &rt->udp, cfg->mtu, cfg->offload, cfg->offload);
	if (ret < 0) {
		log_err("packet buffers: %s", strerror(-ret));
		return ret;
	}
	rt->dp.tun_offload = granted;
	log_info("%s: offloads %s (TUN 0x%x, UDP GRO %s)", cfg->interface,
		 cfg->offload ? "on" : "off", granted, gro ? "on" : "off");
	return 0;
}

/* The crypto workers (config `threads`, default one per online CPU). Each inherits the
 * blocked signals and the process filter, and loads its own narrower one at once; a
 * worker that cannot fails the start. */
static int crypto_workers_start(struct vpnd_runtime *rt)
{
	const struct vpnd_config *cfg = rt->config;
	unsigned threads = cfg->threads;
	int ret;

	if (!threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus < 1		    ? 1
			  : cpus > VPND_MAX_THREADS ? VPND_MAX_THREADS
						    : (unsigned)cpus;
	}
	if ((ret = vpnd_datapath_start_workers(&rt->dp, threads)) < 0) {
		log_err("threads = %u: cannot start the crypto worker threads under their seccomp "
			"filter: %s",
			threads, strerror(-ret));
		return ret;
	}
	threads = vpnd_datapath_threads(&rt->dp);
	log_info("%s: transport crypto on %u thread%s%s", cfg->interface, threads,
		 threads == 1 ? "" : "s", cfg->threads ? "" : " (one per online CPU)");
	return 0;
}

static void rearm_timer(struct vpnd_runtime *rt)
{
	uint64_t next = wg_engine_next_deadline(rt->engine);
	struct itimerspec its = {0};

	if (next == UINT64_MAX)
		next = 0;
	if (next == rt->timer_armed)
		return;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / WG_NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(next % WG_NSEC_PER_SEC);
	}
	if (timerfd_settime(rt->timer_src.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		rt->timer_armed = next;
}

static void on_timer(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_runtime *rt = of(src, offsetof(struct vpnd_runtime, timer_src));
	uint64_t expirations;
	(void)events;

	while (read(src->fd, &expirations, sizeof(expirations)) > 0)
		;
	rt->timer_armed = 0;
	wg_engine_tick(rt->engine, vpnd_now());
}

static void on_udp(struct vpnd_runtime *rt, int fd)
{
	vpnd_datapath_udp_readable(&rt->dp, rt->engine, fd, IO_BUDGET);
}

static void on_udp4(struct vpnd_event_source *src, uint32_t events)
{
	(void)events;
	on_udp(of(src, offsetof(struct vpnd_runtime, udp4_src)), src->fd);
}

static void on_udp6(struct vpnd_event_source *src, uint32_t events)
{
	(void)events;
	on_udp(of(src, offsetof(struct vpnd_runtime, udp6_src)), src->fd);
}

static void on_tun(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_runtime *rt = of(src, offsetof(struct vpnd_runtime, tun_src));
	(void)events;

	vpnd_datapath_tun_readable(&rt->dp, rt->engine, IO_BUDGET);
}

static void on_signal(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_runtime *rt = of(src, offsetof(struct vpnd_runtime, signal_src));
	struct signalfd_siginfo si;
	(void)events;

	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		vpnd_audit_signal((int)si.ssi_signo, si.ssi_uid, (pid_t)si.ssi_pid);
		if (si.ssi_signo == SIGHUP) {
			struct vpnd_reply r;
			vpnd_reply_init(&r);
			log_info("SIGHUP: reloading %s", rt->config->path);
			vpnd_runtime_reload(rt, &r);
			vpnd_reply_free(&r);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_notice("%s: shutting down", strsignal((int)si.ssi_signo));
			vpnd_audit_daemon_stop(strsignal((int)si.ssi_signo));
			rt->running = false;
		}
	}
}

void vpnd_runtime_run(struct vpnd_runtime *rt)
{
	struct epoll_event evs[32];
	bool handshakes_waiting = false;
	uint64_t rearmed_at = 0;

	rt->running = true;
	while (rt->running) {
		/* Finding the next deadline walks every peer (150 µs at 10,000). Before a wait
		 * that may sleep it must be done; while handshakes keep the loop from sleeping,
		 * once a millisecond is enough (protocol timers are seconds apart). */
		if (!handshakes_waiting || vpnd_now().mono_ns - rearmed_at >= REARM_BUSY_NS) {
			rearm_timer(rt);
			rearmed_at = vpnd_now().mono_ns;
		}
		/* With handshakes waiting, look at what else is ready and come back to them. */
		int n = epoll_wait(rt->epfd, evs, 32, handshakes_waiting ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			vpnd_audit_daemon_stop("epoll_wait failed");
			break;
		}
		for (int i = 0; i < n && rt->running; i++) {
			struct vpnd_event_source *src = evs[i].data.ptr;
			src->handler(src, evs[i].events);
		}
		handshakes_waiting =
		    vpnd_datapath_handshakes(&rt->dp, rt->engine, HANDSHAKE_SLICE_NS);
	}
}

/* ---- control commands ---- */

static void show_input(struct vpnd_runtime *rt, struct vpnd_show_input *in)
{
	struct wg_time now = vpnd_now();

	in->interface = rt->ifname;
	in->listen_port = rt->udp.port;
	in->engine = rt->engine;
	in->now_real_ns = now.real_ns;
	in->now_mono_ns = now.mono_ns;
	in->config = rt->config;
	in->endpoints = rt->endpoints;
	in->policy = rt->policy.policy;
	in->revoked = &rt->persist.revoked;
	in->datapath = &rt->dp.stats;
}

static void cmd_show(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_show_input in;
	(void)caller;

	show_input(ctx, &in);
	vpnd_show_text(r, &in, argc > 1 ? argv[1] : NULL);
}

static void cmd_show_json(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_show_input in;
	(void)argc;
	(void)argv;
	(void)caller;

	show_input(ctx, &in);
	vpnd_show_json(r, &in);
}

static void cmd_status(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_show_input in;
	(void)caller;

	show_input(ctx, &in);
	vpnd_show_status(r, &in, argc > 1 ? argv[1] : NULL);
}

static void cmd_show_dot(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_show_input in;
	(void)argc;
	(void)argv;
	(void)caller;

	show_input(ctx, &in);
	vpnd_show_dot(r, &in);
}

static void cmd_reload(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	(void)argc;
	(void)argv;

	log_info("reload requested over the control socket by uid %u", (unsigned)caller);
	vpnd_runtime_reload(rt, r);
}

/* GET /metrics and `vpnctl metrics` print the same text. */
static void metrics_render(void *ctx, struct vpnd_reply *r)
{
	struct vpnd_runtime *rt = ctx;
	struct wg_time now = vpnd_now();
	struct vpnd_metrics_input in = {.interface = rt->ifname,
					.engine = rt->engine,
					.now_real_ns = now.real_ns,
					.now_mono_ns = now.mono_ns,
					.handshakes_completed = rt->handshakes_completed,
					.datapath = &rt->dp.stats,
					.udp_send_calls = rt->dp.tx.sends,
					.udp_send_errors = rt->dp.tx.errors + rt->udp_send_errors,
					.policy = rt->policy.policy};

	vpnd_metrics_render(r, &in);
}

static void cmd_metrics(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	(void)argc;
	(void)argv;
	(void)caller;
	metrics_render(ctx, r);
}

static const struct vpnd_control_command commands[] = {
    {"show", 0, 1, cmd_show},
    {"show-json", 0, 0, cmd_show_json},
    {"status", 0, 1, cmd_status},
    {"show-dot", 0, 0, cmd_show_dot},
    {"reload", 0, 0, cmd_reload},
    {"metrics", 0, 0, cmd_metrics},
    {"peer-add", 3, 6, vpnd_cmd_peer_add},
    {"peer-remove", 1, 1, vpnd_cmd_peer_remove},
    {"revoke", 1, 1, vpnd_cmd_revoke},
    {"unrevoke", 1, 1, vpnd_cmd_unrevoke},
    {"rotate-key", 0, 0, vpnd_cmd_rotate_key},
    {NULL, 0, 0, NULL},
};

/* ---- startup and shutdown ---- */

void vpnd_prefix_set_free(struct vpnd_prefix_set *s)
{
	free(s->items);
	s->items = NULL;
	s->count = 0;
}

static int add_source(struct vpnd_runtime *rt, struct vpnd_event_source *src, int fd,
		      void (*handler)(struct vpnd_event_source *, uint32_t))
{
	src->fd = fd;
	src->handler = handler;
	return vpnd_event_add(rt->epfd, src, EPOLLIN);
}

/* Put u's sockets in the event loop as the UDP sources: 0, or -errno with none added. */
static int udp_sources_add(struct vpnd_runtime *rt, const struct wg_udp *u)
{
	int ret = 0;

	if (u->fd6 >= 0 && (ret = add_source(rt, &rt->udp6_src, u->fd6, on_udp6)) < 0)
		return ret;
	if (u->fd4 >= 0 && (ret = add_source(rt, &rt->udp4_src, u->fd4, on_udp4)) < 0 &&
	    u->fd6 >= 0)
		vpnd_event_del(rt->epfd, &rt->udp6_src);
	return ret;
}

static void udp_sources_del(struct vpnd_runtime *rt, const struct wg_udp *u)
{
	if (u->fd6 >= 0)
		vpnd_event_del(rt->epfd, &rt->udp6_src);
	if (u->fd4 >= 0)
		vpnd_event_del(rt->epfd, &rt->udp4_src);
}

/* The sources are the runtime's two embedded structs, so the old sockets leave the set
 * before the new ones join it; events of the old ones still pending in this epoll batch
 * then read from a new socket, which at worst has nothing to read. */
int vpnd_runtime_udp_move(struct vpnd_runtime *rt, uint16_t port, struct wg_udp *old)
{
	struct wg_udp next = {.fd4 = -1, .fd6 = -1};
	int cur = rt->udp.fd6 >= 0 ? rt->udp.fd6 : rt->udp.fd4;
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);
	int ret;

	if ((ret = wg_udp_open(&next, port)) < 0)
		return ret;
	/* A mark set over the UAPI (wg set fwmark) stays with the interface. */
	if (cur >= 0 && getsockopt(cur, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark) {
		if ((next.fd6 >= 0 &&
		     setsockopt(next.fd6, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) ||
		    (next.fd4 >= 0 &&
		     setsockopt(next.fd4, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)) {
			ret = -errno;
			wg_udp_close(&next);
			return ret;
		}
	}
	if (rt->config->offload) {
		if (next.fd6 >= 0)
			wg_udp_enable_gro(next.fd6);
		if (next.fd4 >= 0)
			wg_udp_enable_gro(next.fd4);
	}
	udp_sources_del(rt, &rt->udp);
	if ((ret = udp_sources_add(rt, &next)) < 0) {
		/* Removing two watches made room for two. */
		udp_sources_add(rt, &rt->udp);
		wg_udp_close(&next);
		return ret;
	}
	*old = rt->udp;
	rt->udp = next; /* in place: the packet path holds &rt->udp */
	return 0;
}

void vpnd_runtime_udp_restore(struct vpnd_runtime *rt, struct wg_udp *old)
{
	int ret;

	udp_sources_del(rt, &rt->udp);
	wg_udp_close(&rt->udp);
	rt->udp = *old;
	if ((ret = udp_sources_add(rt, &rt->udp)) < 0)
		log_err("UDP port %u: cannot listen again: %s", rt->udp.port, strerror(-ret));
	*old = (struct wg_udp){.fd4 = -1, .fd6 = -1};
}

static int setup_signals(struct vpnd_runtime *rt)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return add_source(rt, &rt->signal_src, fd, on_signal);
}

int vpnd_runtime_add_peer(struct vpnd_runtime *rt, const struct vpnd_peer_conf *pc,
			  struct wg_time now)
{
	struct wg_peer_config c = {.name = pc->name,
				   .has_preshared_key = pc->has_preshared_key,
				   .endpoint = pc->endpoint,
				   .persistent_keepalive = pc->persistent_keepalive};
	struct wg_peer *p;
	int ret;

	memcpy(c.public_key, pc->public_key, 32);
	memcpy(c.preshared_key, pc->preshared_key, 32);
	c.has_next_public_key = pc->has_next_public_key;
	memcpy(c.next_public_key, pc->next_public_key, 32);
	p = wg_engine_add_peer(rt->engine, &c, now);
	sodium_memzero(c.preshared_key, sizeof(c.preshared_key));
	if (!p)
		return -errno;
	ret = wg_engine_peer_set_allowed_ips(rt->engine, p, pc->allowed_ips, pc->n_allowed_ips);
	if (ret < 0) {
		wg_engine_remove_peer(rt->engine, p);
		return ret;
	}
	vpnd_audit_peer("peer-added", pc->name, pc->public_key);
	vpnd_policy_guard_peers_changed(&rt->policy);
	/* A listed key stays refused, whichever way its peer comes (back) in. */
	if (vpnd_persistent_is_listed(&rt->persist, p)) {
		wg_engine_peer_set_revoked(rt->engine, p, true);
		log_notice("peer %s: revoked (its key is in %s)", p->name,
			   rt->persist.revoked_path);
	}
	return 0;
}

int vpnd_runtime_start(struct vpnd_runtime *rt, struct vpnd_config *cfg)
{
	struct wg_engine_io io = {.ctx = rt,
				  .send_datagram = io_send,
				  .deliver_packet = io_deliver,
				  .event = io_event,
				  .policy_allows = io_policy_allows,
				  .send_unsealed = io_send_unsealed};
	struct wg_engine_settings settings = {.rekey_after_time = cfg->rekey_after_time,
					      .mtu = cfg->mtu};
	struct vpnd_prefix_set want_routes = {0}, want_addrs = {0};
	struct wg_time now = vpnd_now();
	int ret, fd;

	memset(rt, 0, sizeof(*rt));
	rt->tun_fd = -1;
	rt->udp.fd4 = rt->udp.fd6 = -1;
	rt->config = cfg;
	rt->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rt->epfd < 0) {
		ret = -errno;
		log_err("epoll_create1: %s", strerror(errno));
		goto fail;
	}
	ret = setup_signals(rt);
	if (ret < 0) {
		log_err("signals: %s", strerror(-ret));
		goto fail;
	}
	fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0 || (ret = add_source(rt, &rt->timer_src, fd, on_timer)) < 0) {
		ret = fd < 0 ? -errno : ret;
		log_err("timerfd: %s", strerror(-ret));
		goto fail;
	}

	/* Before anything is changed: a live vpnd's sockets mean this one must not run. */
	if ((ret = vpnd_leftover_socket_check("control-socket", cfg->control_socket, NULL,
					      "another vpnd with this configuration?")) < 0 ||
	    (cfg->uapi && (ret = vpnd_leftover_socket_check(
			       "uapi-socket", cfg->uapi_socket, "cannot serve the wg tool there",
			       "another vpnd or wireguard-go on this interface? set "
			       "uapi-socket, or uapi = false")) < 0))
		goto fail;
	/* A missing account stops startup here, before anything has changed. */
	if ((ret = vpnd_privileges_lookup(cfg, &rt->privileges)) < 0)
		goto fail;
	/* Before the data plane: everything it does from its first packet is recorded. */
	if ((ret = vpnd_audit_daemon_start(cfg, rt->epfd)) < 0)
		goto fail;

	rt->engine = wg_engine_new(&io, &settings);
	if (!rt->engine || wg_engine_set_private_key(rt->engine, cfg->private_key) < 0) {
		ret = -EINVAL;
		log_err("%s: private key not usable", cfg->private_key_file);
		goto fail;
	}
	/* Before the first packet, as the policy judges every one. */
	if ((ret = vpnd_policy_guard_install(&rt->policy, rt->engine, cfg)) < 0)
		goto fail;
	/* Bad mac1 drops have no event of their own; the audit log counts them. */
	vpnd_audit_watch_counter("bad mac", &wg_engine_stats(rt->engine)->drops[WG_DROP_BAD_MAC]);
	/* Before any peer: rotated keys into the config, the timestamp floor into the engine. */
	if ((ret = vpnd_persistent_start(rt)) < 0)
		goto fail;

	ret = wg_udp_open(&rt->udp, cfg->listen_port);
	if (ret < 0) {
		log_err("cannot listen on UDP port %u: %s", cfg->listen_port, strerror(-ret));
		goto fail;
	}
	if ((rt->udp.fd6 >= 0 && (ret = add_source(rt, &rt->udp6_src, rt->udp.fd6, on_udp6)) < 0) ||
	    (rt->udp.fd4 >= 0 && (ret = add_source(rt, &rt->udp4_src, rt->udp.fd4, on_udp4)) < 0)) {
		log_err("epoll: %s", strerror(-ret));
		goto fail;
	}

	/* A persistent TUN left by an earlier run would keep its stale routes beside ours. */
	if ((ret = vpnd_leftover_tun_remove(cfg->interface)) < 0)
		goto fail;
	rt->tun_fd = wg_tun_open_flags(cfg->interface, rt->ifname, cfg->offload);
	if (rt->tun_fd < 0) {
		ret = rt->tun_fd;
		log_err("cannot create TUN device %s: %s", cfg->interface, strerror(-ret));
		goto fail;
	}
	if ((ret = datapath_start(rt)) < 0)
		goto fail;
	if ((ret = add_source(rt, &rt->tun_src, rt->tun_fd, on_tun)) < 0) {
		log_err("epoll: %s", strerror(-ret));
		goto fail;
	}

	rt->nl = vpnd_netlink_open();
	if (!rt->nl) {
		ret = -errno;
		log_err("netlink: %s", strerror(errno));
		goto fail;
	}
	rt->ifindex = vpnd_netlink_ifindex(rt->nl, rt->ifname);
	if (rt->ifindex < 0) {
		ret = rt->ifindex;
		log_err("%s: %s", rt->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = vpnd_netlink_set_mtu(rt->nl, rt->ifindex, cfg->mtu)) < 0) {
		log_err("%s: setting MTU %u: %s", rt->ifname, cfg->mtu, strerror(-ret));
		goto fail;
	}
	if ((ret = vpnd_prefixes_from_config(cfg, &want_routes, &want_addrs)) < 0 ||
	    (ret = vpnd_runtime_sync_prefixes(rt, &rt->addresses, &want_addrs, false)) < 0)
		goto fail;
	if ((ret = vpnd_netlink_set_up(rt->nl, rt->ifindex, true)) < 0) {
		log_err("%s: bringing the link up: %s", rt->ifname, strerror(-ret));
		goto fail;
	}
	if ((ret = vpnd_runtime_sync_prefixes(rt, &rt->routes, &want_routes, true)) < 0)
		goto fail;

	rt->control = vpnd_control_open(rt->epfd, cfg->control_socket, cfg->control_socket_mode,
					commands, rt);
	if (!rt->control) {
		ret = -errno;
		log_err("control socket %s: %s", cfg->control_socket, strerror(errno));
		goto fail;
	}
	if (cfg->uapi) {
		rt->uapi = vpnd_runtime_uapi_open(rt);
		if (!rt->uapi) {
			ret = -errno;
			log_err("uapi-socket %s: cannot serve the wg tool there: %s%s",
				cfg->uapi_socket, strerror(-ret),
				ret == -EADDRINUSE ? " (another vpnd or wireguard-go answers "
						     "there: set uapi-socket, or uapi = false)"
						   : "");
			goto fail;
		}
		log_info("uapi-socket %s: serving the wg tool", cfg->uapi_socket);
	}
	/* Made even when off, so that a reload can turn it on. */
	rt->metrics = vpnd_metrics_http_new(rt->epfd, metrics_render, rt);
	if (!rt->metrics) {
		ret = -errno;
		log_err("metrics endpoint: %s", strerror(errno));
		goto fail;
	}
	if (cfg->metrics_listen &&
	    (ret = vpnd_metrics_http_listen(rt->metrics, &cfg->metrics_addr)) < 0) {
		log_err("metrics-listen %s: cannot serve HTTP there: %s", cfg->metrics_listen,
			strerror(-ret));
		goto fail;
	}
	if (cfg->metrics_listen)
		log_info("metrics-listen %s: serving GET /metrics (TCP port %u)",
			 cfg->metrics_listen, (unsigned)vpnd_metrics_http_port(rt->metrics));
	/* Everything that needs root is open: from here on vpnd is its user with two
	 * capabilities, under the system call allow-list. Before any thread starts (the
	 * resolver's, the crypto workers'): a thread that exists at the switch keeps its
	 * bounding set, and one with a seccomp filter of its own stops TSYNC. */
	if ((ret = vpnd_privileges_drop(&rt->privileges, cfg)) < 0 ||
	    (cfg->seccomp && (ret = vpnd_process_filter_load()) < 0))
		goto fail;
	if ((ret = crypto_workers_start(rt)) < 0)
		goto fail;

	for (unsigned i = 0; i < cfg->n_peers; i++) {
		ret = vpnd_runtime_add_peer(rt, &cfg->peers[i], now);
		if (ret < 0) {
			log_err("peer %s: %s", cfg->peers[i].name, strerror(-ret));
			goto fail;
		}
	}
	vpnd_persistent_peers_ready(rt);
	/* The peers' endpoint lists: names are looked up from now on, off the event loop. */
	rt->endpoints = vpnd_endpoints_new(rt->epfd, rt->engine);
	if (!rt->endpoints ||
	    (ret = vpnd_endpoints_configure(rt->endpoints, cfg, now.mono_ns)) < 0) {
		ret = rt->endpoints ? ret : -errno;
		log_err("endpoint lookups: %s", strerror(-ret));
		goto fail;
	}
	/* Last: the handshakes it starts go out through everything set up above. */
	if ((ret = vpnd_endpoint_memory_start(cfg->state_directory, cfg->interface, rt->engine,
					      rt->epfd, now)) < 0)
		goto fail;
	vpnd_prefix_set_free(&want_routes);
	vpnd_prefix_set_free(&want_addrs);
	log_notice("%s up: listening on UDP port %u, %u peer%s, control socket %s", rt->ifname,
		   rt->udp.port, cfg->n_peers, cfg->n_peers == 1 ? "" : "s", cfg->control_socket);
	return 0;
fail:
	vpnd_audit_daemon_stop("startup failed");
	vpnd_prefix_set_free(&want_routes);
	vpnd_prefix_set_free(&want_addrs);
	rt->config = NULL; /* the caller still owns it */
	vpnd_runtime_stop(rt);
	return ret;
}

void vpnd_runtime_stop(struct vpnd_runtime *rt)
{
	struct vpnd_prefix_set none = {0};

	vpnd_audit_close(); /* first: it reads engine counters */
	if (rt->control)
		vpnd_control_close(rt->control);
	rt->control = NULL;
	vpnd_uapi_server_close(rt->uapi);
	rt->uapi = NULL;
	vpnd_metrics_http_free(rt->metrics);
	rt->metrics = NULL;
	if (rt->nl && rt->ifindex > 0) {
		vpnd_runtime_sync_prefixes(rt, &rt->routes, &none, true);
		vpnd_runtime_sync_prefixes(rt, &rt->addresses, &none, false);
	}
	vpnd_prefix_set_free(&rt->routes);
	vpnd_prefix_set_free(&rt->addresses);
	/* Closing the last fd of a non-persistent TUN removes the device. */
	if (rt->tun_fd >= 0)
		close(rt->tun_fd);
	rt->tun_fd = -1;
	if (rt->nl)
		vpnd_netlink_close(rt->nl);
	rt->nl = NULL;
	wg_udp_close(&rt->udp);
	vpnd_datapath_free(&rt->dp);
	vpnd_endpoint_memory_stop(); /* writes what is pending: it reads the engine */
	vpnd_endpoints_free(rt->endpoints);
	rt->endpoints = NULL;
	wg_engine_free(rt->engine);
	rt->engine = NULL;
	vpnd_policy_guard_clear(&rt->policy);
	vpnd_persistent_free(&rt->persist);
	if (rt->timer_src.fd > 0)
		close(rt->timer_src.fd);
	if (rt->signal_src.fd > 0)
		close(rt->signal_src.fd);
	if (rt->epfd >= 0)
		close(rt->epfd);
	rt->epfd = -1;
	vpnd_config_free(rt->config);
	rt->config = NULL;
}
