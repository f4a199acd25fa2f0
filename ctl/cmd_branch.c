/* vpnctl branch add NAME: onboard a branch in one command, on HQ. HQ's daemon tells what
 * it is (show-json); the branch's keys are made here and its private key never reaches
 * the daemon; HQ's config file gets the new peer and the daemon reloads it. vpnctl, not
 * vpnd, writes the files: under systemd the daemon cannot write /etc/vpnd.
 *
 * Order, so that a failure leaves HQ as it was: the branch's file is written first (it
 * must not exist yet), then the preshared key file, then HQ's config (replaced in one
 * step), then the reload; a refused reload puts HQ's config back and removes the files
 * this run made. */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "branch_conf.h"
#include "ctl_client.h"
#include "endpoint_arg.h"
#include "files.h"
#include "json.h"
#include "subcommands.h"
#include "token.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"

#define HQ_CONFIG_MAX (16u << 20)
#define MAX_SUBNETS   64

enum branch_option { OPT_SUBNET, OPT_ENDPOINT, OPT_OUT, OPT_HQ_NAME, OPT_INTERFACE };

static const struct {
	const char *name;
	enum branch_option id;
} options[] = {
    {"--subnet", OPT_SUBNET},	{"--endpoint", OPT_ENDPOINT},	{"--out", OPT_OUT},
    {"--hq-name", OPT_HQ_NAME}, {"--interface", OPT_INTERFACE},
};

#define USAGE                                                                                      \
	"usage: vpnctl [-s SOCKET] branch add NAME [--subnet CIDR[,CIDR...]]... "                  \
	"[--endpoint HOST:PORT] --out FILE [--hq-name NAME] [--interface NAME]"

/* HQ as show-json describes it, with the storage behind struct branch_hq. */
struct hq_info {
	struct json_value *doc;
	const char *config_file, *public_endpoint;
	struct cidr *addresses, *networks, *allowed;
	struct branch_hq_peer *peers;
	struct branch_hq view;
};

static void hq_info_free(struct hq_info *h)
{
	json_free(h->doc);
	free(h->addresses);
	free(h->networks);
	free(h->allowed);
	free(h->peers);
}

