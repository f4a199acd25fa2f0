/* Parsing and checking single configuration values: numbers, names, prefixes, keys and key
 * files (endpoints: endpoint_list.c). Nothing here knows about libconfuse or line numbers. */
#include "daemon/config_values.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vpnd/limits.h"

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

/* Digits only: strtoul alone would take "-1", " 7" and "0x10". A value too big for
 * unsigned long saturates, so it reads as out of range rather than as not a number. */
bool config_parse_uint(const char *s, int base, unsigned long *out)
{
	const char *digits = base == 8 ? "01234567" : "0123456789";

	if (!*s || strspn(s, digits) != strlen(s))
		return false;
	errno = 0;
	*out = strtoul(s, NULL, base);
	if (errno == ERANGE)
		*out = ULONG_MAX;
	return true;
}

bool config_valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strspn(s, NAME_CHARS) == n;
}

bool config_valid_ifname(const char *s)
{
	return config_valid_name(s, VPND_IFNAME_MAX) && strcmp(s, ".") && strcmp(s, "..");
}

/* "address/length". Returns NULL, or why s is not a prefix. */
const char *config_parse_prefix(const char *s, int *family, uint8_t addr[16], uint8_t *cidr)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long len, max;

	if (!slash)
		return "has no prefix length (write ADDRESS/LENGTH)";
	if ((size_t)(slash - s) >= sizeof(host))
		return "is not a prefix: bad IP address";
	memcpy(host, s, slash - s);
	host[slash - s] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, host, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		*family = AF_INET6;
	else
		return "is not a prefix: bad IP address";
	max = *family == AF_INET ? 32 : 128;
	if (!config_parse_uint(slash + 1, 10, &len) || len > max)
		return *family == AF_INET ? "is not a prefix: the length must be 0..32 for IPv4"
					  : "is not a prefix: the length must be 0..128 for IPv6";
	*cidr = (uint8_t)len;
	return NULL;
}

static void mask_prefix(uint8_t addr[16], unsigned cidr)
{
	unsigned i;

	for (i = cidr / 8; i < 16; i++)
		addr[i] &= i == cidr / 8 ? (uint8_t)(0xff00 >> (cidr % 8)) : 0;
}

const char *config_format_prefix(char buf[CONFIG_PREFIX_TEXT_MAX], int family, const uint8_t *addr,
				 unsigned cidr)
{
	char host[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, host, sizeof(host));
	snprintf(buf, CONFIG_PREFIX_TEXT_MAX, "%s/%u", host, cidr);
	return buf;
}

const char *config_parse_network(const char *s, struct wg_allowed_ip *ip, char *buf, size_t len)
{
	char text[CONFIG_PREFIX_TEXT_MAX];
	struct wg_allowed_ip masked;
	const char *why = config_parse_prefix(s, &ip->family, ip->addr, &ip->cidr);

	if (why)
		return why;
	/* wg masks these silently; here they are most likely a typo worth hearing about. */
	masked = *ip;
	mask_prefix(masked.addr, masked.cidr);
	if (!memcmp(masked.addr, ip->addr, sizeof(ip->addr)))
		return NULL;
	snprintf(buf, len, "has host bits set (the prefix is %s)",
		 config_format_prefix(text, ip->family, masked.addr, ip->cidr));
	return buf;
}

bool config_parse_mode(const char *s, unsigned *mode)
{
	unsigned long n;

	if (!config_parse_uint(s, 8, &n) || n > 0777)
		return false;
	*mode = (unsigned)n;
	return true;
}

/* Mirrors vpnd_key_from_base64 to say which of its rules s breaks. */
const char *config_key_problem(const char *s, char *buf, size_t len)
{
	size_t n, i, pad = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (!n)
		return "is empty";
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=')
			pad++;
		else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return "is not base64";
	}
	if (n != VPND_KEY_B64_LEN)
		snprintf(buf, len, "has the wrong length: %zu characters, a key is %d (32 bytes)",
			 n, VPND_KEY_B64_LEN);
	else if (pad != 1)
		snprintf(buf, len, "has the wrong length: %zu bytes, a key is 32", 33 - pad);
	else
		return "is not valid base64";
	return buf;
}

char *config_resolve_path(const char *dir, const char *path)
{
	char *s;

	if (path[0] == '/' || !dir)
		return strdup(path);
	return asprintf(&s, "%s/%s", dir, path) < 0 ? NULL : s;
}

/* A message for config_read_key_file, NULL when out of memory. */
static char *say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *say(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc < 0 ? NULL : s;
}

/* Like ssh with its identity files, refuse a file that group or others could touch: the
 * key is the site's identity. */
int config_read_key_file(const char *path, uint8_t key[VPND_KEY_LEN], char **why)
{
	char buf[128], problem[96];
	size_t len = 0;
	struct stat st;
	int ret = -1;
	ssize_t n;
	int fd;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why = say("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*why = say("cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = say("'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		*why = say("'%s' has mode %04o: a key file must not be accessible by group or "
			   "others (chmod 600)",
			   path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = say("cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (len == sizeof(buf) - 1)
		*why = say("'%s' is too long to hold one key", path);
	else if (!vpnd_key_from_base64(key, buf))
		*why = say("the key in '%s' %s", path,
			   config_key_problem(buf, problem, sizeof(problem)));
	else
		ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return ret;
}
