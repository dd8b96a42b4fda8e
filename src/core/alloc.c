/* alloc.c: the one allocator, with a failure-injection hook so tests can
 * make the Nth allocation fail and check that every caller cleans up. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static atomic_long fail_at;   /* 0: off; else the allocation number to fail */
static atomic_long n_allocs;  /* allocations since the hook was last set */
static atomic_bool fired;     /* an injected failure has happened */

void itd_alloc_fail_at(long n)
{
	atomic_store(&n_allocs, 0);
	atomic_store(&fired, false);
	atomic_store(&fail_at, n);
}

long itd_alloc_count(void)
{
	return atomic_load(&n_allocs);
}

bool itd_alloc_failed(void)
{
	return atomic_load(&fired);
}

/* Count one allocation; true if this one must fail. */
static bool should_fail(void)
{
	long n = atomic_fetch_add(&n_allocs, 1) + 1;
	long at = atomic_load(&fail_at);
	if (at > 0 && n == at) {
		atomic_store(&fired, true);
		return true;
	}
	return false;
}

void *itd_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *itd_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *itd_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void itd_free(void *p)
{
	free(p);
}

char *itd_strndup(const char *s, size_t n)
{
	char *d = itd_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *itd_strdup(const char *s)
{
	return itd_strndup(s, strlen(s));
}
