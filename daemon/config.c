/* The configuration file. libconfuse reads the syntax; this file gives every value its
 * meaning, checks it, and collects every problem with the line it is on, so that one
 * `vpnd -n` run shows the engineer everything to fix. Each single value is parsed in
 * config_values.c; the text libconfuse lexes is prepared in config_text.c. */
#include "daemon/config.h"

#include <confuse.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <sodium.h>

#include "daemon/config_secret.h"
#include "daemon/config_policy.h"
#include "daemon/config_text.h"
#include "daemon/config_values.h"
#include "daemon/privileges.h"
#include "vpnd/control.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"
#include "vpnd/secret_memory.h"

#define NO_PEER UINT_MAX

/* Every option is a CFGT_PTR holding its text and the line it was read on: libconfuse
 * keeps no line per value, and an error has to say where the value is. */
struct cval {
	int line;
	char text[];
};

struct problem {
	int line; /* 0: about the file as a whole */
	unsigned seq;
	char *text;
};

/* A peer section as it was opened: its title and the line of its opening brace. */
struct section_mark {
	char *title;
	int line;
	unsigned seq;
};

/* A prefix in some peer's allowed-ips, or a public key, and where it was written. */
struct claim {
	struct wg_allowed_ip ip;
	unsigned peer;
	int line;
};
struct key_use {
	uint8_t key[VPND_KEY_LEN];
	unsigned peer; /* NO_PEER: the interface's own key */
	int line;
	bool next; /* the peer's next-public-key */
};

struct loader {
	const char *path; /* as given: every message starts with it */
	char *dir;	  /* of the config file, NULL for the current one */
	cfg_t *root;
	bool oom;
	bool in_peer;	/* between a peer section's opening and closing brace */
	int policy_end; /* line where the first policy section closes; 0: none yet */
	struct problem *problems;
	unsigned n_problems, cap_problems;
	struct section_mark *marks;
	unsigned n_marks, cap_marks;
	struct claim *claims;
	unsigned n_claims, cap_claims;
	struct key_use *keys;
	unsigned n_keys, cap_keys;
};

/* libconfuse's callbacks carry no user pointer, and its lexer is global state anyway, so
 * one parse at a time per thread is all there can be: this is the loader in progress. */
static _Thread_local struct loader *parsing;

static bool grow(void *arrayp, unsigned *cap, unsigned n, size_t size, struct loader *l)
{
	void **array = arrayp;
	unsigned ncap = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return true;
	p = reallocarray(*array, ncap, size);
	if (!p) {
		l->oom = true;
		return false;
	}
	*array = p;
	*cap = ncap;
	return true;
}

static void vproblem(struct loader *l, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vproblem(struct loader *l, int line, const char *fmt, va_list ap)
{
	struct problem *p;
	char *msg, *c;
	int rc;

	if (!grow(&l->problems, &l->cap_problems, l->n_problems, sizeof(*p), l))
		return;
	if (vasprintf(&msg, fmt, ap) < 0) {
		l->oom = true;
		return;
	}
	/* One problem, one line: a quoted value may hold a newline or a tab. */
	for (c = msg; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = '?';
	p = &l->problems[l->n_problems];
	rc = line > 0 ? asprintf(&p->text, "%s:%d: %s", l->path, line, msg)
		      : asprintf(&p->text, "%s: %s", l->path, msg);
	free(msg);
	if (rc < 0) {
		l->oom = true;
		return;
	}
	p->line = line > 0 ? line : 0;
	p->seq = l->n_problems++;
}

static void problem(struct loader *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct loader *l, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(l, line, fmt, ap);
	va_end(ap);
}

/* ---- libconfuse callbacks ------------------------------------------------------------ */

static void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	if (parsing)
		vproblem(parsing, cfg ? cfg->line : 0, fmt, ap);
}

/* libconfuse remembers only the line a section ends on. The one moment a peer section is
 * seen at its opening brace is when libconfuse fills in its defaults (persistent-keepalive
 * has one for this reason too): the first value read for a section not yet marked. */
static int read_value(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct loader *l = parsing;
	size_t n = strlen(value);
	struct cval *v = malloc(sizeof(*v) + n + 1);

	(void)opt;
	if (!v || (l && !grow(&l->marks, &l->cap_marks, l->n_marks, sizeof(*l->marks), l))) {
		free(v);
		cfg_error(cfg, "out of memory");
		return -1;
	}
	v->line = cfg->line;
	memcpy(v->text, value, n + 1);
	if (l && cfg != l->root && !l->in_peer && strcmp(cfg->name, "peer") == 0) {
		struct section_mark *m = &l->marks[l->n_marks];

		m->title = strdup(cfg->title ? cfg->title : "");
		if (!m->title) {
			free(v);
			cfg_error(cfg, "out of memory");
			return -1;
		}
		m->line = cfg->line;
		m->seq = l->n_marks++;
		l->in_peer = true;
	}
	*(struct cval **)result = v;
	return 0;
}

/* libconfuse merges a second policy section into the first, list by list: say so instead. */
static int policy_closed(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)opt;
	if (!parsing)
		return 0;
	if (parsing->policy_end)
		problem(parsing, cfg->line,
			"policy: a second policy section (the first ends at line %d)",
			parsing->policy_end);
	else
		parsing->policy_end = cfg->line;
	return 0;
}

