/* The onboarding plan and the two texts it produces. Every prefix is checked against
 * everything HQ already routes, so the new branch can neither take another site's
 * addresses nor hide one behind its own subnet. */
#include "branch_conf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* A growing text; secrets may pass through it, so memory it lets go is wiped first. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = (t->cap ? t->cap : 256);
		while (ncap <= t->len + (size_t)n)
			ncap *= 2;
		char *nbuf = malloc(ncap);
		if (!nbuf) {
			t->oom = true;
			return;
		}
		if (t->buf) {
			memcpy(nbuf, t->buf, t->len);
			sodium_memzero(t->buf, t->cap);
			free(t->buf);
		}
		t->buf = nbuf;
		t->cap = ncap;
		t->buf[t->len] = '\0';
	}
}

static char *finish(struct text *t)
{
	if (t->oom) {
		if (t->buf)
			sodium_memzero(t->buf, t->cap);
		free(t->buf);
		return NULL;
	}
	return t->buf;
}

static void add_list(struct text *t, const struct cidr *items, size_t n)
{
	char buf[CIDR_TEXT_MAX];

	add(t, "{");
	for (size_t i = 0; i < n; i++)
		add(t, "%s\"%s\"", i ? ", " : "", cidr_format(buf, &items[i]));
	add(t, "}");
}

/* ---- the plan ------------------------------------------------------------------------ */

static bool in_tunnel_networks(const struct branch_hq *hq, const struct cidr *c)
{
	for (size_t i = 0; i < hq->n_addresses; i++) {
		struct cidr net = cidr_network(&hq->addresses[i]);

		if (cidr_within(c, &net))
			return true;
	}
	return false;
}

static int push(struct branch_plan *plan, const struct cidr *c, size_t cap)
{
	for (size_t i = 0; i < plan->n_hq_allowed; i++)
		if (cidr_equal(&plan->hq_allowed[i], c))
			return 0;
	if (plan->n_hq_allowed == cap)
		return -1;
	plan->hq_allowed[plan->n_hq_allowed++] = *c;
	return 0;
}

/* The first prefix HQ already routes that overlaps s: why, in err. */
static bool subnet_conflicts(const struct branch_hq *hq, const struct branch_request *rq,
			     size_t idx, char *err, size_t errlen)
{
	const struct cidr *s = &rq->subnets[idx];
	char a[CIDR_TEXT_MAX], b[CIDR_TEXT_MAX];

	for (size_t i = 0; i < hq->n_addresses; i++) {
		struct cidr net = cidr_network(&hq->addresses[i]);

		if (cidr_overlap(s, &net)) {
			snprintf(err, errlen, "--subnet %s overlaps HQ's tunnel network %s",
				 cidr_format(a, s), cidr_format(b, &net));
			return true;
		}
	}
	for (size_t i = 0; i < hq->n_networks; i++) {
		if (cidr_overlap(s, &hq->networks[i])) {
			snprintf(err, errlen, "--subnet %s overlaps HQ's network %s",
				 cidr_format(a, s), cidr_format(b, &hq->networks[i]));
			return true;
		}
	}
	for (size_t i = 0; i < hq->n_peers; i++) {
		for (size_t j = 0; j < hq->peers[i].n_allowed; j++) {
			if (!cidr_overlap(s, &hq->peers[i].allowed[j]))
				continue;
			snprintf(err, errlen,
				 "--subnet %s overlaps %s, in the allowed-ips of peer '%s'",
				 cidr_format(a, s), cidr_format(b, &hq->peers[i].allowed[j]),
				 hq->peers[i].name);
			return true;
		}
	}
	for (size_t i = 0; i < idx; i++) {
		if (cidr_overlap(s, &rq->subnets[i])) {
			snprintf(err, errlen, "--subnet %s overlaps --subnet %s", cidr_format(a, s),
				 cidr_format(b, &rq->subnets[i]));
			return true;
		}
	}
	return false;
}

static int check_request(const struct branch_hq *hq, const struct branch_request *rq, char *err,
			 size_t errlen)
{
	char a[CIDR_TEXT_MAX], b[CIDR_TEXT_MAX];

	for (size_t i = 0; i < hq->n_peers; i++) {
		if (!strcmp(hq->peers[i].name, rq->name)) {
			snprintf(err, errlen, "HQ has a peer named '%s' already", rq->name);
			return -1;
		}
	}
	if (!hq->n_addresses) {
		snprintf(err, errlen,
			 "HQ has no tunnel address (`address` in its config): there "
			 "is no network to give the branch an address in");
		return -1;
	}
	for (size_t i = 0; i < rq->n_subnets; i++) {
		struct cidr net = cidr_network(&rq->subnets[i]);

		if (!cidr_is_network(&rq->subnets[i])) {
			snprintf(err, errlen, "--subnet %s has host bits set (the network is %s)",
				 cidr_format(a, &rq->subnets[i]), cidr_format(b, &net));
			return -1;
		}
		if (subnet_conflicts(hq, rq, i, err, errlen))
			return -1;
	}
	return 0;
}

