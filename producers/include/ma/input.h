/*
 * input.h - input adapters of the producer: each turns one kind of source
 * (JSON Lines, a CSV or XES process log with a mapping file) into a
 * stream of kundhändelser.
 *
 * An adapter is pulled one record at a time.  Every record read from the
 * source ends in exactly one of three outcomes, which is what lets the
 * producer's summary add up (read = published + rejected + skipped):
 *   MA_INPUT_EVENT    an event was produced (the caller validates and
 *                     publishes it; it may still be rejected there);
 *   MA_INPUT_REJECT   the record is invalid; err says why (field, value,
 *                     what would be valid) and loc says where;
 *   MA_INPUT_SKIP     the record is deliberately skipped, for example an
 *                     activity the mapping does not map (an internal step).
 * MA_INPUT_END ends the stream; MA_INPUT_FAIL means the source itself
 * failed (I/O error, unreadable mapping) and err says why.
 *
 * Threads: an adapter is used by one thread at a time.
 */
#ifndef MA_INPUT_H
#define MA_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "ma/event.h"
#include "ma/status.h"

typedef enum ma_input_outcome {
        MA_INPUT_EVENT = 0,
        MA_INPUT_REJECT = 1,
        MA_INPUT_SKIP = 2,
        MA_INPUT_END = 3,
        MA_INPUT_FAIL = 4,
} ma_input_outcome_t;

/* Where a record came from, for messages: file name and 1-based line. */
typedef struct ma_input_location {
        const char *file;
        long line;
} ma_input_location_t;

/* Defaults the producer's configuration supplies to events. */
typedef struct ma_input_defaults {
        const char *producent;                     /* display name */
        const char *producent_organisationsnummer; /* 10 digits */
        const char *sprak;                         /* "sv" */
        const char *version;                       /* "6.1" */
} ma_input_defaults_t;

typedef struct ma_input ma_input_t;

struct ma_input_ops {
        const char *name; /* "jsonl", "csv", "xes" */
        /*
         * Produces the next outcome.  On MA_INPUT_EVENT, event (initialised
         * by the caller) is filled and owned by the caller.  skip_reason, on
         * MA_INPUT_SKIP, points to a static or adapter-owned string.
         */
        ma_input_outcome_t (*next)(ma_input_t *input, ma_event_t *event,
                                   ma_input_location_t *loc,
                                   const char **skip_reason, ma_error_t *err);
        void (*close)(ma_input_t *input);
        /* Bytes consumed so far and total size (0 if unknown), for progress. */
        void (*progress)(const ma_input_t *input, uint64_t *done,
                         uint64_t *total);
};

struct ma_input {
        const struct ma_input_ops *ops;
};

static inline ma_input_outcome_t
ma_input_next(ma_input_t *input, ma_event_t *event, ma_input_location_t *loc,
              const char **skip_reason, ma_error_t *err)
{
        return input->ops->next(input, event, loc, skip_reason, err);
}

static inline void ma_input_close(ma_input_t *input)
{
        if (input != NULL)
                input->ops->close(input);
}

/* JSON Lines: one event per line in the shape described in docs/producers.md.
 */
ma_status_t ma_input_jsonl_open(const char *path,
                                const ma_input_defaults_t *defaults,
                                ma_input_t **input_out, ma_error_t *err);

/*
 * Parses one JSON event object (the JSON Lines shape) into event; used by
 * the JSON Lines adapter and the HTTP gateway.  err->field names the field.
 */
ma_status_t ma_input_json_event(const char *json_text, size_t len,
                                const ma_input_defaults_t *defaults,
                                ma_event_t *event, ma_error_t *err);

/*
 * Options of the process-log adapters.  mapping_path is the mapping file
 * (docs/process-logs.md); catalog_path is the event-type catalog the
 * mapping's event types are checked against when the adapter opens.
 * customers_path (optional) maps case ids to customers, otherwise valid
 * test identity numbers are generated deterministically from seed and the
 * case id.
 */
typedef struct ma_process_log_options {
        const char *mapping_path;
        const char *catalog_path;   /* schemas/catalog.json */
        const char *customers_path; /* NULL: generate */
        const char *seed;           /* for generated customers; NULL: "demo" */
        const char *language;       /* "sv" or "en": which mapping texts */
} ma_process_log_options_t;

/* A CSV process log (case:concept:name, concept:name, time:timestamp, ...). */
ma_status_t ma_input_csv_open(const char *path,
                              const ma_process_log_options_t *options,
                              const ma_input_defaults_t *defaults,
                              ma_input_t **input_out, ma_error_t *err);

/* An XES process log (IEEE 1849 XML). */
ma_status_t ma_input_xes_open(const char *path,
                              const ma_process_log_options_t *options,
                              const ma_input_defaults_t *defaults,
                              ma_input_t **input_out, ma_error_t *err);

/*
 * Replaces, in place, the digits of every run of digits, '-' and '+' that
 * contains ten or more digits with '*', because such a run may be an
 * identity number.  For values shown in messages and logs.
 */
void ma_input_mask_numbers(char *text);

#endif /* MA_INPUT_H */
