/* The other files of the state directory: the record of rotated keys (format, errors by
 * FILE:LINE, applying it to a configuration, pruning), the handshake timestamp floor
 * (format, errors, when a new reservation is due) and a new private key for
 * `vpnctl rotate-key` (0600, never replacing one). A temp dir holds the files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/clock_floor.h"
#include "daemon/config_values.h"
#include "daemon/key_rotation.h"
#include "daemon/state.h"
#include "vpnd/key.h"

#define SEC UINT64_C(1000000000)

#define TEMP_DIR_PREFIX "test_state_files"
#define TEMP_DIR_FILE	"file"
#include "temp_dir.h"

static const char *b64_of(char buf[VPND_KEY_B64_LEN + 1], uint8_t fill)
{
	uint8_t key[32];

	memset(key, fill, 32);
	vpnd_key_to_base64(buf, key);
	return buf;
}

/* ---- the rotation record ---- */

static void test_rotations_parse(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_rotations r;
	char a[VPND_KEY_B64_LEN + 1], b[VPND_KEY_B64_LEN + 1], c[VPND_KEY_B64_LEN + 1];
	char *text;
	uint8_t key[32];
	(void)state;

	b64_of(a, 1);
	b64_of(b, 2);
	b64_of(c, 3);
	assert_true(
	    asprintf(&text, "# header\n\n%s %s # br1, rotated at T\n\t%s  %s\n", a, b, b, c) > 0);
	assert_int_equal(vpnd_rotations_parse(&r, "F", text, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_int_equal(r.count, 2);
	memset(key, 1, 32);
	assert_memory_equal(r.items[0].old_key, key, 32);
	memset(key, 2, 32);
	assert_memory_equal(r.items[0].new_key, key, 32);
	assert_string_equal(r.items[0].comment, "br1, rotated at T");
	assert_null(r.items[1].comment);
	vpnd_rotations_free(&r);
	free(text);
}

static void test_rotations_errors_name_lines(void **state)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_rotations r;
	char a[VPND_KEY_B64_LEN + 1], *text;
	(void)state;

	b64_of(a, 1);
	assert_true(asprintf(&text, "%s\n%s %s %s\n%s %s\n%s junk\n", a, a, a, a, a, a, a) > 0);
	assert_int_equal(vpnd_rotations_parse(&r, "/s/vpn0.rotated", text, &errs), -EINVAL);
	assert_int_equal(r.count, 0);
	assert_int_equal(errs.count, 3);
	assert_non_null(strstr(errs.lines[0], "/s/vpn0.rotated:1: two public keys expected"));
	assert_non_null(strstr(errs.lines[1], "/s/vpn0.rotated:2: more than two keys"));
	assert_non_null(
	    strstr(errs.lines[2], "/s/vpn0.rotated:4: the new key is not a public key"));
	assert_null(strstr(errs.lines[2], "junk"));
	vpnd_config_errors_free(&errs);
	free(text);
}

static void test_rotations_round_trip(void **state)
{
	struct dir *d = *state;
	struct vpnd_config_errors errs = {0};
	struct vpnd_rotations r = {0}, back;
	uint8_t k1[32], k2[32], k3[32];
	struct stat st;

	memset(k1, 1, 32);
	memset(k2, 2, 32);
	memset(k3, 3, 32);
	assert_int_equal(vpnd_rotations_add(&r, k1, k2, "br1, rotated\nat T"), 0);
	/* A second rotation of the same old key replaces the first. */
	assert_int_equal(vpnd_rotations_add(&r, k1, k3, "br1 again"), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(vpnd_rotations_save(&r, d->file), 0);
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vpnd_rotations_load(&back, d->file, &errs), 0);
	assert_int_equal(back.count, 1);
	assert_memory_equal(back.items[0].new_key, k3, 32);
	assert_string_equal(back.items[0].comment, "br1 again");
	vpnd_rotations_free(&back);
	/* No record left: no file either. */
	vpnd_rotations_free(&r);
	assert_int_equal(vpnd_rotations_save(&r, d->file), 0);
	assert_int_equal(access(d->file, F_OK), -1);
	assert_int_equal(vpnd_rotations_load(&back, d->file, &errs), 0);
	assert_int_equal(back.count, 0);
}

static void test_rotations_apply_and_prune(void **state)
{
	struct vpnd_rotations r = {0};
	struct vpnd_peer_conf peers[3] = {0};
	struct vpnd_config c = {.peers = peers, .n_peers = 3};
	uint8_t old[32], next[32], other[32];
	(void)state;

	memset(old, 1, 32);
	memset(next, 2, 32);
	memset(other, 9, 32);
	assert_int_equal(vpnd_rotations_add(&r, old, next, NULL), 0);
	/* peer 0 still names old + next: it gets next. peer 1 names old with another next
	 * key: a new rotation, left alone. peer 2 names old alone: left alone. */
	memcpy(peers[0].public_key, old, 32);
	peers[0].has_next_public_key = true;
	memcpy(peers[0].next_public_key, next, 32);
	memcpy(peers[1].public_key, old, 32);
	peers[1].has_next_public_key = true;
	memcpy(peers[1].next_public_key, other, 32);
	memcpy(peers[2].public_key, old, 32);
	assert_int_equal(vpnd_rotations_apply(&r, &c), 1);
	assert_memory_equal(peers[0].public_key, next, 32);
	assert_false(peers[0].has_next_public_key);
	assert_memory_equal(peers[1].public_key, old, 32);
	assert_true(peers[1].has_next_public_key);
	assert_memory_equal(peers[2].public_key, old, 32);
	assert_int_equal(vpnd_rotations_prune(&r), 0);
	assert_int_equal(r.count, 1);

	/* The configuration now names the new key as public-key: the record has served. */
	c.n_peers = 1;
	assert_int_equal(vpnd_rotations_apply(&r, &c), 0);
	assert_int_equal(vpnd_rotations_prune(&r), 1);
	assert_int_equal(r.count, 0);
	vpnd_rotations_free(&r);
}

/* ---- the timestamp floor ---- */

static void test_clock_round_trip(void **state)
{
	struct dir *d = *state;
	struct vpnd_config_errors errs = {0};
	uint64_t ns = 1;
	char *text;

	assert_int_equal(vpnd_clock_floor_load(d->file, &ns, &errs), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(vpnd_clock_floor_save(d->file, UINT64_C(1714567890123456789)), 0);
	assert_int_equal(vpnd_clock_floor_load(d->file, &ns, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_true(ns == UINT64_C(1714567890123456789));
	assert_int_equal(vpnd_state_read(d->file, &text), 0);
	assert_non_null(strstr(text, "1714567890123456789 # 2024-05-01T12:51:30Z\n"));
	free(text);
}

static void test_clock_errors(void **state)
{
	struct vpnd_config_errors errs = {0};
	uint64_t ns;
	(void)state;

	assert_int_equal(vpnd_clock_floor_parse("F", "# c\n\n12 # x\n", &ns, &errs), 0);
	assert_int_equal(ns, 12);
	assert_int_equal(vpnd_clock_floor_parse("F", "# c\n12x\n", &ns, &errs), -EINVAL);
	assert_int_equal(vpnd_clock_floor_parse("F", "1\n2\n", &ns, &errs), -EINVAL);
	assert_int_equal(vpnd_clock_floor_parse("F", "99999999999999999999999\n", &ns, &errs),
			 -EINVAL);
	assert_int_equal(vpnd_clock_floor_parse("F", "-5\n", &ns, &errs), -EINVAL);
	assert_int_equal(errs.count, 4);
	assert_non_null(strstr(errs.lines[0], "F:2: not a time"));
	assert_non_null(strstr(errs.lines[1], "F:2: a second value"));
	assert_non_null(strstr(errs.lines[2], "F:1: not a time"));
	assert_non_null(strstr(errs.lines[3], "F:1: not a time"));
	vpnd_config_errors_free(&errs);
}

static void test_clock_reserves_ahead(void **state)
{
	uint64_t t = 1700000000 * SEC;
	(void)state;

	/* Nothing stored yet: the first timestamp reserves a minute. */
	assert_true(vpnd_clock_floor_next(0, t, t) == t + VPND_CLOCK_RESERVE_NS);
	/* Within the reservation: no write. */
	assert_true(vpnd_clock_floor_next(t + 60 * SEC, t + 30 * SEC, t + 30 * SEC) == 0);
	assert_true(vpnd_clock_floor_next(t + 60 * SEC, t + 59 * SEC, t + 10 * SEC) == 0);
	/* Passed by the timestamps, or by the clock: the next minute. */
	assert_true(vpnd_clock_floor_next(t + 60 * SEC, t + 60 * SEC, t) == t + 120 * SEC);
	assert_true(vpnd_clock_floor_next(t + 60 * SEC, t, t + 61 * SEC) == t + 121 * SEC);
	/* A clock a day behind after a restart: the timestamps (above the floor) decide. */
	assert_true(vpnd_clock_floor_next(t, t + 16, t - 86400 * SEC) ==
		    t + 16 + VPND_CLOCK_RESERVE_NS);
	/* Far future values saturate instead of wrapping. */
	assert_true(vpnd_clock_floor_next(0, UINT64_MAX - 5, 0) == UINT64_MAX);
}

/* ---- state files in general ---- */

static void test_state_read_limits(void **state)
{
	struct dir *d = *state;
	char *text;
	FILE *f;

	assert_int_equal(vpnd_state_read(d->file, &text), -ENOENT);
	assert_int_equal(vpnd_state_read(d->path, &text), -EINVAL); /* a directory */
	f = fopen(d->file, "w");
	assert_non_null(f);
	fwrite("a\0b\n", 1, 4, f);
	fclose(f);
	assert_int_equal(vpnd_state_read(d->file, &text), -EINVAL); /* binary */
	assert_null(text);
	assert_int_equal(vpnd_state_write(d->file, "x\ny", 3), 0);
	assert_int_equal(vpnd_state_read(d->file, &text), 0);
	assert_string_equal(text, "x\ny");
	free(text);
}

static void test_next_line(void **state)
{
	const char *text = "a  \r\n\nb\tc\t\nlast", *line;
	size_t pos = 0, len;
	(void)state;

	assert_true(vpnd_state_next_line(text, &pos, &line, &len));
	assert_int_equal(len, 1);
	assert_true(vpnd_state_next_line(text, &pos, &line, &len));
	assert_int_equal(len, 0);
	assert_true(vpnd_state_next_line(text, &pos, &line, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(line, "b\tc", 3);
	assert_true(vpnd_state_next_line(text, &pos, &line, &len));
	assert_int_equal(len, 4);
	assert_false(vpnd_state_next_line(text, &pos, &line, &len));
}

/* ---- the gateway's next private key ---- */

static void test_new_key_file(void **state)
{
	struct dir *d = *state;
	uint8_t pub[32], again[32], priv[32], derived[32];
	char *why = NULL, *text;
	char *after, cmd[160];
	struct stat st;

	assert_int_equal(vpnd_key_rotation_new_key_file(d->file, pub), 0);
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* A key file vpnd itself accepts, whose public key is the one returned. */
	assert_int_equal(config_read_key_file(d->file, priv, &why), 0);
	assert_int_equal(crypto_scalarmult_base(derived, priv), 0);
	assert_memory_equal(derived, pub, 32);
	/* Never replaced: a key already handed out must not be lost. */
	assert_int_equal(vpnd_state_read(d->file, &text), 0);
	assert_int_equal(vpnd_key_rotation_new_key_file(d->file, again), -EEXIST);
	assert_int_equal(vpnd_state_read(d->file, &after), 0);
	assert_string_equal(text, after);
	free(text);
	free(after);
	/* No temporary file left beside it. */
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s' | wc -l)\" = 1", d->path);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rotations_parse),
	    cmocka_unit_test(test_rotations_errors_name_lines),
	    cmocka_unit_test_setup_teardown(test_rotations_round_trip, dir_up, dir_down),
	    cmocka_unit_test(test_rotations_apply_and_prune),
	    cmocka_unit_test_setup_teardown(test_clock_round_trip, dir_up, dir_down),
	    cmocka_unit_test(test_clock_errors),
	    cmocka_unit_test(test_clock_reserves_ahead),
	    cmocka_unit_test_setup_teardown(test_state_read_limits, dir_up, dir_down),
	    cmocka_unit_test(test_next_line),
	    cmocka_unit_test_setup_teardown(test_new_key_file, dir_up, dir_down),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
