/* Service manager notifications (sd_notify(3)): a Type=notify unit learns when vpnd is
 * ready, reloading or stopping, and `systemctl status` shows the one-line STATUS. Every
 * call does nothing when NOTIFY_SOCKET is unset, i.e. when no service manager listens. */
#ifndef VPND_DAEMON_NOTIFY_H
#define VPND_DAEMON_NOTIFY_H

/* READY=1: startup or a reload is complete. The status says what is running. */
void vpnd_notify_ready(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with the CLOCK_MONOTONIC time: a reload starts; READY=1 must follow. */
void vpnd_notify_reloading(void);
/* STOPPING=1: shutdown has begun. */
void vpnd_notify_stopping(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));
/* STATUS= alone. */
void vpnd_notify_status(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
