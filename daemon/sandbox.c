/* seccomp allow-lists. A crypto worker only ever encrypts or decrypts buffers it is
 * handed and sleeps on a futex between batches; the list below is that, plus what the
 * C library and the sanitizers need to end a thread or report an error. The filter is
 * loaded without TSYNC, so it binds the calling thread alone. */
#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <unistd.h>

int vpnd_sandbox_crypto_worker(void)
{
	static const int allowed[] = {
	    SCMP_SYS(futex),
	    SCMP_SYS(exit),
	    SCMP_SYS(exit_group),
	    SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(sched_yield),
	    SCMP_SYS(madvise),
	    SCMP_SYS(munmap),
	    SCMP_SYS(mmap),
	    SCMP_SYS(mprotect),
	    SCMP_SYS(clock_gettime),
	    SCMP_SYS(gettid),
	    SCMP_SYS(getpid),
	    SCMP_SYS(set_robust_list),
	    SCMP_SYS(rseq),
	    /* AddressSanitizer takes down a thread's alternate signal stack as it ends. */
	    SCMP_SYS(sigaltstack),
	};
	/* Spelled out: SCMP_A0() leaves datum_b to the compiler, which clang warns about. */
	const struct scmp_arg_cmp to_stderr = {
	    .arg = 0, .op = SCMP_CMP_EQ, .datum_a = STDERR_FILENO, .datum_b = 0};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ret = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* A sanitizer's report goes to stderr; nothing else may be written. */
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, &to_stderr);
	if (!ret)
		ret = seccomp_load(ctx);
	if (ctx)
		seccomp_release(ctx);
	return ret;
}
