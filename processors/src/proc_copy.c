/*
 * proc_copy.c - the rows of a set-based batch in PostgreSQL's COPY text
 * format, and their load: new events straight into kundhandelse and
 * kundhandelse_version, every other record into the session's staging
 * table ma_batch_in (schemas/sql/0004_apply_batch_staged.sql and 0005).
 *
 * Format: one line per record, columns separated by a tab, NULL as \N,
 * and backslash, tab, newline and carriage return escaped with a backslash
 * (the COPY text format of PostgreSQL 15).  The client encoding is UTF-8,
 * which the codec has checked every text against.  A publish also gets its
 * kundhandelse columns in COPY's binary format, which the new events are
 * copied with, so PostgreSQL parses no numbers, times, dates or array
 * literals.  In a test with psql, binary COPY of 190,000 events took 1.35 s
 * against 1.48 s as text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "processor.h"

/* A candidate that the register already holds. */
#define PROC_COPY_REGISTERED SIZE_MAX
/* bin_start of a row without a binary form. */
#define PROC_COPY_NO_BINARY SIZE_MAX

bool proc_buf_reserve(ma_buf_t *buf, size_t extra)
{
        size_t cap = buf->cap ? buf->cap : 256;
        unsigned char *grown;

        if (buf->len + extra <= buf->cap)
                return true;
        while (cap < buf->len + extra)
                cap *= 2;
        grown = ma_realloc(buf->data, cap);
        if (grown == NULL)
                return false;
        buf->data = grown;
        buf->cap = cap;
        return true;
}

/* Appends n bytes to buf; false when out of memory. */
static bool proc_copy_append(ma_buf_t *buf, const char *bytes, size_t n)
{
        if (!proc_buf_reserve(buf, n))
                return false;
        memcpy(buf->data + buf->len, bytes, n);
        buf->len += n;
        return true;
}

void proc_copy_reset(proc_copy_t *copy)
{
        copy->len = 0;
        copy->rows = 0;
        copy->failed = false;
        copy->keys.len = 0;
        copy->bin.len = 0;
        copy->events.len = 0;
        copy->versions.len = 0;
        copy->staged.len = 0;
        copy->new_rows = 0;
        copy->staged_rows = 0;
        copy->candidates = 0;
        copy->planned = false;
}

void proc_copy_free(proc_copy_t *copy)
{
        ma_free(copy->data);
        copy->data = NULL;
        copy->cap = 0;
        ma_free(copy->row);
        copy->row = NULL;
        copy->row_cap = 0;
        ma_free(copy->candidate);
        copy->candidate = NULL;
        ma_free(copy->slot);
        copy->slot = NULL;
        copy->slot_cap = 0;
        ma_buf_free(&copy->keys);
        ma_buf_free(&copy->bin);
        ma_buf_free(&copy->orgs);
        ma_buf_free(&copy->ids);
        ma_buf_free(&copy->events);
        ma_buf_free(&copy->versions);
        ma_buf_free(&copy->staged);
        proc_copy_reset(copy);
}

/* Makes room for extra more bytes; sets failed when out of memory. */
static bool proc_copy_reserve(proc_copy_t *copy, size_t extra)
{
        size_t cap;
        char *grown;

        if (copy->failed)
                return false;
        if (copy->len + extra <= copy->cap)
                return true;
        cap = copy->cap ? copy->cap : 65536;
        while (cap < copy->len + extra)
                cap *= 2;
        grown = ma_realloc(copy->data, cap);
        if (grown == NULL) {
                copy->failed = true;
                return false;
        }
        copy->data = grown;
        copy->cap = cap;
        return true;
}

/* Starts a column after the row's first one. */
static void proc_copy_column(proc_copy_t *copy)
{
        if (proc_copy_reserve(copy, 1))
                copy->data[copy->len++] = '\t';
}

