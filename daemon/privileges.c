/* Dropping root (libcap-ng). vpnd starts as root because the TUN device, the UDP sockets,
 * netlink and the socket files are opened with root's rights; once they are open nothing
 * it does needs root, only CAP_NET_ADMIN to change the TUN device's addresses, routes and
 * MTU on a reload, and CAP_NET_BIND_SERVICE for a listen-port below 1024.
 *
 * Capabilities belong to threads, user ids (through glibc, which signals every thread) to
 * the whole process: a thread that exists at the switch loses all its capabilities when
 * its uid changes, but keeps its bounding set and lacks no_new_privs. So the switch comes
 * before the first thread starts, and every thread is checked afterwards in
 * /proc/self/task. */
#include "privileges.h"

#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

uint64_t vpnd_privileges_kept(void)
{
	return (UINT64_C(1) << CAP_NET_ADMIN) | (UINT64_C(1) << CAP_NET_BIND_SERVICE);
}

const char *vpnd_privileges_name_problem(const char *name)
{
	size_t n = strlen(name);
	bool digits_only = true;

	if (!n)
		return "is empty";
	if (n > VPND_USER_NAME_MAX)
		return "is longer than an account name may be (32 characters)";
	if (name[0] == '-')
		return "starts with '-'";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return "is not an account name: letters, digits, '_', '-' and '.' only";
		digits_only = digits_only && c >= '0' && c <= '9';
	}
	if (digits_only)
		return "is a number: give the account's name";
	return NULL;
}

/* "FILE:LINE: " where `user` is written, or "FILE: " for the default. */
static void user_where(const struct vpnd_config *cfg, char *buf, size_t size)
{
	if (cfg->user_line > 0)
		snprintf(buf, size, "%s:%d: ", cfg->path, cfg->user_line);
	else
		snprintf(buf, size, "%s: ", cfg->path);
}

/* Directories vpnd writes to after the drop and creates when missing (the state and audit
 * directories, those of its sockets) are made now, for the user: created later by root,
 * they would be closed to it. A missing parent is not ours to make; existing directories
 * are left as they are (check_files warns about them after the drop). */
static void make_dir_for(const struct vpnd_privileges *p, const char *path, bool is_dir,
			 mode_t mode)
{
	char *copy = path ? strdup(path) : NULL;
	const char *dir;
	int fd;

	if (!copy)
		return;
	dir = is_dir ? copy : dirname(copy);
	if (mkdir(dir, mode) == 0) {
		/* Through an fd opened without following links: the name could be swapped. */
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, p->uid, p->gid) < 0 || fchmod(fd, mode) < 0)
			log_warn("%s: made it, but cannot give it to user %s: %s", dir, p->name,
				 strerror(errno));
		else
			log_info("%s: made it for user %s", dir, p->name);
		if (fd >= 0)
			close(fd);
	}
	free(copy);
}

int vpnd_privileges_lookup(const struct vpnd_config *cfg, struct vpnd_privileges *p)
{
	struct passwd pw, *found = NULL;
	char buf[4096], where[512];
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", cfg->user);
	user_where(cfg, where, sizeof(where));
	if (strcmp(cfg->user, "root") == 0) {
		log_warn("%suser = \"root\": vpnd keeps all of root's privileges while it runs; "
			 "the default, user = \"%s\", keeps only CAP_NET_ADMIN and "
			 "CAP_NET_BIND_SERVICE",
			 where, VPND_DEFAULT_USER);
		return 0;
	}
	rc = getpwnam_r(cfg->user, &pw, buf, sizeof(buf), &found);
	if (!found) {
		if (rc && rc != ENOENT && rc != ESRCH)
			log_err("%suser: cannot look account '%s' up: %s", where, cfg->user,
				strerror(rc));
		else
			log_err("%suser: there is no account '%s'%s on this system: create it "
				"(useradd --system --no-create-home --shell /usr/sbin/nologin %s) "
				"or set user to an existing account",
				where, cfg->user, cfg->user_line ? "" : " (the default)",
				cfg->user);
		return rc && rc != ENOENT && rc != ESRCH ? -rc : -ENOENT;
	}
	if (pw.pw_uid == 0) {
		log_err("%suser: account '%s' has uid 0, which is root under another name; give "
			"vpnd an account of its own, or write user = \"root\"",
			where, cfg->user);
		return -EINVAL;
	}
	p->drop = true;
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;

	make_dir_for(p, cfg->state_directory, true, 0700);
	make_dir_for(p, cfg->audit_log, false, 0750);
	make_dir_for(p, cfg->control_socket, false, 0755);
	if (cfg->uapi)
		make_dir_for(p, cfg->uapi_socket, false, 0755);
	return 0;
}

/* The audit log is opened (and on the first start created) by root; vpnd writes on
 * through its descriptor, but opens it again after a disk error, as the user. When the
 * user owns the directory, a file root made there is the user's too. Only a plain file
 * with one link, checked and changed through the same descriptor: whoever can write the
 * directory must not be able to point this at another file. */
