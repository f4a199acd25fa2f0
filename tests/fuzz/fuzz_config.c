/* Fuzz target: the config loader, from raw file bytes to a checked struct vpnd_config or
 * FILE:LINE problems. Host names in endpoints must not reach a real resolver, so name
 * lookups are answered here for numeric hosts and "localhost" only. */
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
			      struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	static getaddrinfo_fn real;
	struct addrinfo numeric = {0};

	if (!real)
		real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	if (hints)
		numeric = *hints;
	numeric.ai_flags |= AI_NUMERICHOST;
	if (node && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	return real(node, service, &numeric, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct vpnd_config_errors errs;
	struct vpnd_config *c;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/vpnd-fuzz-config.%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	c = vpnd_config_load(path, &errs);
	if (c)
		vpnd_config_free(c);
	else
		vpnd_config_errors_free(&errs);
	return 0;
}
