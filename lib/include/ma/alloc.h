/*
 * alloc.h - the one place the library allocates memory.
 *
 * All library code allocates through these functions so that unit tests can
 * count live allocations (to find leaks) and make the Nth allocation fail (to
 * test every error path).  They behave like their libc namesakes.
 * Thread-safe: the counters are atomic.
 */
#ifndef MA_ALLOC_H
#define MA_ALLOC_H

#include <stddef.h>

void *ma_malloc(size_t size);
void *ma_calloc(size_t count, size_t size);
void *ma_realloc(void *ptr, size_t size);
char *ma_strdup(const char *s);
char *ma_strndup(const char *s, size_t n);
void ma_free(void *ptr);

/* Number of allocations not yet freed (ma_free of NULL does not count). */
long ma_alloc_live(void);

/*
 * Makes the nth allocation from now fail (1 = the next one), and every one
 * after it while sticky is non-zero.  0 turns failure injection off.
 * For tests only.
 */
void ma_alloc_fail_after(long nth, int sticky);

#endif /* MA_ALLOC_H */
