/*
 * progress.h - progress of a long ma-produce run: a bar with rate and ETA on
 * a terminal, otherwise a report every few seconds through a callback (the
 * program logs it).
 *
 * Threads: one thread updates a progress; it is not shared.
 */
#ifndef MA_PROGRESS_H
#define MA_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ma_progress_mode {
        MA_PROGRESS_AUTO = 0,   /* a bar if the stream is a terminal */
        MA_PROGRESS_ALWAYS = 1, /* a bar even if it is not */
        MA_PROGRESS_NEVER = 2,  /* neither bar nor periodic reports */
} ma_progress_mode_t;

/* Parses "auto", "always" or "never"; -1 for anything else. */
int ma_progress_mode_parse(const char *text);

/* Counters at one moment. */
typedef struct ma_progress_counts {
        uint64_t bytes_done;  /* input bytes consumed */
        uint64_t bytes_total; /* input size, 0 when unknown (a pipe) */
        uint64_t read;        /* records read */
        uint64_t published;   /* acknowledged */
        uint64_t rejected;
        uint64_t failed;
} ma_progress_counts_t;

/* Receives a periodic report when no bar is drawn; rate in records/s,
 * eta_s negative when unknown. */
typedef void ma_progress_report_cb(const ma_progress_counts_t *counts,
                                   double rate, double eta_s, void *opaque);

typedef struct ma_progress {
        bool bar;     /* draw a bar on stream */
        bool reports; /* call report every interval */
        FILE *stream;
        int64_t start_ms;    /* monotonic */
        int64_t last_ms;     /* last bar draw or report */
        int64_t interval_ms; /* between reports */
        ma_progress_report_cb *report;
        void *opaque;
        bool drawn; /* a bar line is on screen */
} ma_progress_t;

/* Sets progress up; stream is where the bar goes (stderr). */
void ma_progress_init(ma_progress_t *progress, ma_progress_mode_t mode,
                      FILE *stream, int64_t interval_ms,
                      ma_progress_report_cb *report, void *opaque);

/* Redraws the bar (at most 5 times a second) or reports when the interval
 * passed.  Cheap enough to call per record. */
void ma_progress_update(ma_progress_t *progress,
                        const ma_progress_counts_t *counts);

/* Erases the bar's line so that a message can be printed on stream; the
 * next update draws the bar again.  progress may be NULL. */
void ma_progress_clear(ma_progress_t *progress);

/* Draws the final state and ends the bar's line. */
void ma_progress_finish(ma_progress_t *progress,
                        const ma_progress_counts_t *counts);

#endif /* MA_PROGRESS_H */
