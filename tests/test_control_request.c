/* The control socket: the request-line parser against a table of good and bad lines,
 * then the server in-process: the test owns the epoll set, connects as a client, and
 * drives the loop itself until the server has answered and closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/control_server.h"
#include "daemon/event.h"
#include "vpnd/control.h"

/* ---- the parser ---- */

struct parse_case {
	const char *line;
	int rc;
	const char *words[5]; /* expected argv, NULL-terminated; or the reason on error */
};

static const struct parse_case parse_cases[] = {
    {"show", 0, {"show"}},
    {"show br1", 0, {"show", "br1"}},
    {"show-json", 0, {"show-json"}},
    {"a b c d", 0, {"a", "b", "c", "d"}},
    {"x ~!@#$%^&*()_+{}|:<>?", 0, {"x", "~!@#$%^&*()_+{}|:<>?"}},
    {"", -EINVAL, {"empty request"}},
    {" show", -EINVAL, {"leading space"}},
    {"show ", -EINVAL, {"trailing space"}},
    {"show  br1", -EINVAL, {"double space"}},
    {" ", -EINVAL, {"leading space"}},
    {"show\tbr1", -EINVAL, {"non-printable byte"}},
    {"show\rbr1", -EINVAL, {"non-printable byte"}},
    {"show\x7f", -EINVAL, {"non-printable byte"}},
    {"caf\xc3\xa9", -EINVAL, {"non-printable byte"}},
    {"a b c d e", -EINVAL, {"too many words"}}, /* max_argv is 4 below */
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *t = &parse_cases[i];
		char line[64], *argv[4];
		const char *why = NULL;
		int argc = -1, rc;

		snprintf(line, sizeof(line), "%s", t->line);
		rc = vpnd_control_parse_request(line, &argc, argv, 4, &why);
		if (rc != t->rc)
			fail_msg("case %zu '%s': rc %d, want %d", i, t->line, rc, t->rc);
		if (rc < 0) {
			assert_non_null(why);
			if (strcmp(why, t->words[0]) != 0)
				fail_msg("case %zu: why '%s', want '%s'", i, why, t->words[0]);
			assert_string_equal(line, t->line); /* a rejected line is left as is */
			continue;
		}
		for (int w = 0; w < 5; w++) {
			if (!t->words[w]) {
				assert_int_equal(argc, w);
				break;
			}
			assert_true(w < argc);
			assert_string_equal(argv[w], t->words[w]);
		}
	}
}

static void test_parse_max_words_exact(void **state)
{
	char line[VPND_CTL_MAX_ARGS * 2 + 2], *argv[VPND_CTL_MAX_ARGS];
	const char *why;
	int argc;

	(void)state;
	/* VPND_CTL_MAX_ARGS one-letter words fit; one more does not. */
	for (int i = 0; i < VPND_CTL_MAX_ARGS; i++) {
		line[2 * i] = 'a';
		line[2 * i + 1] = ' ';
	}
	line[2 * VPND_CTL_MAX_ARGS - 1] = '\0';
	assert_int_equal(vpnd_control_parse_request(line, &argc, argv, VPND_CTL_MAX_ARGS, &why), 0);
	assert_int_equal(argc, VPND_CTL_MAX_ARGS);
	for (int i = 0; i < VPND_CTL_MAX_ARGS; i++) {
		line[2 * i] = 'a';
		line[2 * i + 1] = ' ';
	}
	line[2 * VPND_CTL_MAX_ARGS] = 'b';
	line[2 * VPND_CTL_MAX_ARGS + 1] = '\0';
	assert_int_equal(vpnd_control_parse_request(line, &argc, argv, VPND_CTL_MAX_ARGS, &why),
			 -EINVAL);
	assert_string_equal(why, "too many words");
}

/* ---- the server ---- */

struct calls {
	int handled;
	uid_t last_uid;
};

