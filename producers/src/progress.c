/*
 * progress.c - the progress bar and periodic reports of ma-produce.
 */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bar redraws at most this often, in milliseconds. */
#define MA_PROGRESS_REDRAW_MS 200
#define MA_PROGRESS_BAR_WIDTH 30

static int64_t ma_progress_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ma_progress_mode_parse(const char *text)
{
        if (strcmp(text, "auto") == 0)
                return MA_PROGRESS_AUTO;
        if (strcmp(text, "always") == 0)
                return MA_PROGRESS_ALWAYS;
        if (strcmp(text, "never") == 0)
                return MA_PROGRESS_NEVER;
        return -1;
}

void ma_progress_init(ma_progress_t *progress, ma_progress_mode_t mode,
                      FILE *stream, int64_t interval_ms,
                      ma_progress_report_cb *report, void *opaque)
{
        memset(progress, 0, sizeof(*progress));
        progress->stream = stream;
        progress->interval_ms = interval_ms;
        progress->report = report;
        progress->opaque = opaque;
        progress->start_ms = ma_progress_now_ms();
        progress->last_ms = progress->start_ms;
        if (mode == MA_PROGRESS_ALWAYS)
                progress->bar = true;
        else if (mode == MA_PROGRESS_AUTO)
                progress->bar = isatty(fileno(stream)) == 1;
        progress->reports =
                mode != MA_PROGRESS_NEVER && !progress->bar && report != NULL;
}

/* Records per second so far, and seconds left from the byte share done. */
static void ma_progress_rate(const ma_progress_t *progress,
                             const ma_progress_counts_t *counts, int64_t now_ms,
                             double *rate, double *eta_s)
{
        double elapsed_s = (double)(now_ms - progress->start_ms) / 1000.0;

        *rate = elapsed_s > 0 ? (double)counts->read / elapsed_s : 0;
        *eta_s = -1;
        if (counts->bytes_total > 0 && counts->bytes_done > 0 &&
            elapsed_s > 0) {
                double left = (double)(counts->bytes_total -
                                       (counts->bytes_done < counts->bytes_total
                                                ? counts->bytes_done
                                                : counts->bytes_total));
                *eta_s = left * elapsed_s / (double)counts->bytes_done;
        }
}

static void ma_progress_draw(ma_progress_t *progress,
                             const ma_progress_counts_t *counts, double rate,
                             double eta_s)
{
        char bar[MA_PROGRESS_BAR_WIDTH + 1];
        char eta[32] = "--:--";
        double share = 0;

        if (counts->bytes_total > 0)
                share = (double)counts->bytes_done /
                        (double)counts->bytes_total;
        if (share > 1)
                share = 1;
        int filled = (int)(share * MA_PROGRESS_BAR_WIDTH);
        for (int i = 0; i < MA_PROGRESS_BAR_WIDTH; i++)
                bar[i] = i < filled ? '#' : '.';
        bar[MA_PROGRESS_BAR_WIDTH] = '\0';
        if (eta_s >= 0) {
                long s = (long)(eta_s + 0.5);
                snprintf(eta, sizeof(eta), "%02ld:%02ld:%02ld", s / 3600,
                         s / 60 % 60, s % 60);
        }
        /* \r and erase-to-end redraw the same terminal line. */
        fprintf(progress->stream,
                "\r[%s] %3d%%  read %llu  published %llu  rejected %llu  "
                "%.0f/s  ETA %s\033[K",
                bar, (int)(share * 100), (unsigned long long)counts->read,
                (unsigned long long)counts->published,
                (unsigned long long)counts->rejected, rate, eta);
        fflush(progress->stream);
        progress->drawn = true;
}

void ma_progress_update(ma_progress_t *progress,
                        const ma_progress_counts_t *counts)
{
        double rate;
        double eta_s;
        int64_t now_ms;

        if (!progress->bar && !progress->reports)
                return;
        now_ms = ma_progress_now_ms();
        if (now_ms - progress->last_ms <
            (progress->bar ? MA_PROGRESS_REDRAW_MS : progress->interval_ms))
                return;
        progress->last_ms = now_ms;
        ma_progress_rate(progress, counts, now_ms, &rate, &eta_s);
        if (progress->bar)
                ma_progress_draw(progress, counts, rate, eta_s);
        else
                progress->report(counts, rate, eta_s, progress->opaque);
}

void ma_progress_clear(ma_progress_t *progress)
{
        if (progress == NULL || !progress->drawn)
                return;
        fputs("\r\033[K", progress->stream);
        progress->drawn = false;
}

void ma_progress_finish(ma_progress_t *progress,
                        const ma_progress_counts_t *counts)
{
        double rate;
        double eta_s;

        if (!progress->bar)
                return;
        ma_progress_rate(progress, counts, ma_progress_now_ms(), &rate, &eta_s);
        ma_progress_draw(progress, counts, rate, 0);
        fputc('\n', progress->stream);
        fflush(progress->stream);
        progress->drawn = false;
}
