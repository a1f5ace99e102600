/*
 * input_csv.c - the CSV process-log adapter and the streaming CSV record
 * reader it shares with the customers file.
 *
 * The reader feeds libcsv one line at a time so that every record can be
 * given the line it starts on.  Records are queued in the order libcsv
 * completes them.  A malformed record is queued as an error in its place,
 * then the parser is reset and reading resumes at the next line, so one
 * bad record does not hide the rest of the file.
 */
#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ma/alloc.h"
#include "ma/input.h"
#include "mapping.h"

#define MA_CSV_CHUNK_BYTES 65536
#define MA_CSV_OPTIONS     (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* A completed record, or (fields == NULL) a malformed one with message. */
typedef struct ma_csv_row {
        struct ma_csv_row *next;
        char **fields;
        size_t count;
        long line;
        char *message;
} ma_csv_row_t;

struct ma_csv_reader {
        FILE *file;
        char *path;
        struct csv_parser parser;
        unsigned char chunk[MA_CSV_CHUNK_BYTES];
        size_t chunk_len;
        size_t chunk_pos;
        bool at_start;    /* nothing read yet: a BOM may follow */
        bool at_eof;      /* the file is exhausted and libcsv flushed */
        bool skip_to_eol; /* drop input up to the next line feed */
        long line;        /* line of the bytes being fed, 1-based */
        uint64_t bytes_done;
        uint64_t bytes_total;
        size_t record_bytes; /* fed since the last completed record */

        /* The record libcsv is building. */
        char **fields;
        size_t field_count;
        size_t field_capacity;
        long record_line;
        bool out_of_memory;

        ma_csv_row_t *queue_head;
        ma_csv_row_t *queue_tail;
        ma_csv_row_t *current; /* handed to the caller, freed on next call */
};

static int ma_csv_no_space(unsigned char c)
{
        (void)c;
        return 0;
}

/* Spaces around unquoted fields are data, so libcsv must not trim them. */
static void ma_csv_parser_init(struct csv_parser *parser)
{
        csv_init(parser, MA_CSV_OPTIONS);
        csv_set_space_func(parser, ma_csv_no_space);
        csv_set_realloc_func(parser, ma_realloc);
        csv_set_free_func(parser, ma_free);
}

/* ---- the record queue ---------------------------------------------------- */

static void ma_csv_fields_free(char **fields, size_t count)
{
        for (size_t i = 0; i < count; i++)
                ma_free(fields[i]);
        ma_free(fields);
}

static void ma_csv_row_free(ma_csv_row_t *row)
{
        if (row == NULL)
                return;
        ma_csv_fields_free(row->fields, row->count);
        ma_free(row->message);
        ma_free(row);
}

static void ma_csv_queue_push(ma_csv_reader_t *reader, ma_csv_row_t *row)
{
        if (reader->queue_tail != NULL)
                reader->queue_tail->next = row;
        else
                reader->queue_head = row;
        reader->queue_tail = row;
}

static void ma_csv_discard_record(ma_csv_reader_t *reader)
{
        ma_csv_fields_free(reader->fields, reader->field_count);
        reader->fields = NULL;
        reader->field_count = 0;
        reader->field_capacity = 0;
        reader->record_line = 0;
        reader->record_bytes = 0;
}

/* Queues a malformed-record error and restarts the parser. */
static void ma_csv_queue_malformed(ma_csv_reader_t *reader, const char *what)
{
        long line = reader->record_line ? reader->record_line : reader->line;
        ma_csv_row_t *row = ma_calloc(1, sizeof(*row));
        char text[256];
        snprintf(text, sizeof(text), "%s", what);
        if (row == NULL || (row->message = ma_strdup(text)) == NULL) {
                ma_free(row);
                reader->out_of_memory = true;
        } else {
                row->line = line;
                ma_csv_queue_push(reader, row);
        }
        ma_csv_discard_record(reader);
        csv_free(&reader->parser);
        ma_csv_parser_init(&reader->parser);
}

/* ---- libcsv callbacks ---------------------------------------------------- */

