/* Counters the engine keeps per peer and per device. */
#ifndef VPND_TUNNEL_STATS_H
#define VPND_TUNNEL_STATS_H

#include <stdint.h>

/* Why a packet was dropped. Names (wg_drop_reason_name) are what show and metrics print. */
enum wg_drop_reason {
	WG_DROP_MALFORMED,	   /* wrong size or unknown type */
	WG_DROP_BAD_MAC,	   /* mac1 wrong, or a cookie reply that does not authenticate */
	WG_DROP_HANDSHAKE_REFUSED, /* unknown key, stale timestamp, not authentic */
	WG_DROP_UNKNOWN_INDEX,	   /* no session or pending handshake has this index */
	WG_DROP_REPLAY,		   /* counter already seen or behind the window */
	WG_DROP_DECRYPT,	   /* transport data did not authenticate */
	WG_DROP_EXPIRED_KEY,	   /* session too old or out of counters */
	WG_DROP_BAD_SOURCE,	   /* inner source not in the sending peer's allowed-ips */
	WG_DROP_NO_ROUTE,	   /* outbound packet matched no peer */
	WG_DROP_QUEUE_FULL,	   /* staged-packet queue overflowed while waiting for a session */
	WG_DROP_UNDER_LOAD,	   /* handshake without a valid cookie while under load */
	WG_DROP_NO_ENDPOINT,	   /* peer has no known endpoint yet */
	WG_DROP_RATE_LIMITED,	   /* too many handshakes from one source while under load */
	WG_DROP_REVOKED,	   /* handshake from, or packet to, a revoked peer */
	WG_DROP_POLICY,		   /* the site policy denied the packet */
	WG_DROP_TTL,		   /* relayed packet's TTL / hop limit ran out */
	WG_DROP_LOOP,		   /* relay destination is the sending peer itself */
	WG_DROP_HANDSHAKE_BACKLOG, /* handshake message found the handshake queue full */
	WG_DROP__COUNT
};

const char *wg_drop_reason_name(enum wg_drop_reason r);

struct wg_peer_stats {
	uint64_t rx_bytes, tx_bytes;	 /* underlay bytes of authenticated datagrams */
	uint64_t rx_packets, tx_packets; /* inner packets */
	uint64_t handshakes;		 /* completed handshakes */
	uint64_t relayed_packets;	 /* packets it sent that went on to another peer */
	uint64_t last_handshake_real_ns; /* wall clock; 0 = never */
	uint64_t drops[WG_DROP__COUNT];
};

struct wg_device_stats {
	uint64_t drops[WG_DROP__COUNT];
	uint64_t handshake_initiations_received;
	uint64_t cookie_replies_sent;
};

#endif
