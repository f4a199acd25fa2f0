/* Everything the daemon waits on is an event source in one epoll set: epoll_event.data.ptr
 * points at a struct vpnd_event_source whose handler runs when the fd is ready. */
#ifndef VPND_DAEMON_EVENT_H
#define VPND_DAEMON_EVENT_H

#include <stdint.h>

struct vpnd_event_source {
	int fd;
	void (*handler)(struct vpnd_event_source *src, uint32_t events);
};

/* epoll_ctl wrappers: 0 or -errno. */
int vpnd_event_add(int epfd, struct vpnd_event_source *src, uint32_t events);
int vpnd_event_mod(int epfd, struct vpnd_event_source *src, uint32_t events);
void vpnd_event_del(int epfd, struct vpnd_event_source *src);

#endif
