/* Recursive descent over RFC 8259's grammar. Strings are decoded (escapes, surrogate
 * pairs); a string holding U+0000 is refused, since the result is a C string. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s;
	size_t len, pos;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parser *p, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s at byte %zu", msg, p->pos);
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int hex4(struct parser *p)
{
	int v = 0;

	if (p->len - p->pos < 4) {
		fail(p, "\\u needs four hex digits");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else {
			fail(p, "\\u needs four hex digits");
			return -1;
		}
	}
	return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* After the opening quote. The decoded text is never longer than the encoded one. */
static char *string(struct parser *p)
{
	static const char escapes[] = "\"\\/bfnrt", unescaped[] = "\"\\/\b\f\n\r\t";
	size_t start = p->pos, o = 0;
	char *out;

	while (p->pos < p->len && p->s[p->pos] != '"')
		p->pos += p->s[p->pos] == '\\' ? 2 : 1;
	if (p->pos >= p->len) {
		fail(p, "unterminated string");
		return NULL;
	}
	out = malloc(p->pos - start + 1);
	if (!out) {
		fail(p, "out of memory");
		return NULL;
	}
	for (p->pos = start; p->s[p->pos] != '"';) {
		unsigned char c = (unsigned char)p->s[p->pos++];
		const char *simple;
		int cp, lo;
		char esc;

		if (c < 0x20) {
			fail(p, "control character in a string");
			goto bad;
		}
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		esc = p->s[p->pos++];
		simple = esc ? strchr(escapes, esc) : NULL;
		if (simple) {
			out[o++] = unescaped[simple - escapes];
			continue;
		}
		if (esc != 'u') {
			p->pos--;
			fail(p, "bad escape");
			goto bad;
		}
		if ((cp = hex4(p)) < 0)
			goto bad;
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			fail(p, "lone low surrogate");
			goto bad;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (!literal(p, "\\u") || (lo = hex4(p)) < 0 || lo < 0xdc00 ||
			    lo > 0xdfff) {
				fail(p, "high surrogate without its low half");
				goto bad;
			}
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp == 0) {
			fail(p, "\\u0000 in a string");
			goto bad;
		}
		/* "\uXXXX" is 6 bytes, its UTF-8 at most 3; a pair 12 for 4. */
		o += put_utf8(out + o, (uint32_t)cp);
	}
	p->pos++;
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static void number(struct parser *p, struct json_value *v)
{
	size_t start = p->pos;
	char buf[64], *end;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (p->pos < p->len && p->s[p->pos] >= '1' && p->s[p->pos] <= '9')
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	else {
		fail(p, "bad number");
		return;
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
			fail(p, "bad number");
			return;
		}
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
			fail(p, "bad number");
			return;
		}
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos - start >= sizeof(buf)) {
		fail(p, "number too long");
		return;
	}
	memcpy(buf, p->s + start, p->pos - start);
	buf[p->pos - start] = '\0';
	v->type = JSON_NUMBER;
	v->number = strtod(buf, &end);
}

static void value(struct parser *p, struct json_value *v, unsigned depth);

/* Grow an array or object by one member; the new slot, or NULL. */
static struct json_value *grow(struct parser *p, struct json_value *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct json_value *items = reallocarray(v->items, ncap, sizeof(*items));
		char **keys;

		if (!items) {
			fail(p, "out of memory");
			return NULL;
		}
		v->items = items;
		if (v->type == JSON_OBJECT) {
			keys = reallocarray(v->keys, ncap, sizeof(*keys));
			if (!keys) {
				fail(p, "out of memory");
				return NULL;
			}
			v->keys = keys;
		}
		*cap = ncap;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	return &v->items[v->n];
}

static void container(struct parser *p, struct json_value *v, unsigned depth, bool object)
{
	char close = object ? '}' : ']';
	size_t cap = 0;

	v->type = object ? JSON_OBJECT : JSON_ARRAY;
	if (depth >= JSON_MAX_DEPTH) {
		fail(p, "nested deeper than %d", JSON_MAX_DEPTH);
		return;
	}
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return;
	}
	for (;;) {
		struct json_value *item = grow(p, v, &cap);
		char *key = NULL;

		if (!item)
			return;
		if (object) {
			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				fail(p, "expected a member name");
				return;
			}
			p->pos++;
			if (!(key = string(p)))
				return;
			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				{
					fail(p, "expected ':'");
					return;
				}
			}
			p->pos++;
			v->keys[v->n] = key;
		}
		value(p, item, depth + 1);
		v->n++; /* counted even when it failed: json_free then frees its parts */
		if (p->failed)
			return;
		skip_space(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return;
		}
		{
			fail(p, "expected ',' or '%c'", close);
			return;
		}
	}
}

static void value(struct parser *p, struct json_value *v, unsigned depth)
{
	skip_space(p);
	if (p->pos >= p->len) {
		fail(p, "unexpected end");
		return;
	}
	switch (p->s[p->pos]) {
	case '{':
		p->pos++;
		{
			container(p, v, depth, true);
			return;
		}
	case '[':
		p->pos++;
		{
			container(p, v, depth, false);
			return;
		}
	case '"':
		p->pos++;
		v->string = string(p);
		if (v->string)
			v->type = JSON_STRING;
		return;
	case 't':
	case 'f':
	case 'n':
		if (literal(p, "true"))
			*v = (struct json_value){.type = JSON_BOOL, .boolean = true};
		else if (literal(p, "false"))
			*v = (struct json_value){.type = JSON_BOOL, .boolean = false};
		else if (literal(p, "null"))
			*v = (struct json_value){.type = JSON_NULL};
		else
			fail(p, "unexpected word");
		return;
	default: {
		number(p, v);
		return;
	}
	}
}

static void free_parts(struct json_value *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free_parts(&v->items[i]);
		if (v->type == JSON_OBJECT)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	free_parts(v);
	free(v);
}

struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser p = {.s = text, .len = len, .err = err, .errlen = errlen};
	struct json_value *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		p.pos = (size_t)((const char *)memchr(text, '\0', len) - text);
		fail(&p, "NUL byte");
	} else {
		value(&p, v, 0);
		skip_space(&p);
		if (!p.failed && p.pos != len)
			fail(&p, "text after the document");
	}
	if (p.failed) {
		json_free(v);
		return NULL;
	}
	return v;
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	const struct json_value *found = NULL;

	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->keys[i], key))
			found = &v->items[i];
	return found;
}

const char *json_str(const struct json_value *v)
{
	return v && v->type == JSON_STRING ? v->string : NULL;
}
