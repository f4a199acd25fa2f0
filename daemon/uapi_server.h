/* The UAPI socket that wg(8) talks to: a Unix stream socket (mode 0600), several
 * requests per connection (protocol in uapi.h), and its binding to the running daemon. */
#ifndef VPND_DAEMON_UAPI_SERVER_H
#define VPND_DAEMON_UAPI_SERVER_H

#include "uapi.h"

#define VPND_UAPI_MAX_CLIENTS 16
/* A client that sits for this long without completing a request is disconnected, so
 * that idle clients cannot hold the VPND_UAPI_MAX_CLIENTS slots. */
#define VPND_UAPI_CLIENT_TIMEOUT_MS 30000

struct vpnd_uapi_server;
struct vpnd_runtime;

/* Fills in the device for one request (called for each request, so it is current). */
typedef void (*vpnd_uapi_device_fn)(void *ctx, struct vpnd_uapi_device *dev);

/* Create the socket at path, mode 0600 (missing directories are created 0755). A stale
 * socket file nobody listens on is replaced; a live one is -EADDRINUSE; a file that is
 * not a socket is -EEXIST. Returns NULL with errno set. */
struct vpnd_uapi_server *vpnd_uapi_server_open(int epfd, const char *path,
					       vpnd_uapi_device_fn device, void *ctx);
/* Close every connection and the socket, and unlink its path if it is still ours. Call
 * it outside the dispatch of an epoll batch that may hold this server's events. */
void vpnd_uapi_server_close(struct vpnd_uapi_server *s);
void vpnd_uapi_server_set_client_timeout(struct vpnd_uapi_server *s, unsigned ms);

/* The server on rt->config->uapi_socket, bound to rt: requests see and change rt's
 * engine; a set that changes peers or allowed-ips re-syncs the routes on the TUN with
 * every peer's allowed-ips; a new private key, preshared key or endpoint is written
 * into rt->config so that the next reload puts back what the file says. */
struct vpnd_uapi_server *vpnd_runtime_uapi_open(struct vpnd_runtime *rt);

#endif
