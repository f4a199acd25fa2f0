/* What the two Unix-socket servers (control and wg UAPI) share in setting up their path. */
#ifndef VPND_DAEMON_UNIX_SOCKET_H
#define VPND_DAEMON_UNIX_SOCKET_H

#include <sys/un.h>

/* mkdir -p of everything before the last slash; directories it creates get 0755 whatever
 * the umask says, so that group members can reach a 0660 socket. 0, or -1 with errno. */
int vpnd_unix_socket_make_parent_dirs(const char *path);
/* A socket file left by a daemon that died is removed; one that answers belongs to a
 * running daemon (-1, EADDRINUSE); anything that is not a socket is left alone (-1,
 * EEXIST). 0 when the path is free. */
int vpnd_unix_socket_remove_stale(const struct sockaddr_un *sun);

#endif