static void adopt(const struct vpnd_privileges *p, const char *path)
{
	char *copy = path ? strdup(path) : NULL;
	struct stat dst, st;
	int fd = -1;

	if (!copy)
		return;
	if (stat(dirname(copy), &dst) < 0 || dst.st_uid != p->uid)
		goto out;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != 0)
		goto out;
	if (fchown(fd, p->uid, p->gid) < 0)
		log_warn("%s: cannot give it to user %s: %s", path, p->name, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	free(copy);
}

/* ---- the switch ----------------------------------------------------------------------- */

static const char *change_id_step(int rc)
{
	switch (rc) {
	case -2:
		return "keeping capabilities across the uid change";
	case -3:
		return "setting the intermediate capabilities";
	case -4:
		return "changing the group";
	case -5:
		return "dropping the supplementary groups";
	case -6:
		return "changing the user";
	case -7:
		return "ending keep-capabilities";
	case -8:
		return "clearing the bounding set";
	case -9:
		return "dropping CAP_SETPCAP and the ambient set";
	default:
		return "initialising libcap-ng";
	}
}

/* Started as the account already (a service manager's User= with ambient capabilities):
 * shed what is not kept. Dropping capabilities needs no privilege; emptying the bounding
 * set needs CAP_SETPCAP, which such a start rarely has. The bounding set only limits what
 * an execve could grant, and with no_new_privs (and the seccomp list) there is none, so
 * one left as it was is a notice, not a failure (check_tasks). */
static int shed_capabilities(bool have_setpcap)
{
	int err;

	if (have_setpcap && capng_apply(CAPNG_SELECT_BOUNDS) < 0) {
		err = errno ? errno : EPERM;
		log_err("cannot clear the capability bounding set: %s", strerror(err));
		return -err;
	}
	if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
		err = errno ? errno : EPERM;
		log_err("cannot drop capabilities: %s", strerror(err));
		return -err;
	}
	return 0;
}

/* ---- the check ------------------------------------------------------------------------ */

struct task_creds {
	unsigned long uid[4], gid[4];
	uint64_t inh, prm, eff, bnd, amb;
	int no_new_privs;
};

/* 0, or -errno (-ENOENT: the thread has ended meanwhile). */
static int read_task(const char *tid, struct task_creds *t)
{
	char path[300], line[256];
	int seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(t, 0, sizeof(*t));
	t->no_new_privs = -1;
	while (fgets(line, sizeof(line), f)) {
		seen += sscanf(line, "Uid: %lu %lu %lu %lu", &t->uid[0], &t->uid[1], &t->uid[2],
			       &t->uid[3]) == 4;
		seen += sscanf(line, "Gid: %lu %lu %lu %lu", &t->gid[0], &t->gid[1], &t->gid[2],
			       &t->gid[3]) == 4;
		seen += sscanf(line, "CapInh: %" SCNx64, &t->inh) == 1;
		seen += sscanf(line, "CapPrm: %" SCNx64, &t->prm) == 1;
		seen += sscanf(line, "CapEff: %" SCNx64, &t->eff) == 1;
		seen += sscanf(line, "CapBnd: %" SCNx64, &t->bnd) == 1;
		seen += sscanf(line, "CapAmb: %" SCNx64, &t->amb) == 1;
		sscanf(line, "NoNewPrivs: %d", &t->no_new_privs);
	}
	fclose(f);
	return seen == 7 ? 0 : -EIO;
}

/* Every thread: the user's ids, no capability beyond the kept ones. The calling thread
 * also: no_new_privs, and an empty bounding set when it could be emptied. */
static int check_tasks(const struct vpnd_privileges *p, bool bounding_cleared)
{
	uint64_t kept = vpnd_privileges_kept();
	char self[32];
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	int ret = 0;

	if (!d) {
		log_err("/proc/self/task: %s: cannot check the threads' privileges",
			strerror(errno));
		return -errno;
	}
	snprintf(self, sizeof(self), "%ld", (long)gettid());
	while (!ret && (de = readdir(d))) {
		struct task_creds t;

		if (de->d_name[0] == '.')
			continue;
		if ((ret = read_task(de->d_name, &t)) == -ENOENT) {
			ret = 0;
			continue;
		}
		if (ret < 0) {
			log_err("/proc/self/task/%s/status: cannot read it: %s", de->d_name,
				strerror(-ret));
			break;
		}
		n++;
		for (int i = 0; i < 4; i++)
			if (t.uid[i] != p->uid || t.gid[i] != p->gid)
				ret = -EPERM;
		if ((t.inh | t.prm | t.eff | t.amb) & ~kept)
			ret = -EPERM;
		if (strcmp(de->d_name, self) == 0 &&
		    ((bounding_cleared && t.bnd) || t.no_new_privs != 1))
			ret = -EPERM;
		if (strcmp(de->d_name, self) == 0 && !bounding_cleared && (t.bnd & ~kept))
			log_notice("the capability bounding set still holds 0x%" PRIx64
				   " (emptying it needs CAP_SETPCAP); with no_new_privs it can "
				   "grant nothing",
				   t.bnd);
		if (ret)
			log_err(
			    "thread %s still holds more than it should after the switch to user "
			    "%s: uid %lu/%lu/%lu/%lu, gid %lu/%lu/%lu/%lu, capabilities "
			    "permitted 0x%" PRIx64 " effective 0x%" PRIx64 " bounding 0x%" PRIx64
			    " ambient 0x%" PRIx64 ", no_new_privs %d",
			    de->d_name, p->name, t.uid[0], t.uid[1], t.uid[2], t.uid[3], t.gid[0],
			    t.gid[1], t.gid[2], t.gid[3], t.prm, t.eff, t.bnd, t.amb,
			    t.no_new_privs);
	}
	closedir(d);
	if (!ret && n > 1)
		log_info("%u threads existed at the switch to user %s: those started before "
			 "hold no capability",
			 n, p->name);
	return ret;
}