static void proc_copy_text(proc_copy_t *copy, const char *text)
{
        size_t n;

        proc_copy_column(copy);
        if (text == NULL) {
                if (proc_copy_reserve(copy, 2)) {
                        copy->data[copy->len++] = '\\';
                        copy->data[copy->len++] = 'N';
                }
                return;
        }
        n = strlen(text);
        if (!proc_copy_reserve(copy, 2 * n))
                return;
        for (; *text != '\0'; text++) {
                char c = *text;

                switch (c) {
                case '\\':
                case '\t':
                case '\n':
                case '\r':
                        copy->data[copy->len++] = '\\';
                        c = c == '\t'   ? 't'
                            : c == '\n' ? 'n'
                            : c == '\r' ? 'r'
                                        : c;
                        break;
                default:
                        break;
                }
                copy->data[copy->len++] = c;
        }
}

/* Formats value in decimal at the end of text and returns where it
 * starts.  snprintf's format parsing was among the classifier's largest
 * costs in a perf profile of the benchmark. */
static const char *proc_copy_decimal(char text[24], int64_t value)
{
        uint64_t magnitude =
                value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
        char *at = text + 23;

        *at = '\0';
        do {
                *--at = (char)('0' + magnitude % 10);
                magnitude /= 10;
        } while (magnitude > 0);
        if (value < 0)
                *--at = '-';
        return at;
}

static void proc_copy_int(proc_copy_t *copy, int64_t value)
{
        char text[24];

        proc_copy_text(copy, proc_copy_decimal(text, value));
}

static void proc_copy_bool(proc_copy_t *copy, bool value)
{
        proc_copy_text(copy, value ? "t" : "f");
}

static void proc_copy_date(proc_copy_t *copy, int32_t date)
{
        char text[16];

        if (date == MA_DATE_NONE) {
                proc_copy_text(copy, NULL);
                return;
        }
        ma_date_format(date, text, sizeof(text));
        proc_copy_text(copy, text);
}

/* Appends the text[] literal of the event's taggar as one column. */
static void proc_copy_taggar(proc_copy_t *copy, const ma_event_t *event)
{
        ma_buf_t literal = {0};
        bool ok = true;
        size_t i;

        literal.data = ma_malloc(64);
        ok = literal.data != NULL;
        if (ok) {
                literal.cap = 64;
                literal.data[literal.len++] = '{';
        }
        for (i = 0; ok && i < event->taggar_count; i++) {
                if (i > 0)
                        literal.data[literal.len++] = ',';
                ok = proc_array_append(&literal, event->taggar[i]) == MA_OK;
        }
        /* Room for the closing brace and the NUL: an element leaves at
         * least two bytes spare. */
        if (ok) {
                literal.data[literal.len++] = '}';
                literal.data[literal.len] = '\0';
                proc_copy_text(copy, (const char *)literal.data);
        } else {
                copy->failed = true;
        }
        ma_buf_free(&literal);
}

/* ---- COPY binary format (PostgreSQL 15, "Binary Format" under COPY) ----
 * A file starts with a signature, a flags word and the length of a header
 * extension. Each tuple is a 16-bit field count, then per field a 32-bit
 * length (-1 for NULL) and the value in the type's send format. All
 * integers are big-endian, and a field count of -1 ends the file. */

static const char proc_copy_bin_header[19] =
        "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char proc_copy_bin_trailer[2] = "\377\377";

/* Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
#define PROC_COPY_PG_EPOCH_DAYS 10957
#define PROC_COPY_PG_EPOCH_MS   (PROC_COPY_PG_EPOCH_DAYS * 86400000LL)
/* The OID of type text, the element type of taggar. */
#define PROC_COPY_TEXT_OID 25

static void proc_copy_bin_put(proc_copy_t *copy, const void *bytes, size_t n)
{
        if (!copy->failed && !proc_copy_append(&copy->bin, bytes, n))
                copy->failed = true;
}

static void proc_copy_bin_u32(proc_copy_t *copy, uint32_t value)
{
        unsigned char b[4] = {
                (unsigned char)(value >> 24), (unsigned char)(value >> 16),
                (unsigned char)(value >> 8), (unsigned char)value};

        proc_copy_bin_put(copy, b, 4);
}

