/* `networks` and the `policy` section: each value parsed, each rule's names checked against
 * the peers of the same file, and every problem reported with its line, so that one
 * `vpnd -n` names every rule to fix. config.c hands over the values as text; nothing here
 * knows libconfuse. */
#include "daemon/config_policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/config_values.h"
#include "vpnd/limits.h"

#define BLANKS	  " \t"
#define RULE_FORM "write 'A -> B' or 'A <-> B', where A and B are peer names or 'local'"

struct site_loader {
	const struct config_site_input *in;
	const struct vpnd_peer_conf **by_name; /* c->peers sorted by name */
	unsigned n_peers;
	bool oom;
};

static void say(const struct site_loader *sl, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct site_loader *sl, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl->in->problem(sl->in->ctx, line, msg);
}

/* ---- rules --------------------------------------------------------------------------- */

/* A name between start and end, blanks around it dropped. */
static bool take_name(const char *start, const char *end, char out[WG_PEER_NAME_MAX],
		      const char *text, char *why, size_t whylen)
{
	size_t n;

	start += strspn(start, BLANKS);
	while (end > start && strchr(BLANKS, end[-1]))
		end--;
	n = (size_t)(end - start);
	if (!n) {
		snprintf(why, whylen, "'%s' is not a rule: a name is missing (%s)", text,
			 RULE_FORM);
		return false;
	}
	if (n > VPND_PEER_NAME_MAX) {
		snprintf(why, whylen, "'%s': '%.*s' is longer than a peer name may be (%d)", text,
			 (int)n, start, VPND_PEER_NAME_MAX);
		return false;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	if (!config_valid_name(out, VPND_PEER_NAME_MAX)) {
		snprintf(why, whylen,
			 "'%s': '%s' is not a site name: a name is 1..%d characters of A-Z a-z "
			 "0-9 _ . - (%s)",
			 text, out, VPND_PEER_NAME_MAX, RULE_FORM);
		return false;
	}
	return true;
}

/* Names may hold '-' but never '>' or '<', so the one '>' ends the arrow and what stands
 * right before it says which arrow it is. */
bool config_policy_parse_rule(const char *text, struct vpnd_policy_rule *out, char *why,
			      size_t whylen)
{
	const char *gt = strchr(text, '>'), *lt = strchr(text, '<'), *arrow;

	memset(out, 0, sizeof(*out));
	if (!gt || gt == text || gt[-1] != '-' || strchr(gt + 1, '>') ||
	    (lt && (lt + 2 != gt || strchr(lt + 1, '<')))) {
		snprintf(why, whylen, "'%s' is not a rule: %s", text, RULE_FORM);
		return false;
	}
	out->both = lt != NULL;
	arrow = out->both ? lt : gt - 1;
	return take_name(text, arrow, out->from, text, why, whylen) &&
	       take_name(gt + 1, gt + strlen(gt), out->to, text, why, whylen);
}

const char *config_policy_rule_text(char buf[VPND_POLICY_RULE_TEXT_MAX],
				    const struct vpnd_policy_rule *r)
{
	snprintf(buf, VPND_POLICY_RULE_TEXT_MAX, "%s %s %s", r->from, r->both ? "<->" : "->",
		 r->to);
	return buf;
}

static int peer_name_cmp(const void *a, const void *b)
{
	const struct vpnd_peer_conf *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static const struct vpnd_peer_conf *find_peer(const struct site_loader *sl, const char *name)
{
	unsigned lo = 0, hi = sl->n_peers;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int d = strcmp(sl->by_name[mid]->name, name);

		if (!d)
			return sl->by_name[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A site named in a rule: "local" or a peer of this file. */
static bool check_site(const struct site_loader *sl, const char *list, const char *text,
		       const char *name, int line)
{
	const struct vpnd_peer_conf *p = find_peer(sl, name);

	if (strcmp(name, VPND_POLICY_LOCAL) == 0) {
		if (!p)
			return true;
		say(sl, line,
		    "%s: '%s': 'local' means this site, but peer 'local' (line %d) has that name "
		    "too: rename the peer",
		    list, text, p->line);
		return false;
	}
	if (p)
		return true;
	say(sl, line, "%s: '%s': no peer is named '%s' (a site is a peer's name or 'local')", list,
	    text, name);
	return false;
}

/* One value of allow or deny: a rule that the policy can use, or a problem. */
static bool load_rule(const struct site_loader *sl, const char *list, const struct config_item *it,
		      struct vpnd_policy_rule *r)
{
	char why[384];
	bool ok;

	if (!config_policy_parse_rule(it->text, r, why, sizeof(why))) {
		say(sl, it->line, "%s: %s", list, why);
		return false;
	}
	r->line = it->line;
	r->allow = strcmp(list, "allow") == 0;
	ok = check_site(sl, list, it->text, r->from, it->line);
	ok = check_site(sl, list, it->text, r->to, it->line) && ok;
	if (!ok)
		return false;
	if (strcmp(r->from, r->to) == 0) {
		say(sl, it->line,
		    "%s: '%s' names one site twice: the policy judges packets between two sites",
		    list, it->text);
		return false;
	}
	/* The policy judges what arrives through the tunnel; this site's own packets leave
	 * unchecked, so such a rule would promise what it cannot do. */
	if (!r->both && strcmp(r->from, VPND_POLICY_LOCAL) == 0) {
		say(sl, it->line,
		    "%s: '%s': packets from this site are not checked, only packets that arrive "
		    "from a peer (write '%s -> local' or 'local <-> %s')",
		    list, it->text, r->to, r->to);
		return false;
	}
	return true;
}

/* Rules that say the same, whichever list they are in: "B <-> A" is "A <-> B". */
static void rule_key(const struct vpnd_policy_rule *r, const char **a, const char **b)
{
	*a = r->from;
	*b = r->to;
	if (r->both && strcmp(*a, *b) > 0) {
		*a = r->to;
		*b = r->from;
	}
}

static int rule_key_cmp(const struct vpnd_policy_rule *r, const struct vpnd_policy_rule *s)
{
	const char *ra, *rb, *sa, *sb;
	int d;

	rule_key(r, &ra, &rb);
	rule_key(s, &sa, &sb);
	if (r->both != s->both)
		return r->both ? 1 : -1;
	if ((d = strcmp(ra, sa)))
		return d;
	return strcmp(rb, sb);
}

/* Same rules together, the first written first. */
static int rule_cmp(const void *x, const void *y)
{
	const struct vpnd_policy_rule *r = x, *s = y;
	int d = rule_key_cmp(r, s);

	return d ? d : (r->line > s->line) - (r->line < s->line);
}

static void check_duplicate_rules(const struct site_loader *sl, const struct vpnd_policy_conf *p)
{
	struct vpnd_policy_rule *sorted;
	char text[VPND_POLICY_RULE_TEXT_MAX];
	unsigned i, first = 0;

	if (p->n_rules < 2)
		return;
	sorted = malloc(p->n_rules * sizeof(*sorted));
	if (!sorted)
		return; /* the caller saw the allocation of the rules work; this is a check */
	memcpy(sorted, p->rules, p->n_rules * sizeof(*sorted));
	qsort(sorted, p->n_rules, sizeof(*sorted), rule_cmp);
	for (i = 1; i < p->n_rules; i++) {
		const struct vpnd_policy_rule *r = &sorted[i], *f = &sorted[first];

		if (rule_key_cmp(r, f))
			first = i;
		else if (r->allow == f->allow)
			say(sl, r->line, "%s: '%s' is listed twice (first at line %d)",
			    r->allow ? "allow" : "deny", config_policy_rule_text(text, r), f->line);
		else
			say(sl, r->line, "%s: '%s' is also in %s (line %d): which one is meant?",
			    r->allow ? "allow" : "deny", config_policy_rule_text(text, r),
			    f->allow ? "allow" : "deny", f->line);
	}
	free(sorted);
}

static void load_rules(struct site_loader *sl, struct vpnd_policy_conf *p)
{
	const struct config_site_input *in = sl->in;
	unsigned n_allow = in->n_allow, n_deny = in->n_deny, i;
	bool ok = true;

	if (n_allow > VPND_POLICY_MAX_RULES) {
		say(sl, in->allow[VPND_POLICY_MAX_RULES].line, "allow: more than %d rules",
		    VPND_POLICY_MAX_RULES);
		n_allow = VPND_POLICY_MAX_RULES;
	}
	if (n_deny > VPND_POLICY_MAX_RULES) {
		say(sl, in->deny[VPND_POLICY_MAX_RULES].line, "deny: more than %d rules",
		    VPND_POLICY_MAX_RULES);
		n_deny = VPND_POLICY_MAX_RULES;
	}
	p->rules = calloc(n_allow + n_deny + 1, sizeof(*p->rules));
	if (!p->rules) {
		sl->oom = true;
		return;
	}
	for (i = 0; i < n_allow; i++)
		if (load_rule(sl, "allow", &in->allow[i], &p->rules[p->n_rules]))
			p->n_rules++;
		else
			ok = false;
	for (i = 0; i < n_deny; i++)
		if (load_rule(sl, "deny", &in->deny[i], &p->rules[p->n_rules]))
			p->n_rules++;
		else
			ok = false;
	if (ok)
		check_duplicate_rules(sl, p);
}

static void load_default(struct site_loader *sl, struct vpnd_policy_conf *p)
{
	const struct config_item *d = sl->in->def;

	p->default_allow = true;
	if (!d)
		return;
	if (strcmp(d->text, "deny") == 0)
		p->default_allow = false;
	else if (strcmp(d->text, "allow") != 0)
		say(sl, d->line, "default: '%s' is neither \"allow\" nor \"deny\"", d->text);
}

/* ---- networks ------------------------------------------------------------------------ */

static bool same_prefix(const struct wg_allowed_ip *a, const struct wg_allowed_ip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void load_networks(struct site_loader *sl, struct vpnd_config *c)
{
	const struct config_site_input *in = sl->in;
	char buf[64 + CONFIG_PREFIX_TEXT_MAX];
	unsigned n = in->n_networks, i, j;
	int *lines;

	if (n > VPND_MAX_NETWORKS) {
		say(sl, in->networks[VPND_MAX_NETWORKS].line, "networks: more than %d prefixes",
		    VPND_MAX_NETWORKS);
		n = VPND_MAX_NETWORKS;
	}
	c->networks = calloc(n + 1, sizeof(*c->networks));
	lines = calloc(n + 1, sizeof(*lines));
	if (!c->networks || !lines) {
		free(lines);
		sl->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		const struct config_item *it = &in->networks[i];
		struct wg_allowed_ip *ip = &c->networks[c->n_networks];
		const char *why = config_parse_network(it->text, ip, buf, sizeof(buf));

		if (why) {
			say(sl, it->line, "networks: '%s' %s", it->text, why);
			continue;
		}
		for (j = 0; j < c->n_networks && !same_prefix(&c->networks[j], ip); j++)
			;
		if (j < c->n_networks) {
			say(sl, it->line, "networks: '%s' is listed twice (first at line %d)",
			    it->text, lines[j]);
			continue;
		}
		lines[c->n_networks++] = it->line;
	}
	free(lines);
}

/* ---- the interface of this file ------------------------------------------------------ */

bool config_site_load(const struct config_site_input *in, struct vpnd_config *c)
{
	struct site_loader sl = {.in = in};
	unsigned i;

	load_networks(&sl, c);
	c->policy = calloc(1, sizeof(*c->policy));
	sl.by_name = calloc(c->n_peers + 1, sizeof(*sl.by_name));
	if (!c->policy || !sl.by_name) {
		free(sl.by_name);
		return false;
	}
	for (i = 0; i < c->n_peers; i++)
		sl.by_name[sl.n_peers++] = &c->peers[i];
	if (sl.n_peers)
		qsort(sl.by_name, sl.n_peers, sizeof(*sl.by_name), peer_name_cmp);
	load_default(&sl, c->policy);
	load_rules(&sl, c->policy);
	free(sl.by_name);
	return !sl.oom;
}

void config_site_free(struct vpnd_config *c)
{
	free(c->networks);
	c->networks = NULL;
	c->n_networks = 0;
	if (c->policy)
		free(c->policy->rules);
	free(c->policy);
	c->policy = NULL;
}
