/* The configuration file's text, read whole and made fit for libconfuse to lex. */
#ifndef VPND_DAEMON_CONFIG_TEXT_H
#define VPND_DAEMON_CONFIG_TEXT_H

/* The whole file, NUL-terminated, to be freed. NULL with *what the step that failed
 * ("cannot open", "cannot read") and *err its errno, or with *what NULL when out of
 * memory. */
char *config_read_text(const char *path, const char **what, int *err);
/* Blanks out every comment in place, keeping the newlines. Returns NULL, or what is never
 * closed ("'{' is never closed") with *line_out the line it opens on. */
const char *config_blank_comments(char *s, int *line_out);

#endif
