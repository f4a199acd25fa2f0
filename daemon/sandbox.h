/* Confinement of vpnd's threads with seccomp allow-lists (libseccomp). */
#ifndef VPND_DAEMON_SANDBOX_H
#define VPND_DAEMON_SANDBOX_H

/* For a crypto worker thread (worker_pool.h's thread_init): from here on the calling
 * thread may only wait, be woken and exit. Anything else kills the process, so a
 * worker subverted by a crafted packet can do nothing but crash it. 0 or -errno. */
int vpnd_sandbox_crypto_worker(void);

#endif
