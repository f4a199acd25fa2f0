/* One worker thread runs getaddrinfo() for queued names; the event loop collects the
 * answers when the eventfd becomes readable. The queues and the eventfd are shared by
 * both threads and reference-counted, so that shutting down never waits for a DNS
 * server: whichever thread lets go last frees them. */
#include "resolver.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

struct job {
	struct job *next;
	struct vpnd_resolved res;
	uint16_t port;
	char host[];
};

struct queue {
	struct job *head, **tail;
};

struct shared {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queue todo, done;
	bool stop;
	unsigned refs;
	int efd;
};

struct vpnd_resolver {
	struct vpnd_event_source src; /* first: the handler finds us from it */
	int epfd;
	struct shared *sh;
	vpnd_resolver_done_fn done;
	void *ctx;
	bool has_worker;
	pthread_t worker;
};

static void push(struct queue *q, struct job *j)
{
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
}

static struct job *pop(struct queue *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return j;
}

static void free_jobs(struct queue *q)
{
	struct job *j;

	while ((j = pop(q)))
		free(j);
}

/* Called with sh->lock held; returns true when the caller was the last user (the lock is
 * then released and sh is gone). */
static bool unref_locked(struct shared *sh)
{
	if (--sh->refs) {
		pthread_mutex_unlock(&sh->lock);
		return false;
	}
	pthread_mutex_unlock(&sh->lock);
	free_jobs(&sh->todo);
	free_jobs(&sh->done);
	close(sh->efd);
	pthread_cond_destroy(&sh->wake);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
	return true;
}

static void lookup(struct job *j)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL, *ai;

	j->res.gai_error = getaddrinfo(j->host, NULL, &hints, &res);
	j->res.sys_errno = j->res.gai_error == EAI_SYSTEM ? errno : 0;
	memset(&j->res.addr, 0, sizeof(j->res.addr));
	j->res.addr.addr.sa.sa_family = AF_UNSPEC;
	if (j->res.gai_error)
		return;
	/* getaddrinfo sorts by RFC 6724 preference: the first usable one is the answer. */
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			memcpy(&j->res.addr.addr.in4, ai->ai_addr, sizeof(struct sockaddr_in));
			j->res.addr.addr.in4.sin_port = htons(j->port);
			break;
		}
		if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			memcpy(&j->res.addr.addr.in6, ai->ai_addr, sizeof(struct sockaddr_in6));
			j->res.addr.addr.in6.sin6_port = htons(j->port);
			break;
		}
	}
	if (!ai)
		j->res.gai_error = EAI_ADDRFAMILY;
	freeaddrinfo(res);
}

static void *worker_main(void *arg)
{
	struct shared *sh = arg;
	const uint64_t one = 1;
	struct job *j;

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		while (!sh->stop && !sh->todo.head)
			pthread_cond_wait(&sh->wake, &sh->lock);
		if (sh->stop)
			break;
		j = pop(&sh->todo);
		pthread_mutex_unlock(&sh->lock);
		lookup(j);
		pthread_mutex_lock(&sh->lock);
		if (sh->stop) {
			free(j);
			break;
		}
		push(&sh->done, j);
		if (write(sh->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is full, so the fd is readable anyway. */
		}
	}
	unref_locked(sh);
	return NULL;
}

static void on_answers(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_resolver *r = (struct vpnd_resolver *)src;
	struct queue done;
	uint64_t n;
	struct job *j;
	(void)events;

	while (read(r->src.fd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&r->sh->lock);
	done = r->sh->done;
	if (!done.head)
		done.tail = &done.head;
	r->sh->done.head = NULL;
	r->sh->done.tail = &r->sh->done.head;
	pthread_mutex_unlock(&r->sh->lock);
	while ((j = pop(&done))) {
		r->done(r->ctx, &j->res);
		free(j);
	}
}

struct vpnd_resolver *vpnd_resolver_new(int epfd, vpnd_resolver_done_fn done, void *ctx)
{
	struct vpnd_resolver *r = calloc(1, sizeof(*r));
	struct shared *sh = calloc(1, sizeof(*sh));
	int ret;

	if (!r || !sh)
		goto nomem;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->efd < 0) {
		ret = errno;
		free(sh);
		free(r);
		errno = ret;
		return NULL;
	}
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->wake, NULL);
	sh->todo.tail = &sh->todo.head;
	sh->done.tail = &sh->done.head;
	sh->refs = 1;
	r->sh = sh;
	r->epfd = epfd;
	r->done = done;
	r->ctx = ctx;
	r->src.fd = sh->efd;
	r->src.handler = on_answers;
	ret = vpnd_event_add(epfd, &r->src, EPOLLIN);
	if (ret < 0) {
		pthread_mutex_lock(&sh->lock);
		unref_locked(sh);
		free(r);
		errno = -ret;
		return NULL;
	}
	return r;
nomem:
	free(sh);
	free(r);
	errno = ENOMEM;
	return NULL;
}

/* The worker must not take the daemon's signals: signalfd reads them on the main thread. */
static int start_worker(struct vpnd_resolver *r)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->sh->refs++;
	ret = pthread_create(&r->worker, NULL, worker_main, r->sh);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		r->sh->refs--;
		return -ret;
	}
	r->has_worker = true;
	return 0;
}

int vpnd_resolver_submit(struct vpnd_resolver *r, uint64_t id, const char *host, uint16_t port)
{
	size_t len = strlen(host);
	struct job *j = calloc(1, sizeof(*j) + len + 1);
	int ret;

	if (!j)
		return -ENOMEM;
	j->res.id = id;
	j->port = port;
	memcpy(j->host, host, len + 1);
	if (!r->has_worker && (ret = start_worker(r)) < 0) {
		free(j);
		return ret;
	}
	pthread_mutex_lock(&r->sh->lock);
	push(&r->sh->todo, j);
	pthread_cond_signal(&r->sh->wake);
	pthread_mutex_unlock(&r->sh->lock);
	return 0;
}

const char *vpnd_resolved_strerror(const struct vpnd_resolved *res)
{
	if (res->gai_error == EAI_SYSTEM)
		return strerror(res->sys_errno);
	if (res->gai_error == EAI_ADDRFAMILY)
		return "no IPv4 or IPv6 address";
	return gai_strerror(res->gai_error);
}

void vpnd_resolver_free(struct vpnd_resolver *r)
{
	struct timespec deadline;

	if (!r)
		return;
	vpnd_event_del(r->epfd, &r->src);
	pthread_mutex_lock(&r->sh->lock);
	r->sh->stop = true;
	free_jobs(&r->sh->todo);
	pthread_cond_signal(&r->sh->wake);
	unref_locked(r->sh);
	if (r->has_worker) {
		/* An idle worker ends at once and is joined; one inside getaddrinfo is left
		 * to end by itself (it frees what is shared, if it is the last). */
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 100 * 1000 * 1000;
		if (deadline.tv_nsec >= 1000 * 1000 * 1000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (pthread_timedjoin_np(r->worker, NULL, &deadline) != 0)
			pthread_detach(r->worker);
	}
	free(r);
}
