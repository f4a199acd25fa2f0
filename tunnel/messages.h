/* Every wire format and protocol constant of WireGuard v1, in one place. */
#ifndef VPND_TUNNEL_MESSAGES_H
#define VPND_TUNNEL_MESSAGES_H

#include <stdint.h>

#define WG_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_IDENTIFIER	"WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1	"mac1----"
#define WG_LABEL_COOKIE "cookie--"

enum wg_sizes {
	WG_KEY_LEN = 32,
	WG_HASH_LEN = 32,
	WG_AUTHTAG_LEN = 16,
	WG_TIMESTAMP_LEN = 12,
	WG_COOKIE_LEN = 16,
	WG_COOKIE_NONCE_LEN = 24,
	WG_MAC_LEN = 16,
};

enum wg_limits {
	WG_MESSAGE_PADDING_MULTIPLE = 16,
	WG_MAX_STAGED_PACKETS = 128,
	WG_MAX_TIMER_HANDSHAKES = 90 / 5, /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT */
	WG_COUNTER_BITS_TOTAL = 8192,
	WG_COUNTER_REDUNDANT_BITS = 64,
	WG_COUNTER_WINDOW_SIZE = WG_COUNTER_BITS_TOTAL - WG_COUNTER_REDUNDANT_BITS, /* 8128 */
	WG_INITIATIONS_PER_SECOND = 50,
};

/* Seconds. REKEY_AFTER_TIME is the default; the engine takes the configured value. */
enum wg_timer_seconds {
	WG_REKEY_AFTER_TIME = 120,
	WG_REJECT_AFTER_TIME = 180,
	WG_REKEY_ATTEMPT_TIME = 90,
	WG_REKEY_TIMEOUT = 5,
	WG_KEEPALIVE_TIMEOUT = 10,
	WG_COOKIE_SECRET_MAX_AGE = 120,
	WG_COOKIE_SECRET_LATENCY = 5,
};

#define WG_NSEC_PER_SEC		    1000000000ULL
#define WG_REKEY_TIMEOUT_JITTER_MAX (WG_NSEC_PER_SEC / 3)
/* The initiation timestamp may only advance this often, so that an observer cannot
 * learn the exact clock of the sender (the kernel rounds to 2^24 ns, about 16.8 ms). */
#define WG_INITIATION_TIMESTAMP_GRANULARITY_NS (1ULL << 24)

#define WG_REKEY_AFTER_MESSAGES	 (1ULL << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - WG_COUNTER_WINDOW_SIZE - 1)

enum wg_message_type {
	WG_MSG_INVALID = 0,
	WG_MSG_HANDSHAKE_INITIATION = 1,
	WG_MSG_HANDSHAKE_RESPONSE = 2,
	WG_MSG_HANDSHAKE_COOKIE = 3,
	WG_MSG_DATA = 4,
};

/* All integers on the wire are little-endian. The first byte is the type, followed by
 * three zero bytes: read the first four bytes as a little-endian uint32. */
struct wg_msg_header {
	uint32_t type;
} __attribute__((packed));

struct wg_msg_macs {
	uint8_t mac1[WG_MAC_LEN];
	uint8_t mac2[WG_MAC_LEN];
} __attribute__((packed));

struct wg_msg_initiation {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_static[WG_KEY_LEN + WG_AUTHTAG_LEN];
	uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AUTHTAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_response {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_nothing[WG_AUTHTAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_cookie {
	struct wg_msg_header header;
	uint32_t receiver_index;
	uint8_t nonce[WG_COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AUTHTAG_LEN];
} __attribute__((packed));

struct wg_msg_data {
	struct wg_msg_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

_Static_assert(sizeof(struct wg_msg_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct wg_msg_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct wg_msg_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct wg_msg_data) == 16, "data header is 16 bytes");

#define WG_DATA_OVERHEAD     (sizeof(struct wg_msg_data) + WG_AUTHTAG_LEN)
#define WG_MESSAGE_MIN_DATA  WG_DATA_OVERHEAD /* a keepalive */
#define WG_MESSAGE_MAX_SIZE  65535

static inline uint32_t wg_le32_read(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void wg_le32_write(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

static inline uint64_t wg_le64_read(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)wg_le32_read(b) | (uint64_t)wg_le32_read(b + 4) << 32;
}

static inline void wg_le64_write(void *p, uint64_t v)
{
	uint8_t *b = p;
	wg_le32_write(b, (uint32_t)v);
	wg_le32_write(b + 4, (uint32_t)(v >> 32));
}

#endif
