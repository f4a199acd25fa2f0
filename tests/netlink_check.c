/* Part of the unit suite (meson test netlink_check); needs root. Exit 0 pass, 1 fail, 77 skip. */
/* daemon/netlink.c and tunnel/tun.c against the real kernel, judged by iproute2 rather than by our
 * own code: in a private network namespace (unshare, so nothing outlives the process) a TUN gets an
 * MTU, goes up, receives addresses and routes, loses them again, and is deleted. Adding twice and
 * deleting twice must succeed (the header's idempotence promise). */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/netlink.h"
#include "tunnel/tun.h"

#define IFNAME "vpnchk0"

static int failures;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok)
		failures++;
}

static void check_ret(int got, int want, const char *what)
{
	check(got == want, "%s: returned %d (%s), want %d", what, got,
	      got < 0 ? strerror(-got) : "ok", want);
}

/* Output of a shell command (iproute2), at most sizeof(out) - 1 bytes. */
static const char *run(const char *cmd)
{
	static char out[16384];
	size_t n = 0, r;
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		return out;
	while (n < sizeof(out) - 1 && (r = fread(out + n, 1, sizeof(out) - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	pclose(p);
	return out;
}

static void expect(const char *cmd, const char *needle, bool present)
{
	const char *out = run(cmd);
	bool found = strstr(out, needle) != NULL;

	check(found == present, "`%s` %s \"%s\"", cmd, present ? "shows" : "does not show", needle);
	if (found != present)
		printf("# output was:\n%s", out);
}

/* The TUN data path: a datagram sent to a host behind the tunnel comes out of
 * wg_tun_read as one IPv4 packet; the same packet with addresses and ports swapped (both
 * checksums are sums, so they stay valid) written with wg_tun_write arrives back at the
 * sending socket, as if the far side had answered. */
static void check_tun_io(int tun)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	uint8_t pkt[2048], drain[2048], tmp[4];
	char reply[16];
	ssize_t n = 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
	check(sendto(s, "tunio", 5, 0, (struct sockaddr *)&to, sizeof(to)) == 5,
	      "send a datagram to 10.99.0.2:9 through " IFNAME);
	/* The kernel also sends IPv6 control packets (MLD, router solicitations) into a
	 * fresh link; skip to the first IPv4 one. */
	for (int i = 0; i < 500 && (n == 0 || (n > 0 && pkt[0] >> 4 != 4)); i++) {
		n = wg_tun_read(tun, pkt, sizeof(pkt));
		if (n == 0)
			usleep(10000);
	}
	check(n == 20 + 8 + 5 && pkt[0] == 0x45 && pkt[9] == IPPROTO_UDP && pkt[19] == 2,
	      "wg_tun_read returns it as one IPv4/UDP packet (%zd bytes)", n);
	while (wg_tun_read(tun, drain, sizeof(drain)) > 0)
		;
	check(wg_tun_read(tun, drain, sizeof(drain)) == 0, "wg_tun_read returns 0 when empty");
	if (n != 33)
		return;

	memcpy(tmp, pkt + 12, 4); /* swap source and destination address */
	memcpy(pkt + 12, pkt + 16, 4);
	memcpy(pkt + 16, tmp, 4);
	memcpy(tmp, pkt + 20, 2); /* and the ports */
	memcpy(pkt + 20, pkt + 22, 2);
	memcpy(pkt + 22, tmp, 2);
	check_ret(wg_tun_write(tun, pkt, (size_t)n), 0, "wg_tun_write of the answer");
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		n = recv(s, reply, sizeof(reply), 0);
		if (n < 0)
			usleep(10000);
	}
	check(n == 5 && memcmp(reply, "tunio", 5) == 0, "the socket receives the answer");
	close(s);
}

static void parse(int family, const char *s, uint8_t out[16])
{
	if (inet_pton(family, s, out) != 1) {
		fprintf(stderr, "netlink_check: bad test address '%s'\n", s);
		exit(1);
	}
}

int main(void)
{
	struct vpnd_netlink *nl;
	char actual[IFNAMSIZ];
	uint8_t a4[16], a6[16], r4[16], r4host[16], r6[16];
	int fd, ifindex;

	vpnd_log_open("netlink_check"); /* VPND_DEBUG=1 shows the kernel's error texts */
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "netlink_check: unshare(CLONE_NEWNET): %s; skipped (needs root)\n",
			strerror(errno));
		return 77;
	}
	fd = wg_tun_open(IFNAME, actual);
	if (fd < 0) {
		fprintf(stderr, "netlink_check: wg_tun_open(%s): %s\n", IFNAME, strerror(-fd));
		return errno == ENOENT ? 77 : 1;
	}
	check(strcmp(actual, IFNAME) == 0, "wg_tun_open names the device %s (got %s)", IFNAME,
	      actual);
	check_ret(wg_tun_open("a-name-longer-than-15", actual), -ENAMETOOLONG,
		  "wg_tun_open with a 21-character name");

	nl = vpnd_netlink_open();
	if (!nl) {
		fprintf(stderr, "netlink_check: vpnd_netlink_open: %s\n", strerror(errno));
		return 1;
	}
	ifindex = vpnd_netlink_ifindex(nl, IFNAME);
	check(ifindex > 0, "ifindex of %s is %d", IFNAME, ifindex);
	check_ret(vpnd_netlink_ifindex(nl, "nosuchdev0"), -ENODEV, "ifindex of nosuchdev0");

	check_ret(vpnd_netlink_set_mtu(nl, ifindex, 1420), 0, "set_mtu 1420");
	expect("ip -o link show dev " IFNAME, "mtu 1420 ", true);
	check_ret(vpnd_netlink_set_mtu(nl, ifindex, 1u << 20), -EINVAL, "set_mtu 1048576");
	check_ret(vpnd_netlink_set_up(nl, ifindex, true), 0, "set_up true");
	expect("ip -o link show dev " IFNAME, ",UP", true);

	parse(AF_INET, "10.99.0.1", a4);
	parse(AF_INET6, "fd99::1", a6);
	for (int i = 0; i < 2; i++) {
		check_ret(vpnd_netlink_address(nl, ifindex, true, AF_INET, a4, 24), 0,
			  i ? "add 10.99.0.1/24 again" : "add 10.99.0.1/24");
		check_ret(vpnd_netlink_address(nl, ifindex, true, AF_INET6, a6, 64), 0,
			  i ? "add fd99::1/64 again" : "add fd99::1/64");
	}
	expect("ip -o -4 addr show dev " IFNAME, "inet 10.99.0.1/24 ", true);
	expect("ip -o -6 addr show dev " IFNAME, "inet6 fd99::1/64 ", true);
	expect("ip -o -6 addr show dev " IFNAME, "tentative", false);
	check_tun_io(fd);
	check_ret(vpnd_netlink_address(nl, ifindex, true, AF_INET, a4, 33), -EINVAL,
		  "add 10.99.0.1/33");
	check_ret(vpnd_netlink_address(nl, 9999, true, AF_INET, a4, 24), -ENODEV,
		  "add 10.99.0.1/24 to ifindex 9999");

	parse(AF_INET, "10.2.0.0", r4);
	parse(AF_INET, "10.3.0.77", r4host);
	parse(AF_INET6, "fd02::", r6);
	for (int i = 0; i < 2; i++) {
		check_ret(vpnd_netlink_route(nl, ifindex, true, AF_INET, r4, 24), 0,
			  i ? "route 10.2.0.0/24 again" : "route 10.2.0.0/24");
		check_ret(vpnd_netlink_route(nl, ifindex, true, AF_INET6, r6, 64), 0,
			  i ? "route fd02::/64 again" : "route fd02::/64");
	}
	check_ret(vpnd_netlink_route(nl, ifindex, true, AF_INET, r4host, 16), 0,
		  "route 10.3.0.77/16 (host bits set)");
	expect("ip -4 route show table main dev " IFNAME, "10.2.0.0/24 proto static scope link",
	       true);
	expect("ip -4 route show table main dev " IFNAME, "10.3.0.0/16 proto static scope link",
	       true);
	expect("ip -6 route show table main dev " IFNAME, "fd02::/64 proto static", true);
	expect("ip -4 route get 10.2.0.9", "dev " IFNAME " src 10.99.0.1", true);

	for (int i = 0; i < 2; i++) {
		check_ret(vpnd_netlink_route(nl, ifindex, false, AF_INET, r4, 24), 0,
			  i ? "delete 10.2.0.0/24 again" : "delete 10.2.0.0/24");
		check_ret(vpnd_netlink_route(nl, ifindex, false, AF_INET6, r6, 64), 0,
			  i ? "delete fd02::/64 again" : "delete fd02::/64");
		check_ret(vpnd_netlink_route(nl, ifindex, false, AF_INET, r4host, 16), 0,
			  i ? "delete 10.3.0.0/16 again" : "delete 10.3.0.0/16");
		check_ret(vpnd_netlink_address(nl, ifindex, false, AF_INET, a4, 24), 0,
			  i ? "delete 10.99.0.1/24 again" : "delete 10.99.0.1/24");
		check_ret(vpnd_netlink_address(nl, ifindex, false, AF_INET6, a6, 64), 0,
			  i ? "delete fd99::1/64 again" : "delete fd99::1/64");
	}
	expect("ip -4 route show table main dev " IFNAME, "10.2.0.0/24", false);
	expect("ip -4 route show table main dev " IFNAME, "10.3.0.0/16", false);
	expect("ip -6 route show table main dev " IFNAME, "fd02::/64", false);
	expect("ip -o addr show dev " IFNAME, "10.99.0.1", false);
	expect("ip -o addr show dev " IFNAME, "fd99::1", false);

	check_ret(vpnd_netlink_set_up(nl, ifindex, false), 0, "set_up false");
	expect("ip -o link show dev " IFNAME, ",UP", false);

	check_ret(vpnd_netlink_delete_link(nl, IFNAME), 0, "delete_link " IFNAME);
	expect("ip -o link show", IFNAME, false);
	check_ret(vpnd_netlink_delete_link(nl, IFNAME), -ENODEV, "delete_link " IFNAME " again");

	vpnd_netlink_close(nl);
	close(fd);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
