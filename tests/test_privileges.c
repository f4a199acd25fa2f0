/* Least privilege (daemon/privileges.c, process_filter.c, vpnd/secret_memory.h): the
 * `user` and `seccomp` keys; a missing account; the switch to an account with exactly
 * CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, in every thread; the system call allow-list
 * letting vpnd's calls through and killing the process for execve, fork, raw sockets,
 * ptrace, mount, setuid; guarded memory for secrets. The switch and the filter are done in
 * a child process each, as they cannot be undone; they need root, and are skipped under
 * valgrind, which makes system calls of its own on the program's behalf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "daemon/config.h"
#include "daemon/privileges.h"
#include "daemon/process_filter.h"
#include "vpnd/key.h"
#include "vpnd/secret_memory.h"

/* As in process_filter.c: sanitizer builds log a call outside the list instead of
 * killing the process. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif

static char dir[] = "/tmp/test_privileges.XXXXXX";
static char path[160], priv_b64[VPND_KEY_B64_LEN + 1];

static int setup(void **state)
{
	uint8_t priv[32];

	(void)state;
	if (!mkdtemp(dir) || sodium_init() < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/site.conf", dir);
	randombytes_buf(priv, sizeof(priv));
	vpnd_key_clamp(priv);
	vpnd_key_to_base64(priv_b64, priv);
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* A config with `extra` lines at the top level; 0600, since it holds the key inline. */
static void write_conf(const char *extra)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	/* Every path vpnd would make or use below the temp dir, never in /var/lib or /run. */
	fprintf(f,
		"interface = \"vpn9\"\nprivate-key = \"%s\"\n%s"
		"state-directory = \"%s/state\"\naudit-log = \"%s/audit/vpn9.audit\"\n"
		"control-socket = \"%s/vpn9.sock\"\nuapi = false\n",
		priv_b64, extra, dir, dir, dir);
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(fclose(f), 0);
}

static bool skip_children(void)
{
	if (RUNNING_ON_VALGRIND) {
		print_message("    (skipped under valgrind)\n");
		return true;
	}
	if (geteuid() != 0) {
		print_message("    (skipped: needs root)\n");
		return true;
	}
	return false;
}

/* ---- the config keys and the name check ----------------------------------------------- */

static void test_name_problem(void **state)
{
	static const struct {
		const char *name;
		const char *problem; /* a phrase of the answer; NULL = a good name */
	} cases[] = {
	    {"vpnd", NULL},
	    {"_vpnd-2.x", NULL},
	    {"Debian-exim", NULL},
	    {"", "empty"},
	    {"-vpnd", "starts with '-'"},
	    {"vpn d", "not an account name"},
	    {"vpn/d", "not an account name"},
	    {"vpnd:x", "not an account name"},
	    {"1234", "is a number"},
	    {"abcdefghijabcdefghijabcdefghijab", NULL}, /* 32: the longest */
	    {"abcdefghijabcdefghijabcdefghijabc", "longer"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = vpnd_privileges_name_problem(cases[i].name);

		if (!cases[i].problem) {
			if (why)
				fail_msg("'%s': %s", cases[i].name, why);
		} else if (!why || !strstr(why, cases[i].problem)) {
			fail_msg("'%s': expected '%s', got '%s'", cases[i].name, cases[i].problem,
				 why ? why : "(accepted)");
		}
	}
}

static void test_config_keys(void **state)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	char want[256];
	(void)state;

	/* Defaults: the vpnd account, the filter on. */
	write_conf("");
	c = vpnd_config_load(path, &errs);
	assert_non_null(c);
	assert_string_equal(c->user, VPND_DEFAULT_USER);
	assert_int_equal(c->user_line, 0);
	assert_true(c->seccomp);
	vpnd_config_free(c);

	write_conf("user = \"nobody\"\nseccomp = false\n");
	c = vpnd_config_load(path, &errs);
	assert_non_null(c);
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->user_line, 3);
	assert_false(c->seccomp);
	vpnd_config_free(c);

	/* Each mistake on its line. */
	write_conf("user = \"vpn d\"\nseccomp = sometimes\n");
	assert_null(vpnd_config_load(path, &errs));
	assert_int_equal(errs.count, 2);
	snprintf(want, sizeof(want), "%s:3: user: 'vpn d' is not an account name", path);
	assert_true(strncmp(errs.lines[0], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:4: seccomp: 'sometimes' is not true or false", path);
	assert_string_equal(errs.lines[1], want);
	vpnd_config_errors_free(&errs);
}

/* What vpnd_privileges_lookup logs, caught from stderr. */
static void lookup_logged(const struct vpnd_config *c, int want_ret, char *out, size_t size)
{
	struct vpnd_privileges p;
	char file[200];
	int saved = dup(STDERR_FILENO), fd;
	ssize_t n;

	snprintf(file, sizeof(file), "%s/stderr", dir);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	assert_int_equal(vpnd_privileges_lookup(c, &p), want_ret);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, size - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
}

static void test_lookup(void **state)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	char out[2048];
	(void)state;

	/* A missing account: the error names the file, the account and the fix. */
	write_conf("user = \"no-such-vpnd-user\"\n");
	c = vpnd_config_load(path, &errs);
	assert_non_null(c);
	lookup_logged(c, -ENOENT, out, sizeof(out));
	assert_non_null(strstr(out, ":3: user: there is no account 'no-such-vpnd-user'"));
	assert_non_null(strstr(out, "useradd --system --no-create-home --shell "
				    "/usr/sbin/nologin no-such-vpnd-user"));
	vpnd_config_free(c);

	/* root: no switch, and a warning that says so. */
	write_conf("user = \"root\"\n");
	c = vpnd_config_load(path, &errs);
	assert_non_null(c);
	lookup_logged(c, 0, out, sizeof(out));
	assert_non_null(strstr(out, "warning"));
	assert_non_null(strstr(out, "keeps all of root's privileges"));
	vpnd_config_free(c);
}

