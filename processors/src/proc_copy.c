/*
 * proc_copy.c - the rows of a set-based batch in PostgreSQL's COPY text
 * format, and their load: new events straight into kundhandelse and
 * kundhandelse_version, every other record into the session's staging
 * table ma_batch_in (schemas/sql/0004_apply_batch_staged.sql and 0005).
 *
 * Format: one line per record, columns separated by a tab, NULL as \N,
 * and backslash, tab, newline and carriage return escaped with a backslash
 * (the COPY text format of PostgreSQL 15).  The client encoding is UTF-8,
 * which the codec has checked every text against.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "processor.h"

void proc_copy_reset(proc_copy_t *copy)
{
        copy->len = 0;
        copy->rows = 0;
        copy->failed = false;
        copy->orgs.len = 0;
        copy->ids.len = 0;
        copy->events.len = 0;
        copy->versions.len = 0;
        copy->staged.len = 0;
        copy->new_rows = 0;
        copy->staged_rows = 0;
}

void proc_copy_free(proc_copy_t *copy)
{
        ma_free(copy->data);
        copy->data = NULL;
        copy->cap = 0;
        ma_free(copy->row);
        copy->row = NULL;
        copy->row_cap = 0;
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

static void proc_copy_int(proc_copy_t *copy, int64_t value)
{
        char text[24];

        snprintf(text, sizeof(text), "%" PRId64, value);
        proc_copy_text(copy, text);
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
                row = &copy->row[copy->rows];
                row->ord = ord;
                row->start = copy->len;
                row->publish = publish;
                row->staged = true;
                row->skip = false;
                if (proc_list_add(&copy->orgs,
                                  event->producent_organisationsnummer) !=
                            MA_OK ||
                    proc_list_add(&copy->ids, event->kundhandelse_id) != MA_OK)
                        copy->failed = true;
        }
        /* ord is the first column, so it has no leading tab. */
        if (proc_copy_reserve(copy, 24))
                copy->len += (size_t)snprintf(copy->data + copy->len, 24, "%zu",
                                              ord);
        proc_copy_text(copy, publish ? "p" : "r");
        if (row != NULL)
                row->event = copy->len + 1;
        proc_copy_text(copy, event->producent_organisationsnummer);
        proc_copy_text(copy, event->kundhandelse_id);
        proc_copy_int(copy, event->sekvens);
        if (row != NULL)
                row->key_end = copy->len;
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

/* Appends n bytes to buf; false when out of memory. */
static bool proc_copy_append(ma_buf_t *buf, const char *bytes, size_t n)
{
        if (buf->len + n > buf->cap) {
                size_t cap = buf->cap ? buf->cap : 65536;
                unsigned char *grown;

                while (cap < buf->len + n)
                        cap *= 2;
                grown = ma_realloc(buf->data, cap);
                if (grown == NULL)
                        return false;
                buf->data = grown;
                buf->cap = cap;
        }
        memcpy(buf->data + buf->len, bytes, n);
        buf->len += n;
        return true;
}

ma_status_t proc_copy_split(PGconn *pg, proc_copy_t *copy, ma_error_t *err)
{
        /* The 1-based positions of the rows whose event is registered or
         * appears more than once in the batch.  A current event always has
         * its version row, so the register alone answers.  LIMIT 1 keeps
         * the lookup an index probe per row: as EXISTS under OR, the
         * planner hashed the whole register for every batch. */
        static const char sql[] =
                "SELECT s.i FROM (SELECT u.org, u.id, u.i, count(*) OVER "
                "(PARTITION BY u.org, u.id) AS n FROM unnest($1::text[], "
                "$2::text[]) WITH ORDINALITY AS u(org, id, i)) s "
                "LEFT JOIN LATERAL (SELECT true AS hit FROM "
                "kundhandelse_version v WHERE v.producent_organisationsnummer "
                "= s.org AND v.kundhandelse_id = s.id LIMIT 1) v ON true "
                "WHERE s.n > 1 OR v.hit";
        const char *values[2];
        PGresult *result;
        size_t i, orgs_len = copy->orgs.len, ids_len = copy->ids.len;
        int r;
        bool ok = true;

        /* A retried attempt splits the same rows again. */
        copy->events.len = 0;
        copy->versions.len = 0;
        copy->staged.len = 0;
        copy->new_rows = 0;
        copy->staged_rows = 0;
        if (copy->failed || proc_list_end(&copy->orgs) != MA_OK ||
            proc_list_end(&copy->ids) != MA_OK)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not stage records: out of memory");
        for (i = 0; i < copy->rows; i++)
                copy->row[i].staged = !copy->row[i].publish;
        values[0] = (const char *)copy->orgs.data;
        values[1] = (const char *)copy->ids.data;
        result = PQexecParams(pg, sql, 2, NULL, values, NULL, NULL, 0);
        /* Reopens the literals, which later rows would extend. */
        copy->orgs.len = orgs_len;
        copy->ids.len = ids_len;
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                ma_pg_error(pg, result, "could not look up the batch's events",
                            err);
                PQclear(result);
                return MA_ERR_PG;
        }
        for (r = 0; r < PQntuples(result); r++) {
                long at = strtol(PQgetvalue(result, r, 0), NULL, 10);

                if (at >= 1 && (size_t)at <= copy->rows)
                        copy->row[at - 1].staged = true;
        }
        PQclear(result);

        for (i = 0; ok && i < copy->rows; i++) {
                const proc_copy_row_t *row = &copy->row[i];

                if (row->skip)
                        continue;
                if (row->staged) {
                        ok = proc_copy_append(&copy->staged,
                                              copy->data + row->start,
                                              row->end - row->start);
                        copy->staged_rows++;
                        continue;
                }
                /* The kundhandelse columns are ma_batch_in's without ord
                 * and kind; a version row is org, id, sekvens, not
                 * retracted. */
                ok = proc_copy_append(&copy->events, copy->data + row->event,
                                      row->end - row->event) &&
                     proc_copy_append(&copy->versions, copy->data + row->event,
                                      row->key_end - row->event) &&
                     proc_copy_append(&copy->versions, "\tf\n", 3);
                copy->new_rows++;
        }
        if (!ok)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not stage records: out of memory");
        return MA_OK;
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
                           "kafka_partition, kafka_offset) FROM STDIN",
                           &copy->events, "could not copy the new events",
                           err) != MA_OK ||
             proc_copy_put(pg,
                           "COPY kundhandelse_version "
                           "(producent_organisationsnummer, kundhandelse_id, "
                           "sekvens, retracted) FROM STDIN",
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
