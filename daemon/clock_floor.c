/* The timestamp floor file: one decimal number of nanoseconds since the Unix epoch. */
#include "clock_floor.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_values.h"
#include "state.h"

int vpnd_clock_floor_parse(const char *path, const char *text, uint64_t *ns,
			   struct vpnd_config_errors *errs)
{
	const char *line;
	size_t pos = 0, len;
	unsigned lineno = 0;
	bool seen = false;

	*ns = 0;
	while (vpnd_state_next_line(text, &pos, &line, &len)) {
		const char *hash = memchr(line, '#', len);
		size_t n = hash ? (size_t)(hash - line) : len, start = 0;
		unsigned long v;
		char digits[32];

		lineno++;
		while (start < n && (line[start] == ' ' || line[start] == '\t'))
			start++;
		while (n > start && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (n == start)
			continue;
		if (seen) {
			vpnd_state_error(errs, "%s:%u: a second value: the file holds one time",
					 path, lineno);
			return -EINVAL;
		}
		if (n - start < sizeof(digits)) {
			memcpy(digits, line + start, n - start);
			digits[n - start] = '\0';
		} else {
			digits[0] = '\0'; /* longer than any time: refused below */
		}
		if (!config_parse_uint(digits, 10, &v) || v == ULONG_MAX) {
			vpnd_state_error(
			    errs, "%s:%u: not a time in nanoseconds since 1970 (digits only)", path,
			    lineno);
			return -EINVAL;
		}
		*ns = v;
		seen = true;
	}
	return 0;
}

int vpnd_clock_floor_load(const char *path, uint64_t *ns, struct vpnd_config_errors *errs)
{
	char *text;
	int ret = vpnd_state_read(path, &text);

	*ns = 0;
	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		vpnd_state_error(errs, "%s: cannot read the timestamp floor: %s", path,
				 ret == -EINVAL ? "not a text file" : strerror(-ret));
		return ret;
	}
	ret = vpnd_clock_floor_parse(path, text, ns, errs);
	free(text);
	return ret;
}

char *vpnd_clock_floor_text(uint64_t ns, size_t *len)
{
	char when[VPND_STATE_TIME_MAX], *text;
	int n = asprintf(
	    &text,
	    "# vpnd: no handshake timestamp sent so far is later than this time (ns since\n"
	    "# 1970, UTC); after a restart only later ones are sent, whatever the clock "
	    "says.\n%llu # %s\n",
	    (unsigned long long)ns, vpnd_state_iso_time(when, ns));

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return text;
}

int vpnd_clock_floor_save(const char *path, uint64_t ns)
{
	size_t len;
	char *text = vpnd_clock_floor_text(ns, &len);
	int ret;

	if (!text)
		return -ENOMEM;
	ret = vpnd_state_write(path, text, len);
	free(text);
	return ret;
}

uint64_t vpnd_clock_floor_next(uint64_t stored, uint64_t last_sent, uint64_t now)
{
	uint64_t later = last_sent > now ? last_sent : now;

	if (later < stored)
		return 0;
	return later > UINT64_MAX - VPND_CLOCK_RESERVE_NS ? UINT64_MAX
							  : later + VPND_CLOCK_RESERVE_NS;
}
