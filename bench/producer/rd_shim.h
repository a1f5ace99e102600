/*
 * rd_shim.h - the few internal librdkafka definitions that
 * rdkafka_performance.c (shipped as an example in librdkafka-dev) takes
 * from librdkafka's source tree, which the -dev package does not install.
 * bench/producer/run.sh copies this file as rd.h and rdtime.h into the
 * build directory and compiles the example against it unchanged.
 */
#ifndef MA_BENCH_RD_SHIM_H
#define MA_BENCH_RD_SHIM_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Microseconds, as librdkafka's rd_ts_t. */
typedef int64_t rd_ts_t;

#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_snprintf  snprintf

/* Monotonic clock in microseconds, as librdkafka's rd_clock(). */
static inline rd_ts_t rd_clock(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* MA_BENCH_RD_SHIM_H */
