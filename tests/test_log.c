/* Logging: when stderr is the journal stream systemd names in JOURNAL_STREAM, every line
 * starts with its syslog priority as "<N>" (sd-daemon(3)) and nothing else, so journald
 * files it at that priority; any other stderr gets the self-describing
 * "ident[pid]: level: message" line. A pty stands in for "not the journal", as it also
 * keeps the test's lines out of the host's syslog. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/log.h"

static int saved_stderr = -1;

/* Point stderr at fd; the original comes back in restore_stderr() before any assert. */
static void stderr_to(int fd)
{
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
}

static void restore_stderr(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

static void set_journal_stream(int fd)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(fd, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
}

static int temp_file(void)
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void read_all(int fd, char *buf, size_t size)
{
	ssize_t n;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* stderr is the journal stream: priority prefixes, no identifier or level words. */
static void test_journal_lines_carry_priority(void **state)
{
	char out[1024];
	int fd = temp_file();

	(void)state;
	set_journal_stream(fd);
	setenv("VPND_DEBUG", "1", 1);
	stderr_to(fd);
	vpnd_log_open("vpnd");
	log_err("control socket %s: %s", "/run/vpnd/vpn0.sock", "Permission denied");
	log_warn("peer %s: unreachable", "br1");
	log_notice("vpn0 up");
	log_info("peer br1: handshake completed");
	log_debug("sending handshake initiation");
	log_info("name with\na newline");
	restore_stderr();
	unsetenv("VPND_DEBUG");
	unsetenv("JOURNAL_STREAM");
	read_all(fd, out, sizeof(out));
	close(fd);
	assert_string_equal(out, "<3>control socket /run/vpnd/vpn0.sock: Permission denied\n"
				 "<4>peer br1: unreachable\n"
				 "<5>vpn0 up\n"
				 "<6>peer br1: handshake completed\n"
				 "<7>sending handshake initiation\n"
				 "<6>name with?a newline\n");
}

/* Open a pty in raw mode (no "\n" -> "\r\n"); *slave is a terminal for isatty(). */
static int open_pty(int *slave)
{
	struct termios t;
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return -1;
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (*slave < 0 || tcgetattr(*slave, &t) < 0)
		return -1;
	cfmakeraw(&t);
	tcsetattr(*slave, TCSANOW, &t);
	return master;
}

/* One line logged with JOURNAL_STREAM set to `journal` while stderr is a pty. */
static void log_to_pty_with(const char *journal, char *out, size_t size)
{
	int slave = -1, master = open_pty(&slave);
	ssize_t n;

	if (master < 0)
		skip(); /* no /dev/ptmx in this environment */
	if (journal)
		setenv("JOURNAL_STREAM", journal, 1);
	else
		unsetenv("JOURNAL_STREAM");
	stderr_to(slave);
	vpnd_log_open("vpnd");
	log_warn("peer %s: unreachable", "br1");
	restore_stderr();
	unsetenv("JOURNAL_STREAM");
	n = read(master, out, size - 1);
	assert_true(n > 0);
	out[n] = '\0';
	close(slave);
	close(master);
}

/* JOURNAL_STREAM inherited, but stderr is somewhere else: plain lines. */
static void test_other_stderr_gets_plain_lines(void **state)
{
	char expect[128], out[256], journal[64];
	struct stat st;
	int fd = temp_file();

	(void)state;
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(journal, sizeof(journal), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	snprintf(expect, sizeof(expect), "vpnd[%ld]: warning: peer br1: unreachable\n",
		 (long)getpid());

	log_to_pty_with(journal, out, sizeof(out));
	assert_string_equal(out, expect);
	log_to_pty_with(NULL, out, sizeof(out));
	assert_string_equal(out, expect);
	close(fd);
}

/* A JOURNAL_STREAM that is not exactly DEVICE:INODE is not trusted. */
static void test_malformed_journal_stream_ignored(void **state)
{
	static const char *const bad[] = {"", "12", "abc:def", "1:2:3", "1:2x", ":5"};
	char expect[128], out[256];

	(void)state;
	snprintf(expect, sizeof(expect), "vpnd[%ld]: warning: peer br1: unreachable\n",
		 (long)getpid());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		log_to_pty_with(bad[i], out, sizeof(out));
		assert_string_equal(out, expect);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_lines_carry_priority),
	    cmocka_unit_test(test_other_stderr_gets_plain_lines),
	    cmocka_unit_test(test_malformed_journal_stream_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
