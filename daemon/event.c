/* epoll registration: the event loop finds the handler through data.ptr, so every fd it
 * waits on is registered together with its struct vpnd_event_source. */
#include "event.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>

static int ctl(int epfd, int op, struct vpnd_event_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	if (epoll_ctl(epfd, op, src->fd, &ev) < 0)
		return -errno;
	return 0;
}

int vpnd_event_add(int epfd, struct vpnd_event_source *src, uint32_t events)
{
	return ctl(epfd, EPOLL_CTL_ADD, src, events);
}

int vpnd_event_mod(int epfd, struct vpnd_event_source *src, uint32_t events)
{
	return ctl(epfd, EPOLL_CTL_MOD, src, events);
}

/* Failure is ignored on purpose: removal happens just before the fd is closed, and
 * closing it removes it from the set anyway (ENOENT/EBADF change nothing). */
void vpnd_event_del(int epfd, struct vpnd_event_source *src)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
}