static void proc_copy_bin_u64(proc_copy_t *copy, uint64_t value)
{
        proc_copy_bin_u32(copy, (uint32_t)(value >> 32));
        proc_copy_bin_u32(copy, (uint32_t)value);
}

static void proc_copy_bin_null(proc_copy_t *copy)
{
        proc_copy_bin_u32(copy, UINT32_MAX);
}

static void proc_copy_bin_text(proc_copy_t *copy, const char *text)
{
        size_t n;

        if (text == NULL) {
                proc_copy_bin_null(copy);
                return;
        }
        n = strlen(text);
        proc_copy_bin_u32(copy, (uint32_t)n);
        proc_copy_bin_put(copy, text, n);
}

static void proc_copy_bin_int4(proc_copy_t *copy, int32_t value)
{
        proc_copy_bin_u32(copy, 4);
        proc_copy_bin_u32(copy, (uint32_t)value);
}

static void proc_copy_bin_int8(proc_copy_t *copy, int64_t value)
{
        proc_copy_bin_u32(copy, 8);
        proc_copy_bin_u64(copy, (uint64_t)value);
}

static void proc_copy_bin_bool(proc_copy_t *copy, bool value)
{
        unsigned char b = value ? 1 : 0;

        proc_copy_bin_u32(copy, 1);
        proc_copy_bin_put(copy, &b, 1);
}

/* A date: days since 2000-01-01. */
static void proc_copy_bin_date(proc_copy_t *copy, int32_t date)
{
        if (date == MA_DATE_NONE) {
                proc_copy_bin_null(copy);
                return;
        }
        proc_copy_bin_int4(copy, date - PROC_COPY_PG_EPOCH_DAYS);
}

/* jsonb: format version 1, then the JSON text. */
static void proc_copy_bin_jsonb(proc_copy_t *copy, const char *json)
{
        size_t n;

        if (json == NULL) {
                proc_copy_bin_null(copy);
                return;
        }
        n = strlen(json);
        proc_copy_bin_u32(copy, (uint32_t)(n + 1));
        proc_copy_bin_put(copy, "\1", 1);
        proc_copy_bin_put(copy, json, n);
}

/* text[]: dimensions, a has-NULL flag, the element type, per dimension
 * its length and lower bound, then the elements; none for '{}'. */
static void proc_copy_bin_taggar(proc_copy_t *copy, const ma_event_t *event)
{
        size_t i, n = event->taggar_count > 0 ? 20 : 12;

        for (i = 0; i < event->taggar_count; i++)
                n += 4 + strlen(event->taggar[i]);
        proc_copy_bin_u32(copy, (uint32_t)n);
        proc_copy_bin_u32(copy, event->taggar_count > 0 ? 1 : 0);
        proc_copy_bin_u32(copy, 0);
        proc_copy_bin_u32(copy, PROC_COPY_TEXT_OID);
        if (event->taggar_count == 0)
                return;
        proc_copy_bin_u32(copy, (uint32_t)event->taggar_count);
        proc_copy_bin_u32(copy, 1);
        for (i = 0; i < event->taggar_count; i++)
                proc_copy_bin_text(copy, event->taggar[i]);
}

/* True when the dates would be read the same from their text: a year
 * PostgreSQL's date input rejects (year 0) must fail as it does in the
 * text format. */
static bool proc_copy_bin_date_ok(int32_t date)
{
        int year, month, day;

        if (date == MA_DATE_NONE)
                return true;
        ma_civil_from_days(date, &year, &month, &day);
        return year >= 1 && year <= 9999;
}

/*
 * Appends the publish's kundhandelse columns, in the order of the COPY in
 * proc_copy_send(), as one binary tuple.  Returns false, and appends
 * nothing, for an event whose text form PostgreSQL would reject (an
 * instant or date out of range): such a row is staged, and fails there as
 * it would have.
 */
