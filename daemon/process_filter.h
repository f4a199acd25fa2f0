/* The process-wide seccomp allow-list: once vpnd is set up and has dropped its
 * privileges, the system calls its running life needs and nothing else. */
#ifndef VPND_DAEMON_PROCESS_FILTER_H
#define VPND_DAEMON_PROCESS_FILTER_H

/* Load the list for every thread of the process (TSYNC); a system call outside it kills
 * the process (SIGSYS; the kernel's audit log names the call). Threads may stack their
 * own, narrower filters on top afterwards (sandbox.c), but none may have one before: call
 * it before such threads start. 0 or -errno (logged). */
int vpnd_process_filter_load(void);

/* How many system calls the list allows (some with restricted arguments), for the log
 * and the tests. */
unsigned vpnd_process_filter_size(void);

#endif
