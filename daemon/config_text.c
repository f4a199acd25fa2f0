/* The configuration file's text, read whole and made fit for libconfuse to lex. */
#include "daemon/config_text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *config_read_text(const char *path, const char **what, int *err)
{
	size_t len = 0, cap = 4096;
	char *text = malloc(cap), *p;
	FILE *f = fopen(path, "re");

	*what = NULL;
	if (!f) {
		*what = "cannot open";
		*err = errno;
	}
	if (!f || !text)
		goto fail;
	for (;;) {
		len += fread(text + len, 1, cap - len - 1, f);
		if (ferror(f)) {
			*what = "cannot read";
			*err = errno;
			goto fail;
		}
		if (feof(f))
			break;
		p = realloc(text, cap * 2);
		if (!p)
			goto fail;
		text = p;
		cap *= 2;
	}
	fclose(f);
	text[len] = '\0';
	return text;
fail:
	free(text);
	if (f)
		fclose(f);
	return NULL;
}

/* libconfuse 3.3 counts three lines for every '#' comment and rejects a comment inside
 * a list (libconfuse issue #150). Blanking comments out before it lexes keeps both
 * working; the newlines stay, so every line number stays true. On the way, catch what
 * libconfuse lets pass: it takes the end of the file for any missing closing brace.
 * Returns NULL, or what is never closed and on which line. */
const char *config_blank_comments(char *s, int *line_out)
{
	enum { CODE, DQUOTE, SQUOTE, LINE, BLOCK } st = CODE;
	int line = 1, opened = 0, depth = 0, brace_line[4] = {0};

	for (; *s; s++) {
		if (*s == '\n')
			line++;
		switch (st) {
		case CODE:
			if (*s == '"') {
				st = DQUOTE;
			} else if (*s == '\'') {
				st = SQUOTE;
			} else if (*s == '#' || (s[0] == '/' && s[1] == '/')) {
				st = LINE;
				*s = ' ';
			} else if (s[0] == '/' && s[1] == '*') {
				st = BLOCK;
				opened = line;
				*s++ = ' ';
				*s = ' ';
			} else if (*s == '{') {
				/* Sections hold lists and nothing nests deeper; libconfuse rejects
				 * more. */
				if (depth < 4)
					brace_line[depth] = line;
				depth++;
			} else if (*s == '}' && depth > 0) {
				depth--;
			}
			break;
		case DQUOTE:
		case SQUOTE:
			if (*s == '\\' && s[1] && s[1] != '\n')
				s++;
			else if (*s == (st == DQUOTE ? '"' : '\''))
				st = CODE;
			break;
		case LINE:
			if (*s == '\n')
				st = CODE;
			else
				*s = ' ';
			break;
		case BLOCK:
			if (s[0] == '*' && s[1] == '/') {
				*s++ = ' ';
				*s = ' ';
				st = CODE;
			} else if (*s != '\n') {
				*s = ' ';
			}
			break;
		}
	}
	if (st == BLOCK) {
		*line_out = opened;
		return "comment '/*' is never closed";
	}
	if (depth > 0 && st == CODE) {
		*line_out = brace_line[depth <= 4 ? depth - 1 : 3];
		return "'{' is never closed";
	}
	return NULL;
}

/* ---- peer groups ---------------------------------------------------------------------- */

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* What may stand right before a keyword, and what ends an unquoted word. */
static bool before_word(char c)
{
	return blank(c) || (c && strchr("{}();,=", c));
}

static bool ends_word(char c)
{
	return !c || blank(c) || strchr("{}();,=\"'", c);
}

static const char *skip_blank(const char *s)
{
	while (blank(*s))
		s++;
	return s;
}

/* Past a quoted string that starts at s (quotes and escapes as config_blank_comments
 * reads them), or NULL if it never ends. */
static const char *skip_quoted(const char *s)
{
	char q = *s++;

	for (; *s && *s != q; s++)
		if (*s == '\\' && s[1] && s[1] != '\n')
			s++;
	return *s ? s + 1 : NULL;
}

