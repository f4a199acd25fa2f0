/* What a run that died (SIGKILL, a crash, a power cut of the process) leaves behind,
 * told apart from what a live daemon holds. Leftovers are cleared by the next start;
 * a live daemon's socket or device is never touched, and vpnd refuses to start beside
 * it before it changes anything (routes, addresses, sockets, the audit log). */
#ifndef VPND_DAEMON_LEFTOVERS_H
#define VPND_DAEMON_LEFTOVERS_H

/* A Unix socket at path that some process answers on: -EADDRINUSE after log_err naming
 * `what` (the config key), the path, what vpnd wanted to do there (`doing`, may be
 * NULL), the process and a `hint`. 0 otherwise: nothing there, or a file nobody answers
 * on, which the server that binds path replaces. */
int vpnd_leftover_socket_check(const char *what, const char *path, const char *doing,
			       const char *hint);

/* No device named ifname: 0. A TUN device nobody has open: removed (with the addresses
 * and routes on it, logged), 0. Otherwise -EBUSY (a process has it open) or -EEXIST (a
 * device of another kind), after log_err saying which and what to do. */
int vpnd_leftover_tun_remove(const char *ifname);

#endif
