/* A peer behind a NAT has no endpoint in the config: HQ learns it from the peer's
 * packets. After a crash the new run would have to wait until the peer initiates, which
 * it does only 15 s after its data stops being answered (or at its next rekey). Its
 * persistent keepalive holds the NAT's mapping open all that time, so the endpoint of
 * the run before is still good: remembered here, it lets vpnd initiate at once.
 *
 * The file is replaced whole like every state file (state.c). Writes are gathered, so
 * that its fsync stays rare: a roaming burst, or a thousand peers handshaking at start,
 * is one write a second later. A write that fails (disk full, read-only) is logged once,
 * counted (storage_health) and tried again until it works; the endpoints stay in memory
 * meanwhile and the tunnel never waits for the disk. */
#include "endpoint_memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "state.h"
#include "storage_health.h"
#include "vpnd/key.h"

#define LINE_MAX_LEN (VPND_KEY_B64_LEN + 1 + WG_ENDPOINT_STRLEN + 2)

static struct {
	char *path;
	struct wg_engine *engine;
	int epfd;
	struct vpnd_event_source timer;
	bool dirty;   /* the file is behind the engine */
	bool armed;   /* the timer will fire */
	bool failing; /* the last write failed */
} M = {.epfd = -1, .timer = {.fd = -1}};

size_t vpnd_endpoint_memory_line(char *buf, size_t len, const struct wg_peer *p)
{
	char key[VPND_KEY_B64_LEN + 1], ep[WG_ENDPOINT_STRLEN];
	int n;

	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC)
		return 0;
	vpnd_key_to_base64(key, p->handshake.remote_static);
	n = snprintf(buf, len, "%s %s\n", key, wg_endpoint_format(&p->endpoint, ep));
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

int vpnd_endpoint_memory_parse(const char *line, uint8_t key[32], struct wg_endpoint *ep)
{
	/* Wider than any valid word: what does not fit is not valid, and is refused below. */
	char k[64], e[64], extra;
	int n;

	line += strspn(line, " \t");
	if (!*line || *line == '#' || *line == '\n')
		return 0;
	n = sscanf(line, "%63s %63s %c", k, e, &extra);
	if (n != 2 || !vpnd_key_from_base64(key, k) || wg_endpoint_parse(ep, e) < 0)
		return -EINVAL;
	return 1;
}

static void arm(unsigned seconds)
{
	struct itimerspec its = {.it_value = {(time_t)seconds, 0}};

	if (M.timer.fd >= 0 && timerfd_settime(M.timer.fd, 0, &its, NULL) == 0)
		M.armed = true;
}

/* The engine's endpoints into the file, replacing it. 0 or -errno. */
static int save(void)
{
	char *buf = NULL, line[LINE_MAX_LEN];
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	int ret;

	if (!mem)
		return -ENOMEM;
	fputs("# vpnd: where each peer was last reached (public key, endpoint); read at start\n",
	      mem);
	for (const struct wg_peer *p = wg_engine_peers(M.engine); p; p = p->next)
		if (vpnd_endpoint_memory_line(line, sizeof(line), p))
			fputs(line, mem);
	if (fclose(mem) != 0) {
		free(buf);
		return -ENOMEM;
	}
	ret = vpnd_state_write(M.path, buf, size);
	free(buf);
	return ret;
}

static void flush(void)
{
	int ret = save(); /* noted in the storage health report by vpnd_state_write */

	if (ret) {
		if (!M.failing)
			log_err(
			    "state file %s: cannot write: %s (%s); the peers' endpoints are kept "
			    "in memory and written when it works again (the VPN keeps running)",
			    M.path, strerror(-ret), vpnd_errno_name(-ret));
		M.failing = true;
		arm(VPND_ENDPOINT_MEMORY_RETRY_S);
		return;
	}
	if (M.failing)
		log_notice("state file %s: written again", M.path);
	M.failing = false;
	M.dirty = false;
}

