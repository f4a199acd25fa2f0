/* The Linux TUN device in layer-3 mode without the packet-information header: each read
 * yields exactly one IP packet and each write injects one, which is the unit the engine
 * encrypts. Offloads (IFF_VNET_HDR) come later with the data-plane work. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int wg_tun_open(const char *name, char actual[IFNAMSIZ])
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
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