static bool proc_copy_bin_event(proc_copy_t *copy, proc_copy_row_t *row,
                                const rd_kafka_message_t *message,
                                const ma_event_t *event, const char *kund,
                                const char *tidpunkt)
{
        const ma_part_t *part = &event->part;

        if (tidpunkt[0] == '(' || !proc_copy_bin_date_ok(event->giltig_till) ||
            !proc_copy_bin_date_ok(event->atgard_senast))
                return false;
        row->bin_start = copy->bin.len;
        proc_copy_bin_put(copy, "\0\32", 2); /* 26 fields */
        proc_copy_bin_text(copy, event->producent_organisationsnummer);
        proc_copy_bin_text(copy, event->kundhandelse_id);
        proc_copy_bin_int8(copy, event->sekvens);
        row->bin_key_end = copy->bin.len;
        proc_copy_bin_text(copy, part->has_kund ? kund : NULL);
        proc_copy_bin_text(
                copy, part->has_kund ? ma_kund_typ_name(part->kund_typ) : NULL);
        proc_copy_bin_text(copy, part->has_arende
                                         ? ma_arende_typ_name(part->arende_typ)
                                         : NULL);
        proc_copy_bin_text(copy, part->has_arende ? part->arende_identifierare
                                                  : NULL);
        proc_copy_bin_text(copy, event->producent);
        proc_copy_bin_text(copy, event->rubrik);
        proc_copy_bin_text(copy, event->beskrivning);
        proc_copy_bin_text(copy, event->sprak ? event->sprak : "sv");
        proc_copy_bin_text(copy, event->kundhandelse_typ);
        proc_copy_bin_bool(copy, event->producentarendet_kraver_kundatgard);
        proc_copy_bin_bool(copy, event->producentarendet_klart);
        proc_copy_bin_text(copy, event->version ? event->version : "6.1");
        /* timestamptz: microseconds since 2000-01-01 00:00 UTC. */
        proc_copy_bin_int8(
                copy, (event->tidpunkt.utc_ms - PROC_COPY_PG_EPOCH_MS) * 1000);
        proc_copy_bin_int4(copy, event->tidpunkt.offset_min);
        proc_copy_bin_taggar(copy, event);
        proc_copy_bin_jsonb(copy, event->utokad_information);
        proc_copy_bin_jsonb(copy, event->referenser);
        proc_copy_bin_date(copy, event->giltig_till);
        proc_copy_bin_date(copy, event->atgard_senast);
        proc_copy_bin_text(copy, event->kundhandelsereferens);
        proc_copy_bin_text(copy, rd_kafka_topic_name(message->rkt));
        proc_copy_bin_int4(copy, message->partition);
        proc_copy_bin_int8(copy, message->offset);
        row->bin_end = copy->bin.len;
        return true;
}

