/* The Linux TUN device in layer-3 mode without the packet-information header: each read
 * yields exactly one IP packet and each write injects one, which is the unit the engine
 * encrypts. With offloads (IFF_VNET_HDR) a read may instead yield a TCP super-packet
 * behind a virtio header, which offload.h cuts up. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int wg_tun_open(const char *name, char actual[IFNAMSIZ])
{
	return wg_tun_open_flags(name, actual, false);
}

int wg_tun_open_flags(const char *name, char actual[IFNAMSIZ], bool vnet_hdr)
{
	struct ifreq ifr;
	size_t len = strlen(name);
	int fd, err;

	/* The kernel silently cuts names at IFNAMSIZ - 1; refuse instead so we never
	 * configure a device whose name differs from the one in the config. */
	if (len >= IFNAMSIZ)
		return -ENAMETOOLONG;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, len); /* NUL-terminated by the memset */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}

	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	return fd;
}

ssize_t wg_tun_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

int wg_tun_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* TUN takes a packet whole or not at all; a partial write would mean a kernel
	 * change we do not understand, so report it rather than pretend success. */
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* Not in every set of kernel headers this builds against. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

unsigned wg_tun_set_offload(int fd)
{
	const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	/* USO (kernel 6.2) first; older kernels refuse the unknown bits as a whole. */
	if (ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0)
		return tso | TUN_F_USO4 | TUN_F_USO6;
	if (ioctl(fd, TUNSETOFFLOAD, tso) == 0)
		return tso;
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
		return TUN_F_CSUM;
	return 0;
}
