/* Service manager notifications: each call sends exactly the sd_notify(3) fields systemd
 * expects to the socket named by NOTIFY_SOCKET, keeps STATUS to one line, and sends
 * nothing when NOTIFY_SOCKET is unset. A datagram socket in a temp dir plays systemd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/notify.h"

struct manager {
	char dir[64];
	char path[96];
	int fd;
};

static int manager_up(void **state)
{
	struct manager *m = calloc(1, sizeof(*m));
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (!m)
		return -1;
	snprintf(m->dir, sizeof(m->dir), "/tmp/test_notify.XXXXXX");
	if (!mkdtemp(m->dir))
		return -1;
	snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", m->path);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || bind(m->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", m->path, 1);
	*state = m;
	return 0;
}

static int manager_down(void **state)
{
	struct manager *m = *state;

	unsetenv("NOTIFY_SOCKET");
	close(m->fd);
	unlink(m->path);
	rmdir(m->dir);
	free(m);
	return 0;
}

/* The next datagram, or "" if none is waiting. */
static const char *received(struct manager *m)
{
	static char buf[1024];
	ssize_t n = recv(m->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return buf;
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void test_ready(void **state)
{
	struct manager *m = *state;

	vpnd_notify_ready("%s: listening on UDP port %u, %u peers", "vpn0", 51820u, 2u);
	assert_string_equal(received(m),
			    "READY=1\nSTATUS=vpn0: listening on UDP port 51820, 2 peers");
	assert_string_equal(received(m), "");
}

/* RELOADING=1 carries the CLOCK_MONOTONIC time of the reload in microseconds. */
static void test_reloading(void **state)
{
	struct manager *m = *state;
	unsigned long long usec;
	uint64_t before, after;
	int consumed = 0;
	const char *msg;

	before = monotonic_usec();
	vpnd_notify_reloading();
	after = monotonic_usec();
	msg = received(m);
	assert_int_equal(sscanf(msg, "RELOADING=1\nMONOTONIC_USEC=%llu\n%n", &usec, &consumed), 1);
	assert_true(consumed > 0);
	assert_string_equal(msg + consumed, "STATUS=reloading the configuration");
	assert_true(usec >= before && usec <= after);
}

static void test_stopping_and_status(void **state)
{
	struct manager *m = *state;

	vpnd_notify_stopping("%s: shutting down", "vpn0");
	assert_string_equal(received(m), "STOPPING=1\nSTATUS=vpn0: shutting down");
	vpnd_notify_status("peer %s down", "br1");
	assert_string_equal(received(m), "STATUS=peer br1 down");
}

/* A newline in a name must not become a field of its own (a forged READY=1). */
static void test_status_stays_one_line(void **state)
{
	struct manager *m = *state;

	vpnd_notify_status("peer %s", "x\nREADY=1\rMAINPID=1\x7f");
	assert_string_equal(received(m), "STATUS=peer x?READY=1?MAINPID=1?");
}

static void test_long_status_is_cut_visibly(void **state)
{
	struct manager *m = *state;
	char name[400];
	const char *msg;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	vpnd_notify_ready("%s", name);
	msg = received(m);
	assert_int_equal(strncmp(msg, "READY=1\nSTATUS=aaaa", 19), 0);
	assert_int_equal(strlen(msg), strlen("READY=1\nSTATUS=") + 200);
	assert_string_equal(msg + strlen(msg) - 4, "a...");
}

/* Not started by a notify-type unit: nothing is sent anywhere. */
static void test_silent_without_notify_socket(void **state)
{
	struct manager *m = *state;

	unsetenv("NOTIFY_SOCKET");
	vpnd_notify_ready("ready");
	vpnd_notify_reloading();
	vpnd_notify_stopping("stopping");
	vpnd_notify_status("status");
	setenv("NOTIFY_SOCKET", m->path, 1);
	assert_string_equal(received(m), "");
}

/* A socket that is gone costs a warning, not the daemon. */
static void test_missing_socket_is_survived(void **state)
{
	struct manager *m = *state;
	char gone[128];

	snprintf(gone, sizeof(gone), "%s/gone", m->dir);
	setenv("NOTIFY_SOCKET", gone, 1);
	vpnd_notify_ready("ready");
	setenv("NOTIFY_SOCKET", m->path, 1);
	assert_string_equal(received(m), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ready, manager_up, manager_down),
	    cmocka_unit_test_setup_teardown(test_reloading, manager_up, manager_down),
	    cmocka_unit_test_setup_teardown(test_stopping_and_status, manager_up, manager_down),
	    cmocka_unit_test_setup_teardown(test_status_stays_one_line, manager_up, manager_down),
	    cmocka_unit_test_setup_teardown(test_long_status_is_cut_visibly, manager_up,
					    manager_down),
	    cmocka_unit_test_setup_teardown(test_silent_without_notify_socket, manager_up,
					    manager_down),
	    cmocka_unit_test_setup_teardown(test_missing_socket_is_survived, manager_up,
					    manager_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
