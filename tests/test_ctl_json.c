/* vpnctl's JSON reader (ctl/json.c, compiled in): a show-json document as vpnd writes it,
 * every escape, and a table of texts that are not JSON, each refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/json.h"

static struct json_value *parse(const char *text)
{
	char err[200];
	struct json_value *v = json_parse(text, strlen(text), err, sizeof(err));

	if (!v)
		fail_msg("'%s': %s", text, err);
	return v;
}

static void test_document(void **state)
{
	const char *doc =
	    "{\n  \"interface\": \"vpn0\",\n  \"public_key\": \"abc=\",\n"
	    "  \"listen_port\": 51820,\n  \"config_file\": \"/etc/vpnd/vpn0.conf\",\n"
	    "  \"addresses\": [\"10.99.0.1/24\", \"fd99::1/64\"],\n"
	    "  \"networks\": [],\n  \"public_endpoint\": null,\n"
	    "  \"drops\": {\"replay\": 0},\n"
	    "  \"peers\": [\n    {\"name\": \"br1\", \"allowed_ips\": [\"10.2.0.0/24\"],"
	    " \"latest_handshake\": 1700000000, \"revoked\": false}\n  ]\n}\n";
	struct json_value *v = parse(doc);
	const struct json_value *a, *peers;

	(void)state;
	assert_int_equal(v->type, JSON_OBJECT);
	assert_string_equal(json_str(json_get(v, "interface")), "vpn0");
	assert_int_equal(json_get(v, "listen_port")->type, JSON_NUMBER);
	assert_true(json_get(v, "listen_port")->number == 51820);
	a = json_get(v, "addresses");
	assert_int_equal(a->type, JSON_ARRAY);
	assert_int_equal(a->n, 2);
	assert_string_equal(json_str(&a->items[1]), "fd99::1/64");
	assert_int_equal(json_get(v, "networks")->n, 0);
	assert_int_equal(json_get(v, "public_endpoint")->type, JSON_NULL);
	assert_null(json_str(json_get(v, "public_endpoint")));
	assert_null(json_get(v, "missing"));
	peers = json_get(v, "peers");
	assert_int_equal(peers->n, 1);
	assert_string_equal(json_str(json_get(&peers->items[0], "name")), "br1");
	assert_int_equal(json_get(&peers->items[0], "revoked")->type, JSON_BOOL);
	assert_false(json_get(&peers->items[0], "revoked")->boolean);
	/* Lookups on what is no object find nothing. */
	assert_null(json_get(a, "x"));
	assert_null(json_get(NULL, "x"));
	json_free(v);
}

static void test_strings(void **state)
{
	struct json_value *v;

	(void)state;
	v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	assert_string_equal(v->string, "a\"b\\c/d\b\f\n\r\t");
	json_free(v);
	v = parse("\"\\u00e9\\u20ac\\ud83d\\ude00 \\ufffd\"");
	assert_string_equal(v->string, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xef\xbf\xbd");
	json_free(v);
	v = parse("  [1, -0.5, 2e3, 1E-2, true, null, {}, []]  ");
	assert_int_equal(v->n, 8);
	assert_true(v->items[1].number == -0.5);
	assert_true(v->items[2].number == 2000);
	json_free(v);
	/* A repeated member: the last one counts. */
	v = parse("{\"a\": 1, \"a\": 2}");
	assert_true(json_get(v, "a")->number == 2);
	json_free(v);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
	    "",		" ",	     "{",	    "}",	   "[1,]",
	    "[1 2]",	"{\"a\" 1}", "{a: 1}",	    "{\"a\": }",   "\"abc",
	    "\"a\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\u0000\"",
	    "\"a\nb\"", "01",	     "1.",	    "-",	   ".5",
	    "1e",	"tru",	     "nul",	    "[1] 2",	   "{\"a\":1}}",
	};
	char err[200], deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_value *v = json_parse(bad[i], strlen(bad[i]), err, sizeof(err));

		if (v)
			fail_msg("accepted: '%s'", bad[i]);
		assert_non_null(strstr(err, "at byte"));
	}
	/* A NUL inside the text, and nesting beyond the limit. */
	assert_null(json_parse("[1]\0", 4, err, sizeof(err)));
	memset(deep, '[', sizeof(deep));
	assert_null(json_parse(deep, sizeof(deep), err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