static int peer_closed(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)cfg;
	(void)opt;
	if (parsing)
		parsing->in_peer = false;
	return 0;
}

static cfg_t *parse(struct loader *l, const char *text)
{
	cfg_opt_t peer_opts[] = {
	    CFG_PTR_CB("public-key", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("next-public-key", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("preshared-key-file", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("preshared-key", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("endpoint", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("allowed-ips", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("persistent-keepalive", "0", CFGF_NONE, read_value, free),
	    CFG_END(),
	};
	/* See config_group_peers: the same peer sections, in groups that bound libconfuse's
	 * search for an earlier section of the same title. */
	cfg_opt_t group_opts[] = {
	    CFG_SEC("peer", peer_opts, CFGF_MULTI | CFGF_TITLE),
	    CFG_END(),
	};
	cfg_opt_t policy_opts[] = {
	    CFG_PTR_CB("default", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("allow", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("deny", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_END(),
	};
	cfg_opt_t opts[] = {
	    CFG_PTR_CB("interface", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("private-key-file", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("private-key", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("public-endpoint", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("listen-port", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("address", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_LIST_CB("networks", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("mtu", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("control-socket", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("control-socket-mode", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("rekey-after-time", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("endpoint-refresh", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("uapi", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("offload", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("threads", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("user", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("seccomp", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("uapi-socket", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("metrics-listen", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("state-directory", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("revoked-keys-file", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("audit-log", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("audit-key-file", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_PTR_CB("audit-rotate-size", 0, CFGF_NODEFAULT, read_value, free),
	    CFG_SEC("peer", peer_opts, CFGF_MULTI | CFGF_TITLE),
	    CFG_SEC(CONFIG_PEER_GROUP, group_opts, CFGF_MULTI),
	    CFG_SEC("policy", policy_opts, CFGF_NONE),
	    CFG_END(),
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);
	char *grouped;
	int rc;

	if (!cfg) {
		l->oom = true;
		return NULL;
	}
	l->root = cfg;
	cfg_set_error_function(cfg, confuse_error);
	cfg_set_validate_func(cfg, "peer", peer_closed);
	cfg_set_validate_func(cfg, CONFIG_PEER_GROUP "|peer", peer_closed);
	cfg_set_validate_func(cfg, "policy", policy_closed);
	grouped = config_group_peers(text);
	parsing = l;
	rc = cfg_parse_buf(cfg, grouped ? grouped : text);
	parsing = NULL;
	/* Groups are ours to make: one written in the file is no option of vpnd's. */
	if (rc == CFG_SUCCESS && !grouped && cfg_size(cfg, CONFIG_PEER_GROUP))
		problem(l, cfg_getnsec(cfg, CONFIG_PEER_GROUP, 0)->line, "no such option '%s'",
			CONFIG_PEER_GROUP);
	free(grouped);
	if (rc != CFG_SUCCESS) {
		if (!l->n_problems)
			problem(l, 0, "cannot be parsed");
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

static const struct cval *value(cfg_t *sec, const char *name)
{
	return cfg_size(sec, name) ? cfg_getnptr(sec, name, 0) : NULL;
}

/* ---- options: values with their line ------------------------------------------------- */

/* An integer option: its value, or def when it is absent or wrong (and reported). */
static unsigned long get_uint(struct loader *l, cfg_t *sec, const char *name, unsigned long min,
			      unsigned long max, unsigned long def)
{
	const struct cval *v = value(sec, name);
	unsigned long n;

	if (!v)
		return def;
	if (!config_parse_uint(v->text, 10, &n)) {
		problem(l, v->line, "%s: '%s' is not a number", name, v->text);
		return def;
	}
	if (n < min || n > max) {
		problem(l, v->line, "%s: %s is out of range %lu..%lu", name, v->text, min, max);
		return def;
	}
	return n;
}

/* A key file, named relative to the config file. */
static bool read_key_file(struct loader *l, const struct cval *v, const char *opt, char **resolved,
			  uint8_t key[VPND_KEY_LEN])
{
	char *why;

	*resolved = config_resolve_path(l->dir, v->text);
	if (!*resolved) {
		l->oom = true;
		return false;
	}
	if (config_read_key_file(*resolved, key, &why) == 0)
		return true;
	if (why)
		problem(l, v->line, "%s: %s", opt, why);
	else
		l->oom = true;
	free(why);
	return false;
}

/* A key written inline: then this file holds a secret and must be as private as a key
 * file. The value is never quoted in a message. */
static bool read_inline_key(struct loader *l, const struct cval *v, const char *opt,
			    uint8_t key[VPND_KEY_LEN])
{
	char why[256];
	const char *mode_problem;

	if (!vpnd_key_from_base64(key, v->text)) {
		problem(l, v->line, "%s: the key %s", opt,
			config_key_problem(v->text, why, sizeof(why)));
		return false;
	}
	mode_problem = config_secret_file_problem(l->path, why, sizeof(why));
	if (mode_problem) {
		problem(l, v->line, "%s: %s", opt, mode_problem);
		sodium_memzero(key, VPND_KEY_LEN);
		return false;
	}
	return true;
}

static void add_key(struct loader *l, const uint8_t key[VPND_KEY_LEN], unsigned peer, int line)
{
	if (!grow(&l->keys, &l->cap_keys, l->n_keys, sizeof(*l->keys), l))
		return;
	memcpy(l->keys[l->n_keys].key, key, VPND_KEY_LEN);
	l->keys[l->n_keys].peer = peer;
	l->keys[l->n_keys].next = false;
	l->keys[l->n_keys++].line = line;
}

/* The array for a list option of at most max values (the rest reported), each size bytes
 * long; *n is how many to read. NULL when out of memory. */
static void *list_array(struct loader *l, cfg_t *sec, const char *name, unsigned max,
			const char *what, size_t size, unsigned *n)
{
	const struct cval *first_extra;
	void *array;

	*n = cfg_size(sec, name);
	if (*n > max) {
		first_extra = cfg_getnptr(sec, name, max);
		problem(l, first_extra->line, "%s: more than %u %s", name, max, what);
		*n = max;
	}
	array = calloc(*n ? *n : 1, size);
	if (!array)
		l->oom = true;
	return array;
}

/* ---- the interface ------------------------------------------------------------------- */

static void load_addresses(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	const struct cval *v;
	const char *why;
	unsigned i, n;

	c->addresses = list_array(l, cfg, "address", VPND_MAX_ADDRESSES, "addresses",
				  sizeof(*c->addresses), &n);
	if (!c->addresses)
		return;
	for (i = 0; i < n; i++) {
		struct vpnd_address *a = &c->addresses[c->n_addresses];

		v = cfg_getnptr(cfg, "address", i);
		/* Host bits are the point of an interface address: 10.99.0.1/24. */
		why = config_parse_prefix(v->text, &a->family, a->addr, &a->prefixlen);
		if (why)
			problem(l, v->line, "address: '%s' %s", v->text, why);
		else
			c->n_addresses++;
	}
	v = value(cfg, "mtu");
	for (i = 0; v && c->mtu < 1280 && i < c->n_addresses; i++) {
		if (c->addresses[i].family == AF_INET6) {
			/* The kernel turns IPv6 off on a link below this MTU (RFC 8200). */
			problem(l, v->line, "mtu: %u is below 1280, which IPv6 addresses need",
				c->mtu);
			break;
		}
	}
}

static void load_control_socket(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	const struct cval *v = value(cfg, "control-socket");

	if (v)
		c->control_socket = strdup(v->text);
	else if (asprintf(&c->control_socket, "/run/vpnd/%s.sock", c->interface) < 0)
		c->control_socket = NULL;
	if (!c->control_socket) {
		l->oom = true;
		return;
	}
	if (v && !v->text[0])
		problem(l, v->line, "control-socket: the path is empty");
	else if (strlen(c->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		problem(l, v ? v->line : 0,
			"control-socket: '%s' is longer than a socket path may be (%zu)",
			c->control_socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);

	c->control_socket_mode = 0600;
	v = value(cfg, "control-socket-mode");
	if (v && !config_parse_mode(v->text, &c->control_socket_mode))
		problem(l, v->line, "control-socket-mode: '%s' is not an octal mode 0000..0777",
			v->text);
}

/* A path option: the value (relative to the config file), else the default. */
static char *get_path(struct loader *l, cfg_t *cfg, const char *name, const char *def)
{
	const struct cval *v = value(cfg, name);
	char *path;

	if (v && !v->text[0]) {
		problem(l, v->line, "%s: the path is empty", name);
		return NULL;
	}
	path = v ? config_resolve_path(l->dir, v->text) : strdup(def);
	if (!path)
		l->oom = true;
	return path;
}

static bool get_bool(struct loader *l, cfg_t *cfg, const char *name, bool def)
{
	const struct cval *v = value(cfg, name);

	if (!v)
		return def;
	if (strcmp(v->text, "true") == 0 || strcmp(v->text, "yes") == 0)
		return true;
	if (strcmp(v->text, "false") == 0 || strcmp(v->text, "no") == 0)
		return false;
	problem(l, v->line, "%s: '%s' is not true or false", name, v->text);
	return def;
}

/* The account vpnd runs as once it is set up (privileges.c). Only the name's form is
 * checked here: whether it exists is a question for the machine vpnd starts on. */
static void load_user(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	const struct cval *v = value(cfg, "user");
	const char *why;

	c->user = strdup(v ? v->text : VPND_DEFAULT_USER);
	if (!c->user) {
		l->oom = true;
		return;
	}
	c->user_line = v ? v->line : 0;
	if (v && (why = vpnd_privileges_name_problem(v->text)))
		problem(l, v->line, "user: '%s' %s", v->text, why);
}

/* What operators and their tools touch: the wg tool's socket, metrics, the audit log. */
static void load_operations(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	const struct cval *v;
	char def[128], *key_def = NULL;

	c->uapi = get_bool(l, cfg, "uapi", true);
	c->offload = get_bool(l, cfg, "offload", true);
	c->threads = (unsigned)get_uint(l, cfg, "threads", 1, VPND_MAX_THREADS, 0);
	c->seccomp = get_bool(l, cfg, "seccomp", true);
	load_user(l, cfg, c);
	snprintf(def, sizeof(def), "/run/wireguard/%s.sock", c->interface);
	c->uapi_socket = get_path(l, cfg, "uapi-socket", def);

	v = value(cfg, "metrics-listen");
	if (v) {
		c->metrics_listen = strdup(v->text);
		if (!c->metrics_listen)
			l->oom = true;
		else if (wg_endpoint_parse(&c->metrics_addr, v->text) < 0)
			problem(l, v->line,
				"metrics-listen: '%s' is not a numeric address:port such as "
				"127.0.0.1:9586",
				v->text);
	}

	snprintf(def, sizeof(def), "%s/%s.audit", VPND_STATE_DIR, c->interface);
	c->audit_log = get_path(l, cfg, "audit-log", def);
	if (c->audit_log && asprintf(&key_def, "%s.key", c->audit_log) < 0)
		key_def = NULL;
	if (c->audit_log && !key_def)
		l->oom = true;
	else
		c->audit_key_file = get_path(l, cfg, "audit-key-file", key_def ? key_def : def);
	free(key_def);
	c->audit_rotate_size =
	    (uint64_t)get_uint(l, cfg, "audit-rotate-size", 4096, 1UL << 40, 64UL << 20);
}

/* What vpnd keeps across restarts: the state directory, and the revocation list that
 * lives there unless it is put elsewhere (e.g. a file shared by the gateways). */
static void load_state_paths(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	char *def = NULL;

	c->state_directory = get_path(l, cfg, "state-directory", VPND_STATE_DIR);
	if (!c->state_directory)
		return;
	if (asprintf(&def, "%s/%s.revoked", c->state_directory, c->interface) < 0) {
		l->oom = true;
		return;
	}
	c->revoked_keys_file = get_path(l, cfg, "revoked-keys-file", def);
	free(def);
}

static void load_interface(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	const struct cval *v = value(cfg, "interface"), *inline_key;
	struct vpnd_endpoint_entry public_endpoint;
	bool have_key = false;
	char why[160];

	if (!v)
		problem(l, 0, "interface is required");
	else if (!config_valid_ifname(v->text))
		problem(
		    l, v->line,
		    "interface: '%s' is not a device name: 1..%d characters of A-Z a-z 0-9 _ . -",
		    v->text, VPND_IFNAME_MAX);
	else
		memcpy(c->interface, v->text, strlen(v->text) + 1);

	v = value(cfg, "private-key-file");
	inline_key = value(cfg, "private-key");
	if (v && inline_key) {
		problem(l, inline_key->line,
			"private-key: give either private-key or private-key-file (line %d), not "
			"both",
			v->line);
	} else if (!v && !inline_key) {
		problem(l, 0, "private-key-file is required (or private-key: the key inline)");
	} else if (inline_key) {
		/* The file holding the key is this one: messages about the key name it. */
		if (!(c->private_key_file = strdup(l->path)))
			l->oom = true;
		v = inline_key;
		have_key = c->private_key_inline =
		    read_inline_key(l, inline_key, "private-key", c->private_key);
	} else {
		have_key =
		    read_key_file(l, v, "private-key-file", &c->private_key_file, c->private_key);
	}
	if (have_key) {
		/* As WireGuard does when a key is set: the engine then holds the scalar it
		 * uses, and the public key is the one `wg pubkey` prints. */
		vpnd_key_clamp(c->private_key);
		if (crypto_scalarmult_base(c->public_key, c->private_key) != 0)
			problem(l, v->line, "%s: the key has no public key",
				c->private_key_inline ? "private-key" : "private-key-file");
		else
			add_key(l, c->public_key, NO_PEER, v->line);
	}

	/* Checked as an endpoint is, never looked up: it is the name the other sites
	 * resolve, which this gateway may not see the same way. */
	v = value(cfg, "public-endpoint");
	if (v && vpnd_endpoint_parse(v->text, &public_endpoint, why, sizeof(why)) < 0)
		problem(l, v->line, "public-endpoint: '%s' %s", v->text, why);
	else if (v && !(c->public_endpoint = strdup(v->text)))
		l->oom = true;

	c->listen_port = (uint16_t)get_uint(l, cfg, "listen-port", 0, 65535, VPND_DEFAULT_PORT);
	c->mtu = get_uint(l, cfg, "mtu", VPND_MIN_MTU, VPND_MAX_MTU, VPND_DEFAULT_MTU);
	c->rekey_after_time = get_uint(l, cfg, "rekey-after-time", 1, VPND_DEFAULT_REKEY_AFTER_TIME,
				       VPND_DEFAULT_REKEY_AFTER_TIME);
	c->endpoint_refresh = get_uint(l, cfg, "endpoint-refresh", 0, VPND_MAX_ENDPOINT_REFRESH,
				       VPND_DEFAULT_ENDPOINT_REFRESH);
	load_addresses(l, cfg, c);
	load_control_socket(l, cfg, c);
	load_operations(l, cfg, c);
	load_state_paths(l, cfg, c);
}

/* ---- peers --------------------------------------------------------------------------- */

static int mark_cmp(const void *a, const void *b)
{
	const struct section_mark *x = a, *y = b;
	int d = strcmp(x->title, y->title);

	return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Where a peer section starts: its last opening, since libconfuse keeps the last of
 * sections that share a title. marks are sorted by title. */
static int section_line(const struct loader *l, cfg_t *sec)
{
	const char *title = cfg_title(sec) ? cfg_title(sec) : "";
	unsigned lo = 0, hi = l->n_marks;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (strcmp(l->marks[mid].title, title) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !strcmp(l->marks[lo - 1].title, title) ? l->marks[lo - 1].line : sec->line;
}

static void load_allowed_ips(struct loader *l, cfg_t *sec, struct vpnd_peer_conf *p, unsigned idx)
{
	char buf[64 + CONFIG_PREFIX_TEXT_MAX];
	const struct cval *v;
	const char *why;
	unsigned i, n;

	p->allowed_ips = list_array(l, sec, "allowed-ips", VPND_MAX_ALLOWED_IPS, "prefixes",
				    sizeof(*p->allowed_ips), &n);
	if (!p->allowed_ips)
		return;
	for (i = 0; i < n; i++) {
		struct wg_allowed_ip *ip = &p->allowed_ips[p->n_allowed_ips];

		v = cfg_getnptr(sec, "allowed-ips", i);
		why = config_parse_network(v->text, ip, buf, sizeof(buf));
		if (why) {
			problem(l, v->line, "allowed-ips: '%s' %s", v->text, why);
			continue;
		}
		p->n_allowed_ips++;
		if (grow(&l->claims, &l->cap_claims, l->n_claims, sizeof(*l->claims), l))
			l->claims[l->n_claims++] = (struct claim){*ip, idx, v->line};
	}
}

/* Key rotation: the key the peer will switch to. It names the peer as much as its
 * public-key does, so no other peer may have it either. */
static void load_next_public_key(struct loader *l, cfg_t *sec, struct vpnd_peer_conf *p,
				 unsigned idx, bool have_public_key)
{
	const struct cval *v = value(sec, "next-public-key");
	char why[160];

	if (!v)
		return;
	if (!vpnd_key_from_base64(p->next_public_key, v->text)) {
		problem(l, v->line, "next-public-key: '%s' %s", v->text,
			config_key_problem(v->text, why, sizeof(why)));
		return;
	}
	if (have_public_key && sodium_memcmp(p->next_public_key, p->public_key, 32) == 0) {
		problem(l, v->line, "next-public-key: peer '%s': this is its public-key already",
			p->name);
		return;
	}
	p->has_next_public_key = true;
	add_key(l, p->next_public_key, idx, v->line);
	if (l->n_keys && l->keys[l->n_keys - 1].line == v->line)
		l->keys[l->n_keys - 1].next = true;
}

/* endpoint: "host:port" or a list of them, tried in order. Each is checked here, with its
 * line; names are looked up by the running daemon (endpoints.c), so one that does not
 * resolve yet is no error. */
static void load_endpoints(struct loader *l, cfg_t *sec, struct vpnd_peer_conf *p)
{
	char why[64 + VPND_ENDPOINT_TEXT_MAX];
	const struct cval *v;
	size_t len = 0;
	unsigned i, j, n;

	p->endpoint.addr.sa.sa_family = AF_UNSPEC;
	if (!cfg_size(sec, "endpoint"))
		return;
	p->endpoints = list_array(l, sec, "endpoint", VPND_MAX_ENDPOINTS, "endpoints",
				  sizeof(*p->endpoints), &n);
	if (!p->endpoints)
		return;
	for (i = 0; i < n; i++) {
		v = cfg_getnptr(sec, "endpoint", i);
		len += strlen(v->text) + 2;
		for (j = 0; j < i; j++) {
			const struct cval *before = cfg_getnptr(sec, "endpoint", j);

			if (!strcmp(v->text, before->text)) {
				problem(l, v->line,
					"endpoint: '%s' is listed twice (first at line %d)",
					v->text, before->line);
				break;
			}
		}
		if (j < i)
			continue;
		if (vpnd_endpoint_parse(v->text, &p->endpoints[p->n_endpoints], why, sizeof(why)) <
		    0)
			problem(l, v->line, "endpoint: '%s' %s", v->text, why);
		else
			p->n_endpoints++;
	}
	p->endpoint_spec = calloc(1, len + 1);
	if (!p->endpoint_spec) {
		l->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		v = cfg_getnptr(sec, "endpoint", i);
		strcat(strcat(p->endpoint_spec, i ? ", " : ""), v->text);
	}
	if (p->n_endpoints && p->endpoints[0].numeric)
		p->endpoint = p->endpoints[0].addr;
}

static void load_peer(struct loader *l, cfg_t *sec, struct vpnd_peer_conf *p, unsigned idx)
{
	const char *name = cfg_title(sec) ? cfg_title(sec) : "";
	const struct cval *v, *inline_psk;
	char why[160];

	p->line = section_line(l, sec);
	if (!config_valid_name(name, VPND_PEER_NAME_MAX))
		problem(l, p->line, "peer '%s': a name is 1..%d characters of A-Z a-z 0-9 _ . -",
			name, VPND_PEER_NAME_MAX);
	snprintf(p->name, sizeof(p->name), "%s", name);

	v = value(sec, "public-key");
	if (!v)
		problem(l, p->line, "peer '%s': public-key is required", name);
	else if (!vpnd_key_from_base64(p->public_key, v->text))
		problem(l, v->line, "public-key: '%s' %s", v->text,
			config_key_problem(v->text, why, sizeof(why)));
	else
		add_key(l, p->public_key, idx, v->line);
	load_next_public_key(l, sec, p, idx, v && !sodium_is_zero(p->public_key, 32));

	v = value(sec, "preshared-key-file");
	inline_psk = value(sec, "preshared-key");
	if (v && inline_psk)
		problem(l, inline_psk->line,
			"preshared-key: give either preshared-key or preshared-key-file (line "
			"%d), not both",
			v->line);
	else if (v)
		p->has_preshared_key = read_key_file(l, v, "preshared-key-file",
						     &p->preshared_key_file, p->preshared_key);
	else if (inline_psk)
		p->has_preshared_key =
		    read_inline_key(l, inline_psk, "preshared-key", p->preshared_key);

	load_endpoints(l, sec, p);
	load_allowed_ips(l, sec, p, idx);
	p->persistent_keepalive = (uint16_t)get_uint(l, sec, "persistent-keepalive", 0, 65535, 0);
}

/* The peer sections in file order: at the top level, or in the groups config_group_peers
 * made (it groups all of them or none). NULL when out of memory. */
static cfg_t **peer_sections(cfg_t *cfg, unsigned *n)
{
	unsigned top = cfg_size(cfg, "peer"), groups = cfg_size(cfg, CONFIG_PEER_GROUP), k = 0;
	cfg_t **secs;

	*n = top;
	for (unsigned g = 0; g < groups; g++)
		*n += cfg_size(cfg_getnsec(cfg, CONFIG_PEER_GROUP, g), "peer");
	secs = calloc(*n ? *n : 1, sizeof(*secs));
	if (!secs)
		return NULL;
	for (unsigned i = 0; i < top; i++)
		secs[k++] = cfg_getnsec(cfg, "peer", i);
	for (unsigned g = 0; g < groups; g++) {
		cfg_t *group = cfg_getnsec(cfg, CONFIG_PEER_GROUP, g);

		for (unsigned i = 0; i < cfg_size(group, "peer"); i++)
			secs[k++] = cfg_getnsec(group, "peer", i);
	}
	return secs;
}

static void load_peers(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	unsigned i, n;
	cfg_t **secs = peer_sections(cfg, &n);

	if (!secs) {
		l->oom = true;
		return;
	}
	if (l->n_marks) /* qsort of a NULL array, even empty, is undefined */
		qsort(l->marks, l->n_marks, sizeof(*l->marks), mark_cmp);
	if (n > VPND_MAX_PEERS) {
		problem(l, section_line(l, secs[VPND_MAX_PEERS]), "more than %d peers",
			VPND_MAX_PEERS);
		n = VPND_MAX_PEERS;
	}
	/* Guarded, locked pages: the peers hold their preshared keys. */
	c->peers = vpnd_secret_calloc_array(n ? n : 1, sizeof(*c->peers));
	if (!c->peers) {
		l->oom = true;
		free(secs);
		return;
	}
	c->n_peers = n;
	for (i = 0; i < n; i++)
		load_peer(l, secs[i], &c->peers[i], i);
	free(secs);
}

/* ---- checks across peers: sort, then compare neighbours ------------------------------ */

static void check_peer_names(struct loader *l)
{
	unsigned i, first = 0;

	for (i = 1; i < l->n_marks; i++) {
		if (strcmp(l->marks[i].title, l->marks[first].title))
			first = i;
		else
			problem(l, l->marks[i].line,
				"peer '%s' is defined twice (first at line %d)", l->marks[i].title,
				l->marks[first].line);
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct key_use *x = a, *y = b;
	int d = memcmp(x->key, y->key, VPND_KEY_LEN);

	if (d)
		return d;
	if ((x->peer == NO_PEER) != (y->peer == NO_PEER))
		return x->peer == NO_PEER ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/* A public key names one peer: two peers with one key cannot both be reached. */
static void check_public_keys(struct loader *l, const struct vpnd_config *c)
{
	unsigned i, first = 0;

	if (l->n_keys) /* qsort of a NULL array, even empty, is undefined */
		qsort(l->keys, l->n_keys, sizeof(*l->keys), key_cmp);
	for (i = 1; i < l->n_keys; i++) {
		const struct key_use *k = &l->keys[i], *f = &l->keys[first];

		if (memcmp(k->key, f->key, VPND_KEY_LEN))
			first = i;
		else if (f->peer == NO_PEER)
			problem(l, k->line, "%s: peer '%s' has this interface's own public key",
				k->next ? "next-public-key" : "public-key", c->peers[k->peer].name);
		else
			problem(l, k->line, "%s: peer '%s' has the same key as peer '%s' (line %d)",
				k->next ? "next-public-key" : "public-key", c->peers[k->peer].name,
				c->peers[f->peer].name, f->line);
	}
}

static int prefix_cmp(const struct wg_allowed_ip *x, const struct wg_allowed_ip *y)
{
	if (x->family != y->family)
		return x->family - y->family;
	if (x->cidr != y->cidr)
		return x->cidr - y->cidr;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static int claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	int d = prefix_cmp(&x->ip, &y->ip);

	return d ? d : (x->line > y->line) - (x->line < y->line);
}

/* Cryptokey routing sends a prefix to one peer; a second claim would silently win. */
static void check_allowed_ips(struct loader *l, const struct vpnd_config *c)
{
	char buf[CONFIG_PREFIX_TEXT_MAX];
	unsigned i, first = 0;

	if (l->n_claims) /* qsort of a NULL array, even empty, is undefined */
		qsort(l->claims, l->n_claims, sizeof(*l->claims), claim_cmp);
	for (i = 1; i < l->n_claims; i++) {
		const struct claim *k = &l->claims[i], *f = &l->claims[first];

		if (prefix_cmp(&k->ip, &f->ip))
			first = i;
		else if (k->peer == f->peer)
			problem(l, k->line, "allowed-ips: %s is listed twice (first at line %d)",
				config_format_prefix(buf, k->ip.family, k->ip.addr, k->ip.cidr),
				f->line);
		else
			problem(l, k->line,
				"allowed-ips: %s is also claimed by peer '%s' (line %d)",
				config_format_prefix(buf, k->ip.family, k->ip.addr, k->ip.cidr),
				c->peers[f->peer].name, f->line);
	}
}

/* ---- the site: networks and policy (config_policy.c) -------------------------------- */

static void site_problem(void *ctx, int line, const char *msg)
{
	problem(ctx, line, "%s", msg);
}

/* The values of a list option with their lines; NULL (and *n 0) when out of memory. */
static struct config_item *items(struct loader *l, cfg_t *sec, const char *name, unsigned *n)
{
	struct config_item *it;
	unsigned i;

	*n = sec ? cfg_size(sec, name) : 0;
	it = calloc(*n + 1, sizeof(*it));
	if (!it) {
		l->oom = true;
		*n = 0;
		return NULL;
	}
	for (i = 0; i < *n; i++) {
		const struct cval *v = cfg_getnptr(sec, name, i);

		it[i] = (struct config_item){v->text, v->line};
	}
	return it;
}

static void load_site(struct loader *l, cfg_t *cfg, struct vpnd_config *c)
{
	cfg_t *pol = cfg_size(cfg, "policy") ? cfg_getsec(cfg, "policy") : NULL;
	struct config_site_input in = {.problem = site_problem, .ctx = l};
	struct config_item *networks, *def, *allow, *deny;
	unsigned n_def;

	in.networks = networks = items(l, cfg, "networks", &in.n_networks);
	def = items(l, pol, "default", &n_def);
	in.def = n_def ? def : NULL;
	in.allow = allow = items(l, pol, "allow", &in.n_allow);
	in.deny = deny = items(l, pol, "deny", &in.n_deny);
	if (networks && def && allow && deny && !config_site_load(&in, c))
		l->oom = true;
	free(networks);
	free(def);
	free(allow);
	free(deny);
}

/* ---- the interface of this file ------------------------------------------------------ */

static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Problems go out in file order, like a compiler's, whatever order the checks ran in. */
static void hand_over_problems(struct loader *l, struct vpnd_config_errors *errs)
{
	unsigned i;

	if (l->oom)
		problem(l, 0, "out of memory");
	if (l->n_problems) /* qsort of a NULL array, even empty, is undefined */
		qsort(l->problems, l->n_problems, sizeof(*l->problems), problem_cmp);
	if (errs && l->n_problems) {
		errs->lines = calloc(l->n_problems, sizeof(*errs->lines));
		if (errs->lines)
			for (i = 0; i < l->n_problems; i++)
				errs->lines[errs->count++] = l->problems[i].text;
	}
	if (!errs || !errs->lines)
		for (i = 0; i < l->n_problems; i++)
			free(l->problems[i].text);
	free(l->problems);
}

struct vpnd_config *vpnd_config_load(const char *path, struct vpnd_config_errors *errs)
{
	struct loader l = {.path = path};
	struct vpnd_config *c = NULL;
	const char *slash = strrchr(path, '/');
	const char *unclosed, *what;
	cfg_t *cfg = NULL;
	char *text = NULL;
	int line, err;
	unsigned i;

	if (errs)
		*errs = (struct vpnd_config_errors){0};
	if (sodium_init() < 0) {
		problem(&l, 0, "libsodium cannot be initialized");
		goto out;
	}
	if (slash && !(l.dir = slash == path ? strdup("/") : strndup(path, slash - path))) {
		l.oom = true;
		goto out;
	}
	text = config_read_text(path, &what, &err);
	if (!text) {
		if (what)
			problem(&l, 0, "%s: %s", what, strerror(err));
		else
			l.oom = true;
		goto out;
	}
	unclosed = config_blank_comments(text, &line);
	if (unclosed) {
		problem(&l, line, "%s", unclosed);
		goto out;
	}
	cfg = parse(&l, text);
	if (!cfg)
		goto out;
	c = vpnd_secret_calloc(sizeof(*c)); /* it holds the private key */
	if (!c || !(c->path = strdup(path))) {
		l.oom = true;
		goto out;
	}
	load_interface(&l, cfg, c);
	load_peers(&l, cfg, c);
	check_peer_names(&l);
	check_public_keys(&l, c);
	check_allowed_ips(&l, c);
	load_site(&l, cfg, c);
out:
	if (l.n_problems || l.oom) {
		vpnd_config_free(c);
		c = NULL;
	}
	hand_over_problems(&l, errs);
	if (cfg)
		cfg_free(cfg);
	for (i = 0; i < l.n_marks; i++)
		free(l.marks[i].title);
	free(l.marks);
	free(l.claims);
	free(l.keys);
	free(l.dir);
	free(text);
	return c;
}

void vpnd_config_free(struct vpnd_config *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->n_peers; i++) {
		struct vpnd_peer_conf *p = &c->peers[i];

		sodium_memzero(p->preshared_key, sizeof(p->preshared_key));
		free(p->preshared_key_file);
		free(p->endpoint_spec);
		free(p->endpoints);
		free(p->allowed_ips);
	}
	vpnd_secret_free(c->peers);
	config_site_free(c);
	sodium_memzero(c->private_key, sizeof(c->private_key));
	free(c->private_key_file);
	free(c->addresses);
	free(c->control_socket);
	free(c->uapi_socket);
	free(c->metrics_listen);
	free(c->audit_log);
	free(c->audit_key_file);
	free(c->state_directory);
	free(c->user);
	free(c->revoked_keys_file);
	free(c->public_endpoint);
	free(c->path);
	vpnd_secret_free(c);
}

void vpnd_config_errors_free(struct vpnd_config_errors *errs)
{
	unsigned i;

	if (!errs)
		return;
	for (i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	*errs = (struct vpnd_config_errors){0};
}

const struct vpnd_peer_conf *vpnd_config_find_peer(const struct vpnd_config *c, const char *name)
{
	unsigned i;

	for (i = 0; c && i < c->n_peers; i++)
		if (!strcmp(c->peers[i].name, name))
			return &c->peers[i];
	return NULL;
}