ma_status_t proc_copy_record(proc_copy_t *copy, size_t ord,
                             const rd_kafka_message_t *message,
                             const ma_event_t *event, const char *kund,
                             ma_error_t *err)
{
        bool publish = event->kind == MA_EVENT_PUBLISH;
        char tidpunkt[40];
        proc_copy_row_t *row = NULL;
        int i;

        if (copy->rows == copy->row_cap && !copy->failed) {
                size_t cap = copy->row_cap ? copy->row_cap * 2 : 256;
                proc_copy_row_t *grown =
                        ma_realloc(copy->row, cap * sizeof(*grown));

                if (grown == NULL)
                        copy->failed = true;
                else {
                        copy->row = grown;
                        copy->row_cap = cap;
                }
        }
        if (!copy->failed) {
                const char *org = event->producent_organisationsnummer;

                row = &copy->row[copy->rows];
                row->ord = ord;
                row->start = copy->len;
                row->key = copy->keys.len;
                row->sekvens = event->sekvens;
                row->publish = publish;
                row->group = (long)copy->rows;
                row->best = (long)copy->rows;
                row->retraction_in_group = !publish;
                row->write = false;
                row->outcome = NULL;
                row->staged = true;
                row->skip = false;
                row->bin_start = PROC_COPY_NO_BINARY;
                if (!proc_copy_append(&copy->keys, org, strlen(org) + 1) ||
                    !proc_copy_append(&copy->keys, event->kundhandelse_id,
                                      strlen(event->kundhandelse_id) + 1))
                        copy->failed = true;
        }
        /* ord is the first column, so it has no leading tab. */
        if (proc_copy_reserve(copy, 24)) {
                char text[24];
                const char *digits = proc_copy_decimal(text, (int64_t)ord);
                size_t n = strlen(digits);

                memcpy(copy->data + copy->len, digits, n);
                copy->len += n;
        }
        proc_copy_text(copy, publish ? "p" : "r");
        proc_copy_text(copy, event->producent_organisationsnummer);
        proc_copy_text(copy, event->kundhandelse_id);
        proc_copy_int(copy, event->sekvens);
        if (!publish) {
                /* The 23 columns that only a publish fills. */
                for (i = 0; i < 23; i++)
                        proc_copy_text(copy, NULL);
                goto end;
        }
        proc_copy_text(copy, event->part.has_kund ? kund : NULL);
        proc_copy_text(copy, event->part.has_kund
                                     ? ma_kund_typ_name(event->part.kund_typ)
                                     : NULL);
        proc_copy_text(copy,
                       event->part.has_arende
                               ? ma_arende_typ_name(event->part.arende_typ)
                               : NULL);
        proc_copy_text(copy, event->part.has_arende
                                     ? event->part.arende_identifierare
                                     : NULL);
        proc_copy_text(copy, event->producent);
        proc_copy_text(copy, event->rubrik);
        proc_copy_text(copy, event->beskrivning);
        proc_copy_text(copy, event->sprak ? event->sprak : "sv");
        proc_copy_text(copy, event->kundhandelse_typ);
        proc_copy_bool(copy, event->producentarendet_kraver_kundatgard);
        proc_copy_bool(copy, event->producentarendet_klart);
        proc_copy_text(copy, event->version ? event->version : "6.1");
        ma_instant_format(&event->tidpunkt, tidpunkt, sizeof(tidpunkt));
        if (row != NULL &&
            !proc_copy_bin_event(copy, row, message, event, kund, tidpunkt))
                row->bin_start = PROC_COPY_NO_BINARY;
        proc_copy_text(copy, tidpunkt);
        proc_copy_int(copy, event->tidpunkt.offset_min);
        proc_copy_taggar(copy, event);
        proc_copy_text(copy, event->utokad_information);
        proc_copy_text(copy, event->referenser);
        proc_copy_date(copy, event->giltig_till);
        proc_copy_date(copy, event->atgard_senast);
        proc_copy_text(copy, event->kundhandelsereferens);
        proc_copy_text(copy, rd_kafka_topic_name(message->rkt));
        proc_copy_int(copy, message->partition);
        proc_copy_int(copy, message->offset);
end:
        if (proc_copy_reserve(copy, 1))
                copy->data[copy->len++] = '\n';
        if (row != NULL)
                row->end = copy->len;
        if (copy->failed)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not stage record: out of memory");
        copy->rows++;
        return MA_OK;
}

/* FNV-1a over a row's organisationsnummer and id. */
static uint64_t proc_copy_key_hash(const char *key)
{
        uint64_t hash = 1469598103934665603ULL;
        int part;

        for (part = 0; part < 2; part++) {
                for (; *key != '\0'; key++)
                        hash = (hash ^ (unsigned char)*key) * 1099511628211ULL;
                hash = (hash ^ 0xff) * 1099511628211ULL;
                key++;
        }
        return hash;
}

static bool proc_copy_key_equal(const char *a, const char *b)
{
        size_t org = strlen(a);

        return strcmp(a, b) == 0 && strcmp(a + org + 1, b + org + 1) == 0;
}

/*
 * Groups the rows that are not skipped by event.  Each row's group is the
 * first row of its event.  That first row also records the row with the
 * highest sekvens (the first of equals) and whether a retraction is among
 * them.
 */
