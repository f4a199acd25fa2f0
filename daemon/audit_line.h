/* One audit record as text: the exact bytes of a line of the format in
 * include/vpnd/audit.h, built without any I/O. */
#ifndef VPND_DAEMON_AUDIT_LINE_H
#define VPND_DAEMON_AUDIT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "audit_key.h"

struct vpnd_audit_line_spec {
	uint64_t seq;
	const uint8_t *prev;	/* VPND_AUDIT_HASH_LEN bytes: the chain head */
	const char *event;	/* [a-z0-9-] */
	const uint8_t *key_fpr; /* non-NULL for the audit-file record: its "key" field */
	const struct vpnd_audit_field *fields;
	size_t n_fields;
	const struct vpnd_audit_key *signer; /* non-NULL for checkpoints: signed with it */
};

/* Format the line (newline included) into buf, which holds VPND_AUDIT_LINE_MAX bytes;
 * returns its length. Fields that do not fit are replaced by "truncated":true, so a
 * record may lose details but never its link in the chain. */
size_t vpnd_audit_format(char *buf, const struct vpnd_audit_line_spec *spec);
/* Event names are [a-z0-9-], field names [a-z0-9_], 1..VPND_AUDIT_EVENT_MAX long. */
bool vpnd_audit_valid_name(const char *s, bool field);

#endif