/* ---- the switch ------------------------------------------------------------------------ */

struct status {
	unsigned long uid[4], gid[4];
	uint64_t prm, eff, bnd, amb, inh;
	int nnp, seccomp;
	unsigned groups;
};

static bool read_status(const char *file, struct status *s)
{
	char line[512];
	FILE *f = fopen(file, "r");

	if (!f)
		return false;
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Uid: %lu %lu %lu %lu", &s->uid[0], &s->uid[1], &s->uid[2],
		       &s->uid[3]);
		sscanf(line, "Gid: %lu %lu %lu %lu", &s->gid[0], &s->gid[1], &s->gid[2],
		       &s->gid[3]);
		sscanf(line, "CapInh: %" SCNx64, &s->inh);
		sscanf(line, "CapPrm: %" SCNx64, &s->prm);
		sscanf(line, "CapEff: %" SCNx64, &s->eff);
		sscanf(line, "CapBnd: %" SCNx64, &s->bnd);
		sscanf(line, "CapAmb: %" SCNx64, &s->amb);
		sscanf(line, "NoNewPrivs: %d", &s->nnp);
		sscanf(line, "Seccomp: %d", &s->seccomp);
		if (strncmp(line, "Groups:", 7) == 0)
			for (char *t = strtok(line + 7, " \t\n"); t; t = strtok(NULL, " \t\n"))
				s->groups++;
	}
	fclose(f);
	return true;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) /* glibc's signal for the uid change interrupts it */
		pause();
	return NULL;
}

/* Child: exit 0 when the drop gave exactly what it should, else a code naming the miss. */
static int drop_child(const struct vpnd_config *c, bool thread_before)
{
	struct vpnd_privileges p;
	struct status s, t;
	pthread_t th;
	char file[300];

	if (vpnd_privileges_lookup(c, &p) < 0)
		return 10;
	if (thread_before && pthread_create(&th, NULL, sleeper, NULL) != 0)
		return 11;
	if (vpnd_privileges_drop(&p, c) < 0)
		return 12;
	if (!read_status("/proc/self/status", &s))
		return 13;
	for (int i = 0; i < 4; i++)
		if (s.uid[i] != p.uid || s.gid[i] != p.gid)
			return 14;
	if (s.prm != vpnd_privileges_kept() || s.eff != vpnd_privileges_kept())
		return 15;
	if (s.bnd || s.amb || s.inh || s.nnp != 1 || s.groups)
		return 16;
	if (setuid(0) == 0 || setgid(0) == 0)
		return 17;
	if (thread_before) {
		/* The thread that was there: the user's ids, no capability at all. */
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		unsigned others = 0;

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || atol(de->d_name) == (long)syscall(SYS_gettid))
				continue;
			snprintf(file, sizeof(file), "/proc/self/task/%s/status", de->d_name);
			if (!read_status(file, &t))
				return 18;
			if (t.uid[0] != p.uid || t.uid[1] != p.uid || t.prm || t.eff)
				return 19;
			others++;
		}
		if (d)
			closedir(d);
		if (others != 1)
			return 20;
	}
	return 0;
}

static void test_drop(void **state)
{
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	(void)state;

	if (skip_children() || !getpwnam("nobody"))
		return;
	write_conf("user = \"nobody\"\n");
	c = vpnd_config_load(path, &errs);
	assert_non_null(c);
	for (int thread_before = 0; thread_before < 2; thread_before++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(drop_child(c, thread_before));
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("drop (thread before: %d): child status 0x%x", thread_before, st);
	}
	vpnd_config_free(c);
}

/* ---- the system call allow-list --------------------------------------------------------- */

static void *thread_fn(void *arg)
{
	return arg;
}

