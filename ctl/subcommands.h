/* vpnctl's subcommands, each in its own file, and the one error helper they share. */
#ifndef VPND_CTL_SUBCOMMANDS_H
#define VPND_CTL_SUBCOMMANDS_H

/* argv[0] is the subcommand's name; sock is the -s argument or NULL. Each returns the
 * process exit status. */
int genkey_main(int argc, char *argv[], const char *sock);
int genpsk_main(int argc, char *argv[], const char *sock);
int pubkey_main(int argc, char *argv[], const char *sock);
int show_main(int argc, char *argv[], const char *sock);
int status_main(int argc, char *argv[], const char *sock);
int reload_main(int argc, char *argv[], const char *sock);
int metrics_main(int argc, char *argv[], const char *sock);
int audit_main(int argc, char *argv[], const char *sock);
int peer_main(int argc, char *argv[], const char *sock);
int branch_main(int argc, char *argv[], const char *sock);
int revoke_main(int argc, char *argv[], const char *sock);
int unrevoke_main(int argc, char *argv[], const char *sock);
int rotate_key_main(int argc, char *argv[], const char *sock);

/* One line on stderr, prefixed "vpnctl: ". */
void vpnctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