/* A JSON array of prefix strings into out (allocated); what names it in messages. */
static int cidr_list(const struct json_value *arr, const char *what, struct cidr **out, size_t *n)
{
	*n = 0;
	*out = calloc(arr && arr->type == JSON_ARRAY && arr->n ? arr->n : 1, sizeof(**out));
	if (!*out) {
		vpnctl_error("out of memory");
		return -1;
	}
	if (!arr)
		return 0;
	if (arr->type != JSON_ARRAY) {
		vpnctl_error("vpnd's show-json: \"%s\" is not a list", what);
		return -1;
	}
	for (size_t i = 0; i < arr->n; i++) {
		const char *s = json_str(&arr->items[i]), *why;

		if (!s || (why = cidr_parse(s, &(*out)[*n], false))) {
			vpnctl_error("vpnd's show-json: \"%s\" holds '%s', not a prefix", what,
				     s ? s : "(not a string)");
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static int hq_info_get(const char *sock, struct hq_info *h)
{
	const struct json_value *peers, *v;
	struct ctl_reply reply;
	size_t total = 0, used = 0;
	char err[200];

	memset(h, 0, sizeof(*h));
	if (ctl_call(sock, "show-json", &reply) < 0)
		return -1;
	if (!reply.ok) {
		ctl_print_reply(&reply);
		ctl_reply_free(&reply);
		return -1;
	}
	h->doc = json_parse(reply.body, reply.len, err, sizeof(err));
	ctl_reply_free(&reply);
	if (!h->doc) {
		vpnctl_error("vpnd's show-json cannot be read: %s", err);
		return -1;
	}
	h->config_file = json_str(json_get(h->doc, "config_file"));
	h->view.public_key = json_str(json_get(h->doc, "public_key"));
	if (!h->config_file || !h->view.public_key) {
		vpnctl_error("vpnd does not report its config file and public key (show-json "
			     "without \"config_file\"): is it an older vpnd?");
		return -1;
	}
	v = json_get(h->doc, "public_endpoint");
	h->public_endpoint = json_str(v);
	if (cidr_list(json_get(h->doc, "addresses"), "addresses", &h->addresses,
		      &h->view.n_addresses) < 0 ||
	    cidr_list(json_get(h->doc, "networks"), "networks", &h->networks, &h->view.n_networks) <
		0)
		return -1;
	h->view.addresses = h->addresses;
	h->view.networks = h->networks;

	peers = json_get(h->doc, "peers");
	if (!peers || peers->type != JSON_ARRAY) {
		vpnctl_error("vpnd's show-json has no list of peers");
		return -1;
	}
	for (size_t i = 0; i < peers->n; i++) {
		v = json_get(&peers->items[i], "allowed_ips");
		total += v && v->type == JSON_ARRAY ? v->n : 0;
	}
	h->peers = calloc(peers->n ? peers->n : 1, sizeof(*h->peers));
	h->allowed = calloc(total ? total : 1, sizeof(*h->allowed));
	if (!h->peers || !h->allowed) {
		vpnctl_error("out of memory");
		return -1;
	}
	for (size_t i = 0; i < peers->n; i++) {
		struct branch_hq_peer *p = &h->peers[i];
		struct cidr *list;
		size_t n;

		p->name = json_str(json_get(&peers->items[i], "name"));
		if (!p->name) {
			vpnctl_error("vpnd's show-json has a peer without a name");
			return -1;
		}
		if (cidr_list(json_get(&peers->items[i], "allowed_ips"), "allowed_ips", &list, &n) <
		    0) {
			free(list);
			return -1;
		}
		memcpy(h->allowed + used, list, n * sizeof(*list));
		free(list);
		p->allowed = h->allowed + used;
		p->n_allowed = n;
		used += n;
	}
	h->view.peers = h->peers;
	h->view.n_peers = peers->n;
	return 0;
}

/* "--subnet A,B" any number of times. */
static int add_subnets(const char *value, struct cidr *subnets, size_t *n)
{
	char *copy = strdup(value), *save = NULL, *word;
	const char *why;
	int ret = 0;

	if (!copy) {
		vpnctl_error("out of memory");
		return -1;
	}
	for (word = strtok_r(copy, ",", &save); word && !ret; word = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_SUBNETS) {
			vpnctl_error("more than %d subnets", MAX_SUBNETS);
			ret = -1;
		} else if ((why = cidr_parse(word, &subnets[*n], false))) {
			vpnctl_error("--subnet '%s' %s", word, why);
			ret = -1;
		} else {
			(*n)++;
		}
	}
	free(copy);
	return ret;
}

/* HQ's vpnd runs as an unprivileged user after start-up: the preshared key file it must
 * read at the reload has to be that user's (still 0600). */
static int give_to_daemon(const struct hq_info *h, const char *path)
{
	const struct json_value *uid = json_get(h->doc, "daemon_uid");
	const struct json_value *gid = json_get(h->doc, "daemon_gid");

	if (!uid || uid->type != JSON_NUMBER || !gid || gid->type != JSON_NUMBER)
		return 0; /* an older vpnd, which runs as root */
	if ((uid_t)uid->number == geteuid())
		return 0;
	if (chown(path, (uid_t)uid->number, (gid_t)gid->number) < 0) {
		vpnctl_error("%s: cannot give it to HQ's vpnd (uid %u): %s", path,
			     (unsigned)uid->number, strerror(errno));
		return -1;
	}
	return 0;
}

/* <dir of HQ's config>/<its name without .conf>.<branch>.psk */
static char *psk_path_for(const char *config_file, const char *name)
{
	char *a = strdup(config_file), *b = strdup(config_file), *path = NULL;
	char *dir, *base, *dot;

	if (a && b) {
		dir = dirname(a);
		base = basename(b);
		dot = strrchr(base, '.');
		if (dot && !strcmp(dot, ".conf"))
			*dot = '\0';
		if (asprintf(&path, "%s/%s.%s.psk", dir, base, name) < 0)
			path = NULL;
	}
	free(a);
	free(b);
	return path;
}

/* HQ's file as it was plus the new section. NULL when out of memory. */
static char *append_section(const char *orig, size_t len, const char *section)
{
	bool newline = len && orig[len - 1] != '\n';
	size_t n = strlen(section);
	char *out = malloc(len + newline + n + 1);

	if (!out)
		return NULL;
	memcpy(out, orig, len);
	if (newline)
		out[len] = '\n';
	memcpy(out + len + newline, section, n + 1);
	return out;
}

/* Reload HQ; false (with the daemon's problems printed) when it was not applied. */
static bool reload_hq(const char *sock)
{
	struct ctl_reply reply;
	bool ok;

	if (ctl_call(sock, "reload", &reply) < 0)
		return false;
	ok = reply.ok;
	if (!ok)
		ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ok;
}

struct secrets {
	uint8_t priv[VPND_KEY_LEN], pub[VPND_KEY_LEN], psk[VPND_KEY_LEN];
	char priv_b64[VPND_KEY_B64_LEN + 1], pub_b64[VPND_KEY_B64_LEN + 1];
	char psk_b64[VPND_KEY_B64_LEN + 2]; /* with a newline, as the file holds it */
};

static int make_keys(struct secrets *k)
{
	randombytes_buf(k->priv, sizeof(k->priv));
	vpnd_key_clamp(k->priv);
	if (crypto_scalarmult_base(k->pub, k->priv) != 0) {
		vpnctl_error("the new private key has no public key");
		return -1;
	}
	randombytes_buf(k->psk, sizeof(k->psk));
	vpnd_key_to_base64(k->priv_b64, k->priv);
	vpnd_key_to_base64(k->pub_b64, k->pub);
	vpnd_key_to_base64(k->psk_b64, k->psk);
	return 0;
}

static void print_done(const struct branch_request *rq, const struct branch_plan *plan,
		       const char *config_file, const char *psk_file, const char *out)
{
	char buf[CIDR_TEXT_MAX];

	printf("branch %s: tunnel address", rq->name);
	for (size_t i = 0; i < plan->n_addresses; i++)
		printf("%s %s", i ? "," : "", cidr_format(buf, &plan->addresses[i]));
	if (rq->n_subnets) {
		printf("; subnet%s", rq->n_subnets == 1 ? "" : "s");
		for (size_t i = 0; i < rq->n_subnets; i++)
			printf("%s %s", i ? "," : "", cidr_format(buf, &rq->subnets[i]));
	}
	printf("\nHQ: peer %s added to %s (preshared key in %s) and reloaded\n", rq->name,
	       config_file, psk_file);
	printf("branch config: %s (mode 0600; it holds the branch's private key): on the "
	       "branch, run vpnd -c with it\n",
	       out);
}

static int branch_add(int argc, char *argv[], const char *sock)
{
	const char *values[sizeof(options) / sizeof(options[0])] = {0};
	struct cidr subnets[MAX_SUBNETS];
	struct branch_request rq = {.hq_name = "hq", .interface = "vpn0", .subnets = subnets};
	struct branch_plan plan = {0};
	struct secrets k;
	struct hq_info hq = {0};
	char err[256], *psk_file = NULL, *orig = NULL, *updated = NULL, *section = NULL;
	char *branch_text = NULL;
	size_t orig_len = 0;
	bool out_written = false, psk_written = false;
	int ret = 1, o;

	sodium_memzero(&k, sizeof(k));
	for (int i = 1; i < argc; i++) {
		char *eq;

		if (argv[i][0] != '-') {
			if (rq.name) {
				vpnctl_error("unexpected argument '%s' (%s)", argv[i], USAGE);
				return 1;
			}
			rq.name = argv[i];
			continue;
		}
		if ((eq = strchr(argv[i], '=')))
			*eq = '\0';
		o = ctl_token_find(CTL_TOKEN_TABLE(options), argv[i], "branch add option");
		if (o < 0)
			return 1;
		if (!eq && i + 1 == argc) {
			vpnctl_error("%s needs a value (%s)", options[o].name, USAGE);
			return 1;
		}
		values[options[o].id] = eq ? eq + 1 : argv[++i];
		if (options[o].id == OPT_SUBNET &&
		    add_subnets(values[OPT_SUBNET], subnets, &rq.n_subnets) < 0)
			return 1;
	}
	if (!rq.name || !values[OPT_OUT]) {
		vpnctl_error("%s", USAGE);
		return 1;
	}
	if (values[OPT_HQ_NAME])
		rq.hq_name = values[OPT_HQ_NAME];
	if (values[OPT_INTERFACE])
		rq.interface = values[OPT_INTERFACE];
	if (!ctl_check_peer_name(rq.name) || !ctl_check_peer_name(rq.hq_name))
		return 1;
	if (strlen(rq.interface) > VPND_IFNAME_MAX || !*rq.interface ||
	    strspn(rq.interface, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
				 "_.-") != strlen(rq.interface)) {
		vpnctl_error("--interface '%s' is not a device name: 1..%d characters of A-Z a-z "
			     "0-9 _ . -",
			     rq.interface, VPND_IFNAME_MAX);
		return 1;
	}
	if (access(values[OPT_OUT], F_OK) == 0) {
		vpnctl_error("--out %s exists already: it is never overwritten", values[OPT_OUT]);
		return 1;
	}

	if (hq_info_get(sock, &hq) < 0)
		goto out;
	rq.endpoint = values[OPT_ENDPOINT] ? values[OPT_ENDPOINT] : hq.public_endpoint;
	if (!rq.endpoint) {
		vpnctl_error("HQ's config (%s) has no public-endpoint: give --endpoint HOST:PORT, "
			     "where the branch reaches HQ",
			     hq.config_file);
		goto out;
	}
	if (ctl_check_endpoint(values[OPT_ENDPOINT] ? "--endpoint" : "public-endpoint",
			       rq.endpoint) < 0)
		goto out;
	if (branch_plan_make(&hq.view, &rq, &plan, err, sizeof(err)) < 0) {
		vpnctl_error("%s", err);
		goto out;
	}
	if (make_keys(&k) < 0)
		goto out;
	psk_file = psk_path_for(hq.config_file, rq.name);
	section = branch_hq_section(&rq, &plan, k.pub_b64, psk_file);
	branch_text = branch_config_text(&hq.view, &rq, &plan, k.priv_b64, k.psk_b64);
	if (!psk_file || !section || !branch_text) {
		vpnctl_error("out of memory");
		goto out;
	}
	if (ctl_read_file(hq.config_file, HQ_CONFIG_MAX, &orig, &orig_len) < 0)
		goto out;
	updated = append_section(orig, orig_len, section);
	if (!updated) {
		vpnctl_error("out of memory");
		goto out;
	}

	if (ctl_write_new_file(values[OPT_OUT], branch_text, strlen(branch_text), 0600) < 0)
		goto out;
	out_written = true;
	k.psk_b64[VPND_KEY_B64_LEN] = '\n';
	if (ctl_write_new_file(psk_file, k.psk_b64, VPND_KEY_B64_LEN + 1, 0600) < 0)
		goto out;
	psk_written = true;
	if (give_to_daemon(&hq, psk_file) < 0)
		goto out;
	if (ctl_replace_file(hq.config_file, updated, strlen(updated)) < 0)
		goto out;
	if (!reload_hq(sock)) {
		vpnctl_error("HQ refused the new config; %s is restored and nothing was added",
			     hq.config_file);
		if (ctl_replace_file(hq.config_file, orig, orig_len) < 0)
			vpnctl_error("could not restore %s: remove the section of peer '%s' by "
				     "hand",
				     hq.config_file, rq.name);
		goto out;
	}
	print_done(&rq, &plan, hq.config_file, psk_file, values[OPT_OUT]);
	ret = 0;
out:
	if (ret && psk_written)
		unlink(psk_file);
	if (ret && out_written)
		unlink(values[OPT_OUT]);
	if (branch_text) {
		sodium_memzero(branch_text, strlen(branch_text));
		free(branch_text);
	}
	sodium_memzero(&k, sizeof(k));
	free(section);
	free(updated);
	free(orig);
	free(psk_file);
	branch_plan_free(&plan);
	hq_info_free(&hq);
	return ret;
}

int branch_main(int argc, char *argv[], const char *sock)
{
	static const struct {
		const char *name;
	} actions[] = {{"add"}};

	if (argc < 2) {
		vpnctl_error("%s", USAGE);
		return 1;
	}
	if (ctl_token_find(CTL_TOKEN_TABLE(actions), argv[1], "branch action") < 0)
		return 1;
	argv[1] = (char *)"add";
	return branch_add(argc - 1, argv + 1, sock);
}
