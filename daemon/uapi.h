/* The WireGuard cross-platform userspace API (UAPI), the text protocol wg(8) speaks to a
 * userspace implementation: "get=1\n\n" and "set=1\n" + key=value lines + "\n", several
 * per connection, each answered with key=value lines ending in "errno=N\n\n". Errors
 * and their numbers are wireguard-go's (errno=-22 for invalid input, -71 for a line
 * without '='), since wg is tested against it.
 *
 * uapi.c and uapi_set.c are the protocol alone: bytes in, an engine changed, bytes out.
 * They open no socket and log nothing, so unit tests and fuzzers feed them anything.
 *
 * A set request is atomic: it is parsed and checked in full against a model of the
 * device, then applied as a difference; a request with any error changes nothing.
 * (wireguard-go applies lines as it reads them and stops at the first error.) Only
 * running out of memory half-way through applying can leave part of a request done. */
#ifndef VPND_DAEMON_UAPI_H
#define VPND_DAEMON_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/engine.h"

/* The longest request accepted, blank line included; a longer one ends the connection. */
#define VPND_UAPI_MAX_REQUEST (1u << 20)

/* What peer_set reports as changed by a request (set to a value it did not have). */
#define VPND_UAPI_SET_PSK      1u
#define VPND_UAPI_SET_ENDPOINT 2u

/* The interface as the protocol sees it, filled in by the owner for each request. */
struct vpnd_uapi_device {
	struct wg_engine *engine;
	const uint8_t *private_key; /* the engine's, 32 bytes; never NULL */
	uint16_t listen_port;
	uint32_t fwmark;
	struct wg_time now;
	void *ctx;
	/* Install a new private key in the engine and wherever else it is kept: 0 or
	 * -errno. NULL: a different key is refused. */
	int (*set_private_key)(void *ctx, const uint8_t key[32]);
	/* Mark the underlay sockets: 0 or -errno. NULL: a different mark is refused. */
	int (*set_fwmark)(void *ctx, uint32_t mark);
	/* The name for a new peer with this key, or NULL to have one generated
	 * ("wg-" and the start of the base64 key). May be NULL. */
	const char *(*peer_name)(void *ctx, const uint8_t public_key[32]);
	/* A peer's preshared key and/or endpoint were set by the request. May be NULL. */
	void (*peer_set)(void *ctx, const struct wg_peer *p, unsigned what);
	/* Peers were added or removed, or allowed-ips changed. May be NULL. */
	void (*peers_changed)(void *ctx);
};

/* A growable byte buffer that wipes what it held whenever it lets memory go: replies
 * carry the private key and preshared keys, requests may too. */
struct vpnd_uapi_buf {
	char *data;
	size_t len, cap;
};

void vpnd_uapi_buf_free(struct vpnd_uapi_buf *b);
/* 0 or -ENOMEM. */
int vpnd_uapi_buf_append(struct vpnd_uapi_buf *b, const void *data, size_t len);
/* Drop the first n bytes, wiping the bytes that the move leaves behind. */
void vpnd_uapi_buf_consume(struct vpnd_uapi_buf *b, size_t n);

enum vpnd_uapi_status {
	VPND_UAPI_INCOMPLETE,	  /* no whole request yet: read more */
	VPND_UAPI_ANSWERED,	  /* one request consumed and answered */
	VPND_UAPI_ANSWERED_CLOSE, /* answered, but the stream cannot go on: close after it */
	VPND_UAPI_CLOSE,	  /* not this protocol: close without an answer (as wireguard-go) */
};

/* What happened to one request, for the log. msg never holds a key. */
struct vpnd_uapi_outcome {
	size_t used; /* bytes of input consumed */
	bool is_set;
	int err;       /* the errno answered: 0 or negative */
	unsigned line; /* of the set request (1 = "set=1") the error is about; 0 if none */
	char msg[192];
	unsigned added, removed, changed; /* peers, by a set that succeeded */
};

/* Look at the start of the stream in[0..len): if it holds a whole request, run it and
 * append the answer to out. *resume is where to go on looking for the end of a request
 * that was incomplete: 0 for a new stream, then kept by the caller between calls (it is
 * reset when a request is consumed), so that a request arriving in small pieces is not
 * scanned again from its start every time. A request still incomplete at
 * VPND_UAPI_MAX_REQUEST bytes is answered errno=-EMSGSIZE and ends the stream. */
enum vpnd_uapi_status vpnd_uapi_handle(const struct vpnd_uapi_device *dev, const char *in,
				       size_t len, size_t *resume, struct vpnd_uapi_buf *out,
				       struct vpnd_uapi_outcome *res);

/* Outside text made fit for a log line: printable ASCII only ('?' for the rest), cut at
 * 40 characters with "...". */
#define VPND_UAPI_PRINTABLE_MAX 48
const char *vpnd_uapi_printable(char out[VPND_UAPI_PRINTABLE_MAX], const char *v, size_t n);

/* uapi.c: the key=value lines of a get (without the errno line): 0 or -ENOMEM. */
int vpnd_uapi_get(const struct vpnd_uapi_device *dev, struct vpnd_uapi_buf *out);
/* uapi_set.c: apply the lines of a set request: body[0..len) is the lines after "set=1\n", each
 * ending in '\n', without the terminating blank line. Returns 0 or a negative errno;
 * res->line counts from the "set=1" line. */
int vpnd_uapi_set(const struct vpnd_uapi_device *dev, const char *body, size_t len,
		  struct vpnd_uapi_outcome *res);

#endif