static bool proc_copy_group(proc_copy_t *copy)
{
        size_t cap = 16, i, mask;

        while (cap < 2 * copy->rows)
                cap *= 2;
        if (cap > copy->slot_cap) {
                long *slot = ma_realloc(copy->slot, cap * sizeof(*slot));

                if (slot == NULL)
                        return false;
                copy->slot = slot;
                copy->slot_cap = cap;
        }
        mask = cap - 1;
        for (i = 0; i < cap; i++)
                copy->slot[i] = -1;
        for (i = 0; i < copy->rows; i++) {
                proc_copy_row_t *row = &copy->row[i];
                const char *key = (const char *)copy->keys.data + row->key;
                size_t at = (size_t)proc_copy_key_hash(key) & mask;

                row->group = (long)i;
                row->best = (long)i;
                row->retraction_in_group = !row->publish;
                if (row->skip)
                        continue;
                while (copy->slot[at] >= 0) {
                        proc_copy_row_t *first = &copy->row[copy->slot[at]];

                        if (proc_copy_key_equal((const char *)copy->keys.data +
                                                        first->key,
                                                key)) {
                                row->group = copy->slot[at];
                                if (!row->publish)
                                        first->retraction_in_group = true;
                                if (row->sekvens >
                                    copy->row[first->best].sekvens)
                                        first->best = (long)i;
                                break;
                        }
                        at = (at + 1) & mask;
                }
                if (copy->slot[at] < 0)
                        copy->slot[at] = (long)i;
        }
        return true;
}

/* Builds the array literals of the events that may be new: one entry per
 * event whose records in the batch are all publishes. */
static size_t proc_copy_candidates(proc_copy_t *copy, bool *ok)
{
        size_t i, count = 0;

        copy->orgs.len = 0;
        copy->ids.len = 0;
        for (i = 0; *ok && i < copy->rows; i++) {
                const proc_copy_row_t *row = &copy->row[i];
                const char *org = (const char *)copy->keys.data + row->key;

                /* The event's written row needs its binary form. */
                if (row->skip || row->group != (long)i ||
                    row->retraction_in_group ||
                    copy->row[row->best].bin_start == PROC_COPY_NO_BINARY)
                        continue;
                *ok = proc_list_add(&copy->orgs, org) == MA_OK &&
                      proc_list_add(&copy->ids, org + strlen(org) + 1) == MA_OK;
                copy->candidate[count++] = i;
        }
        *ok = *ok && proc_list_end(&copy->orgs) == MA_OK &&
              proc_list_end(&copy->ids) == MA_OK;
        return count;
}

/*
 * Gives the rows of a new event their outcomes in batch order.  A record
 * is effective when its sekvens is higher than every earlier one.  The
 * first effective record inserts the event and each later one replaces
 * it, so only the last, the group's best, is written.
 */
static void proc_copy_resolve_new(proc_copy_t *copy, size_t first)
{
        bool seen = false;
        int64_t top = 0;
        size_t i;

        for (i = first; i < copy->rows; i++) {
                proc_copy_row_t *row = &copy->row[i];

                if (row->skip || row->group != (long)first)
                        continue;
                row->staged = false;
                row->write = (long)i == copy->row[first].best;
                if (seen && row->sekvens <= top) {
                        row->outcome = "stale";
                        continue;
                }
                row->outcome = seen ? "replaced" : "inserted";
                seen = true;
                top = row->sekvens;
        }
}

/* The 1-based positions of the candidates that are registered.  A current
 * event always has its version row, so the register alone is enough.
 * LATERAL ... LIMIT 1 keeps this an index probe per candidate; as a
 * semi-join the planner may hash the whole register. */
const char proc_copy_probe_sql[] =
        "SELECT u.i FROM unnest($1::text[], $2::text[]) WITH "
        "ORDINALITY AS u(org, id, i) CROSS JOIN LATERAL (SELECT 1 "
        "FROM kundhandelse_version v WHERE "
        "v.producent_organisationsnummer = u.org AND "
        "v.kundhandelse_id = u.id LIMIT 1) v";

