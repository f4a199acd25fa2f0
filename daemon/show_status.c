/* `vpnctl status` and `vpnctl show --dot`: the same engine state as show.c, condensed to
 * one line per site for monitoring, or drawn as a graph of the sites. The states, the
 * handshake ages and the byte counts are those of `show`, formatted by show.c, so the
 * three views never disagree. */
#include "show_status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tunnel/endpoint.h"
#include "tunnel/peer.h"
#include "vpnd/control.h"
#include "vpnd/key.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

/* ---- the fields of one peer, formatted once for both views ---- */

struct peer_fields {
	enum vpnd_peer_state state;
	const char *endpoint; /* NULL: none known */
	char ep[WG_ENDPOINT_STRLEN];
	char handshake[VPND_SHOW_TIME_MAX];
	char rx[VPND_SHOW_BYTES_MAX], tx[VPND_SHOW_BYTES_MAX];
};

static void peer_fields(struct peer_fields *f, const struct vpnd_show_input *in,
			const struct wg_peer *p)
{
	f->state = vpnd_peer_state(p, in->now_mono_ns);
	f->endpoint = p->endpoint.addr.sa.sa_family == AF_UNSPEC
			  ? NULL
			  : wg_endpoint_format(&p->endpoint, f->ep);
	vpnd_show_ago(f->handshake, in->now_real_ns / NSEC_PER_SEC,
		      p->stats.last_handshake_real_ns / NSEC_PER_SEC);
	vpnd_show_bytes(f->rx, p->stats.rx_bytes);
	vpnd_show_bytes(f->tx, p->stats.tx_bytes);
}

/* "3 peers: 2 up, 1 down": the counts that are not zero, from up to down. */
static void summary(struct vpnd_reply *r, const unsigned count[3])
{
	unsigned total = count[VPND_PEER_UP] + count[VPND_PEER_CONNECTING] + count[VPND_PEER_DOWN];
	const char *sep = ": ";

	vpnd_reply_printf(r, "%u peer%s", total, total == 1 ? "" : "s");
	for (int s = VPND_PEER_UP; s <= VPND_PEER_DOWN; s++) {
		if (!count[s])
			continue;
		vpnd_reply_printf(r, "%s%u %s", sep, count[s], vpnd_peer_state_name(s));
		sep = ", ";
	}
}

/* ---- status ---- */

enum { COL_PEER, COL_STATE, COL_ENDPOINT, COL_HANDSHAKE, COL_RX, COL_TX, N_COLS };

static const char *const col_title[N_COLS] = {"PEER", "STATE", "ENDPOINT", "HANDSHAKE", "RX", "TX"};

static void status_cells(const char *cell[N_COLS], const struct wg_peer *p,
			 const struct peer_fields *f)
{
	cell[COL_PEER] = p->name;
	cell[COL_STATE] = vpnd_peer_state_name(f->state);
	cell[COL_ENDPOINT] = f->endpoint ? f->endpoint : "(none)";
	cell[COL_HANDSHAKE] = f->handshake;
	cell[COL_RX] = f->rx;
	cell[COL_TX] = f->tx;
}

static void status_line(struct vpnd_reply *r, const char *const cell[N_COLS],
			const int width[N_COLS])
{
	/* Two spaces between columns; the last is not padded, so no line ends in blanks. */
	for (int c = 0; c < N_COLS - 1; c++)
		vpnd_reply_printf(r, "%-*s  ", width[c], cell[c]);
	vpnd_reply_printf(r, "%s\n", cell[N_COLS - 1]);
}

int vpnd_show_status(struct vpnd_reply *r, const struct vpnd_show_input *in, const char *only_peer)
{
	const struct wg_peer *first = wg_engine_peers(in->engine), *p;
	const char *cell[N_COLS];
	unsigned count[3] = {0, 0, 0};
	int width[N_COLS];
	enum vpnd_peer_state worst = VPND_PEER_UP;
	struct peer_fields f;

	if (only_peer) {
		first = wg_engine_find_peer_by_name(in->engine, only_peer);
		if (!first) {
			vpnd_reply_error(r, "no peer named '%s'", only_peer);
			return -ENOENT;
		}
	}
	/* Two passes over the peers: the column widths, then the lines. The fields are cheap
	 * to format and the engine does not change in between (one event loop). */
	for (int c = 0; c < N_COLS; c++)
		width[c] = (int)strlen(col_title[c]);
	for (p = first; p; p = only_peer ? NULL : p->next) {
		peer_fields(&f, in, p);
		status_cells(cell, p, &f);
		for (int c = 0; c < N_COLS; c++)
			if ((int)strlen(cell[c]) > width[c])
				width[c] = (int)strlen(cell[c]);
	}
	if (first)
		status_line(r, col_title, width);
	for (p = first; p; p = only_peer ? NULL : p->next) {
		peer_fields(&f, in, p);
		status_cells(cell, p, &f);
		status_line(r, cell, width);
		count[f.state]++;
		if (f.state > worst)
			worst = f.state;
	}
	summary(r, count);
	vpnd_reply_printf(r, "\n" VPND_CTL_STATUS_OVERALL "%s\n", vpnd_peer_state_name(worst));
	return 0;
}

/* ---- Graphviz ---- */

