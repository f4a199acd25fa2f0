/* The Linux TUN device (IFF_TUN | IFF_NO_PI): one IP packet per read and write. */
#ifndef VPND_TUNNEL_TUN_H
#define VPND_TUNNEL_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Open or create the device; the fd is non-blocking and close-on-exec. The kernel's
 * name is written to actual (it may differ if name has a %d). Returns fd or -errno. */
int wg_tun_open(const char *name, char actual[IFNAMSIZ]);
/* The same, with every read and write prefixed by a virtio_net_hdr when vnet_hdr. */
int wg_tun_open_flags(const char *name, char actual[IFNAMSIZ], bool vnet_hdr);
/* Let the kernel hand us unchecksummed packets and TCP (and, where it can, UDP)
 * super-packets on a vnet_hdr device. Returns the TUN_F_* flags granted (0: none). */
unsigned wg_tun_set_offload(int fd);
/* One packet: its length, 0 when none is waiting, or -errno. */
ssize_t wg_tun_read(int fd, void *buf, size_t len);
/* 0 or -errno (EAGAIN: the kernel queue is full; the packet is dropped). */
int wg_tun_write(int fd, const void *buf, size_t len);

#endif
