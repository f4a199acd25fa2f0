/* Secrets written into the config file itself (`private-key`, a peer's `preshared-key`)
 * rather than into key files of their own: the config file then holds the site's
 * identity, and the rule for key files applies to it. */
#ifndef VPND_DAEMON_CONFIG_SECRET_H
#define VPND_DAEMON_CONFIG_SECRET_H

#include <stddef.h>

/* NULL when the file at path may hold a secret (a regular file that neither group nor
 * others can access); otherwise why not, in buf. */
const char *config_secret_file_problem(const char *path, char *buf, size_t len);

#endif
