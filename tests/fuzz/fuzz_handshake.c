/* Fuzz target: the handshake consumers and cookie code on their own. A responder knows
 * one initiator; each input is read as an initiation, a response (to a pending
 * initiation of ours) and a cookie reply, macs checked first as the engine does. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/cookie.h"
#include "tunnel/noise.h"

static struct wg_noise responder, initiator;
static struct wg_handshake r_hs, i_hs;
static struct wg_cookie_checker checker;
static struct wg_cookie_maker maker;
static uint32_t next_index = 1;

static struct wg_handshake *lookup_static(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_handshake *hs = ctx;
	return sodium_memcmp(hs->remote_static, pub, WG_KEY_LEN) == 0 ? hs : NULL;
}

static struct wg_handshake *lookup_index(void *ctx, uint32_t idx)
{
	struct wg_handshake *hs = ctx;
	return hs->local_index == idx ? hs : NULL;
}

static uint32_t index_assign(void *ctx, struct wg_handshake *hs)
{
	(void)ctx;
	(void)hs;
	return next_index++;
}

static void index_drop(void *ctx, uint32_t idx)
{
	(void)ctx;
	(void)idx;
}

static void setup(void)
{
	uint8_t k1[32], k2[32];

	if (sodium_init() < 0)
		__builtin_trap();
	randombytes_buf(k1, 32);
	randombytes_buf(k2, 32);
	responder.cb = (struct wg_noise_callbacks){&r_hs, lookup_static, lookup_index,
						   index_assign, index_drop};
	initiator.cb = (struct wg_noise_callbacks){&i_hs, lookup_static, lookup_index,
						   index_assign, index_drop};
	wg_noise_set_private_key(&responder, k1);
	wg_noise_set_private_key(&initiator, k2);
	wg_noise_handshake_init(&responder, &r_hs, initiator.identity.static_public, NULL, NULL);
	wg_noise_handshake_init(&initiator, &i_hs, responder.identity.static_public, NULL, NULL);
	wg_cookie_checker_init(&checker, responder.identity.static_public);
	wg_cookie_maker_init(&maker, responder.identity.static_public);
	sodium_memzero(k1, 32);
	sodium_memzero(k2, 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint64_t now = 1000000000000ULL;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_msg_cookie cookie;
	struct wg_handshake *hs;
	uint8_t src[6] = {192, 0, 2, 1, 0xca, 0x6c}, ts[WG_TIMESTAMP_LEN] = {0};

	if (!ready) {
		setup();
		ready = true;
	}
	now += 100000000;
	memset(&init, 0, sizeof(init));
	memcpy(&init, data, size < sizeof(init) ? size : sizeof(init));
	/* Half the inputs get a valid mac1 so the Noise code behind it is reached. */
	if (size && (data[0] & 1))
		wg_cookie_add_macs(&maker, &init, sizeof(init), now);
	if (wg_cookie_validate(&checker, &init, sizeof(init), src, sizeof(src), size & 2, now) !=
	    WG_COOKIE_MAC_INVALID)
		wg_noise_consume_initiation(&responder, &init, now, &hs);

	/* A response to an initiation we really sent. */
	wg_noise_create_initiation(&initiator, &i_hs, &init, ts);
	memset(&resp, 0, sizeof(resp));
	memcpy(&resp, data, size < sizeof(resp) ? size : sizeof(resp));
	wg_le32_write(&resp.receiver_index, i_hs.local_index);
	wg_noise_consume_response(&initiator, &resp, &hs);

	memset(&cookie, 0, sizeof(cookie));
	memcpy(&cookie, data, size < sizeof(cookie) ? size : sizeof(cookie));
	wg_cookie_consume_reply(&maker, &cookie, now);
	return 0;
}
