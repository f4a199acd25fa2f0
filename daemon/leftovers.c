/* What survives a SIGKILL: the kernel closes every descriptor, so the UDP port, the
 * netlink socket and the TUN device are gone, but files stay. Two kinds of file matter
 * at the next start: the Unix socket files (control and UAPI) and the audit log (whose
 * unclosed end audit.c continues and reports). A socket file is the dead run's when
 * connecting to it is refused; if something accepts, a live daemon owns it.
 *
 * vpnd's own TUN device is not persistent: when vpnd dies, even by SIGKILL, the kernel
 * closes its descriptor and removes the device with its addresses and routes. A device
 * of that name can still be there when something made it persistent (`ip tuntap add`,
 * an older vpnd, a helper that opened it for us). Its stale routes would then mix with
 * ours, and its flags need not be ours, so it goes before vpnd creates a fresh one.
 *
 * Whether anybody still uses it is the kernel's answer, not a guess from its state:
 * attaching to a single-queue TUN that a process holds fails with EBUSY. If we could
 * attach, nobody had it; clearing its persistence and closing our descriptor then makes
 * the kernel remove it, exactly as at the end of a normal run. */
#include "leftovers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int vpnd_leftover_socket_check(const char *what, const char *path, const char *doing,
			       const char *hint)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ucred cred = {0};
	socklen_t clen = sizeof(cred);
	char who[32];
	int fd, rc, err;

	/* Too long a path, or not there: binding it says what is wrong, if anything. */
	if (!path || strlen(path) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	/* EAGAIN: the listener's backlog is full, so somebody is listening. */
	if (rc < 0 && err != EAGAIN) {
		close(fd);
		return 0;
	}
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		cred.pid = 0;
	close(fd);
	if (cred.pid > 0)
		snprintf(who, sizeof(who), "process %ld", (long)cred.pid);
	else
		snprintf(who, sizeof(who), "a process");
	log_err("%s %s: %s%s%s: %s answers there (%s); not starting beside it", what, path,
		doing ? doing : "", doing ? ": " : "", strerror(EADDRINUSE), who, hint);
	return -EADDRINUSE;
}

int vpnd_leftover_tun_remove(const char *ifname)
{
	struct ifreq ifr;
	size_t len = strlen(ifname);
	int fd, err;

	/* Too long a name, or no such device: creating the TUN reports what is wrong. */
	if (len >= IFNAMSIZ || if_nametoindex(ifname) == 0)
		return 0;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, ifname, len);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		close(fd);
		if (err == EBUSY) {
			log_err("TUN device %s is open in another process (another vpnd or VPN "
				"daemon with this interface name?): vpnd leaves it alone",
				ifname);
			return -EBUSY;
		}
		if (err == EINVAL) {
			log_err("a network device named %s exists and is not a TUN device vpnd "
				"can take over (a TAP, multi-queue TUN or other kind): vpnd leaves "
				"it alone; remove it (ip link del %s) or set another interface",
				ifname, ifname);
			return -EEXIST;
		}
		/* EPERM and the like: creating the device fails the same way and says so. */
		return 0;
	}
	if (ioctl(fd, TUNSETPERSIST, 0) < 0) {
		err = errno;
		close(fd);
		log_err("%s: a TUN device left by an earlier run; cannot clear its persistence "
			"to remove it: %s",
			ifname, strerror(err));
		return -err;
	}
	close(fd);
	log_warn("%s: removed a TUN device left by an earlier run (persistent, no process "
		 "had it open); its addresses and routes went with it",
		 ifname);
	return 0;
}