static void on_timer(struct vpnd_event_source *src, uint32_t events)
{
	uint64_t expirations;
	(void)events;

	while (read(src->fd, &expirations, sizeof(expirations)) > 0)
		;
	M.armed = false;
	if (M.dirty)
		flush();
}

void vpnd_endpoint_memory_changed(void)
{
	if (!M.path)
		return;
	M.dirty = true;
	if (!M.armed)
		arm(VPND_ENDPOINT_MEMORY_DELAY_S);
}

static void load(void)
{
	char *text = NULL, *line = NULL, ep_text[WG_ENDPOINT_STRLEN];
	const char *l;
	struct wg_endpoint ep;
	unsigned lineno = 0, used = 0;
	uint8_t key[32];
	size_t pos = 0, len;
	int ret = vpnd_state_read(M.path, &text);

	if (ret < 0) {
		if (ret != -ENOENT)
			log_warn("state file %s: cannot read it: %s; peers without an endpoint in "
				 "the config wait to be contacted",
				 M.path, strerror(-ret));
		return;
	}
	while (vpnd_state_next_line(text, &pos, &l, &len)) {
		struct wg_peer *p;
		int r;

		lineno++;
		free(line);
		line = strndup(l, len);
		if (!line)
			break;
		r = vpnd_endpoint_memory_parse(line, key, &ep);
		if (r < 0) {
			log_warn("%s:%u: not a public key and an ip:port; line ignored", M.path,
				 lineno);
			continue;
		}
		p = r ? wg_engine_find_peer(M.engine, key) : NULL;
		/* Gone from the config, or given an endpoint there: the config wins. */
		if (!p || p->endpoint.addr.sa.sa_family != AF_UNSPEC)
			continue;
		wg_engine_peer_set_endpoint(M.engine, p, &ep);
		used++;
		log_info("peer %s: endpoint %s, where the run before last reached it", p->name,
			 wg_endpoint_format(&ep, ep_text));
	}
	free(line);
	free(text);
	if (used)
		log_notice("%s: %u endpoint%s of the run before restored", M.path, used,
			   used == 1 ? "" : "s");
}

int vpnd_endpoint_memory_start(const char *state_dir, const char *ifname, struct wg_engine *e,
			       int epfd, struct wg_time now)
{
	int ret;

	vpnd_endpoint_memory_stop();
	M.engine = e;
	if (state_dir) {
		if (asprintf(&M.path, "%s/%s.endpoints", state_dir, ifname) < 0) {
			M.path = NULL;
			return -ENOMEM;
		}
		M.timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		M.timer.handler = on_timer;
		if (M.timer.fd < 0 || (ret = vpnd_event_add(epfd, &M.timer, EPOLLIN)) < 0) {
			ret = M.timer.fd < 0 ? -errno : ret;
			log_err("state file %s: timer: %s", M.path, strerror(-ret));
			vpnd_endpoint_memory_stop();
			return ret;
		}
		M.epfd = epfd;
		load();
		/* Written soon after every start: a state directory that cannot take it is
		 * reported now, not at the first roaming peer. */
		vpnd_endpoint_memory_changed();
	}
	/* The other sites still hold sessions with a run that is gone: a new handshake
	 * replaces them now instead of when their timers give up on it. */
	for (struct wg_peer *p = wg_engine_peers(e); p; p = p->next)
		if (p->endpoint.addr.sa.sa_family != AF_UNSPEC)
			wg_engine_peer_connect(e, p, now);
	return 0;
}

void vpnd_endpoint_memory_stop(void)
{
	if (M.path && M.engine && M.dirty)
		flush();
	if (M.timer.fd >= 0) {
		if (M.epfd >= 0)
			vpnd_event_del(M.epfd, &M.timer);
		close(M.timer.fd);
	}
	free(M.path);
	M = (__typeof__(M)){.epfd = -1, .timer = {.fd = -1}};
}
