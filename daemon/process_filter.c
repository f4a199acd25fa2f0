/* The process-wide seccomp allow-list (libseccomp). It is loaded after the drop of
 * privileges, so it covers what vpnd does for the rest of its life: the event loop, TUN
 * and UDP I/O, netlink, reloads (reading files, binding sockets), the audit log and state
 * files, the control, UAPI and metrics sockets, sd_notify and syslog, the resolver
 * thread's getaddrinfo, threads, clocks and randomness, and what glibc and the
 * sanitizers need (docs/DESIGN.md, "Least privilege", tells how it was found).
 *
 * Left out on purpose, so that code run by an attacker inside vpnd gains nothing the
 * process does not already do: execve/execveat, fork (clone without CLONE_THREAD), ptrace,
 * process_vm_*, mount and namespaces, kexec, module loading, bpf, perf_event_open,
 * userfaultfd, keyctl, the setuid/setgid family and capset, chown, mknod, raw sockets
 * (socket() takes only AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK for NETLINK_ROUTE: what
 * CAP_NET_ADMIN could do to nftables or through generic netlink stays out of reach),
 * ioctl beyond a few reads, and signals to other processes. */
#include "process_filter.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "log.h"

/* For finding a missing call without dying of it: -DVPND_SECCOMP_DEFAULT=SCMP_ACT_LOG
 * logs it to the kernel's audit log instead (type=1326 records, syscall=NR).
 *
 * Sanitizer builds do that too. Their runtimes make raw system calls of their own (open,
 * readlink, and at exit LeakSanitizer's clone and ptrace of every thread) exactly when
 * something has gone wrong or the leak check runs; killing the process there would lose
 * the report the build exists for. The list itself is enforced by the normal build,
 * which runs the same test suites. */
#ifndef VPND_SECCOMP_DEFAULT
#if defined(__SANITIZE_ADDRESS__)
#define VPND_SECCOMP_DEFAULT SCMP_ACT_LOG
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define VPND_SECCOMP_DEFAULT SCMP_ACT_LOG
#endif
#endif
#endif
#ifndef VPND_SECCOMP_DEFAULT
#define VPND_SECCOMP_DEFAULT SCMP_ACT_KILL_PROCESS
#endif

/* Every call below was seen in strace of the daemon after the filter was loaded, through
 * the whole netns suite, except where a comment gives another reason. */
static const int allowed[] = {
    /* descriptors and files: config and keys (reload), state files, the audit log */
    SCMP_SYS(read),
    SCMP_SYS(pread64),
    SCMP_SYS(write),
    SCMP_SYS(writev), /* glibc's resolver over TCP; a packet without offloads */
    SCMP_SYS(close),
    SCMP_SYS(lseek),
    SCMP_SYS(openat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2), /* access on other arches */
    SCMP_SYS(getcwd),	  /* show --json names a config given by a relative path */
    SCMP_SYS(getdents64),
    SCMP_SYS(fcntl),
    SCMP_SYS(flock),
    SCMP_SYS(fsync),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fchmod),
    SCMP_SYS(rename),
    SCMP_SYS(renameat2),
    SCMP_SYS(link),
    SCMP_SYS(unlink),
    SCMP_SYS(mkdir),
    /* the same through the *at calls, which other architectures have instead */
    SCMP_SYS(renameat),
    SCMP_SYS(linkat),
    SCMP_SYS(unlinkat),
    SCMP_SYS(mkdirat),
    /* the event loop, timers, the resolver's wake-up, signals */
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait), /* epoll_wait on other arches */
    SCMP_SYS(poll),
    SCMP_SYS(ppoll), /* glibc's resolver */
    SCMP_SYS(eventfd2),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(restart_syscall), /* a wait resumed after SIGSTOP and SIGCONT */
    /* sockets: UDP, netlink, control, UAPI, metrics, syslog, sd_notify, DNS */
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept4),
    SCMP_SYS(connect),
    SCMP_SYS(getsockname),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(shutdown),
    SCMP_SYS(sendto),
    SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(recvmsg),
    SCMP_SYS(recvmmsg),
    /* clocks: the vDSO answers, unless the clock source makes it fall back to these */
    SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    /* memory: malloc, thread stacks, sodium_malloc's locked and guarded pages */
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(mlock),
    SCMP_SYS(munlock),
    /* threads, identity, randomness, the end */
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(sched_yield), /* the crypto pool */
    SCMP_SYS(gettid),	   /* abort(3), raise(3) */
    SCMP_SYS(getpid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getrandom),
    SCMP_SYS(uname),
    /* glibc's qsort asks for the amount of memory (sysconf(_SC_PHYS_PAGES)) before its
     * first large sort: a reload of a big config, or a start whose first large sort
     * comes after the switch */
    SCMP_SYS(sysinfo),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
};