/* Past the '}' that closes the section body opening at s ('{'), or NULL. */
static const char *skip_body(const char *s)
{
	int depth = 0;

	while (*s) {
		if (*s == '"' || *s == '\'') {
			s = skip_quoted(s);
			if (!s)
				return NULL;
			continue;
		}
		if (*s == '{')
			depth++;
		else if (*s == '}' && --depth == 0)
			return s + 1;
		s++;
	}
	return NULL;
}

/* If a peer section `peer TITLE { ... }` starts at s (the keyword), its end; else NULL. */
static const char *peer_section_end(const char *s)
{
	const char *t = skip_blank(s + 4);

	if (t == s + 4 && *t != '"' && *t != '\'')
		return NULL; /* "peerX": another word */
	if (*t == '"' || *t == '\'') {
		t = skip_quoted(t);
	} else {
		const char *w = t;

		while (!ends_word(*t))
			t++;
		if (t == w)
			return NULL;
	}
	t = t ? skip_blank(t) : NULL;
	return t && *t == '{' ? skip_body(t) : NULL;
}

static bool append(char **out, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
		char *p = realloc(*out, ncap);

		if (!p)
			return false;
		*out = p;
		*cap = ncap;
	}
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
	return true;
}

/* Whether the word `w` (a keyword) starts at p in s: nothing of a word right before it,
 * and its end right after. */
static bool word_at(const char *s, const char *p, const char *w)
{
	size_t n = strlen(w);

	return (p == s || before_word(p[-1])) && strncmp(p, w, n) == 0 && ends_word(p[n]);
}

/* Close the current group at p: right after its last peer section's brace. */
static bool close_group(char **out, size_t *len, size_t *cap, const char **copied, const char *p)
{
	if (!append(out, len, cap, *copied, (size_t)(p - *copied)) ||
	    !append(out, len, cap, "}", 1))
		return false;
	*copied = p;
	return true;
}

char *config_group_peers(const char *s)
{
	const char *p = s, *copied = s, *end, *last_end = s;
	char *out = NULL;
	size_t len = 0, cap = 0;
	unsigned in_group = 0, peers = 0;
	int depth = 0;

	while (*p) {
		if (blank(*p)) {
			p++;
			continue;
		}
		if (depth == 0 && word_at(s, p, CONFIG_PEER_GROUP))
			goto keep; /* the text has groups of its own */
		if (depth == 0 && word_at(s, p, "peer")) {
			end = peer_section_end(p);
			if (!end)
				goto keep; /* not the plain form: libconfuse reads it as written */
			if (in_group == CONFIG_PEER_GROUP_MAX) {
				if (!close_group(&out, &len, &cap, &copied, last_end))
					goto keep;
				in_group = 0;
			}
			if (!in_group) {
				if (!append(&out, &len, &cap, copied, (size_t)(p - copied)) ||
				    !append(&out, &len, &cap, CONFIG_PEER_GROUP "{",
					    strlen(CONFIG_PEER_GROUP) + 1))
					goto keep;
				copied = p;
			}
			in_group++;
			peers++;
			p = last_end = end;
			continue;
		}
		/* Anything else at the top level ends a run of peer sections. */
		if (depth == 0 && in_group) {
			if (!close_group(&out, &len, &cap, &copied, last_end))
				goto keep;
			in_group = 0;
		}
		if (*p == '"' || *p == '\'') {
			if (!(p = skip_quoted(p)))
				goto keep;
			continue;
		}
		if (*p == '}' && depth == 0)
			goto keep; /* a stray brace: its error must stay where it is */
		depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
		p++;
	}
	if (in_group && !close_group(&out, &len, &cap, &copied, last_end))
		goto keep;
	if (peers && append(&out, &len, &cap, copied, strlen(copied)))
		return out;
keep:
	free(out);
	return NULL;
}
