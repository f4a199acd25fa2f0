/* sd_notify(3) messages to the service manager. libsystemd does the protocol (the socket
 * named by NOTIFY_SOCKET, abstract or a path); we compose the fields. */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"

/* STATUS is one line of `systemctl status`; longer text is cut, visibly. */
#define STATUS_MAX 200

/* Send FIELDS (newline-separated, may be empty) and STATUS=status. */
static void send_state(const char *fields, char *status)
{
	char msg[STATUS_MAX + 128];
	int ret;

	/* A newline would start a field of its own (a forged READY=1 or MAINPID=): the
	 * status carries names from the config file. */
	for (char *c = status; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", fields, fields[0] ? "\n" : "", status);
	ret = sd_notify(0, msg);
	if (ret < 0)
		log_warn("cannot notify the service manager at %s: %s", getenv("NOTIFY_SOCKET"),
			 strerror(-ret));
}

static void send_formatted(const char *fields, const char *status_fmt, va_list ap)
{
	char status[STATUS_MAX + 1];
	int n;

	n = vsnprintf(status, sizeof(status), status_fmt, ap);
	if (n < 0)
		snprintf(status, sizeof(status), "%s", status_fmt);
	else if ((size_t)n >= sizeof(status))
		memcpy(status + STATUS_MAX - 3, "...", 4);
	send_state(fields, status);
}

void vpnd_notify_ready(const char *status_fmt, ...)
{
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, status_fmt);
	send_formatted("READY=1", status_fmt, ap);
	va_end(ap);
}

void vpnd_notify_reloading(void)
{
	char fields[64], status[] = "reloading the configuration";
	struct timespec ts;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	/* systemd (Type=notify-reload, v253) ties the reload to its request by this time. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(fields, sizeof(fields), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000);
	send_state(fields, status);
}

void vpnd_notify_stopping(const char *status_fmt, ...)
{
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, status_fmt);
	send_formatted("STOPPING=1", status_fmt, ap);
	va_end(ap);
}

void vpnd_notify_status(const char *status_fmt, ...)
{
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, status_fmt);
	send_formatted("", status_fmt, ap);
	va_end(ap);
}
