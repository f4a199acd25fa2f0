/* Fuzz target: the WireGuard UAPI as the wg tool speaks it, against a live engine that
 * holds two peers. Each input is a byte stream of one connection: every request in it is
 * parsed, applied (a set changes the engine for the inputs that follow) and answered. */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "daemon/uapi.h"

static struct wg_engine *engine;
static uint8_t private_key[32];

static int no_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)to;
	(void)buf;
	(void)len;
	return 0;
}

static void no_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)from;
	(void)pkt;
	(void)len;
}

static int set_key(void *ctx, const uint8_t key[32])
{
	(void)ctx;
	if (wg_engine_set_private_key(engine, key) < 0)
		return -22;
	memcpy(private_key, key, 32);
	return 0;
}

static void setup(void)
{
	struct wg_engine_io io = {.send_datagram = no_send, .deliver_packet = no_deliver};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	struct wg_time now = {.mono_ns = 1000000000000ULL, .real_ns = 1700000000000000000ULL};

	if (sodium_init() < 0)
		__builtin_trap();
	engine = wg_engine_new(&io, &set);
	randombytes_buf(private_key, sizeof(private_key));
	wg_engine_set_private_key(engine, private_key);
	for (int i = 0; i < 2; i++) {
		struct wg_peer_config c = {.name = i ? "br2" : "br1"};
		uint8_t k[32];
		randombytes_buf(k, sizeof(k));
		crypto_scalarmult_base(c.public_key, k);
		wg_engine_add_peer(engine, &c, now);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct vpnd_uapi_device dev = {0};
	struct vpnd_uapi_buf out = {0};
	struct vpnd_uapi_outcome res;
	size_t used = 0, resume = 0;

	if (!ready) {
		setup();
		ready = true;
	}
	dev.engine = engine;
	dev.private_key = private_key;
	dev.listen_port = 51820;
	dev.now = (struct wg_time){.mono_ns = 2000000000000ULL, .real_ns = 1700000001000000000ULL};
	dev.set_private_key = set_key;
	while (used < size) {
		enum vpnd_uapi_status st = vpnd_uapi_handle(&dev, (const char *)data + used,
							    size - used, &resume, &out, &res);
		if (st == VPND_UAPI_INCOMPLETE || st == VPND_UAPI_CLOSE)
			break;
		if (res.used == 0 || res.used > size - used)
			__builtin_trap(); /* every answered request consumes what it read */
		used += res.used;
		resume = 0;
		if (st == VPND_UAPI_ANSWERED_CLOSE)
			break;
	}
	vpnd_uapi_buf_free(&out);
	return 0;
}