ma_status_t proc_copy_plan(proc_copy_t *copy, ma_error_t *err)
{
        size_t i;
        bool ok = !copy->failed;

        /* A retried attempt plans the same rows again. */
        copy->candidates = 0;
        copy->planned = false;
        if (ok) {
                size_t *candidate = ma_realloc(copy->candidate,
                                               (copy->rows ? copy->rows : 1) *
                                                       sizeof(*candidate));

                ok = candidate != NULL;
                if (ok)
                        copy->candidate = candidate;
        }
        ok = ok && proc_copy_group(copy);
        if (ok)
                copy->candidates = proc_copy_candidates(copy, &ok);
        if (!ok)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not stage records: out of memory");
        for (i = 0; i < copy->rows; i++)
                copy->row[i].planned_skip = copy->row[i].skip;
        copy->planned = true;
        return MA_OK;
}

void proc_copy_probe_params(const proc_copy_t *copy, const char *values[2])
{
        values[0] = (const char *)copy->orgs.data;
        values[1] = (const char *)copy->ids.data;
}

bool proc_copy_plan_holds(const proc_copy_t *copy)
{
        size_t i;

        if (!copy->planned)
                return false;
        for (i = 0; i < copy->rows; i++)
                if (copy->row[i].planned_skip != copy->row[i].skip)
                        return false;
        return true;
}

ma_status_t proc_copy_divide(proc_copy_t *copy, const PGresult *probe,
                             ma_error_t *err)
{
        size_t i, count = copy->candidates;
        bool ok = true;
        int r;

        copy->events.len = 0;
        copy->versions.len = 0;
        copy->staged.len = 0;
        copy->new_rows = 0;
        copy->staged_rows = 0;
        for (i = 0; i < copy->rows; i++) {
                copy->row[i].staged = true;
                copy->row[i].write = false;
                copy->row[i].outcome = NULL;
        }
        if (count > 0 && probe == NULL)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "the batch's events were not looked up");
        if (count > 0) {
                /* The registered candidates come back and stay staged;
                 * the others are new events. */
                for (r = 0; r < PQntuples(probe); r++) {
                        long at = strtol(PQgetvalue(probe, r, 0), NULL, 10);

                        if (at >= 1 && (size_t)at <= count)
                                copy->candidate[at - 1] = PROC_COPY_REGISTERED;
                }
                for (i = 0; i < count; i++)
                        if (copy->candidate[i] != PROC_COPY_REGISTERED)
                                proc_copy_resolve_new(copy, copy->candidate[i]);
        }

        ok = proc_copy_append(&copy->events, proc_copy_bin_header,
                              sizeof(proc_copy_bin_header)) &&
             proc_copy_append(&copy->versions, proc_copy_bin_header,
                              sizeof(proc_copy_bin_header));
        for (i = 0; ok && i < copy->rows; i++) {
                const proc_copy_row_t *row = &copy->row[i];
                const char *bin = (const char *)copy->bin.data;

                if (row->skip)
                        continue;
                if (row->staged) {
                        ok = proc_copy_append(&copy->staged,
                                              copy->data + row->start,
                                              row->end - row->start);
                        copy->staged_rows++;
                        continue;
                }
                if (!row->write)
                        continue;
                /* A version row is the event's first three fields (org,
                 * id, sekvens) and retracted = false. */
                ok = proc_copy_append(&copy->events, bin + row->bin_start,
                                      row->bin_end - row->bin_start) &&
                     proc_copy_append(&copy->versions, "\0\4", 2) &&
                     proc_copy_append(&copy->versions, bin + row->bin_start + 2,
                                      row->bin_key_end - row->bin_start - 2) &&
                     proc_copy_append(&copy->versions, "\0\0\0\1\0", 5);
                copy->new_rows++;
        }
        ok = ok &&
             proc_copy_append(&copy->events, proc_copy_bin_trailer,
                              sizeof(proc_copy_bin_trailer)) &&
             proc_copy_append(&copy->versions, proc_copy_bin_trailer,
                              sizeof(proc_copy_bin_trailer));
        if (!ok)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not stage records: out of memory");
        return MA_OK;
}

