/* Least privilege: once everything that needs root is open, vpnd becomes an ordinary
 * account that keeps two capabilities (see docs/DESIGN.md, "Least privilege"). */
#ifndef VPND_DAEMON_PRIVILEGES_H
#define VPND_DAEMON_PRIVILEGES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VPND_DEFAULT_USER "vpnd"
/* The longest name useradd(8) accepts. */
#define VPND_USER_NAME_MAX 32

struct vpnd_config;

/* The capabilities vpnd keeps, as a mask of CAP_* bits: CAP_NET_ADMIN (addresses, routes
 * and MTU of the TUN device on reload, the fwmark wg may set) and CAP_NET_BIND_SERVICE
 * (a reload may move listen-port below 1024). */
uint64_t vpnd_privileges_kept(void);

/* NULL when name can be an account name, else why not. */
const char *vpnd_privileges_name_problem(const char *name);

struct vpnd_privileges {
	bool drop; /* false: user = "root", vpnd keeps what it was started with */
	uid_t uid;
	gid_t gid;
	char name[VPND_USER_NAME_MAX + 1];
};

/* Look the config's `user` up. Called before anything is set up, so a missing account
 * stops vpnd with nothing changed and a message naming the fix. 0 or -errno (logged). */
int vpnd_privileges_lookup(const struct vpnd_config *cfg, struct vpnd_privileges *p);

/* Become p's user and group, without supplementary groups, keeping only the capabilities
 * of vpnd_privileges_kept() (permitted and effective), with an empty bounding and ambient
 * set, no_new_privs, not dumpable. Every thread of the process is checked afterwards;
 * threads that existed before hold no capability at all, so call it before any thread
 * starts. Then warns, naming file and fix, about what vpnd will need later and can no
 * longer reach: key files and the config (a reload reads them), the state and audit
 * directories, the directories of its sockets (removed at exit). 0 or -errno (logged;
 * the process is then in no state to go on). */
int vpnd_privileges_drop(const struct vpnd_privileges *p, const struct vpnd_config *cfg);

#endif