static void ma_csv_on_field(void *data, size_t len, void *user)
{
        ma_csv_reader_t *reader = user;
        if (reader->out_of_memory)
                return;
        const char *text = data != NULL ? data : "";
        if (reader->field_count == 0) {
                /* The first field ends on this line; count its own breaks. */
                long breaks = 0;
                for (size_t i = 0; i < len; i++)
                        breaks += text[i] == '\n';
                reader->record_line = reader->line - breaks;
        }
        if (reader->field_count == reader->field_capacity) {
                size_t capacity = reader->field_capacity
                                          ? reader->field_capacity * 2
                                          : 16;
                char **grown =
                        ma_realloc(reader->fields, capacity * sizeof(*grown));
                if (grown == NULL) {
                        reader->out_of_memory = true;
                        return;
                }
                reader->fields = grown;
                reader->field_capacity = capacity;
        }
        char *copy = ma_strndup(text, len);
        if (copy == NULL) {
                reader->out_of_memory = true;
                return;
        }
        reader->fields[reader->field_count++] = copy;
}

static void ma_csv_on_record(int terminator, void *user)
{
        (void)terminator;
        ma_csv_reader_t *reader = user;
        if (reader->out_of_memory)
                return;
        ma_csv_row_t *row = ma_calloc(1, sizeof(*row));
        if (row == NULL) {
                reader->out_of_memory = true;
                return;
        }
        row->fields = reader->fields;
        row->count = reader->field_count;
        row->line = reader->record_line ? reader->record_line : reader->line;
        reader->fields = NULL;
        reader->field_count = 0;
        reader->field_capacity = 0;
        reader->record_line = 0;
        reader->record_bytes = 0;
        ma_csv_queue_push(reader, row);
}

/* ---- feeding ------------------------------------------------------------- */

/* Reads the next chunk; false at end of file or on a read error. */
static bool ma_csv_fill(ma_csv_reader_t *reader, ma_error_t *err, bool *failed)
{
        reader->chunk_len =
                fread(reader->chunk, 1, sizeof(reader->chunk), reader->file);
        reader->chunk_pos = 0;
        if (reader->chunk_len == 0) {
                if (ferror(reader->file)) {
                        *failed = true;
                        ma_error_set(err, MA_ERR_IO, NULL,
                                     "could not read \"%s\": %s", reader->path,
                                     strerror(errno));
                }
                return false;
        }
        if (reader->at_start) {
                reader->at_start = false;
                if (reader->chunk_len >= 3 &&
                    memcmp(reader->chunk, "\xEF\xBB\xBF", 3) == 0) {
                        reader->chunk_pos = 3;
                        reader->bytes_done += 3;
                }
        }
        return true;
}

/* Feeds the bytes up to and including the next line feed to libcsv. */
static void ma_csv_feed_segment(ma_csv_reader_t *reader)
{
        const unsigned char *start = reader->chunk + reader->chunk_pos;
        size_t avail = reader->chunk_len - reader->chunk_pos;
        const unsigned char *newline = memchr(start, '\n', avail);
        size_t len = newline != NULL ? (size_t)(newline - start) + 1 : avail;
        reader->chunk_pos += len;
        reader->bytes_done += len;

        if (reader->skip_to_eol) {
                reader->skip_to_eol = newline == NULL;
        } else {
                /* Counted first: completing a record resets the count. */
                reader->record_bytes += len;
                size_t used =
                        csv_parse(&reader->parser, start, len, ma_csv_on_field,
                                  ma_csv_on_record, reader);
                if (used < len) {
                        char what[160];
                        snprintf(what, sizeof(what),
                                 "malformed CSV: %s; a field that contains a "
                                 "quote must be quoted and its quotes "
                                 "doubled",
                                 csv_strerror(csv_error(&reader->parser)));
                        ma_csv_queue_malformed(reader, what);
                        reader->skip_to_eol = newline == NULL;
                } else if (reader->record_bytes > MA_CSV_RECORD_MAX_BYTES) {
                        ma_csv_queue_malformed(
                                reader,
                                "CSV record is longer than 1 MiB; check for "
                                "a quoted field that is never closed");
                        reader->skip_to_eol = newline == NULL;
                }
        }
        if (newline != NULL)
                reader->line++;
}

