/* Whether vpnd's writes to disk work: the audit log and the files of the state
 * directory. A failing write never stops the data plane; it is logged by the writer and
 * counted here, and `vpnctl show`, `show --json` ("storage") and the metrics
 * (vpnd_storage_*) tell an operator which file fails and why. */
#ifndef VPND_DAEMON_STORAGE_HEALTH_H
#define VPND_DAEMON_STORAGE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "reply.h"

enum vpnd_store {
	VPND_STORE_AUDIT, /* the audit log and its rotated files */
	VPND_STORE_STATE, /* files in the state directory */
	VPND_STORE__COUNT,
};

#define VPND_STORE_PATH_MAX 512

struct vpnd_store_health {
	char where[VPND_STORE_PATH_MAX];     /* the audit log, or the state directory; "" = unset */
	bool failing;			     /* the latest write failed */
	uint64_t write_errors;		     /* failed writes since vpnd started */
	int last_errno;			     /* of the latest failure; 0 = none yet */
	char last_file[VPND_STORE_PATH_MAX]; /* the file the latest failure concerned */
};

/* Where the store lives, for the reports ("" or NULL: not configured). */
void vpnd_store_set_location(enum vpnd_store s, const char *where);
/* The outcome of a write (or open) of file: err 0 = it worked, else its errno. Returns
 * true when this changes whether the store is failing, so that the writer logs the
 * change once instead of once per write. */
bool vpnd_store_note(enum vpnd_store s, const char *file, int err);
const struct vpnd_store_health *vpnd_store_health(enum vpnd_store s);

/* "ENOSPC" for ENOSPC: the symbolic name, which is what one searches for; "errno N" for a
 * number without a name. */
const char *vpnd_errno_name(int err);

/* `"storage": {...}` as a member of show --json (no comma around it). */
void vpnd_store_json(struct vpnd_reply *r);
/* Lines for `vpnctl show`, only for a store that fails (nothing when all is well). */
void vpnd_store_text(struct vpnd_reply *r);
/* The vpnd_storage_* metric families; interface is the label value. */
void vpnd_store_metrics(struct vpnd_reply *r, const char *interface);

#endif
