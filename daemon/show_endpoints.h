/* The endpoints part of `vpnctl show`: the configured list of a peer, each name with what
 * it resolves to and the one vpnd currently uses. */
#ifndef VPND_DAEMON_SHOW_ENDPOINTS_H
#define VPND_DAEMON_SHOW_ENDPOINTS_H

#include "endpoints.h"
#include "reply.h"

/* "  endpoints: hq-isp1:51820 (198.51.100.2:51820, current), hq-isp2:51820 (...)\n", only
 * when there is more to say than the endpoint line: several entries, or a name. */
void vpnd_show_endpoints_text(struct vpnd_reply *r, const struct vpnd_endpoints *eps,
			      const struct wg_peer *p);
/* The JSON array of the configured entries as written: ["hq-isp1:51820", ...]; [] for
 * none (eps NULL included). */
void vpnd_show_endpoints_json(struct vpnd_reply *r, const struct vpnd_endpoints *eps,
			      const struct wg_peer *p);

#endif
