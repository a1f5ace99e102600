/*
 * pace.c - sends ma-api's synchronous question at a fixed rate (open loop)
 * and prints the latency percentiles; the C counterpart of pace.py.
 *
 * Usage: pace PORT KEY BODYFILE RATE SECONDS CONNECTIONS [LATENCY_FILE]
 *
 * Each of CONNECTIONS threads keeps one keep-alive connection to
 * 127.0.0.1:PORT and sends at RATE/CONNECTIONS per second on a fixed
 * schedule, the threads' schedules staggered evenly.  Latency counts from
 * the scheduled send time to the last byte of the response, so a late
 * send adds to it (no coordinated omission).  It takes about 0.08 ms of
 * CPU per request, most of it the kernel's socket work, where pace.py
 * takes about 0.5 ms (time(1) over 3000 requests at 300/s, 2 CPUs).  On a
 * machine with few cores the client thus adds less of its own queueing to
 * the figures.
 *
 * Output is one line: sent, ok (status 200), ok/s, p50 ms, p99 ms, max ms.
 * LATENCY_FILE, when given, receives every latency in microseconds, one a
 * line, in the order of the schedule per thread.
 *
 * Build: cc -O2 -pthread -o pace pace.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct pace_worker {
        int index;
        long long *latencies_ns;
        size_t count;
        size_t ok;
        pthread_t thread;
} pace_worker_t;

static int pace_port;
static char *pace_request;
static size_t pace_request_len;
static double pace_rate, pace_seconds;
static int pace_connections;
static long long pace_start_ns;

static long long pace_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pace_sleep_until(long long due_ns)
{
        struct timespec ts = {.tv_sec = due_ns / 1000000000LL,
                              .tv_nsec = due_ns % 1000000000LL};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
               EINTR)
                ;
}

static int pace_connect(void)
{
        struct sockaddr_in addr = {0};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;

        if (fd < 0)
                return -1;
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)pace_port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static bool pace_send_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                data += n;
                len -= (size_t)n;
        }
        return true;
}

/*
 * Reads one response (headers and a Content-Length body) into buf.
 * Returns the status code, 0 on a broken connection or a response this
 * client cannot read; *keep_alive is false when the server closes.
 */
