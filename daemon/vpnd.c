/* vpnd: the site-to-site VPN daemon. `vpnd -c FILE` runs in the foreground; `-n` checks
 * the configuration and exits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "runtime.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: vpnd -c FILE [-n]\n"
		     "  -c FILE   configuration file\n"
		     "  -n        check the configuration and exit\n"
		     "  -V        print the version and exit\n");
}

static int check_only(const char *path)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_config *c = vpnd_config_load(path, &errs);

	if (!c) {
		for (unsigned i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		vpnd_config_errors_free(&errs);
		return 1;
	}
	/* The files the config names in the state directory are part of what it means. */
	struct vpnd_persistent ps;
	if (vpnd_persistent_load(&ps, c, &errs) < 0) {
		for (unsigned i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		vpnd_config_errors_free(&errs);
		vpnd_config_free(c);
		return 1;
	}
	vpnd_persistent_free(&ps);
	vpnd_config_free(c);
	printf("configuration OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	static struct vpnd_runtime rt; /* large: keep it off the stack */
	struct vpnd_config_errors errs = {0};
	struct vpnd_config *cfg;
	const char *path = NULL;
	bool check = false;
	int opt;

	while ((opt = getopt(argc, argv, "c:nVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'V':
			printf("vpnd %s\n", VPND_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "vpnd: libsodium failed to initialise\n");
		return 1;
	}
	/* Keys must never land in a core file. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (check)
		return check_only(path);

	vpnd_log_open("vpnd");
	cfg = vpnd_config_load(path, &errs);
	if (!cfg) {
		for (unsigned i = 0; i < errs.count; i++)
			log_err("%s", errs.lines[i]);
		log_err("not starting: %u problem%s in the configuration", errs.count,
			errs.count == 1 ? "" : "s");
		vpnd_config_errors_free(&errs);
		return 1;
	}
	if (vpnd_runtime_start(&rt, cfg) < 0) {
		vpnd_config_free(cfg);
		log_err("not starting: %s could not be brought up", path);
		return 1;
	}
	vpnd_notify_ready("%s: listening on UDP port %u, %u peer%s", rt.ifname, rt.udp.port,
			  rt.config->n_peers, rt.config->n_peers == 1 ? "" : "s");
	vpnd_runtime_run(&rt);
	vpnd_notify_stopping("%s: shutting down", rt.ifname);
	vpnd_runtime_stop(&rt);
	log_notice("stopped");
	return 0;
}
