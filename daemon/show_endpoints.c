/* How the configured endpoints read in `vpnctl show`. The "endpoint" line and field are
 * the engine's (where packets go now, roaming included); these say what was configured
 * and where vpnd stands in that list. */
#include "show_endpoints.h"

void vpnd_show_endpoints_text(struct vpnd_reply *r, const struct vpnd_endpoints *eps,
			      const struct wg_peer *p)
{
	const struct vpnd_peer_endpoints *pe = vpnd_endpoints_find(eps, p->name);
	char text[VPND_ENDPOINT_TEXT_MAX], addr[WG_ENDPOINT_STRLEN];
	bool names = false;

	if (!pe)
		return;
	for (unsigned i = 0; i < pe->n; i++)
		names |= !pe->list[i].entry.numeric;
	if (pe->n < 2 && !names)
		return;
	vpnd_reply_printf(r, "  endpoints: ");
	for (unsigned i = 0; i < pe->n; i++) {
		const struct vpnd_endpoint_state *st = &pe->list[i];
		const char *current = i == pe->cur ? "current" : NULL;

		vpnd_reply_printf(r, "%s%s", i ? ", " : "", vpnd_endpoint_text(&st->entry, text));
		if (!st->entry.numeric)
			vpnd_reply_printf(r, " (%s%s%s)",
					  st->addr.addr.sa.sa_family == AF_UNSPEC
					      ? "not resolved"
					      : wg_endpoint_format(&st->addr, addr),
					  current ? ", " : "", current ? current : "");
		else if (current)
			vpnd_reply_printf(r, " (%s)", current);
	}
	vpnd_reply_printf(r, "\n");
}

void vpnd_show_endpoints_json(struct vpnd_reply *r, const struct vpnd_endpoints *eps,
			      const struct wg_peer *p)
{
	const struct vpnd_peer_endpoints *pe = vpnd_endpoints_find(eps, p->name);
	char text[VPND_ENDPOINT_TEXT_MAX];

	vpnd_reply_printf(r, "[");
	for (unsigned i = 0; pe && i < pe->n; i++) {
		vpnd_reply_printf(r, "%s", i ? ", " : "");
		vpnd_reply_json_string(r, vpnd_endpoint_text(&pe->list[i].entry, text));
	}
	vpnd_reply_printf(r, "]");
}