static int pace_read_response(int fd, char *buf, size_t size, bool *keep_alive)
{
        size_t have = 0, header_len = 0, body_len = 0;
        int status = 0;

        for (;;) {
                ssize_t n;

                if (header_len == 0) {
                        char *end;

                        buf[have] = '\0';
                        end = strstr(buf, "\r\n\r\n");
                        if (end != NULL) {
                                const char *cl;

                                header_len = (size_t)(end - buf) + 4;
                                if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                                        return 0;
                                cl = strcasestr(buf, "\r\nContent-Length:");
                                if (cl == NULL || cl > end)
                                        return 0;
                                body_len = strtoull(cl + 17, NULL, 10);
                                *keep_alive =
                                        strcasestr(buf,
                                                   "\r\nConnection: close") ==
                                                NULL ||
                                        strcasestr(buf,
                                                   "\r\nConnection: close") >
                                                end;
                                if (header_len + body_len >= size)
                                        return 0;
                        }
                }
                if (header_len != 0 && have >= header_len + body_len)
                        return have == header_len + body_len ? status : 0;
                n = recv(fd, buf + have, size - 1 - have, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return 0;
                have += (size_t)n;
        }
}

static void *pace_run(void *arg)
{
        pace_worker_t *worker = arg;
        double interval_ns = 1e9 * pace_connections / pace_rate;
        long long end_ns = pace_start_ns + (long long)(pace_seconds * 1e9);
        size_t size = 4 << 20;
        char *buf = malloc(size);
        int fd = -1;

        if (buf == NULL)
                return NULL; /* no requests: sent stays below the schedule */

        for (size_t i = 0;; i++) {
                long long due = pace_start_ns +
                                (long long)(worker->index * interval_ns /
                                                    pace_connections +
                                            (double)i * interval_ns);
                bool keep_alive = true;
                int status = 0;

                if (due >= end_ns)
                        break;
                if (pace_now_ns() < due)
                        pace_sleep_until(due);
                if (fd < 0)
                        fd = pace_connect();
                if (fd >= 0 &&
                    pace_send_all(fd, pace_request, pace_request_len))
                        status = pace_read_response(fd, buf, size, &keep_alive);
                worker->latencies_ns[worker->count++] = pace_now_ns() - due;
                if (status == 200)
                        worker->ok++;
                if (fd >= 0 && (status == 0 || !keep_alive)) {
                        close(fd);
                        fd = -1;
                }
        }
        if (fd >= 0)
                close(fd);
        free(buf);
        return NULL;
}

static int pace_compare(const void *a, const void *b)
{
        long long x = *(const long long *)a, y = *(const long long *)b;

        return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
        pace_worker_t *workers;
        long long *all;
        size_t total = 0, ok = 0, per_worker;
        char body[65536];
        size_t body_len;
        FILE *f;
        double elapsed;
        char *end_port, *end_rate, *end_seconds, *end_connections;

        if (argc < 7) {
                fprintf(stderr, "usage: pace PORT KEY BODYFILE RATE SECONDS "
                                "CONNECTIONS [LATENCY_FILE]\n");
                return 2;
        }
        pace_port = (int)strtol(argv[1], &end_port, 10);
        pace_rate = strtod(argv[4], &end_rate);
        pace_seconds = strtod(argv[5], &end_seconds);
        pace_connections = (int)strtol(argv[6], &end_connections, 10);
        if (*end_port != '\0' || *end_rate != '\0' || *end_seconds != '\0' ||
            *end_connections != '\0' || pace_port <= 0 || pace_port > 65535 ||
            pace_rate <= 0 || pace_seconds <= 0 || pace_connections <= 0) {
                fprintf(stderr, "pace: invalid PORT, RATE, SECONDS or "
                                "CONNECTIONS\n");
                return 2;
        }
        f = fopen(argv[3], "rb");
        if (f == NULL) {
                fprintf(stderr, "pace: could not open \"%s\"\n", argv[3]);
                return 2;
        }
        body_len = fread(body, 1, sizeof(body), f);
        fclose(f);
        pace_request_len = body_len + strlen(argv[2]) + 512;
        pace_request = malloc(pace_request_len);
        if (pace_request == NULL)
                return 1;
        pace_request_len = (size_t)snprintf(
                pace_request, pace_request_len,
                "POST /kundhandelseFragaSynkron HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\n"
                "Content-Type: application/json\r\n"
                "X-API-Key: %s\r\n"
                "skv_client_correlation_id: bench-pace-c\r\n"
                "Content-Length: %zu\r\n\r\n%.*s",
                pace_port, argv[2], body_len, (int)body_len, body);
        per_worker = (size_t)(pace_rate / pace_connections * pace_seconds) + 2;
        workers = calloc((size_t)pace_connections, sizeof(*workers));
        if (workers == NULL || pace_request == NULL) {
                fprintf(stderr, "pace: out of memory\n");
                return 1;
        }
        pace_start_ns = pace_now_ns() + 500000000LL;
        for (int i = 0; i < pace_connections; i++) {
                workers[i].index = i;
                workers[i].latencies_ns =
                        malloc(per_worker * sizeof(long long));
                if (workers[i].latencies_ns == NULL ||
                    pthread_create(&workers[i].thread, NULL, pace_run,
                                   &workers[i]) != 0) {
                        fprintf(stderr, "pace: could not start thread %d\n", i);
                        return 1;
                }
        }
        for (int i = 0; i < pace_connections; i++) {
                pthread_join(workers[i].thread, NULL);
                total += workers[i].count;
                ok += workers[i].ok;
        }
        elapsed = (pace_now_ns() - pace_start_ns) / 1e9;
        all = malloc((total ? total : 1) * sizeof(long long));
        f = argc > 7 ? fopen(argv[7], "w") : NULL;
        total = 0;
        for (int i = 0; i < pace_connections; i++) {
                for (size_t j = 0; j < workers[i].count; j++) {
                        if (f != NULL)
                                fprintf(f, "%lld\n",
                                        workers[i].latencies_ns[j] / 1000);
                        all[total++] = workers[i].latencies_ns[j];
                }
                free(workers[i].latencies_ns);
        }
        if (f != NULL)
                fclose(f);
        qsort(all, total, sizeof(long long), pace_compare);
#define PACE_PCT(p)                                                            \
        (total ? all[(size_t)((p)*total) < total ? (size_t)((p)*total)         \
                                                 : total - 1] /                \
                         1e6                                                   \
               : 0.0)
        printf("%zu %zu %.0f %.2f %.2f %.2f\n", total, ok, ok / elapsed,
               PACE_PCT(0.5), PACE_PCT(0.99),
               total ? all[total - 1] / 1e6 : 0.0);
        free(all);
        free(workers);
        free(pace_request);
        return 0;
}
