/* A control reply under construction: text appended with printf, capped at
 * VPND_CTL_MAX_REPLY (then truncated with a note). */
#ifndef VPND_DAEMON_REPLY_H
#define VPND_DAEMON_REPLY_H

#include <stdbool.h>
#include <stddef.h>

struct vpnd_reply {
	char *buf;
	size_t len, cap;
	bool error;
	bool truncated;
};

void vpnd_reply_init(struct vpnd_reply *r);
void vpnd_reply_free(struct vpnd_reply *r);
void vpnd_reply_printf(struct vpnd_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Marks the reply as an error and appends one line (a newline is added). */
void vpnd_reply_error(struct vpnd_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
void vpnd_reply_json_string(struct vpnd_reply *r, const char *s);

#endif
