/*
 * alloc.c - counted allocation with failure injection for tests.
 *
 * The live counter tracks allocations made here and not yet freed, so a
 * test can assert that a code path returns all it took.  Pointers are
 * passed straight to libc: ma_free() of memory from plain malloc() would
 * skew the counter, which is why library code uses these functions only.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"

static atomic_long ma_alloc_live_count;
static atomic_long ma_alloc_fail_countdown; /* 0: injection off */
static atomic_int ma_alloc_fail_sticky;

/* Returns non-zero when this allocation is to fail by injection. */
static int ma_alloc_should_fail(void)
{
        long left = atomic_load(&ma_alloc_fail_countdown);

        if (left == 0)
                return 0;
        if (left == 1) {
                if (!atomic_load(&ma_alloc_fail_sticky))
                        atomic_store(&ma_alloc_fail_countdown, 0);
                return 1;
        }
        atomic_fetch_sub(&ma_alloc_fail_countdown, 1);
        return 0;
}

void *ma_malloc(size_t size)
{
        void *ptr;

        if (ma_alloc_should_fail())
                return NULL;
        ptr = malloc(size ? size : 1);
        if (ptr != NULL)
                atomic_fetch_add(&ma_alloc_live_count, 1);
        return ptr;
}

void *ma_calloc(size_t count, size_t size)
{
        void *ptr;

        if (ma_alloc_should_fail())
                return NULL;
        ptr = calloc(count ? count : 1, size ? size : 1);
        if (ptr != NULL)
                atomic_fetch_add(&ma_alloc_live_count, 1);
        return ptr;
}

void *ma_realloc(void *ptr, size_t size)
{
        void *grown;

        if (ma_alloc_should_fail())
                return NULL;
        grown = realloc(ptr, size ? size : 1);
        if (grown != NULL && ptr == NULL)
                atomic_fetch_add(&ma_alloc_live_count, 1);
        return grown;
}

char *ma_strndup(const char *s, size_t n)
{
        size_t len = strnlen(s, n);
        char *copy = ma_malloc(len + 1);

        if (copy == NULL)
                return NULL;
        memcpy(copy, s, len);
        copy[len] = '\0';
        return copy;
}

char *ma_strdup(const char *s)
{
        return ma_strndup(s, strlen(s));
}

void ma_free(void *ptr)
{
        if (ptr == NULL)
                return;
        atomic_fetch_sub(&ma_alloc_live_count, 1);
        free(ptr);
}

long ma_alloc_live(void)
{
        return atomic_load(&ma_alloc_live_count);
}

void ma_alloc_fail_after(long nth, int sticky)
{
        atomic_store(&ma_alloc_fail_sticky, sticky);
        atomic_store(&ma_alloc_fail_countdown, nth < 0 ? 0 : nth);
}
