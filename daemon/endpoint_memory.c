/* A peer behind a NAT has no endpoint in the config: HQ learns it from the peer's
 * packets. After a crash the new run would have to wait until the peer initiates, which
 * it does only 15 s after its data stops being answered (or at its next rekey). Its
 * persistent keepalive holds the NAT's mapping open all that time, so the endpoint of
 * the run before is still good: remembered here, it lets vpnd initiate at once.
 *
 * The file lists the peers a run has reached (completed a handshake with), so it also
 * says whom to reconnect: a first start, or a peer never reached, behaves as before
 * (vpnd waits for traffic), while the sessions a crash cut are renewed at once.
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

struct entry {
	uint8_t key[32];
	struct wg_endpoint ep;
};

static struct {
	char *path;
	struct wg_engine *engine;
	int epfd;
	struct vpnd_event_source timer;
	struct entry *file; /* what the file holds (loaded, then as last written), by key */
	size_t n_file;
	bool dirty;   /* the file is behind the engine */
	bool armed;   /* the timer will fire */
	bool failing; /* the last write failed */
} M = {.epfd = -1, .timer = {.fd = -1}};

static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key, 32);
}

/* Sorted, so that a start, a write or a handshake with 10,000 peers stays cheap. */
static void sort_file(void)
{
	size_t n = 0;

	if (!M.n_file)
		return;
	qsort(M.file, M.n_file, sizeof(*M.file), by_key);
	for (size_t i = 1; i < M.n_file; i++) /* a key listed twice is kept once */
		if (by_key(&M.file[n], &M.file[i]))
			M.file[++n] = M.file[i];
	M.n_file = n + 1;
}

static struct entry *in_file(const uint8_t key[32])
{
	struct entry k;

	if (!M.n_file)
		return NULL;
	memcpy(k.key, key, 32);
	return bsearch(&k, M.file, M.n_file, sizeof(*M.file), by_key);
}

/* Worth a line: reached in this run or one before, and where is known. */
static bool remembered(const struct wg_peer *p)
{
	return p->endpoint.addr.sa.sa_family != AF_UNSPEC &&
	       (p->stats.handshakes || in_file(p->handshake.remote_static));
}

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

/* The reached peers' endpoints into the file, replacing it. 0 or -errno. */
static int save(void)
{
	char *buf = NULL, line[LINE_MAX_LEN];
	struct entry *written = NULL;
	size_t size = 0, n = 0, count = 0;
	FILE *mem;
	int ret;

	for (const struct wg_peer *p = wg_engine_peers(M.engine); p; p = p->next)
		count++;
	written = calloc(count ? count : 1, sizeof(*written));
	mem = open_memstream(&buf, &size);
	if (!written || !mem) {
		if (mem)
			fclose(mem);
		free(buf);
		free(written);
		return -ENOMEM;
	}
	fputs("# vpnd: the peers it reached and where (public key, endpoint); read at start\n",
	      mem);
	for (const struct wg_peer *p = wg_engine_peers(M.engine); p; p = p->next) {
		if (!remembered(p) || !vpnd_endpoint_memory_line(line, sizeof(line), p))
			continue;
		fputs(line, mem);
		memcpy(written[n].key, p->handshake.remote_static, 32);
		written[n++].ep = p->endpoint;
	}
	if (fclose(mem) != 0) {
		free(buf);
		free(written);
		return -ENOMEM;
	}
	ret = vpnd_state_write(M.path, buf, size);
	free(buf);
	if (ret) {
		free(written);
		return ret;
	}
	free(M.file);
	M.file = written;
	M.n_file = n;
	sort_file();
	return 0;
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

static void changed(void)
{
	M.dirty = true;
	if (!M.armed)
		arm(VPND_ENDPOINT_MEMORY_DELAY_S);
}

void vpnd_endpoint_memory_reached(const struct wg_peer *p)
{
	const struct entry *e;

	if (!M.path || !p || p->endpoint.addr.sa.sa_family == AF_UNSPEC)
		return;
	e = in_file(p->handshake.remote_static);
	if (!e || !wg_endpoint_eq(&e->ep, &p->endpoint))
		changed();
}

static bool add_entry(const uint8_t key[32], const struct wg_endpoint *ep, size_t *cap)
{
	if (M.n_file == *cap) {
		size_t want = *cap ? 2 * *cap : 64;
		struct entry *grown = realloc(M.file, want * sizeof(*grown));

		if (!grown)
			return false;
		M.file = grown;
		*cap = want;
	}
	memcpy(M.file[M.n_file].key, key, 32);
	M.file[M.n_file++].ep = *ep;
	return true;
}

static void load(void)
{
	char *text = NULL, *line = NULL, ep_text[WG_ENDPOINT_STRLEN];
	const char *l;
	struct wg_endpoint ep;
	unsigned lineno = 0, used = 0;
	uint8_t key[32];
	size_t pos = 0, len, cap = 0;
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
		if (r && !add_entry(key, &ep, &cap))
			break;
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
	sort_file();
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
		 * reported now, not when the first peer is reached. */
		changed();
	}
	/* The peers the run before reached still hold sessions with it, which are gone: a
	 * new handshake replaces them now instead of when their timers give up on it. */
	for (struct wg_peer *p = wg_engine_peers(e); p; p = p->next)
		if (p->endpoint.addr.sa.sa_family != AF_UNSPEC &&
		    in_file(p->handshake.remote_static))
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
	free(M.file);
	M = (__typeof__(M)){.epfd = -1, .timer = {.fd = -1}};
}
