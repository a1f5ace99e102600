/*
 * mapping.h - the parts the CSV and XES process-log adapters share: a
 * streaming CSV record reader, the mapping file (docs/process-logs.md) and
 * the converter that turns one log record into one kundhändelse.
 *
 * Internal to ma_producer; the public entry points are ma_input_csv_open()
 * and ma_input_xes_open() in ma/input.h.  Threads: every object here is
 * used by one thread at a time.
 */
#ifndef MA_PRODUCER_MAPPING_H
#define MA_PRODUCER_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/catalog.h"
#include "ma/event.h"
#include "ma/input.h"
#include "ma/status.h"

/* ---- CSV records --------------------------------------------------------- */

/* A CSV record larger than this is rejected (catches an unclosed quote). */
#define MA_CSV_RECORD_MAX_BYTES (1024 * 1024)

typedef struct ma_csv_reader ma_csv_reader_t;

typedef enum ma_csv_result {
        MA_CSV_RECORD = 0, /* a record was read */
        MA_CSV_MALFORMED =
                1,       /* a record could not be parsed; reading goes on */
        MA_CSV_END = 2,  /* no more records */
        MA_CSV_FAIL = 3, /* the file could not be read */
} ma_csv_result_t;

/*
 * Opens path for reading RFC 4180 CSV with comma and double quote: quoted
 * fields may hold commas, quotes ("") and line breaks; records end in LF,
 * CRLF or CR; a UTF-8 byte order mark at the start is dropped; spaces are
 * kept.  Errors: MA_ERR_IO, MA_ERR_NOMEM.
 */
ma_status_t ma_csv_reader_open(const char *path, ma_csv_reader_t **reader_out,
                               ma_error_t *err);

/*
 * Reads the next record.  On MA_CSV_RECORD, *fields (count entries, each
 * NUL-terminated) stays valid until the next call; *line is the 1-based
 * line the record starts on.  On MA_CSV_MALFORMED, err says why (without
 * the location) and *line where; the reader resumes at the next line.
 */
ma_csv_result_t ma_csv_reader_next(ma_csv_reader_t *reader,
                                   char *const **fields, size_t *count,
                                   long *line, ma_error_t *err);

/* Bytes read so far and the file size (0 when unknown). */
void ma_csv_reader_progress(const ma_csv_reader_t *reader, uint64_t *done,
                            uint64_t *total);

void ma_csv_reader_close(ma_csv_reader_t *reader);

/* ---- log records --------------------------------------------------------- */

/*
 * Returns the value of an attribute of the record, NULL when the record
 * has none.  Keys follow the CSV export of XES logs: "case:<key>" is an
 * attribute of the case (an XES trace), any other key one of the event.
 */
typedef const char *(*ma_log_lookup_fn)(const void *source, const char *key);

/* One event of a process log, as the adapter read it. */
typedef struct ma_log_record {
        ma_log_lookup_fn lookup;
        const void *source;
} ma_log_record_t;

/* ---- mapping and conversion ---------------------------------------------- */

typedef struct ma_log_converter ma_log_converter_t;

/*
 * Loads options->mapping_path, checks it against the catalog at
 * options->catalog_path and opens the customer source.  Every error names
 * the file, the JSON path, the value and the fix.  Errors: MA_ERR_IO,
 * MA_ERR_PARSE, MA_ERR_INVALID, MA_ERR_NOT_FOUND, MA_ERR_NOMEM.
 */
ma_status_t ma_log_converter_open(const ma_process_log_options_t *options,
                                  const ma_input_defaults_t *defaults,
                                  ma_log_converter_t **converter_out,
                                  ma_error_t *err);

/*
 * Checks that every attribute the mapping refers to is one of the given
 * columns (a CSV header) and that no column name repeats.  source names
 * the log in messages.  Errors: MA_ERR_INVALID.
 */
ma_status_t ma_log_converter_check_columns(const ma_log_converter_t *converter,
                                           const char *source,
                                           char *const *columns, size_t count,
                                           ma_error_t *err);

/*
 * Converts one record.  Returns MA_INPUT_EVENT (event filled),
 * MA_INPUT_SKIP (*skip_reason names the activity or lifecycle transition;
 * one text is one pointer, valid until the converter is freed) or
 * MA_INPUT_REJECT (err names the field and value).
 * MA_INPUT_FAIL only when memory runs out.
 */
ma_input_outcome_t ma_log_converter_apply(ma_log_converter_t *converter,
                                          const ma_log_record_t *record,
                                          ma_event_t *event,
                                          const char **skip_reason,
                                          ma_error_t *err);

void ma_log_converter_free(ma_log_converter_t *converter);

#endif /* MA_PRODUCER_MAPPING_H */
