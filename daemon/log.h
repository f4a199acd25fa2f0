/* Logging: stderr, and syslog when stderr is not a terminal. Never pass a secret. */
#ifndef VPND_DAEMON_LOG_H
#define VPND_DAEMON_LOG_H

#include <stdbool.h>
#include <syslog.h>

void vpnd_log_open(const char *ident);
void vpnd_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	vpnd_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	vpnd_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) vpnd_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	vpnd_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	vpnd_log(LOG_DEBUG, __VA_ARGS__)

#endif