/* What the daemon does must pass: files, sockets of its families, threads, randomness. */
static int allowed_child(void)
{
	char buf[32], file[200], renamed[200];
	uint64_t one = 1;
	pthread_t th;
	void *ret;
	int fd;

	if (vpnd_process_filter_load() < 0)
		return 20;
	/* the resolver's wake-up */
	if ((fd = eventfd(0, EFD_CLOEXEC)) < 0 || write(fd, &one, sizeof(one)) != sizeof(one) ||
	    read(fd, &one, sizeof(one)) != sizeof(one) || close(fd) < 0)
		return 21;
	if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 22;
	/* clone3 is answered ENOSYS and glibc falls back to clone(CLONE_THREAD) */
	if (pthread_create(&th, NULL, thread_fn, buf) != 0 || pthread_join(th, &ret) != 0 ||
	    ret != buf)
		return 23;
	for (int family = 0; family < 4; family++) {
		static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

		/* protocol 0: NETLINK_ROUTE for AF_NETLINK */
		fd = socket(families[family], SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 24;
		close(fd);
	}
	snprintf(file, sizeof(file), "%s/f.tmp", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "y", 1) != 1 || fsync(fd) < 0 || close(fd) < 0)
		return 25;
	snprintf(renamed, sizeof(renamed), "%s/f.new", dir);
	if (rename(file, renamed) < 0 || unlink(renamed) < 0)
		return 26;
	/* glibc's qsort of more than 1 KiB asks sysconf(_SC_PHYS_PAGES), i.e. sysinfo(2),
	 * once per process: the config loader sorts that much for a few hundred peers. */
	if (sysconf(_SC_PHYS_PAGES) <= 0)
		return 27;
	return 0;
}

static void test_filter_allows(void **state)
{
	pid_t pid;
	int st;
	(void)state;

	/* README and docs/DESIGN.md give this number: a call added to the list is a change
	 * to document there. */
	assert_int_equal(vpnd_process_filter_size(), 86);
	if (skip_children())
		return;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(allowed_child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("allowed calls: child status 0x%x", st);
}

/* Each of these must end the process with SIGSYS. */
enum forbidden {
	EXECVE,
	FORK,
	RAW_SOCKET,
	NETFILTER,
	PTRACE,
	MOUNT,
	SETUID,
	KILL_OTHER,
	IOCTL,
	N_FORBIDDEN
};

static const char *const forbidden_name[] = {
    "execve", "fork",	 "AF_PACKET socket", "NETLINK_NETFILTER socket", "ptrace", "mount",
    "setuid", "kill(1)", "ioctl(TIOCSTI)"};

static void forbidden_child(enum forbidden what)
{
	char *argv[] = {"/bin/true", NULL};
	char c = 'x';

	if (vpnd_process_filter_load() < 0)
		_exit(30);
	switch (what) {
	case EXECVE:
		execve(argv[0], argv, NULL);
		break;
	case FORK:
		if (fork() == 0)
			_exit(0);
		break;
	case RAW_SOCKET:
		socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
		break;
	case NETFILTER:
		socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
		break;
	case PTRACE:
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case MOUNT:
		mount("none", "/mnt", "tmpfs", 0, NULL);
		break;
	case SETUID:
		setuid(0);
		break;
	case KILL_OTHER:
		kill(1, 0);
		break;
	case IOCTL:
		ioctl(STDIN_FILENO, TIOCSTI, &c);
		break;
	default:
		break;
	}
	_exit(31); /* still alive: the call went through */
}

static void test_filter_kills(void **state)
{
	(void)state;

	if (skip_children())
		return;
#ifdef SANITIZED
	print_message("    (skipped: a sanitizer build only logs calls outside the list)\n");
	return;
#endif
	for (int what = 0; what < N_FORBIDDEN; what++) {
		pid_t pid;
		int st;

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			forbidden_child(what);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: expected death by SIGSYS, child status 0x%x",
				 forbidden_name[what], st);
	}
}

/* ---- guarded memory -------------------------------------------------------------------- */

static void test_secret_memory(void **state)
{
	(void)state;

	for (size_t size = 1; size < 300; size += 37) {
		uint8_t *p = vpnd_secret_calloc(size);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 64, 0);
		assert_true(sodium_is_zero(p, size));
		memset(p, 0xa5, size);
		vpnd_secret_free(p);
	}
	assert_null(vpnd_secret_calloc_array(SIZE_MAX / 8, 16));
	vpnd_secret_free(NULL);
#ifdef VPND_SECRET_LSAN
	/* A heap pointer held only by a guarded object is not a leak to LeakSanitizer. */
	void **holder = vpnd_secret_calloc(sizeof(*holder));

	assert_non_null(holder);
	*holder = malloc(32);
	assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
	free(*holder);
	vpnd_secret_free(holder);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_problem),  cmocka_unit_test(test_config_keys),
	    cmocka_unit_test(test_lookup),	  cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_filter_allows), cmocka_unit_test(test_filter_kills),
	    cmocka_unit_test(test_secret_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
