/* Memory for structures that hold long-lived secrets (the static private key, preshared
 * keys, the cookie secret): libsodium's guarded allocation. The pages are locked in RAM
 * (never swapped; once vpnd has dropped root, only as far as RLIMIT_MEMLOCK allows),
 * left out of core dumps, fenced by inaccessible guard pages that turn an overrun into a
 * crash instead of a leak, and wiped when freed. Each allocation costs whole pages and
 * several system calls: for a few large objects, never per packet or per peer. */
#ifndef VPND_SECRET_MEMORY_H
#define VPND_SECRET_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

/* LeakSanitizer does not look into memory it did not allocate: pointers held only by a
 * guarded object (an engine's peers) would look leaked. The object is registered as a
 * place to look. */
#if defined(__SANITIZE_ADDRESS__)
#define VPND_SECRET_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define VPND_SECRET_LSAN 1
#endif
#endif
#ifdef VPND_SECRET_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Before the object: its rounded size (for LeakSanitizer's unregistering), and padding
 * that keeps the object as aligned as the allocation's end. */
#define VPND_SECRET_HEADER 64

/* Zeroed memory for size bytes, aligned for any type, or NULL. */
static inline void *vpnd_secret_calloc(size_t size)
{
	/* sodium_malloc puts the allocation's end against the guard page: sizes that are
	 * multiples of 64 make its start, and the object's, as aligned as the page. */
	size_t rounded = (size + 63) & ~(size_t)63;
	size_t total = rounded + VPND_SECRET_HEADER;
	uint8_t *base;

	if (rounded < size || total < rounded || sodium_init() < 0) /* once, cheap after */
		return NULL;
	base = sodium_malloc(total);
	if (!base)
		return NULL;
	memset(base, 0, total);
	memcpy(base, &rounded, sizeof(rounded));
#ifdef VPND_SECRET_LSAN
	__lsan_register_root_region(base + VPND_SECRET_HEADER, rounded);
#endif
	return base + VPND_SECRET_HEADER;
}

/* n objects of size bytes each, zeroed, or NULL (also when n * size overflows). */
static inline void *vpnd_secret_calloc_array(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return vpnd_secret_calloc(n * size);
}

/* Wipes and frees; NULL is fine. */
static inline void vpnd_secret_free(void *p)
{
	uint8_t *base = p ? (uint8_t *)p - VPND_SECRET_HEADER : NULL;

#ifdef VPND_SECRET_LSAN
	size_t rounded;

	if (base) {
		memcpy(&rounded, base, sizeof(rounded));
		__lsan_unregister_root_region(p, rounded);
	}
#endif
	sodium_free(base);
}

#endif
