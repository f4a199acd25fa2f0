/* HOST:PORT to a numeric endpoint, through the system's resolver (getaddrinfo). */
#include "endpoint_arg.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "subcommands.h"

/* The host (in host, NUL-terminated) and port of spec, and whether the host is an IPv6
 * literal; -1 after printing why. */
static int split(const char *option, const char *spec, char host[NI_MAXHOST], const char **port,
		 bool *v6)
{
	const char *end, *start = spec;
	unsigned long p;

	*v6 = spec[0] == '[';
	if (*v6) {
		start = spec + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':') {
			vpnctl_error("%s '%s' is not [IPV6-ADDRESS]:PORT", option, spec);
			return -1;
		}
		*port = end + 2;
	} else {
		end = strrchr(spec, ':');
		if (!end || memchr(spec, ':', (size_t)(end - spec))) {
			vpnctl_error("%s '%s' is not HOST:PORT (write an IPv6 address as "
				     "[ADDRESS]:PORT)",
				     option, spec);
			return -1;
		}
		*port = end + 1;
	}
	if (end == start || (size_t)(end - start) >= NI_MAXHOST) {
		vpnctl_error("%s '%s' has no usable host", option, spec);
		return -1;
	}
	if (!**port || strspn(*port, "0123456789") != strlen(*port) || strlen(*port) > 5 ||
	    (p = strtoul(*port, NULL, 10)) < 1 || p > 65535) {
		vpnctl_error("%s '%s': the port must be 1..65535", option, spec);
		return -1;
	}
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	return 0;
}

int ctl_check_endpoint(const char *option, const char *spec)
{
	char host[NI_MAXHOST];
	const char *port;
	bool v6;

	return split(option, spec, host, &port, &v6);
}

int ctl_resolve_endpoint(const char *option, const char *spec, char out[ENDPOINT_ARG_MAX])
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res;
	char host[NI_MAXHOST], ip[INET6_ADDRSTRLEN];
	const char *port;
	bool v6;
	int rc;

	if (split(option, spec, host, &port, &v6) < 0)
		return -1;
	if (v6) {
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		vpnctl_error("%s '%s': cannot resolve '%s': %s", option, spec, host,
			     gai_strerror(rc));
		return -1;
	}
	if (res->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)res->ai_addr;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(out, ENDPOINT_ARG_MAX, "%s:%s", ip, port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)res->ai_addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(out, ENDPOINT_ARG_MAX, "[%s]:%s", ip, port);
	}
	freeaddrinfo(res);
	return 0;
}
