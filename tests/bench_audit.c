/* Benchmark: write N audit events (default 1,000,000) with the daemon's writer, then
 * verify every file with vpnctl's verifier. Rotation is left at its default (64 MiB), so
 * the verification crosses files as it would in production. Prints events/s written and
 * the seconds the verification took; BENCHMARKS.md records the figures.
 *
 *   meson test -C build --benchmark bench_audit      (or run build/tests/bench_audit [N]) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl/audit_verify.h"
#include "daemon/audit.h"
#include "daemon/audit_events.h"

#define ROTATE_SIZE   (64ULL << 20)
#define FILE_NAME_MAX 340 /* path and ".N" */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	const char *tmp = getenv("TMPDIR");
	char dir[256], path[300], key[300], pub[310], cmd[300], **files;
	struct vpnd_audit_settings s = {.path = path, .key_file = key, .rotate_size = ROTATE_SIZE};
	struct audit_verify_result res;
	struct vpnd_audit_stats st;
	struct audit_key k;
	double t0, t_write, t_verify;
	unsigned long long bytes = 0;
	size_t n_files;
	struct stat sb;
	char why[128];
	int ret;

	if (sodium_init() < 0 || n == 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/vpnd-bench-audit-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/vpn0.audit", dir);
	snprintf(key, sizeof(key), "%s/vpn0.audit.key", dir);
	snprintf(pub, sizeof(pub), "%s.pub", key);
	if (vpnd_audit_open(&s, -1) < 0)
		return 1;

	/* The events a busy gateway writes most: handshakes and control commands. */
	t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		if (i % 4 == 3)
			vpnd_audit_control(0, 1, (char *[]){"show-json"}, true);
		else
			vpnd_audit_event("handshake-completed",
					 VPND_AUDIT_STR("peer", "branch-east"),
					 VPND_AUDIT_STR("role", i & 1 ? "initiator" : "responder"));
	}
	vpnd_audit_get_stats(&st);
	vpnd_audit_close();
	t_write = now() - t0;

	n_files = (size_t)st.rotations + 1;
	files = calloc(n_files, sizeof(*files));
	for (size_t i = 0; i < n_files; i++) {
		files[i] = malloc(FILE_NAME_MAX);
		if (i + 1 < n_files)
			snprintf(files[i], FILE_NAME_MAX, "%s.%zu", path, i + 1);
		else
			snprintf(files[i], FILE_NAME_MAX, "%s", path);
		if (stat(files[i], &sb) == 0)
			bytes += (unsigned long long)sb.st_size;
	}
	if (audit_key_read(pub, &k, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", pub, why);
		return 1;
	}
	t0 = now();
	ret = audit_verify((const char *const *)files, n_files, &k, 1, false, NULL, NULL, &res);
	t_verify = now() - t0;

	printf("audit log benchmark: %lu events, %zu files, %.1f MB\n", n, n_files, bytes / 1e6);
	printf("write:  %.2f s, %.0f events/s (one write(2) per line, BLAKE2b chain, "
	       "checkpoints signed at each rotation and at close)\n",
	       t_write, n / t_write);
	printf("verify: %.2f s, %.0f records/s, result %s (%llu records)\n", t_verify,
	       res.records / t_verify, ret == 0 ? "verified" : res.message,
	       (unsigned long long)res.records);

	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return ret == 0 && res.records == n + 2 * n_files ? 0 : 1;
}
