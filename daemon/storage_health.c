/* Disk trouble is counted, not fatal: vpnd's job is the tunnel, and a full disk must not
 * take the sites' traffic down with it. But nobody reads a log line about it in time,
 * so the state is also where monitoring looks: show, show --json and /metrics. */
#include "storage_health.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "metrics.h"

static struct vpnd_store_health stores[VPND_STORE__COUNT];

static const char *const store_names[VPND_STORE__COUNT] = {
    [VPND_STORE_AUDIT] = "audit_log",
    [VPND_STORE_STATE] = "state_directory",
};

void vpnd_store_set_location(enum vpnd_store s, const char *where)
{
	snprintf(stores[s].where, sizeof(stores[s].where), "%s", where ? where : "");
}

bool vpnd_store_note(enum vpnd_store s, const char *file, int err)
{
	struct vpnd_store_health *h = &stores[s];
	bool was = h->failing;

	if (err) {
		h->write_errors++;
		h->last_errno = err;
		snprintf(h->last_file, sizeof(h->last_file), "%s", file ? file : "");
	}
	h->failing = err != 0;
	return was != h->failing;
}

const struct vpnd_store_health *vpnd_store_health(enum vpnd_store s)
{
	return &stores[s];
}

const char *vpnd_errno_name(int err)
{
	static char unnamed[24];
	const char *name = err > 0 ? strerrorname_np(err) : NULL;

	if (name)
		return name;
	snprintf(unnamed, sizeof(unnamed), "errno %d", err);
	return unnamed;
}

static void json_store(struct vpnd_reply *r, enum vpnd_store s)
{
	const struct vpnd_store_health *h = &stores[s];

	vpnd_reply_printf(r, "\"%s\": {\"path\": ", store_names[s]);
	if (h->where[0])
		vpnd_reply_json_string(r, h->where);
	else
		vpnd_reply_printf(r, "null");
	vpnd_reply_printf(r, ", \"writing\": %s, \"write_errors\": %" PRIu64,
			  h->failing ? "false" : "true", h->write_errors);
	if (s == VPND_STORE_AUDIT) {
		struct vpnd_audit_stats st;

		vpnd_audit_get_stats(&st);
		vpnd_reply_printf(r, ", \"events_lost\": %" PRIu64, st.lost_total);
	}
	vpnd_reply_printf(r, ", \"last_error\": ");
	if (!h->last_errno) {
		vpnd_reply_printf(r, "null}");
		return;
	}
	vpnd_reply_printf(r, "{\"file\": ");
	vpnd_reply_json_string(r, h->last_file);
	vpnd_reply_printf(r, ", \"errno\": \"%s\", \"message\": ", vpnd_errno_name(h->last_errno));
	vpnd_reply_json_string(r, strerror(h->last_errno));
	vpnd_reply_printf(r, "}}");
}

void vpnd_store_json(struct vpnd_reply *r)
{
	vpnd_reply_printf(r, "\"storage\": {");
	for (int s = 0; s < VPND_STORE__COUNT; s++) {
		if (s)
			vpnd_reply_printf(r, ", ");
		json_store(r, s);
	}
	vpnd_reply_printf(r, "}");
}

void vpnd_store_text(struct vpnd_reply *r)
{
	for (int s = 0; s < VPND_STORE__COUNT; s++) {
		const struct vpnd_store_health *h = &stores[s];

		if (!h->failing)
			continue;
		vpnd_reply_printf(r, "  %s: cannot write %s: %s (%s), %" PRIu64 " failed write%s\n",
				  s == VPND_STORE_AUDIT ? "audit log" : "state directory",
				  h->last_file, strerror(h->last_errno),
				  vpnd_errno_name(h->last_errno), h->write_errors,
				  h->write_errors == 1 ? "" : "s");
	}
}

void vpnd_store_metrics(struct vpnd_reply *r, const char *interface)
{
	struct vpnd_audit_stats st;

	vpnd_reply_printf(r, "# HELP vpnd_storage_writing 1 while writes to the store work, 0 "
			     "while they fail (the tunnel keeps running).\n"
			     "# TYPE vpnd_storage_writing gauge\n");
	for (int s = 0; s < VPND_STORE__COUNT; s++) {
		vpnd_reply_printf(r, "vpnd_storage_writing{interface=\"");
		vpnd_metrics_label_value(r, interface ? interface : "");
		vpnd_reply_printf(r, "\",store=\"%s\"} %d\n", store_names[s], !stores[s].failing);
	}
	vpnd_reply_printf(r, "# HELP vpnd_storage_write_errors_total Writes to the store that "
			     "failed (disk full, read-only, I/O error).\n"
			     "# TYPE vpnd_storage_write_errors_total counter\n");
	for (int s = 0; s < VPND_STORE__COUNT; s++) {
		vpnd_reply_printf(r, "vpnd_storage_write_errors_total{interface=\"");
		vpnd_metrics_label_value(r, interface ? interface : "");
		vpnd_reply_printf(r, "\",store=\"%s\"} %" PRIu64 "\n", store_names[s],
				  stores[s].write_errors);
	}
	vpnd_audit_get_stats(&st);
	vpnd_reply_printf(r, "# HELP vpnd_audit_events_lost_total Audit events that could not "
			     "be written; the log records each loss once it can write again.\n"
			     "# TYPE vpnd_audit_events_lost_total counter\n"
			     "vpnd_audit_events_lost_total{interface=\"");
	vpnd_metrics_label_value(r, interface ? interface : "");
	vpnd_reply_printf(r, "\"} %" PRIu64 "\n", st.lost_total);
}
