/* The storage health report (daemon/storage_health.c): a failing store is counted, its
 * last error named by file and errno, the change of state reported once, and show, show
 * --json and the metrics say so. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/reply.h"
#include "daemon/storage_health.h"

static void test_errno_names(void **state)
{
	(void)state;
	assert_string_equal(vpnd_errno_name(ENOSPC), "ENOSPC");
	assert_string_equal(vpnd_errno_name(EROFS), "EROFS");
	assert_string_equal(vpnd_errno_name(EPERM), "EPERM");
	assert_string_equal(vpnd_errno_name(0), "errno 0");
	assert_string_equal(vpnd_errno_name(-3), "errno -3");
	assert_string_equal(vpnd_errno_name(100000), "errno 100000");
}

static void test_transitions_and_reports(void **state)
{
	const struct vpnd_store_health *h = vpnd_store_health(VPND_STORE_STATE);
	struct vpnd_reply r;
	(void)state;

	vpnd_store_set_location(VPND_STORE_AUDIT, "/var/lib/vpnd/vpn0.audit");
	vpnd_store_set_location(VPND_STORE_STATE, "/var/lib/vpnd");
	/* All well: no text, "writing": true, no last error, metrics at 1 and 0. */
	vpnd_reply_init(&r);
	vpnd_store_text(&r);
	assert_int_equal(r.len, 0);
	vpnd_store_json(&r);
	assert_string_equal(
	    r.buf, "\"storage\": {\"audit_log\": {\"path\": \"/var/lib/vpnd/vpn0.audit\", "
		   "\"writing\": true, \"write_errors\": 0, \"events_lost\": 0, \"last_error\": "
		   "null}, \"state_directory\": {\"path\": \"/var/lib/vpnd\", \"writing\": true, "
		   "\"write_errors\": 0, \"last_error\": null}}");
	vpnd_reply_free(&r);

	/* The first failure changes the state, the next ones do not. */
	assert_false(vpnd_store_note(VPND_STORE_STATE, "/var/lib/vpnd/vpn0.endpoints", 0));
	assert_true(vpnd_store_note(VPND_STORE_STATE, "/var/lib/vpnd/vpn0.endpoints", ENOSPC));
	assert_false(vpnd_store_note(VPND_STORE_STATE, "/var/lib/vpnd/vpn0.revoked", ENOSPC));
	assert_true(h->failing);
	assert_int_equal(h->write_errors, 2);
	assert_int_equal(h->last_errno, ENOSPC);
	assert_string_equal(h->last_file, "/var/lib/vpnd/vpn0.revoked");
	vpnd_reply_init(&r);
	vpnd_store_text(&r);
	assert_string_equal(r.buf, "  state directory: cannot write /var/lib/vpnd/vpn0.revoked: No "
				   "space left on device (ENOSPC), 2 failed writes\n");
	vpnd_reply_free(&r);
	vpnd_reply_init(&r);
	vpnd_store_json(&r);
	assert_non_null(strstr(r.buf, "\"state_directory\": {\"path\": \"/var/lib/vpnd\", "
				      "\"writing\": false, \"write_errors\": 2, \"last_error\": "
				      "{\"file\": \"/var/lib/vpnd/vpn0.revoked\", \"errno\": "
				      "\"ENOSPC\", \"message\": \"No space left on device\"}}"));
	vpnd_reply_free(&r);
	vpnd_reply_init(&r);
	vpnd_store_metrics(&r, "vpn\"0");
	assert_non_null(strstr(
	    r.buf, "vpnd_storage_writing{interface=\"vpn\\\"0\",store=\"state_directory\"} 0\n"));
	assert_non_null(
	    strstr(r.buf, "vpnd_storage_writing{interface=\"vpn\\\"0\",store=\"audit_log\"} 1\n"));
	assert_non_null(strstr(r.buf, "vpnd_storage_write_errors_total{interface=\"vpn\\\"0\","
				      "store=\"state_directory\"} 2\n"));
	assert_non_null(strstr(r.buf, "# TYPE vpnd_audit_events_lost_total counter\n"
				      "vpnd_audit_events_lost_total{interface=\"vpn\\\"0\"} 0\n"));
	vpnd_reply_free(&r);

	/* Recovery changes the state once; the count and the last error stay for the record. */
	assert_true(vpnd_store_note(VPND_STORE_STATE, "/var/lib/vpnd/vpn0.endpoints", 0));
	assert_false(vpnd_store_note(VPND_STORE_STATE, "/var/lib/vpnd/vpn0.endpoints", 0));
	assert_false(h->failing);
	assert_int_equal(h->write_errors, 2);
	assert_int_equal(h->last_errno, ENOSPC);
	vpnd_reply_init(&r);
	vpnd_store_text(&r);
	assert_int_equal(r.len, 0);
	vpnd_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errno_names),
	    cmocka_unit_test(test_transitions_and_reports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
