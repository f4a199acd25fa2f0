/* The WireGuard UAPI (see uapi.h): the buffer, the get report and the framing of the
 * request stream. Set requests are uapi_set.c's. */
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/peer.h"

#define KEY_HEX_LEN 64

/* ---- the buffer ---- */

void vpnd_uapi_buf_free(struct vpnd_uapi_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int vpnd_uapi_buf_append(struct vpnd_uapi_buf *b, const void *data, size_t len)
{
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 512;
		char *grown;

		while (cap - b->len < len) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		/* Not realloc: it could leave a copy of the old contents behind. */
		grown = malloc(cap);
		if (!grown)
			return -ENOMEM;
		if (b->len)
			memcpy(grown, b->data, b->len);
		if (b->data)
			sodium_memzero(b->data, b->cap);
		free(b->data);
		b->data = grown;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

void vpnd_uapi_buf_consume(struct vpnd_uapi_buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data)
			sodium_memzero(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	sodium_memzero(b->data + b->len - n, n);
	b->len -= n;
}

static int buf_printf(struct vpnd_uapi_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int buf_printf(struct vpnd_uapi_buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL; /* every line we print is short */
	return vpnd_uapi_buf_append(b, line, (size_t)n);
}

/* ---- get ---- */

static int key_line(struct vpnd_uapi_buf *b, const char *name, const uint8_t key[32])
{
	static const char digits[] = "0123456789abcdef";
	char line[32 + KEY_HEX_LEN + 2];
	size_t n = strlen(name);
	int ret;

	memcpy(line, name, n);
	line[n++] = '=';
	for (size_t i = 0; i < 32; i++) {
		line[n++] = digits[key[i] >> 4];
		line[n++] = digits[key[i] & 15];
	}
	line[n++] = '\n';
	ret = vpnd_uapi_buf_append(b, line, n);
	sodium_memzero(line, sizeof(line));
	return ret;
}

static int prefix_line(struct vpnd_uapi_buf *b, const struct wg_allowed_ip *ip)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(ip->family, ip->addr, addr, sizeof(addr)))
		return 0;
	return buf_printf(b, "allowed_ip=%s/%u\n", addr, ip->cidr);
}

const char *vpnd_uapi_printable(char out[VPND_UAPI_PRINTABLE_MAX], const char *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < 40; i++)
		out[k++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	if (n > 40) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

int vpnd_uapi_get(const struct vpnd_uapi_device *dev, struct vpnd_uapi_buf *out)
{
	char ep[WG_ENDPOINT_STRLEN];
	int ret = 0;

	if (dev->private_key && !sodium_is_zero(dev->private_key, 32))
		ret = key_line(out, "private_key", dev->private_key);
	if (!ret && dev->listen_port)
		ret = buf_printf(out, "listen_port=%u\n", dev->listen_port);
	if (!ret && dev->fwmark)
		ret = buf_printf(out, "fwmark=%" PRIu32 "\n", dev->fwmark);
	for (const struct wg_peer *p = wg_engine_peers(dev->engine); p && !ret; p = p->next) {
		const struct wg_peer_stats *st = &p->stats;

		ret = key_line(out, "public_key", p->handshake.remote_static);
		if (!ret)
			ret = key_line(out, "preshared_key", p->handshake.preshared_key);
		if (!ret)
			ret = buf_printf(out, "protocol_version=1\n");
		if (!ret && p->endpoint.addr.sa.sa_family != AF_UNSPEC)
			ret =
			    buf_printf(out, "endpoint=%s\n", wg_endpoint_format(&p->endpoint, ep));
		if (!ret)
			ret = buf_printf(out,
					 "last_handshake_time_sec=%" PRIu64 "\n"
					 "last_handshake_time_nsec=%" PRIu64 "\n"
					 "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n"
					 "persistent_keepalive_interval=%u\n",
					 st->last_handshake_real_ns / (uint64_t)WG_NSEC_PER_SEC,
					 st->last_handshake_real_ns % (uint64_t)WG_NSEC_PER_SEC,
					 st->tx_bytes, st->rx_bytes, p->persistent_keepalive);
		for (unsigned i = 0; i < p->n_allowed_ips && !ret; i++)
			ret = prefix_line(out, &p->allowed_ips[i]);
	}
	return ret;
}

/* ---- the stream ---- */

static const char OP_GET[] = "get=1\n", OP_SET[] = "set=1\n";
#define OP_LEN (sizeof(OP_GET) - 1)

static enum vpnd_uapi_status answer(struct vpnd_uapi_buf *out, size_t mark, int err,
				    enum vpnd_uapi_status st)
{
	if (err)
		out->len = mark; /* nothing but the errno after a failure */
	if (buf_printf(out, "errno=%d\n\n", err) < 0)
		return VPND_UAPI_CLOSE;
	return st;
}

enum vpnd_uapi_status vpnd_uapi_handle(const struct vpnd_uapi_device *dev, const char *in,
				       size_t len, size_t *resume, struct vpnd_uapi_buf *out,
				       struct vpnd_uapi_outcome *res)
{
	size_t k = len < OP_LEN ? len : OP_LEN, mark = out->len, end;
	char shown[VPND_UAPI_PRINTABLE_MAX];
	const char *nl;

	memset(res, 0, sizeof(*res));
	if (memcmp(in, OP_GET, k) != 0 && memcmp(in, OP_SET, k) != 0) {
		nl = memchr(in, '\n', len);
		snprintf(res->msg, sizeof(res->msg), "unknown operation '%s'",
			 vpnd_uapi_printable(shown, in, nl ? (size_t)(nl - in) : len));
		res->err = -EPROTO;
		return VPND_UAPI_CLOSE;
	}
	if (len <= OP_LEN)
		return VPND_UAPI_INCOMPLETE;
	if (in[0] == 'g') {
		res->used = OP_LEN + 1;
		*resume = 0;
		if (in[OP_LEN] != '\n') {
			/* wireguard-go answers and reads on from the next byte; we would only
			 * find more garbage there. */
			res->err = -EINVAL;
			snprintf(res->msg, sizeof(res->msg), "get=1 not followed by a blank line");
			return answer(out, mark, res->err, VPND_UAPI_ANSWERED_CLOSE);
		}
		res->err = vpnd_uapi_get(dev, out);
		if (res->err)
			snprintf(res->msg, sizeof(res->msg), "out of memory");
		return answer(out, mark, res->err, VPND_UAPI_ANSWERED);
	}
	/* set: the body ends at the first empty line, "\n\n" from the newline of "set=1". */
	end = *resume > OP_LEN - 1 ? *resume : OP_LEN - 1;
	for (;;) {
		nl = end < len ? memchr(in + end, '\n', len - end) : NULL;
		if (!nl || (size_t)(nl - in) + 1 >= len) {
			*resume = nl ? (size_t)(nl - in) : len;
			break;
		}
		end = (size_t)(nl - in);
		if (in[end + 1] == '\n') {
			*resume = 0;
			res->used = end + 2;
			res->is_set = true;
			vpnd_uapi_set(dev, in + OP_LEN, end + 1 - OP_LEN, res);
			return answer(out, mark, res->err, VPND_UAPI_ANSWERED);
		}
		end++;
	}
	if (len >= VPND_UAPI_MAX_REQUEST) {
		res->used = len;
		res->is_set = true;
		res->err = -EMSGSIZE;
		snprintf(res->msg, sizeof(res->msg), "request longer than %u bytes",
			 VPND_UAPI_MAX_REQUEST);
		return answer(out, mark, res->err, VPND_UAPI_ANSWERED_CLOSE);
	}
	return VPND_UAPI_INCOMPLETE;
}