/* Calls allowed with some arguments only: the first argument's value (or, with mask, the
 * bits it has under mask). */
struct arg_rule {
	int nr;
	unsigned arg;
	uint64_t mask; /* 0: the argument equals value */
	uint64_t value;
};

/* socket(2): netlink only for rtnetlink (no netfilter, audit, generic netlink). */
static const struct arg_rule arg_rules[] = {
    {SCMP_SYS(socket), 0, 0, AF_UNIX},
    {SCMP_SYS(socket), 0, 0, AF_INET},
    {SCMP_SYS(socket), 0, 0, AF_INET6},
    /* threads, never a new process */
    {SCMP_SYS(clone), 0, CLONE_THREAD, CLONE_THREAD},
    /* isatty(3) (the config scanner asks), FIONREAD (the resolver), if_nametoindex(3)
     * (an endpoint address with a %scope) */
    {SCMP_SYS(ioctl), 1, 0xffffffffu, TCGETS},
    {SCMP_SYS(ioctl), 1, 0xffffffffu, FIONREAD},
    {SCMP_SYS(ioctl), 1, 0xffffffffu, SIOCGIFINDEX},
    /* thread names; the worker threads' own filters (no_new_privs, then seccomp) */
    {SCMP_SYS(prctl), 0, 0, PR_SET_NAME},
    {SCMP_SYS(prctl), 0, 0, PR_SET_NO_NEW_PRIVS},
    {SCMP_SYS(seccomp), 0, 0, SECCOMP_SET_MODE_FILTER},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

unsigned vpnd_process_filter_size(void)
{
	/* distinct calls: each arg_rules entry after the first of its call adds none */
	unsigned n = COUNT(allowed) + 1; /* + tgkill (clone3 is answered ENOSYS, not allowed) */

	for (size_t i = 0; i < COUNT(arg_rules); i++)
		if (i == 0 || arg_rules[i].nr != arg_rules[i - 1].nr)
			n++;
	return n;
}

static int add_rules(scmp_filter_ctx ctx)
{
	/* Spelled out rather than SCMP_A0(): clang warns about the field the macro omits. */
	const struct scmp_arg_cmp rtnetlink[2] = {
	    {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_NETLINK, .datum_b = 0},
	    {.arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_ROUTE, .datum_b = 0}};
	const struct scmp_arg_cmp self = {
	    .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)getpid(), .datum_b = 0};
	int ret = 0;

	for (size_t i = 0; !ret && i < COUNT(allowed); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; !ret && i < COUNT(arg_rules); i++) {
		const struct arg_rule *r = &arg_rules[i];
		struct scmp_arg_cmp cmp =
		    r->mask ? (struct scmp_arg_cmp){r->arg, SCMP_CMP_MASKED_EQ, r->mask, r->value}
			    : (struct scmp_arg_cmp){r->arg, SCMP_CMP_EQ, r->value, 0};

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr, 1, &cmp);
	}
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, rtnetlink);
	/* abort(3) and raise(3) signal this process, no other. */
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, &self);
	/* clone3's flags sit in memory a filter cannot read: glibc falls back to clone,
	 * whose flags it can. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return ret;
}

int vpnd_process_filter_load(void)
{
	scmp_filter_ctx ctx = seccomp_init(VPND_SECCOMP_DEFAULT);
	int ret = ctx ? 0 : -ENOMEM;

	/* Every thread, the ones to come included (they inherit it). */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* The kernel's own errno (ESRCH for a thread TSYNC cannot join), not ECANCELED. */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (!ret)
		ret = add_rules(ctx);
	if (ret < 0) {
		log_err("seccomp: cannot build the system call allow-list: %s", strerror(-ret));
		goto out;
	}
	ret = seccomp_load(ctx);
	if (ret == -ESRCH)
		log_err("seccomp: a thread already has a filter of its own: the process-wide "
			"list must be loaded before such threads start");
	else if (ret < 0)
		log_err("seccomp: cannot load the system call allow-list: %s", strerror(-ret));
	else
		log_info("seccomp: %u system calls allowed, anything else %s",
			 vpnd_process_filter_size(),
			 VPND_SECCOMP_DEFAULT == SCMP_ACT_KILL_PROCESS
			     ? "ends the process"
			     : "is logged (sanitizer or debugging build)");
out:
	if (ctx)
		seccomp_release(ctx);
	return ret;
}
