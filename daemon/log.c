/* Logging. On a terminal a human is watching: stderr alone. Otherwise (service manager,
 * redirected to a file) lines also go to syslog, where the operator's tooling looks.
 * Under systemd stderr is the journal: each line then starts with "<N>" (sd-daemon(3)) so
 * that journald files it at priority N, and syslog is left out.
 * Each stderr line is written with one write(2) so lines from concurrent writers never
 * interleave. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest message kept whole; longer ones end in "..." so a cut is never silent. */
#define LOG_MESSAGE_MAX 1024

static char log_ident[32] = "vpnd";
static bool log_to_syslog;
static bool log_to_journal;
static bool log_debug_enabled;

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected stdout/stderr to
 * (systemd.exec(5)). stderr must be that very stream: a service may run vpnd with its
 * stderr redirected to a file, where "<N>" would be noise. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vpnd_log_open(const char *ident)
{
	/* openlog keeps the pointer: give it our own copy, which lives forever. */
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_debug_enabled = getenv("VPND_DEBUG") != NULL;
	/* Under systemd, stderr already feeds the journal (JOURNAL_STREAM names it): a
	 * second copy through syslog would print every line twice. */
	log_to_journal = stderr_is_journal();
	log_to_syslog = !isatty(STDERR_FILENO) && !log_to_journal;
	if (log_to_syslog)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
}

static const char *level_name(int priority)
{
	switch (LOG_PRI(priority)) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void vpnd_log(int priority, const char *fmt, ...)
{
	char msg[LOG_MESSAGE_MAX + 1], line[sizeof(msg) + 64];
	int saved_errno = errno; /* callers log "%m" and then still test errno */
	va_list ap;
	int n;

	if (LOG_PRI(priority) == LOG_DEBUG && !log_debug_enabled)
		return;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "(unformattable log message: %s)", fmt);
		n = (int)strlen(msg);
	} else if ((size_t)n >= sizeof(msg)) {
		memcpy(msg + LOG_MESSAGE_MAX - 3, "...", 4);
		n = LOG_MESSAGE_MAX;
	}
	if (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* Values in messages come from configs and the network (peer names, endpoints):
	 * an embedded newline or escape must not forge a line or drive the terminal. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';

	/* The journal stamps identifier, pid and priority itself. */
	if (log_to_journal)
		n = snprintf(line, sizeof(line), "<%d>%s\n", LOG_PRI(priority), msg);
	else
		n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
			     level_name(priority), msg);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(STDERR_FILENO, line, (size_t)n);
	if (log_to_syslog)
		syslog(priority, "%s", msg);

	errno = saved_errno;
}