/* Colours by state: the edge and the node's border, and a light fill for the node. Down
 * and connecting are also dashed or dotted, for readers who cannot tell red from green. */
static const struct {
	const char *color, *fill, *style;
} dot_look[3] = {
    [VPND_PEER_UP] = {"#2e7d32", "#e8f5e9", "solid"},
    [VPND_PEER_CONNECTING] = {"#e65100", "#fff3e0", "dashed"},
    [VPND_PEER_DOWN] = {"#c62828", "#ffebee", "dotted"},
};

/* Allowed-ips listed in a peer's node; the rest is counted. */
#define DOT_MAX_PREFIXES 4

/* s inside a DOT double-quoted string: quote and backslash escaped (a backslash would
 * otherwise start a label escape such as \N), anything unprintable replaced. */
static void dot_text(struct vpnd_reply *r, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			vpnd_reply_printf(r, "\\%c", c);
		else
			vpnd_reply_printf(r, "%c", c < 0x20 || c == 0x7f ? '?' : c);
	}
}

static void dot_gateway(struct vpnd_reply *r, const struct vpnd_show_input *in)
{
	const uint8_t *pub = wg_engine_public_key(in->engine);
	char key[VPND_KEY_B64_LEN + 1];

	vpnd_reply_printf(r, "\t\"local\" [label=\"this gateway\\n");
	dot_text(r, in->interface ? in->interface : "(unknown)");
	vpnd_reply_printf(r, ", UDP port %u", (unsigned)in->listen_port);
	/* Enough of the key to tell gateways apart in a picture. */
	if (pub && !sodium_is_zero(pub, VPND_KEY_LEN)) {
		vpnd_key_to_base64(key, pub);
		vpnd_reply_printf(r, "\\nkey %.10s...", key);
	}
	vpnd_reply_printf(r, "\", color=\"#1565c0\", fillcolor=\"#e3f2fd\", penwidth=2];\n");
}

static void dot_peer(struct vpnd_reply *r, const struct vpnd_show_input *in,
		     const struct wg_peer *p)
{
	char prefix[VPND_SHOW_PREFIX_MAX];
	struct peer_fields f;

	peer_fields(&f, in, p);
	vpnd_reply_printf(r, "\t\"peer:");
	dot_text(r, p->name);
	vpnd_reply_printf(r, "\" [label=\"");
	dot_text(r, p->name);
	for (unsigned i = 0; i < p->n_allowed_ips && i < DOT_MAX_PREFIXES; i++)
		vpnd_reply_printf(r, "\\n%s", vpnd_show_prefix(prefix, &p->allowed_ips[i]));
	if (p->n_allowed_ips > DOT_MAX_PREFIXES)
		vpnd_reply_printf(r, "\\n(%u more)", p->n_allowed_ips - DOT_MAX_PREFIXES);
	vpnd_reply_printf(r, "\", color=\"%s\", fillcolor=\"%s\"];\n", dot_look[f.state].color,
			  dot_look[f.state].fill);

	vpnd_reply_printf(r, "\t\"local\" -- \"peer:");
	dot_text(r, p->name);
	vpnd_reply_printf(r, "\" [label=\"%s\\n", vpnd_peer_state_name(f.state));
	if (!p->stats.last_handshake_real_ns)
		vpnd_reply_printf(r, "no handshake yet");
	else if (!strcmp(f.handshake, "Now")) /* wg's word, which reads oddly in a sentence */
		vpnd_reply_printf(r, "handshake just now");
	else
		vpnd_reply_printf(r, "handshake %s", f.handshake);
	vpnd_reply_printf(r, "\\n%s\", color=\"%s\", fontcolor=\"%s\", style=%s];\n",
			  f.endpoint ? f.endpoint : "no endpoint", dot_look[f.state].color,
			  dot_look[f.state].color, dot_look[f.state].style);
}

void vpnd_show_dot(struct vpnd_reply *r, const struct vpnd_show_input *in)
{
	const char *ifname = in->interface ? in->interface : "(unknown)";
	unsigned count[3] = {0, 0, 0};
	const struct wg_peer *p;

	for (p = wg_engine_peers(in->engine); p; p = p->next)
		count[vpnd_peer_state(p, in->now_mono_ns)]++;
	vpnd_reply_printf(r, "/* vpnd's sites as seen from this gateway: vpnctl show --dot | dot "
			     "-Tpng > sites.png */\n");
	vpnd_reply_printf(r, "graph \"");
	dot_text(r, ifname);
	vpnd_reply_printf(r, "\" {\n");
	vpnd_reply_printf(r,
			  "\tgraph [rankdir=LR, nodesep=0.4, ranksep=1.6, fontname=\"Helvetica\", "
			  "fontsize=14, labelloc=t, label=\"");
	dot_text(r, ifname);
	vpnd_reply_printf(r, ": ");
	summary(r, count);
	vpnd_reply_printf(r, "\"];\n");
	vpnd_reply_printf(r, "\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
			     "fontsize=12];\n");
	vpnd_reply_printf(r, "\tedge [fontname=\"Helvetica\", fontsize=10, penwidth=2];\n");
	dot_gateway(r, in);
	for (p = wg_engine_peers(in->engine); p; p = p->next)
		dot_peer(r, in, p);
	vpnd_reply_printf(r, "}\n");
}