static void cmd_echo(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	struct calls *calls = ctx;

	calls->handled++;
	calls->last_uid = caller;
	for (int i = 1; i < argc; i++)
		vpnd_reply_printf(r, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
}

static void cmd_whoami(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	(void)ctx, (void)argc, (void)argv;
	vpnd_reply_printf(r, "%u\n", (unsigned)caller);
}

static void cmd_fail(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	(void)ctx, (void)argc, (void)caller;
	vpnd_reply_error(r, "%s failed on purpose", argv[0]);
}

#define BIG_LINES 100000 /* of 40 bytes: 4 MB, far more than a socket buffer holds */

static void cmd_big(void *ctx, int argc, char **argv, uid_t caller, struct vpnd_reply *r)
{
	(void)ctx, (void)argc, (void)argv, (void)caller;
	for (int i = 0; i < BIG_LINES; i++)
		vpnd_reply_printf(r, "line %08d of the big reply.........\n", i);
}

static const struct vpnd_control_command commands[] = {
    {"echo", 1, 3, cmd_echo}, {"whoami", 0, 0, cmd_whoami}, {"fail", 0, 0, cmd_fail},
    {"pair", 2, 2, cmd_echo}, {"big", 0, 0, cmd_big},	    {NULL, 0, 0, NULL},
};

struct fixture {
	char dir[64];
	char path[128];
	int epfd;
	struct vpnd_control *ctl;
	struct calls calls;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vpnd-ctl-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vpn0.sock", f->dir);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(f->epfd >= 0);
	f->ctl = vpnd_control_open(f->epfd, f->path, 0600, commands, &f->calls);
	assert_non_null(f->ctl);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	vpnd_control_close(f->ctl);
	/* Closing removes the socket file. */
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	close(f->epfd);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* One pass of the daemon's event loop. */
static int dispatch(int epfd, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(epfd, ev, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct vpnd_event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
	return n;
}

static int client_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Drive the loop and read until the server closes; returns the reply (malloc'd,
 * NUL-terminated) and its length. read_chunk limits each read to model a slow reader. */
static char *collect(struct fixture *f, int fd, size_t read_chunk, size_t *len_out)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	uint64_t give_up = ms_now() + 10000;

	assert_non_null(buf);
	for (;;) {
		ssize_t n;

		if (len + read_chunk + 1 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + len, read_chunk, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		if (ms_now() > give_up)
			fail_msg("no complete reply within 10 s (%zu bytes so far)", len);
		dispatch(f->epfd, 10);
	}
	buf[len] = '\0';
	close(fd);
	if (len_out)
		*len_out = len;
	return buf;
}

static char *request(struct fixture *f, const void *req, size_t len, bool shut_wr)
{
	int fd = client_connect(f->path);

	if (len)
		assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	if (shut_wr)
		shutdown(fd, SHUT_WR);
	return collect(f, fd, 65536, NULL);
}

static void expect_reply(struct fixture *f, const char *req, const char *want)
{
	char *got = request(f, req, strlen(req), false);

	assert_string_equal(got, want);
	free(got);
}

static void test_ok_reply(void **state)
{
	struct fixture *f = *state;
	char want[32];

	expect_reply(f, "echo hello vpn world\n", "ok\nhello vpn world\n");
	assert_int_equal(f->calls.handled, 1);
	assert_int_equal(f->calls.last_uid, getuid());
	snprintf(want, sizeof(want), "ok\n%u\n", (unsigned)getuid());
	expect_reply(f, "whoami\n", want);
	/* A request and its end of stream in one go: the half-closed client still gets
	 * its answer. */
	{
		char *got = request(f, "echo half\n", 10, true);

		assert_string_equal(got, "ok\nhalf\n");
		free(got);
	}
}

static void test_error_replies(void **state)
{
	struct fixture *f = *state;

	expect_reply(f, "fail\n", "error\nfail failed on purpose\n");
	expect_reply(f, "nope\n", "error\nunknown command 'nope'\n");
	expect_reply(f, "echo 1 2 3 4\n", "error\n'echo' takes at most 3 arguments, got 4\n");
	expect_reply(f, "echo\n", "error\n'echo' takes at least 1 argument, got 0\n");
	expect_reply(f, "whoami x\n", "error\n'whoami' takes no arguments, got 1\n");
	expect_reply(f, "pair a\n", "error\n'pair' takes exactly 2 arguments, got 1\n");
	expect_reply(f, "echo  a\n", "error\nmalformed request: double space (at most 32 words)\n");
	expect_reply(f, "\n", "error\nmalformed request: empty request (at most 32 words)\n");
	/* Nothing reached a handler. */
	assert_int_equal(f->calls.handled, 0);
}

static void test_size_limit(void **state)
{
	struct fixture *f = *state;
	size_t n = 5000;
	char *req = malloc(n), *got;

	assert_non_null(req);
	/* 5000 bytes and no newline. */
	memset(req, 'e', n);
	got = request(f, req, n, false);
	assert_string_equal(got, "error\nrequest longer than 4096 bytes\n");
	free(got);

	/* Exactly VPND_CTL_MAX_REQUEST bytes with the newline is allowed... */
	memcpy(req, "echo ", 5);
	memset(req + 5, 'x', VPND_CTL_MAX_REQUEST - 6);
	req[VPND_CTL_MAX_REQUEST - 1] = '\n';
	got = request(f, req, VPND_CTL_MAX_REQUEST, false);
	assert_int_equal(strlen(got), 3 + VPND_CTL_MAX_REQUEST - 5);
	assert_memory_equal(got, "ok\nxxx", 6);
	free(got);
	/* ...one more byte is not. */
	req[VPND_CTL_MAX_REQUEST - 1] = 'x';
	req[VPND_CTL_MAX_REQUEST] = '\n';
	got = request(f, req, VPND_CTL_MAX_REQUEST + 1, false);
	assert_string_equal(got, "error\nrequest longer than 4096 bytes\n");
	free(got);
	free(req);
	assert_int_equal(f->calls.handled, 1);
}

static void test_bad_bytes_and_eof(void **state)
{
	struct fixture *f = *state;
	char *got;

	got = request(f, "echo a\x01z\n", 9, false);
	assert_string_equal(got, "error\nrequest has a non-printable byte 0x01 at offset 6\n");
	free(got);
	got = request(f, "echo \0\n", 7, false);
	assert_string_equal(got, "error\nrequest has a non-printable byte 0x00 at offset 5\n");
	free(got);
	got = request(f, "echo \xc3\xa9\n", 8, false);
	assert_string_equal(got, "error\nrequest has a non-printable byte 0xc3 at offset 5\n");
	free(got);
	/* Connect, send nothing, close the writing side. */
	got = request(f, "", 0, true);
	assert_string_equal(got, "error\nempty request\n");
	free(got);
	got = request(f, "echo abc", 8, true);
	assert_string_equal(got, "error\nrequest ended without a newline\n");
	free(got);
	assert_int_equal(f->calls.handled, 0);
}

/* A large reply to a reader that takes 4 KiB at a time: the server must wait for
 * EPOLLOUT rather than drop or block, and every byte must arrive in order. */
static void test_large_reply_slow_reader(void **state)
{
	struct fixture *f = *state;
	int fd = client_connect(f->path);
	size_t len;
	char *got, line[64];

	assert_int_equal(send(fd, "big\n", 4, MSG_NOSIGNAL), 4);
	got = collect(f, fd, 4096, &len);
	assert_int_equal(len, 3 + (size_t)BIG_LINES * 40);
	assert_memory_equal(got, "ok\nline 00000000", 16);
	snprintf(line, sizeof(line), "line %08d of the big reply.........\n", BIG_LINES - 1);
	assert_string_equal(got + len - 40, line);
	free(got);
}

/* Clients that vanish at every stage; the server must go on serving. */
static void test_clients_that_vanish(void **state)
{
	struct fixture *f = *state;
	int fd;

	/* Gone before sending anything. */
	fd = client_connect(f->path);
	close(fd);
	dispatch(f->epfd, 20);
	/* Gone halfway through a request. */
	fd = client_connect(f->path);
	assert_int_equal(send(fd, "ech", 3, MSG_NOSIGNAL), 3);
	dispatch(f->epfd, 20);
	close(fd);
	dispatch(f->epfd, 20);
	/* Gone before reading a reply larger than the socket buffer. */
	fd = client_connect(f->path);
	assert_int_equal(send(fd, "big\n", 4, MSG_NOSIGNAL), 4);
	dispatch(f->epfd, 20);
	close(fd);
	for (int i = 0; i < 10; i++)
		dispatch(f->epfd, 10);
	/* Reset with unread data in its own buffer (SO_LINGER 0 is a reset for TCP; for
	 * Unix sockets a close with unread data is the closest thing). */
	fd = client_connect(f->path);
	assert_int_equal(send(fd, "whoami\n", 7, MSG_NOSIGNAL), 7);
	close(fd);
	for (int i = 0; i < 5; i++)
		dispatch(f->epfd, 10);
	expect_reply(f, "echo still here\n", "ok\nstill here\n");
}

static void test_too_many_clients(void **state)
{
	struct fixture *f = *state;
	int idle[VPND_CTL_MAX_CLIENTS], extra;
	char *got;

	for (int i = 0; i < VPND_CTL_MAX_CLIENTS; i++) {
		idle[i] = client_connect(f->path);
		dispatch(f->epfd, 0);
	}
	while (dispatch(f->epfd, 10) > 0)
		;
	extra = client_connect(f->path);
	got = collect(f, extra, 4096, NULL);
	assert_string_equal(got, "error\ntoo many control clients (at most 64)\n");
	free(got);
	/* One slot freed: served again. */
	close(idle[0]);
	for (int i = 0; i < 5; i++)
		dispatch(f->epfd, 10);
	expect_reply(f, "echo room\n", "ok\nroom\n");
	for (int i = 1; i < VPND_CTL_MAX_CLIENTS; i++)
		close(idle[i]);
	while (dispatch(f->epfd, 10) > 0)
		;
}

static void test_idle_client_times_out(void **state)
{
	struct fixture *f = *state;
	int fd;
	char *got;
	uint64_t start = ms_now();

	vpnd_control_set_client_timeout(f->ctl, 100);
	fd = client_connect(f->path);
	assert_int_equal(send(fd, "echo never fin", 14, MSG_NOSIGNAL), 14);
	got = collect(f, fd, 4096, NULL);
	assert_string_equal(got, "error\nrequest timed out\n");
	assert_true(ms_now() - start >= 100);
	free(got);
	/* A prompt client is unaffected. */
	expect_reply(f, "echo quick\n", "ok\nquick\n");
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

static void test_socket_modes(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct vpnd_control *ctl;
	mode_t old = umask(0);

	assert_int_equal(mode_of(f->path), 0600);
	snprintf(path, sizeof(path), "%s/group.sock", f->dir);
	/* Neither a permissive nor a strict umask changes the mode asked for. */
	ctl = vpnd_control_open(f->epfd, path, 0660, commands, &f->calls);
	assert_non_null(ctl);
	assert_int_equal(mode_of(path), 0660);
	vpnd_control_close(ctl);
	umask(077);
	ctl = vpnd_control_open(f->epfd, path, 0660, commands, &f->calls);
	assert_non_null(ctl);
	assert_int_equal(mode_of(path), 0660);
	vpnd_control_close(ctl);
	umask(old);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_live_socket_is_in_use(void **state)
{
	struct fixture *f = *state;

	errno = 0;
	assert_null(vpnd_control_open(f->epfd, f->path, 0600, commands, &f->calls));
	assert_int_equal(errno, EADDRINUSE);
	/* The probe connection does not hurt the running server. */
	for (int i = 0; i < 5; i++)
		dispatch(f->epfd, 10);
	expect_reply(f, "echo alive\n", "ok\nalive\n");
}

static void test_stale_socket_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct vpnd_control *ctl;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char *got;

	/* A socket file whose owner died without removing it. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/stale.sock", f->dir);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	(void)mode_of(sun.sun_path); /* asserts the leftover is there, as a socket */
	ctl = vpnd_control_open(f->epfd, sun.sun_path, 0600, commands, &f->calls);
	assert_non_null(ctl);
	fd = client_connect(sun.sun_path);
	assert_int_equal(send(fd, "echo new\n", 9, MSG_NOSIGNAL), 9);
	got = collect(f, fd, 4096, NULL);
	assert_string_equal(got, "ok\nnew\n");
	free(got);
	vpnd_control_close(ctl);
	assert_int_equal(access(sun.sun_path, F_OK), -1);
}

static void test_other_files_are_left_alone(void **state)
{
	struct fixture *f = *state;
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/not-a-socket", f->dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_null(vpnd_control_open(f->epfd, path, 0600, commands, &f->calls));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(unlink(path), 0);

	/* A path that cannot be a Unix socket address. */
	{
		char longpath[200];

		memset(longpath, 'a', sizeof(longpath) - 1);
		longpath[0] = '/';
		longpath[sizeof(longpath) - 1] = '\0';
		errno = 0;
		assert_null(vpnd_control_open(f->epfd, longpath, 0600, commands, NULL));
		assert_int_equal(errno, ENAMETOOLONG);
	}
}

static void test_parent_directories_created(void **state)
{
	struct fixture *f = *state;
	char a[160], b[160], path[200];
	struct vpnd_control *ctl;
	struct stat st;
	mode_t old = umask(077);

	snprintf(a, sizeof(a), "%s/run", f->dir);
	snprintf(b, sizeof(b), "%s/run/vpnd", f->dir);
	snprintf(path, sizeof(path), "%s/run/vpnd/vpn1.sock", f->dir);
	ctl = vpnd_control_open(f->epfd, path, 0600, commands, &f->calls);
	umask(old);
	assert_non_null(ctl);
	assert_int_equal(stat(b, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	vpnd_control_close(ctl);
	assert_int_equal(rmdir(b), 0);
	assert_int_equal(rmdir(a), 0);
}

#define SERVER_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_parse_max_words_exact),
	    SERVER_TEST(test_ok_reply),
	    SERVER_TEST(test_error_replies),
	    SERVER_TEST(test_size_limit),
	    SERVER_TEST(test_bad_bytes_and_eof),
	    SERVER_TEST(test_large_reply_slow_reader),
	    SERVER_TEST(test_clients_that_vanish),
	    SERVER_TEST(test_too_many_clients),
	    SERVER_TEST(test_idle_client_times_out),
	    SERVER_TEST(test_socket_modes),
	    SERVER_TEST(test_live_socket_is_in_use),
	    SERVER_TEST(test_stale_socket_is_replaced),
	    SERVER_TEST(test_other_files_are_left_alone),
	    SERVER_TEST(test_parent_directories_created),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
