/* A small JSON reader for the documents vpnd sends (`show-json`): the whole text is
 * parsed into a tree, then looked up by key. Strict (RFC 8259): anything else is an error
 * that says where, never a guess. */
#ifndef VPND_CTL_JSON_H
#define VPND_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	bool boolean;
	double number;
	char *string;		  /* JSON_STRING: decoded UTF-8, NUL-terminated */
	struct json_value *items; /* JSON_ARRAY: elements; JSON_OBJECT: member values */
	char **keys;		  /* JSON_OBJECT: member names, one per item */
	size_t n;		  /* elements or members */
};

/* Nesting deeper than this is refused (the parser recurses). */
#define JSON_MAX_DEPTH 64

/* The document in text[0..len), or NULL with why (and the byte offset) in err. */
struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json_value *v);

/* The member key of an object (the last one if repeated); NULL if v is no object or has
 * no such member. */
const struct json_value *json_get(const struct json_value *v, const char *key);
/* v's text if it is a string, else NULL. */
const char *json_str(const struct json_value *v);

#endif
