/* The /metrics HTTP endpoint (libmicrohttpd), served from vpnd's own epoll loop: MHD runs
 * no thread of its own, because the engine it reads is single-threaded. */
#ifndef VPND_DAEMON_METRICS_HTTP_H
#define VPND_DAEMON_METRICS_HTTP_H

#include <stdint.h>

#include "reply.h"
#include "tunnel/endpoint.h"

/* Writes the exposition text into r; called from the event loop for each scrape. */
typedef void (*vpnd_metrics_render_fn)(void *ctx, struct vpnd_reply *r);

/* Limits that keep a scraper, or anyone who can reach the port, from holding vpnd's
 * resources: concurrent connections, idle seconds, and memory per connection (a request
 * whose headers do not fit is answered 431). A client that sends an incomplete request
 * and closes its side at once may be noticed only at the idle timeout: libmicrohttpd
 * 0.9.75 reads such data and end-of-stream as one edge-triggered event. */
#define VPND_METRICS_MAX_CONNECTIONS 16
#define VPND_METRICS_TIMEOUT_S	     10
#define VPND_METRICS_CONN_MEMORY     (32 * 1024)

struct vpnd_metrics_http;

/* An endpoint that serves nothing yet; its event sources join epoll set epfd. NULL with
 * errno set. */
struct vpnd_metrics_http *vpnd_metrics_http_new(int epfd, vpnd_metrics_render_fn render, void *ctx);
/* Serve GET /metrics at addr, or stop serving when addr is NULL. On failure returns
 * -errno and whatever was served before still is. The object's event sources stay where
 * they are, so this is safe from an event handler (reload) even while an event of the
 * previous listener waits in the same epoll batch. */
int vpnd_metrics_http_listen(struct vpnd_metrics_http *h, const struct wg_endpoint *addr);
/* A connection silent for this long is closed (default VPND_METRICS_TIMEOUT_S; tests
 * shorten it). Applies from the next vpnd_metrics_http_listen. */
void vpnd_metrics_http_set_idle_timeout(struct vpnd_metrics_http *h, unsigned seconds);
/* The TCP port being served (the real one when addr had port 0), 0 when not serving. */
uint16_t vpnd_metrics_http_port(const struct vpnd_metrics_http *h);
/* Close every connection and the listener. NULL is fine. Not from an event handler. */
void vpnd_metrics_http_free(struct vpnd_metrics_http *h);

#endif
