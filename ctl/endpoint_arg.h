/* An endpoint given on vpnctl's command line, HOST:PORT or [IPV6]:PORT: checked, and for
 * `peer add` resolved here, so that the daemon gets a numeric address and never waits on
 * DNS. */
#ifndef VPND_CTL_ENDPOINT_ARG_H
#define VPND_CTL_ENDPOINT_ARG_H

#include <arpa/inet.h>

/* "IPV4:PORT" or "[IPV6]:PORT" and its NUL. */
#define ENDPOINT_ARG_MAX (INET6_ADDRSTRLEN + 8)

/* Only the form of spec: 0, or -1 after printing why. */
int ctl_check_endpoint(const char *option, const char *spec);
/* 0 with the numeric form in out, or -1 after printing why (the option is named in the
 * message). */
int ctl_resolve_endpoint(const char *option, const char *spec, char out[ENDPOINT_ARG_MAX]);

#endif
