/* The replay window against the Linux module's self-test sequence: numbered one-line
 * cases, then sweeps that fill the whole window forward and backward so that every
 * word boundary of the ring is crossed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/replay.h"

#define LIM    ((uint64_t)WG_COUNTER_WINDOW_SIZE + 1)
#define REJECT WG_REJECT_AFTER_MESSAGES

struct replay_case {
	uint64_t counter;
	bool accept;
};

static const struct replay_case sequence[] = {
    {0, true},			  /*  1 */
    {1, true},			  /*  2 */
    {1, false},			  /*  3 */
    {9, true},			  /*  4 */
    {8, true},			  /*  5 */
    {7, true},			  /*  6 */
    {7, false},			  /*  7 */
    {LIM, true},		  /*  8 */
    {LIM - 1, true},		  /*  9 */
    {LIM - 1, false},		  /* 10 */
    {LIM - 2, true},		  /* 11 */
    {2, true},			  /* 12 */
    {2, false},			  /* 13 */
    {LIM + 16, true},		  /* 14 */
    {3, false},			  /* 15 */
    {LIM + 16, false},		  /* 16 */
    {LIM * 4, true},		  /* 17 */
    {LIM * 4 - (LIM - 1), true},  /* 18 */
    {10, false},		  /* 19 */
    {LIM * 4 - LIM, false},	  /* 20 */
    {LIM * 4 - (LIM + 1), false}, /* 21 */
    {LIM * 4 - (LIM - 2), true},  /* 22 */
    {LIM * 4 + 1 - LIM, false},	  /* 23 */
    {0, false},			  /* 24 */
    {REJECT, false},		  /* 25 */
    {REJECT - 1, true},		  /* 26 */
    {REJECT, false},		  /* 27 */
    {REJECT - 1, false},	  /* 28 */
    {REJECT - 2, true},		  /* 29 */
    {REJECT + 1, false},	  /* 30 */
    {REJECT + 2, false},	  /* 31 */
    {REJECT - 2, false},	  /* 32 */
    {REJECT - 3, true},		  /* 33 */
    {0, false},			  /* 34 */
};

static void expect(struct wg_replay_counter *rc, uint64_t n, bool accept, const char *what,
		   unsigned int step)
{
	if (wg_replay_check_and_update(rc, n) != accept)
		fail_msg("%s, step %u: counter %llu should be %s", what, step,
			 (unsigned long long)n, accept ? "accepted" : "rejected");
}

static void test_sequence(void **state)
{
	struct wg_replay_counter rc;
	(void)state;

	wg_replay_init(&rc);
	for (size_t i = 0; i < sizeof(sequence) / sizeof(sequence[0]); ++i)
		expect(&rc, sequence[i].counter, sequence[i].accept, "sequence",
		       (unsigned int)i + 1);
}

/* 1..WINDOW then 0: the oldest counter is still exactly inside the window. */
static void test_fill_forward_from_one(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = 1; i <= WG_COUNTER_WINDOW_SIZE; ++i)
		expect(&rc, i, true, "forward from 1", i);
	assert_int_equal(rc.counter, WG_COUNTER_WINDOW_SIZE + 1);
	expect(&rc, 0, true, "forward from 1, late 0", 0);
	expect(&rc, 0, false, "forward from 1, 0 again", 0);
}

/* 2..WINDOW+1: now 1 is the oldest acceptable and 0 has fallen out. */
static void test_fill_forward_from_two(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = 2; i <= WG_COUNTER_WINDOW_SIZE + 1; ++i)
		expect(&rc, i, true, "forward from 2", i);
	expect(&rc, 1, true, "forward from 2, late 1", 1);
	expect(&rc, 0, false, "forward from 2, 0 outside", 0);
}

static void test_fill_backward_to_zero(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 0;)
		expect(&rc, i, true, "backward to 0", i);
}

static void test_fill_backward_to_one(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = WG_COUNTER_WINDOW_SIZE + 2; i-- > 1;)
		expect(&rc, i, true, "backward to 1", i);
	expect(&rc, 0, false, "backward to 1, 0 outside", 0);
}

static void test_fill_backward_then_top(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(&rc, i, true, "backward then top", i);
	expect(&rc, WG_COUNTER_WINDOW_SIZE + 1, true, "backward then top, new top", 0);
	expect(&rc, 0, false, "backward then top, 0 pushed out", 0);
}

static void test_fill_backward_then_zero_then_top(void **state)
{
	struct wg_replay_counter rc;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = WG_COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(&rc, i, true, "backward, zero, top", i);
	expect(&rc, 0, true, "backward, zero, top: 0 just inside", 0);
	expect(&rc, WG_COUNTER_WINDOW_SIZE + 1, true, "backward, zero, top: new top", 0);
}

/* A jump far beyond the ring must not leave stale bits that would turn a fresh
 * counter into a false replay (the clearing is capped at the whole ring). */
static void test_far_jump_clears_ring(void **state)
{
	struct wg_replay_counter rc;
	uint64_t base = 1000000;
	unsigned int i;
	(void)state;

	wg_replay_init(&rc);
	for (i = 0; i < WG_COUNTER_BITS_TOTAL; ++i)
		expect(&rc, i, true, "fill ring", i);
	expect(&rc, base + WG_COUNTER_WINDOW_SIZE, true, "far jump", 0);
	for (i = 0; i < WG_COUNTER_WINDOW_SIZE; ++i)
		expect(&rc, base + i, true, "after far jump", i);
	expect(&rc, base - 1, false, "below window after far jump", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_fill_forward_from_one),
	    cmocka_unit_test(test_fill_forward_from_two),
	    cmocka_unit_test(test_fill_backward_to_zero),
	    cmocka_unit_test(test_fill_backward_to_one),
	    cmocka_unit_test(test_fill_backward_then_top),
	    cmocka_unit_test(test_fill_backward_then_zero_then_top),
	    cmocka_unit_test(test_far_jump_clears_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