/* ---- what the user must still reach --------------------------------------------------- */

static void need(const struct vpnd_privileges *p, const char *what, const char *path, int mode,
		 const char *consequence)
{
	const char *how = mode & W_OK ? "writable" : "readable";

	if (!path || access(path, mode) == 0)
		return;
	log_warn("%s %s is not %s by user %s (%s): %s; give it to that user (chown %s '%s')", what,
		 path, how, p->name, strerror(errno), consequence, p->name, path);
}

static void need_dir_of(const struct vpnd_privileges *p, const char *what, const char *path,
			const char *consequence)
{
	char *copy = path ? strdup(path) : NULL;
	char label[96];

	if (!copy)
		return;
	snprintf(label, sizeof(label), "%s: its directory", what);
	need(p, label, dirname(copy), W_OK | X_OK, consequence);
	free(copy);
}

static void check_files(const struct vpnd_config *cfg, const struct vpnd_privileges *p)
{
	if (!p->drop)
		return;
	need(p, "the configuration file", cfg->path, R_OK, "a reload would fail");
	if (!cfg->private_key_inline)
		need(p, "private-key-file", cfg->private_key_file, R_OK, "a reload would fail");
	for (unsigned i = 0; i < cfg->n_peers; i++)
		need(p, "preshared-key-file", cfg->peers[i].preshared_key_file, R_OK,
		     "a reload would fail");
	need(p, "state-directory", cfg->state_directory, W_OK | X_OK,
	     "revocations, key rotations and the timestamp floor cannot be kept");
	if (cfg->revoked_keys_file && access(cfg->revoked_keys_file, F_OK) == 0)
		need(p, "revoked-keys-file", cfg->revoked_keys_file, R_OK, "a reload would fail");
	need_dir_of(p, "audit-log", cfg->audit_log,
		    "the audit log cannot be rotated or opened again after an error");
	need_dir_of(p, "control-socket", cfg->control_socket,
		    "the socket stays behind at exit (the next start replaces it)");
	if (cfg->uapi)
		need_dir_of(p, "uapi-socket", cfg->uapi_socket,
			    "the socket stays behind at exit (the next start replaces it)");
}

int vpnd_privileges_drop(const struct vpnd_privileges *p, const struct vpnd_config *cfg)
{
	bool already =
	    getuid() == p->uid && geteuid() == p->uid && getgid() == p->gid && getegid() == p->gid;
	bool have_setpcap;
	int rc, err;

	if (!p->drop)
		return 0;
	adopt(p, cfg->audit_log);
	capng_get_caps_process();
	have_setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN,
		      CAP_NET_BIND_SERVICE, -1);
	if (already) {
		if ((rc = shed_capabilities(have_setpcap)) < 0)
			return rc;
	} else {
		errno = 0;
		rc = capng_change_id((int)p->uid, (int)p->gid,
				     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING |
					 CAPNG_CLEAR_AMBIENT);
		if (rc < 0) {
			err = errno ? errno : EPERM;
			log_err("cannot become user %s (uid %u, gid %u): %s failed: %s%s", p->name,
				(unsigned)p->uid, (unsigned)p->gid, change_id_step(rc),
				strerror(err),
				geteuid() != 0 ? " (vpnd must be started as root or as that user)"
					       : "");
			return -err;
		}
	}
	/* Kernels without ambient capabilities answer EINVAL: nothing to clear there. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		log_err("cannot clear the ambient capabilities: %s", strerror(errno));
		return -errno;
	}
	/* No execve may give anything back (the seccomp list forbids execve as well), and
	 * the uid change may have made the process dumpable again (fs.suid_dumpable). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		log_err("prctl: %s", strerror(errno));
		return -errno;
	}
	if ((rc = check_tasks(p, !already || have_setpcap)) < 0)
		return rc;
	log_notice("running as user %s (uid %u, gid %u) with CAP_NET_ADMIN and "
		   "CAP_NET_BIND_SERVICE only",
		   p->name, (unsigned)p->uid, (unsigned)p->gid);
	check_files(cfg, p);
	return 0;
}
