/* The configuration file's text, read whole and made fit for libconfuse to lex. */
#include "daemon/config_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
