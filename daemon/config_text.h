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

/* The untitled section config_group_peers wraps peer sections in, and how many it holds. */
#define CONFIG_PEER_GROUP     "peer-group"
#define CONFIG_PEER_GROUP_MAX 64
/* libconfuse looks for an earlier section of the same title each time it opens a titled
 * one: 10,000 peers cost it 50 million string comparisons (0.35 s of a 0.45 s `vpnd -n`).
 * In untitled groups of at most CONFIG_PEER_GROUP_MAX, a peer section is compared with its
 * group only. Returns s with every run of top-level peer sections so wrapped (characters
 * inserted, never a newline: every line number stays), or NULL to parse s as it is: a peer
 * section not of the plain form `peer TITLE { ... }`, a group written in s, no peer, no
 * memory. s has its comments blanked. */
char *config_group_peers(const char *s);

#endif