/* The next free address in the network of HQ's address a. */
static int pick_address(const struct branch_hq *hq, const struct cidr *a, struct cidr *out,
			char *err, size_t errlen)
{
	struct cidr *taken;
	size_t n = 0;
	char buf[CIDR_TEXT_MAX];
	struct cidr net = cidr_network(a);
	bool found;

	for (size_t i = 0; i < hq->n_peers; i++)
		n += hq->peers[i].n_allowed;
	taken = calloc(n ? n : 1, sizeof(*taken));
	if (!taken) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = 0;
	for (size_t i = 0; i < hq->n_peers; i++)
		for (size_t j = 0; j < hq->peers[i].n_allowed; j++)
			taken[n++] = hq->peers[i].allowed[j];
	found = cidr_next_free(a, hq->addresses, hq->n_addresses, taken, n, out);
	free(taken);
	if (!found) {
		snprintf(err, errlen, "no free address left in HQ's tunnel network %s",
			 cidr_format(buf, &net));
		return -1;
	}
	return 0;
}

int branch_plan_make(const struct branch_hq *hq, const struct branch_request *rq,
		     struct branch_plan *plan, char *err, size_t errlen)
{
	const struct cidr *second = NULL;
	size_t cap;

	memset(plan, 0, sizeof(*plan));
	if (check_request(hq, rq, err, errlen) < 0)
		return -1;
	for (size_t i = 1; i < hq->n_addresses && !second; i++)
		if (hq->addresses[i].family != hq->addresses[0].family)
			second = &hq->addresses[i];
	if (pick_address(hq, &hq->addresses[0], &plan->addresses[0], err, errlen) < 0)
		return -1;
	plan->n_addresses = 1;
	if (second && pick_address(hq, second, &plan->addresses[1], err, errlen) < 0)
		return -1;
	plan->n_addresses += second != NULL;

	cap = hq->n_addresses + hq->n_networks;
	for (size_t i = 0; i < hq->n_peers; i++)
		cap += hq->peers[i].n_allowed;
	plan->hq_allowed = calloc(cap ? cap : 1, sizeof(*plan->hq_allowed));
	if (!plan->hq_allowed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < hq->n_addresses; i++) {
		struct cidr net = cidr_network(&hq->addresses[i]);

		push(plan, &net, cap);
	}
	for (size_t i = 0; i < hq->n_networks; i++)
		push(plan, &hq->networks[i], cap);
	for (size_t i = 0; i < hq->n_peers; i++)
		for (size_t j = 0; j < hq->peers[i].n_allowed; j++)
			if (!in_tunnel_networks(hq, &hq->peers[i].allowed[j]))
				push(plan, &hq->peers[i].allowed[j], cap);
	return 0;
}

void branch_plan_free(struct branch_plan *plan)
{
	free(plan->hq_allowed);
	memset(plan, 0, sizeof(*plan));
}

/* ---- the texts ----------------------------------------------------------------------- */

char *branch_hq_section(const struct branch_request *rq, const struct branch_plan *plan,
			const char *branch_public_key, const char *psk_file)
{
	struct text t = {0};
	struct cidr *allowed = calloc(plan->n_addresses + rq->n_subnets + 1, sizeof(*allowed));
	size_t n = 0;

	if (!allowed)
		return NULL;
	/* The branch's tunnel addresses as hosts: the network is HQ's. */
	for (size_t i = 0; i < plan->n_addresses; i++) {
		allowed[n] = plan->addresses[i];
		allowed[n++].len = plan->addresses[i].family == AF_INET ? 32 : 128;
	}
	for (size_t i = 0; i < rq->n_subnets; i++)
		allowed[n++] = rq->subnets[i];
	add(&t, "\n# branch %s, added by vpnctl branch add\n", rq->name);
	add(&t, "peer \"%s\" {\n", rq->name);
	add(&t, "    public-key         = \"%s\"\n", branch_public_key);
	if (psk_file)
		add(&t, "    preshared-key-file = \"%s\"\n", psk_file);
	add(&t, "    allowed-ips        = ");
	add_list(&t, allowed, n);
	add(&t, "\n}\n");
	free(allowed);
	return finish(&t);
}

char *branch_config_text(const struct branch_hq *hq, const struct branch_request *rq,
			 const struct branch_plan *plan, const char *private_key, const char *psk)
{
	struct text t = {0};

	add(&t, "# vpnd configuration of branch \"%s\", written by `vpnctl branch add` at HQ.\n",
	    rq->name);
	add(&t, "# It holds this site's private key inline: keep the file mode 0600.\n");
	add(&t, "interface   = \"%s\"\n", rq->interface);
	add(&t, "private-key = \"%s\"\n", private_key);
	add(&t, "address     = ");
	add_list(&t, plan->addresses, plan->n_addresses);
	add(&t, "\n");
	if (rq->n_subnets) {
		add(&t, "networks    = ");
		add_list(&t, rq->subnets, rq->n_subnets);
		add(&t, "\n");
	}
	add(&t, "\npeer \"%s\" {\n", rq->hq_name);
	add(&t, "    public-key           = \"%s\"\n", hq->public_key);
	if (psk)
		add(&t, "    preshared-key        = \"%s\"\n", psk);
	add(&t, "    endpoint             = \"%s\"\n", rq->endpoint);
	add(&t, "    allowed-ips          = ");
	add_list(&t, plan->hq_allowed, plan->n_hq_allowed);
	add(&t, "\n    persistent-keepalive = %d\n}\n", BRANCH_KEEPALIVE);
	return finish(&t);
}