ma_status_t proc_copy_split(PGconn *pg, proc_copy_t *copy, ma_error_t *err)
{
        const char *values[2];
        PGresult *result = NULL;
        ma_status_t status;

        status = proc_copy_plan(copy, err);
        if (status != MA_OK)
                return status;
        if (copy->candidates > 0) {
                proc_copy_probe_params(copy, values);
                result = PQexecParams(pg, proc_copy_probe_sql, 2, NULL, values,
                                      NULL, NULL, 0);
                if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                        ma_pg_error(pg, result,
                                    "could not look up the batch's events",
                                    err);
                        PQclear(result);
                        return MA_ERR_PG;
                }
        }
        status = proc_copy_divide(copy, result, err);
        PQclear(result);
        return status;
}

/* Runs one COPY ... FROM STDIN with data in the open transaction. */
static ma_status_t proc_copy_put(PGconn *pg, const char *statement,
                                 const ma_buf_t *data, const char *what,
                                 ma_error_t *err)
{
        PGresult *result;
        ma_status_t status = MA_OK;

        result = PQexec(pg, statement);
        if (PQresultStatus(result) != PGRES_COPY_IN) {
                ma_pg_error(pg, result, what, err);
                PQclear(result);
                return MA_ERR_PG;
        }
        PQclear(result);
        if (PQputCopyData(pg, (const char *)data->data, (int)data->len) != 1 ||
            PQputCopyEnd(pg, NULL) != 1) {
                ma_pg_error(pg, NULL, what, err);
                status = MA_ERR_PG;
        }
        /* Every result of the COPY is read, so the connection is idle in
         * the transaction again whatever happened. */
        while ((result = PQgetResult(pg)) != NULL) {
                if (status == MA_OK &&
                    PQresultStatus(result) != PGRES_COMMAND_OK) {
                        ma_pg_error(pg, result, what, err);
                        status = MA_ERR_PG;
                }
                PQclear(result);
        }
        return status;
}

ma_status_t proc_copy_send(PGconn *pg, const proc_copy_t *copy, ma_error_t *err)
{
        PGresult *result;

        if (copy->new_rows > 0 &&
            (proc_copy_put(pg,
                           "COPY kundhandelse (producent_organisationsnummer, "
                           "kundhandelse_id, sekvens, kund_pseudonym, "
                           "kund_typ, arende_typ, arende_identifierare, "
                           "producent, rubrik, beskrivning, sprak, "
                           "kundhandelse_typ, "
                           "producentarendet_kraver_kundatgard, "
                           "producentarendet_klart, version, tidpunkt, "
                           "tidpunkt_offset_min, taggar, utokad_information, "
                           "referenser, giltig_till, atgard_senast, "
                           "kundhandelsereferens, kafka_topic, "
                           "kafka_partition, kafka_offset) FROM STDIN "
                           "WITH (FORMAT binary)",
                           &copy->events, "could not copy the new events",
                           err) != MA_OK ||
             proc_copy_put(pg,
                           "COPY kundhandelse_version "
                           "(producent_organisationsnummer, kundhandelse_id, "
                           "sekvens, retracted) FROM STDIN "
                           "WITH (FORMAT binary)",
                           &copy->versions, "could not register the new events",
                           err) != MA_OK))
                return MA_ERR_PG;
        if (copy->staged_rows == 0)
                return MA_OK;
        result = PQexec(pg, "SELECT ma_batch_prepare()");
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                ma_pg_error(pg, result, "could not prepare the staging tables",
                            err);
                PQclear(result);
                return MA_ERR_PG;
        }
        PQclear(result);
        return proc_copy_put(pg, "COPY ma_batch_in FROM STDIN", &copy->staged,
                             "could not stage the batch", err);
}