/* Flushes libcsv at end of file: the last record may lack a line break. */
static void ma_csv_finish(ma_csv_reader_t *reader)
{
        reader->at_eof = true;
        if (reader->skip_to_eol)
                return;
        if (csv_fini(&reader->parser, ma_csv_on_field, ma_csv_on_record,
                     reader) != 0)
                ma_csv_queue_malformed(reader,
                                       "malformed CSV: the file ends inside "
                                       "a quoted field; close the quote");
}

/* ---- reader API ---------------------------------------------------------- */

ma_status_t ma_csv_reader_open(const char *path, ma_csv_reader_t **reader_out,
                               ma_error_t *err)
{
        *reader_out = NULL;
        ma_csv_reader_t *reader = ma_calloc(1, sizeof(*reader));
        if (reader == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for a CSV reader");
        reader->path = ma_strdup(path);
        if (reader->path == NULL) {
                ma_free(reader);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for a CSV reader");
        }
        reader->file = fopen(path, "rb");
        if (reader->file == NULL) {
                ma_status_t st = ma_error_set(
                        err, errno == ENOENT ? MA_ERR_NOT_FOUND : MA_ERR_IO,
                        NULL, "could not open \"%s\": %s", path,
                        strerror(errno));
                ma_free(reader->path);
                ma_free(reader);
                return st;
        }
        struct stat info;
        if (fstat(fileno(reader->file), &info) == 0 && S_ISREG(info.st_mode))
                reader->bytes_total = (uint64_t)info.st_size;
        ma_csv_parser_init(&reader->parser);
        reader->at_start = true;
        reader->line = 1;
        *reader_out = reader;
        return MA_OK;
}

ma_csv_result_t ma_csv_reader_next(ma_csv_reader_t *reader,
                                   char *const **fields, size_t *count,
                                   long *line, ma_error_t *err)
{
        ma_csv_row_free(reader->current);
        reader->current = NULL;
        while (reader->queue_head == NULL && !reader->out_of_memory) {
                if (reader->at_eof)
                        return MA_CSV_END;
                if (reader->chunk_pos == reader->chunk_len) {
                        bool failed = false;
                        if (!ma_csv_fill(reader, err, &failed)) {
                                if (failed)
                                        return MA_CSV_FAIL;
                                ma_csv_finish(reader);
                                continue;
                        }
                }
                ma_csv_feed_segment(reader);
        }
        if (reader->out_of_memory) {
                ma_error_set(err, MA_ERR_NOMEM, NULL,
                             "out of memory reading \"%s\"", reader->path);
                return MA_CSV_FAIL;
        }
        ma_csv_row_t *row = reader->queue_head;
        reader->queue_head = row->next;
        if (reader->queue_head == NULL)
                reader->queue_tail = NULL;
        reader->current = row;
        *line = row->line;
        if (row->fields == NULL && row->message != NULL) {
                ma_error_set(err, MA_ERR_PARSE, NULL, "%s", row->message);
                return MA_CSV_MALFORMED;
        }
        *fields = row->fields;
        *count = row->count;
        return MA_CSV_RECORD;
}

void ma_csv_reader_progress(const ma_csv_reader_t *reader, uint64_t *done,
                            uint64_t *total)
{
        *done = reader->bytes_done;
        *total = reader->bytes_total;
}

void ma_csv_reader_close(ma_csv_reader_t *reader)
{
        if (reader == NULL)
                return;
        csv_free(&reader->parser);
        ma_csv_discard_record(reader);
        ma_csv_row_free(reader->current);
        while (reader->queue_head != NULL) {
                ma_csv_row_t *next = reader->queue_head->next;
                ma_csv_row_free(reader->queue_head);
                reader->queue_head = next;
        }
        if (reader->file != NULL)
                fclose(reader->file);
        ma_free(reader->path);
        ma_free(reader);
}

/* ---- the CSV process-log adapter ----------------------------------------- */

typedef struct ma_csv_input {
        ma_input_t base;
        char *path;
        ma_csv_reader_t *reader;
        ma_log_converter_t *converter;
        char **header;
        size_t header_count;
        char *const *row; /* the record being converted */
} ma_csv_input_t;

static const char *ma_csv_lookup(const void *source, const char *key)
{
        const ma_csv_input_t *input = source;
        for (size_t i = 0; i < input->header_count; i++)
                if (strcmp(input->header[i], key) == 0)
                        return input->row[i];
        return NULL;
}

static ma_input_outcome_t ma_csv_next(ma_input_t *base, ma_event_t *event,
                                      ma_input_location_t *loc,
                                      const char **skip_reason, ma_error_t *err)
{
        ma_csv_input_t *input = (ma_csv_input_t *)base;
        char *const *fields = NULL;
        size_t count = 0;
        long line = 0;
        ma_csv_result_t result =
                ma_csv_reader_next(input->reader, &fields, &count, &line, err);
        loc->file = input->path;
        loc->line = line;
        switch (result) {
        case MA_CSV_END:
                return MA_INPUT_END;
        case MA_CSV_FAIL:
                return MA_INPUT_FAIL;
        case MA_CSV_MALFORMED:
                return MA_INPUT_REJECT;
        case MA_CSV_RECORD:
                break;
        }
        if (count != input->header_count) {
                ma_error_set(err, MA_ERR_PARSE, NULL,
                             "row has %zu fields but the header has %zu; "
                             "quote fields that contain commas or line "
                             "breaks",
                             count, input->header_count);
                return MA_INPUT_REJECT;
        }
        input->row = fields;
        ma_log_record_t record = {.lookup = ma_csv_lookup, .source = input};
        ma_input_outcome_t outcome = ma_log_converter_apply(
                input->converter, &record, event, skip_reason, err);
        input->row = NULL;
        return outcome;
}

static void ma_csv_progress(const ma_input_t *base, uint64_t *done,
                            uint64_t *total)
{
        const ma_csv_input_t *input = (const ma_csv_input_t *)base;
        ma_csv_reader_progress(input->reader, done, total);
}

static void ma_csv_close(ma_input_t *base)
{
        ma_csv_input_t *input = (ma_csv_input_t *)base;
        ma_csv_reader_close(input->reader);
        ma_log_converter_free(input->converter);
        ma_csv_fields_free(input->header, input->header_count);
        ma_free(input->path);
        ma_free(input);
}

static const struct ma_input_ops ma_csv_ops = {
        .name = "csv",
        .next = ma_csv_next,
        .close = ma_csv_close,
        .progress = ma_csv_progress,
};

/* Reads the header record and checks the mapping's columns against it. */
static ma_status_t ma_csv_read_header(ma_csv_input_t *input, ma_error_t *err)
{
        char *const *fields;
        size_t count;
        long line;
        ma_error_t detail;
        switch (ma_csv_reader_next(input->reader, &fields, &count, &line,
                                   &detail)) {
        case MA_CSV_END:
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "%s is empty; a CSV process log starts "
                                    "with a header row naming its columns",
                                    input->path);
        case MA_CSV_FAIL:
                return ma_error_set(err, detail.status, NULL, "%s",
                                    detail.message);
        case MA_CSV_MALFORMED:
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "%s:%ld: invalid header: %s", input->path,
                                    line, detail.message);
        case MA_CSV_RECORD:
                break;
        }
        input->header = ma_calloc(count, sizeof(char *));
        if (input->header == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for the CSV header");
        for (size_t i = 0; i < count; i++) {
                input->header[i] = ma_strdup(fields[i]);
                if (input->header[i] == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory for the CSV "
                                            "header");
                input->header_count++;
        }
        return ma_log_converter_check_columns(input->converter, input->path,
                                              input->header,
                                              input->header_count, err);
}

ma_status_t ma_input_csv_open(const char *path,
                              const ma_process_log_options_t *options,
                              const ma_input_defaults_t *defaults,
                              ma_input_t **input_out, ma_error_t *err)
{
        *input_out = NULL;
        ma_csv_input_t *input = ma_calloc(1, sizeof(*input));
        if (input == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for the CSV adapter");
        input->base.ops = &ma_csv_ops;
        ma_status_t st = MA_OK;
        input->path = ma_strdup(path);
        if (input->path == NULL)
                st = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                  "out of memory for the CSV adapter");
        if (st == MA_OK)
                st = ma_log_converter_open(options, defaults, &input->converter,
                                           err);
        if (st == MA_OK)
                st = ma_csv_reader_open(path, &input->reader, err);
        if (st == MA_OK)
                st = ma_csv_read_header(input, err);
        if (st != MA_OK) {
                ma_csv_close(&input->base);
                return st;
        }
        *input_out = &input->base;
        return MA_OK;
}
