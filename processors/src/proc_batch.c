/*
 * proc_batch.c - the exactly-once step: one PostgreSQL transaction per batch
 * that applies the view changes, records rejected records, and advances the
 * partitions' offsets, after the batch's dead letters are delivered.
 *
 * Order inside the transaction:
 *   1. lock the consumer_offsets rows of the batch's partitions and check
 *      that each still contains the offset this instance expects (else
 *      another member has moved on: the batch is dropped and the
 *      partitions rewound).  BEGIN, the lock and the lookup of step 2b go
 *      to PostgreSQL in one pipeline, so they cost one round trip;
 *   2. per record: classify, then stage it as a COPY row (proc_copy.c) (or,
 *      with batch.apply=record or after PostgreSQL refused the set-based
 *      statement, apply it with its own statement), or queue its dead
 *      letter and insert its rejected_events row;
 *   2b. look up which of the batch's events may be new (all of their
 *      records in the batch are publishes) and copy the new ones straight
 *      into kundhandelse and kundhandelse_version.  Load the other rows
 *      with COPY and apply them with one ma_apply_staged() call.  Both
 *      paths give what applying the records one by one in batch order
 *      would;
 *   3. wait for every dead letter's delivery report;
 *   4. advance the offsets and counters and COMMIT, in one pipeline.
 * A crash before COMMIT leaves nothing in PostgreSQL, and the records are
 * read again from the old offsets; only a dead letter can be duplicated.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "processor.h"

/* Counters of one partition within a batch. */
typedef struct proc_part_stats {
        const char *topic;
        int32_t partition;
        int64_t last_offset;
        int64_t consumed;
        int64_t applied;
        int64_t stale;
        int64_t rejected;
} proc_part_stats_t;

/* Outcome of one batch attempt. */
typedef struct proc_attempt {
        proc_part_stats_t *parts;
        size_t part_count;
        uint64_t outcome_inserted, outcome_replaced, outcome_stale,
                outcome_retracted, outcome_tombstone;
        uint64_t rejected[PROC_REASON_COUNT];
        bool fenced;       /* an offset row did not match: rewind */
        long failed_index; /* record PostgreSQL rejected, or -1 */
        /* Set-based mode: accepted records staged for ma_apply_staged();
         * per_record applies each record with its own statement instead,
         * which is how a record PostgreSQL refuses is found. */
        bool per_record;
} proc_attempt_t;

void proc_batch_drop(proc_t *proc)
{
        size_t i;

        for (i = 0; i < proc->batch_count; i++) {
                rd_kafka_message_destroy(proc->batch[i]);
                proc->batch[i] = NULL;
                ma_free(proc->forced_detail[i]);
                proc->forced_detail[i] = NULL;
                ma_free(proc->verdict[i].detail);
                proc->verdict[i].detail = NULL;
        }
        proc->batch_count = 0;
        proc_copy_reset(&proc->copy);
}

/* ---- SQL helpers ---- */

static ma_status_t proc_sql(proc_t *proc, const char *sql, int count,
                            const char *const *values, const int *lengths,
                            const int *formats, ExecStatusType expected,
                            PGresult **result_out, const char *what,
                            ma_error_t *err)
{
        PGresult *result = PQexecParams(proc->pg, sql, count, NULL, values,
                                        lengths, formats, 0);

        if (result == NULL || PQresultStatus(result) != expected) {
                ma_pg_error(proc->pg, result, what, err);
                PQclear(result);
                return MA_ERR_PG;
        }
        if (result_out != NULL)
                *result_out = result;
        else
                PQclear(result);
        return MA_OK;
}

/* One statement of a pipeline, and its result when keep is set. */
typedef struct proc_pipe_query {
        const char *name; /* a prepared statement, or NULL to send sql */
        const char *sql;
        int count;
        const char *const *values;
        ExecStatusType expected;
        const char *action; /* what failed, for the error message */
        bool keep;
        PGresult *result;
} proc_pipe_query_t;

/*
 * Sends the statements in one pipeline and waits once for all their
 * results, so a batch pays one round trip for them instead of one each.
 * Reports the first statement that fails, since PostgreSQL skips the ones
 * after it.  The results of the queries with keep set are left for the
 * caller to clear.  A failed statement inside a transaction block leaves that
 * transaction aborted, as a single statement would.
 */
static ma_status_t proc_pipeline(PGconn *pg, proc_pipe_query_t *query,
                                 int count, ma_error_t *err)
{
        ma_status_t status = MA_OK;
        PGresult *result;
        bool synced = false;
        int i, sent = 0;

        for (i = 0; i < count; i++)
                query[i].result = NULL;
        if (PQenterPipelineMode(pg) != 1)
                return ma_pg_error(pg, NULL, "could not start a pipeline", err);
        for (; sent < count; sent++) {
                const proc_pipe_query_t *q = &query[sent];
                int ok = q->name != NULL
                                 ? PQsendQueryPrepared(pg, q->name, q->count,
                                                       q->values, NULL, NULL, 0)
                                 : PQsendQueryParams(pg, q->sql, q->count, NULL,
                                                     q->values, NULL, NULL, 0);

                if (ok != 1)
                        break;
        }
        if (sent == count && PQpipelineSync(pg) == 1)
                synced = true;
        else
                status = ma_pg_error(
                        pg, NULL, query[sent < count ? sent : 0].action, err);
        for (i = 0; synced && i < count; i++) {
                result = PQgetResult(pg);
                if (result == NULL) {
                        status = ma_pg_error(pg, NULL, query[i].action, err);
                        synced = false;
                        break;
                }
                if (PQresultStatus(result) != query[i].expected) {
                        if (status == MA_OK)
                                status = ma_pg_error(pg, result,
                                                     query[i].action, err);
                        PQclear(result);
                } else if (query[i].keep) {
                        query[i].result = result;
                } else {
                        PQclear(result);
                }
                /* Each statement's results end with a NULL. */
                while ((result = PQgetResult(pg)) != NULL)
                        PQclear(result);
        }
        if (synced) {
                result = PQgetResult(pg);
                if (PQresultStatus(result) != PGRES_PIPELINE_SYNC &&
                    status == MA_OK)
                        status = ma_pg_error(pg, result,
                                             "could not end a "
                                             "pipeline",
                                             err);
                PQclear(result);
        }
        if (PQexitPipelineMode(pg) != 1) {
                /* Only a broken connection leaves results unread here;
                 * the caller's recovery then reconnects. */
                if (status == MA_OK)
                        status = ma_pg_error(pg, NULL,
                                             "could not end a pipeline", err);
                if (PQstatus(pg) == CONNECTION_OK)
                        PQreset(pg);
        }
        if (status != MA_OK)
                for (i = 0; i < count; i++) {
                        PQclear(query[i].result);
                        query[i].result = NULL;
                }
        return status;
}

static proc_part_stats_t *
proc_attempt_part(proc_attempt_t *attempt, const char *topic, int32_t partition)
{
        size_t i;

        for (i = 0; i < attempt->part_count; i++)
                if (attempt->parts[i].partition == partition &&
                    strcmp(attempt->parts[i].topic, topic) == 0)
                        return &attempt->parts[i];
        return NULL;
}

ma_status_t proc_list_add(ma_buf_t *buf, const char *text)
{
        bool first = buf->len == 0;

        /* The empty element reserves room; it becomes the separator. */
        if (proc_array_append(buf, "") != MA_OK)
                return MA_ERR_NOMEM;
        buf->len -= 2;
        buf->data[buf->len++] = first ? '{' : ',';
        return proc_array_append(buf, text);
}

ma_status_t proc_list_end(ma_buf_t *buf)
{
        bool empty = buf->len == 0;

        if (proc_array_append(buf, "") != MA_OK)
                return MA_ERR_NOMEM;
        buf->len -= 2;
        if (empty)
                buf->data[buf->len++] = '{';
        buf->data[buf->len++] = '}';
        buf->data[buf->len] = '\0';
        return MA_OK;
}

/* Array literals of a batch's partitions and their counters. */
enum {
        PROC_LIST_TOPIC = 0,
        PROC_LIST_PARTITION,
        PROC_LIST_LAST_OFFSET,
        PROC_LIST_CONSUMED,
        PROC_LIST_APPLIED,
        PROC_LIST_STALE,
        PROC_LIST_REJECTED,
        PROC_LIST_COUNT
};

/*
 * Builds the array literals of the attempt's partitions, of those with
 * consumed records unless every_part.  Returns how many partitions are
 * listed, or -1 when out of memory.
 */
static long proc_offsets_lists(const proc_attempt_t *attempt, bool every_part,
                               ma_buf_t lists[PROC_LIST_COUNT])
{
        size_t i;
        long listed = 0;
        int c;

        for (i = 0; i < attempt->part_count; i++) {
                const proc_part_stats_t *s = &attempt->parts[i];
                int64_t values[PROC_LIST_COUNT] = {
                        0,          s->partition, s->last_offset, s->consumed,
                        s->applied, s->stale,     s->rejected};
                char number[24];

                if (!every_part && s->consumed == 0)
                        continue;
                if (proc_list_add(&lists[PROC_LIST_TOPIC], s->topic) != MA_OK)
                        return -1;
                for (c = PROC_LIST_PARTITION; c < PROC_LIST_COUNT; c++) {
                        snprintf(number, sizeof(number), "%" PRId64, values[c]);
                        if (proc_list_add(&lists[c], number) != MA_OK)
                                return -1;
                }
                listed++;
        }
        for (c = 0; c < PROC_LIST_COUNT; c++)
                if (proc_list_end(&lists[c]) != MA_OK)
                        return -1;
        return listed;
}

static void proc_offsets_lists_free(ma_buf_t lists[PROC_LIST_COUNT])
{
        int c;

        for (c = 0; c < PROC_LIST_COUNT; c++)
                ma_buf_free(&lists[c]);
}

/* The statements of every batch, prepared once per session so that a
 * batch does not parse and plan them again. */
enum {
        PROC_STMT_OFFSETS_CREATE,
        PROC_STMT_OFFSETS_LOCK,
        PROC_STMT_PROBE,
        PROC_STMT_OFFSETS_ADVANCE,
        PROC_STMT_COUNT
};

static const struct {
        const char *name;
        const char *sql;
} proc_batch_statements[PROC_STMT_COUNT] = {
        [PROC_STMT_OFFSETS_CREATE] =
                {"ma_offsets_create",
                 "INSERT INTO consumer_offsets (consumer_group, topic, "
                 "kafka_partition, last_offset) SELECT $1, t, p, -1 FROM "
                 "unnest($2::text[], $3::integer[]) AS u(t, p) ON CONFLICT "
                 "DO NOTHING"},
        [PROC_STMT_OFFSETS_LOCK] =
                {"ma_offsets_lock",
                 "SELECT c.topic, c.kafka_partition, c.last_offset FROM "
                 "consumer_offsets c JOIN unnest($2::text[], $3::integer[]) "
                 "AS u(t, p) ON c.topic = u.t AND c.kafka_partition = u.p "
                 "WHERE c.consumer_group = $1 ORDER BY c.topic, "
                 "c.kafka_partition FOR UPDATE OF c"},
        [PROC_STMT_PROBE] = {"ma_batch_probe", proc_copy_probe_sql},
        [PROC_STMT_OFFSETS_ADVANCE] =
                {"ma_offsets_advance",
                 "UPDATE consumer_offsets c SET last_offset = u.l, "
                 "consumed_count = consumed_count + u.n, applied_count = "
                 "applied_count + u.a, stale_count = stale_count + u.s, "
                 "rejected_count = rejected_count + u.r, updated_at = now() "
                 "FROM unnest($2::text[], $3::integer[], $4::bigint[], "
                 "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) AS "
                 "u(t, p, l, n, a, s, r) WHERE c.consumer_group = $1 AND "
                 "c.topic = u.t AND c.kafka_partition = u.p"},
};

/* Prepares the batch's statements unless this session has them. A new
 * connection (also one libpq reset) has another server process. */
static ma_status_t proc_batch_prepare(proc_t *proc, ma_error_t *err)
{
        int pid = PQbackendPID(proc->pg);
        PGresult *result;
        int i;

        if (pid != 0 && pid == proc->prepared_pid)
                return MA_OK;
        proc->prepared_pid = 0;
        for (i = 0; i < PROC_STMT_COUNT; i++) {
                const char *sqlstate;

                result = PQprepare(proc->pg, proc_batch_statements[i].name,
                                   proc_batch_statements[i].sql, 0, NULL);
                sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
                /* 42P05: prepared by an earlier call that failed later. */
                if (PQresultStatus(result) != PGRES_COMMAND_OK &&
                    (sqlstate == NULL || strcmp(sqlstate, "42P05") != 0)) {
                        ma_pg_error(proc->pg, result,
                                    "could not prepare the batch's statements",
                                    err);
                        PQclear(result);
                        return MA_ERR_PG;
                }
                PQclear(result);
        }
        proc->prepared_pid = pid;
        return MA_OK;
}

/*
 * Starts the transaction, creates the missing offset rows of the attempt's
 * partitions and locks them all, in (topic, partition) order so that two
 * instances lock in the same order, and checks each against the offset
 * this instance last committed.  With probe set, the lookup of the batch's
 * events that may be new (proc_copy_plan()) goes in the same pipeline and
 * its result is left in *probe.
 */
static ma_status_t proc_batch_check_offsets(proc_t *proc,
                                            proc_attempt_t *attempt,
                                            PGresult **probe, ma_error_t *err)
{
        ma_buf_t lists[PROC_LIST_COUNT] = {{0}};
        const char *v[3];
        const char *probe_values[2];
        proc_pipe_query_t query[5];
        PGresult *result = NULL;
        ma_status_t status;
        int row, n = 0;

        if (proc_offsets_lists(attempt, true, lists) < 0) {
                proc_offsets_lists_free(lists);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not list the batch's partitions");
        }
        v[0] = proc->settings.group_id;
        v[1] = (const char *)lists[PROC_LIST_TOPIC].data;
        v[2] = (const char *)lists[PROC_LIST_PARTITION].data;
        memset(query, 0, sizeof(query));
        query[n++] = (proc_pipe_query_t){
                .sql = "BEGIN",
                .expected = PGRES_COMMAND_OK,
                .action = "could not start the batch's transaction"};
        /* Without synchronous commit a server crash can lose the last
         * commits, but each loses its offsets with its view changes, so
         * the records are read again (docs/processor.md). */
        if (!proc->settings.synchronous_commit)
                query[n++] = (proc_pipe_query_t){
                        .sql = "SET LOCAL synchronous_commit = off",
                        .expected = PGRES_COMMAND_OK,
                        .action = "could not start the batch's transaction"};
        query[n++] = (proc_pipe_query_t){
                .name = proc_batch_statements[PROC_STMT_OFFSETS_CREATE].name,
                .count = 3,
                .values = v,
                .expected = PGRES_COMMAND_OK,
                .action = "could not create offset rows"};
        query[n++] = (proc_pipe_query_t){
                .name = proc_batch_statements[PROC_STMT_OFFSETS_LOCK].name,
                .count = 3,
                .values = v,
                .expected = PGRES_TUPLES_OK,
                .action = "could not lock offset rows",
                .keep = true};
        if (probe != NULL) {
                proc_copy_probe_params(&proc->copy, probe_values);
                query[n++] = (proc_pipe_query_t){
                        .name = proc_batch_statements[PROC_STMT_PROBE].name,
                        .count = 2,
                        .values = probe_values,
                        .expected = PGRES_TUPLES_OK,
                        .action = "could not look up the batch's events",
                        .keep = true};
        }
        status = proc_batch_prepare(proc, err);
        if (status == MA_OK)
                status = proc_pipeline(proc->pg, query, n, err);
        proc_offsets_lists_free(lists);
        if (status != MA_OK)
                return status;
        result = query[probe != NULL ? n - 2 : n - 1].result;
        if (probe != NULL)
                *probe = query[n - 1].result;
        if ((size_t)PQntuples(result) != attempt->part_count) {
                PQclear(result);
                return ma_error_set(err, MA_ERR_PG, NULL,
                                    "locked %d offset rows for %zu "
                                    "partitions",
                                    PQntuples(result), attempt->part_count);
        }
        for (row = 0; row < PQntuples(result); row++) {
                proc_part_stats_t *stats = proc_attempt_part(
                        attempt, PQgetvalue(result, row, 0),
                        (int32_t)strtol(PQgetvalue(result, row, 1), NULL, 10));
                const proc_partition_t *owned;
                int64_t db_last = strtoll(PQgetvalue(result, row, 2), NULL, 10);

                if (stats == NULL) {
                        PQclear(result);
                        return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                            "locked an offset row of a "
                                            "partition not in the batch");
                }
                owned = proc_partition_find(proc, stats->topic,
                                            stats->partition);
                if (db_last != owned->last_offset) {
                        attempt->fenced = true;
                        status = ma_error_set(
                                err, MA_ERR_STATE, NULL,
                                "offset of %s/%d in PostgreSQL is %" PRId64
                                ", expected %" PRId64
                                "; another consumer committed it",
                                stats->topic, (int)stats->partition, db_last,
                                owned->last_offset);
                        PQclear(result);
                        return status;
                }
                stats->last_offset = db_last;
        }
        PQclear(result);
        return MA_OK;
}

/*
 * Marks the staged rows that proc_batch_record() is expected to apply, as
 * it will once the offsets are checked: the accepted records above their
 * partition's committed offset, the first of any repeated offset.
 */
static void proc_batch_expect_rows(proc_t *proc, proc_attempt_t *attempt)
{
        size_t i;

        for (i = 0; i < attempt->part_count; i++)
                attempt->parts[i].last_offset =
                        proc_partition_find(proc, attempt->parts[i].topic,
                                            attempt->parts[i].partition)
                                ->last_offset;
        for (i = 0; i < proc->copy.rows; i++)
                proc->copy.row[i].skip = true;
        for (i = 0; i < proc->batch_count; i++) {
                const rd_kafka_message_t *message = proc->batch[i];
                const proc_verdict_t *verdict = &proc->verdict[i];
                proc_part_stats_t *stats = proc_attempt_part(
                        attempt, rd_kafka_topic_name(message->rkt),
                        message->partition);

                if (message->offset <= stats->last_offset)
                        continue;
                stats->last_offset = message->offset;
                if (proc->forced_detail[i] == NULL &&
                    verdict->status == MA_OK &&
                    verdict->reason == PROC_ACCEPT && verdict->row >= 0 &&
                    (size_t)verdict->row < proc->copy.rows)
                        proc->copy.row[verdict->row].skip = false;
        }
        for (i = 0; i < attempt->part_count; i++)
                attempt->parts[i].last_offset = -1;
}

/*
 * Collects the batch's partitions, starts the transaction, locks their
 * offset rows and checks them against the offsets this instance recorded.
 * Records at or below the committed offset (already applied) are left out
 * of the stats and skipped later.  In set-based mode the lookup of the
 * events that may be new goes with the lock (*probe, NULL when there is
 * nothing to look up).
 */
static ma_status_t proc_batch_lock_offsets(proc_t *proc,
                                           proc_attempt_t *attempt,
                                           PGresult **probe, ma_error_t *err)
{
        size_t i;
        ma_status_t status;

        for (i = 0; i < proc->batch_count; i++) {
                const char *topic = rd_kafka_topic_name(proc->batch[i]->rkt);
                int32_t partition = proc->batch[i]->partition;

                if (proc_attempt_part(attempt, topic, partition) != NULL)
                        continue;
                attempt->parts[attempt->part_count].topic = topic;
                attempt->parts[attempt->part_count].partition = partition;
                attempt->parts[attempt->part_count].last_offset = -1;
                attempt->part_count++;
                if (proc_partition_find(proc, topic, partition) == NULL) {
                        attempt->fenced = true;
                        return ma_error_set(err, MA_ERR_STATE, NULL,
                                            "record from partition %s/%d that "
                                            "this instance does not own",
                                            topic, (int)partition);
                }
        }
        *probe = NULL;
        proc->copy.planned = false;
        if (attempt->per_record || proc->copy.rows == 0)
                return proc_batch_check_offsets(proc, attempt, NULL, err);
        proc_batch_expect_rows(proc, attempt);
        status = proc_copy_plan(&proc->copy, err);
        if (status != MA_OK)
                return status;
        return proc_batch_check_offsets(
                proc, attempt, proc->copy.candidates > 0 ? probe : NULL, err);
}

/* ---- Applying one accepted record ---- */

ma_status_t proc_array_append(ma_buf_t *buf, const char *text)
{
        /* Every character may need a backslash; two quotes, and room
         * for a separator and a closing brace. */
        if (!proc_buf_reserve(buf, 2 * strlen(text) + 4))
                return MA_ERR_NOMEM;
        buf->data[buf->len++] = '"';
        for (; *text != '\0'; text++) {
                if (*text == '"' || *text == '\\')
                        buf->data[buf->len++] = '\\';
                buf->data[buf->len++] = (unsigned char)*text;
        }
        buf->data[buf->len++] = '"';
        return MA_OK;
}

/* Builds the text[] literal of the event's taggar into buf (NUL-ended). */
static ma_status_t proc_taggar_literal(const ma_event_t *event, ma_buf_t *buf)
{
        size_t i;

        buf->len = 0;
        if (proc_array_append(buf, "") != MA_OK)
                return MA_ERR_NOMEM;
        buf->len = 0;
        buf->data[buf->len++] = '{';
        for (i = 0; i < event->taggar_count; i++) {
                if (i > 0)
                        buf->data[buf->len++] = ',';
                if (proc_array_append(buf, event->taggar[i]) != MA_OK)
                        return MA_ERR_NOMEM;
        }
        buf->data[buf->len++] = '}';
        buf->data[buf->len] = '\0';
        return MA_OK;
}

static const char *proc_apply_publish_sql =
        "SELECT ma_apply_kundhandelse($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, "
        "$23, $24, $25, $26)";

static ma_status_t proc_apply_publish(proc_t *proc,
                                      const rd_kafka_message_t *message,
                                      const ma_event_t *event, char *outcome,
                                      size_t outcome_size, ma_error_t *err)
{
        char sekvens[24], offset_min[16], partition[16], kafka_offset[24];
        char tidpunkt[40], giltig[16], atgard[16];
        char kund[MA_PSEUDONYM_HEX_LEN + 1];
        ma_buf_t taggar = {0};
        const char *v[26];
        PGresult *result = NULL;
        ma_status_t status;

        if (event->part.has_kund) {
                status = ma_pseudonym_customer(proc->pseudonym_key,
                                               event->part.kund_typ,
                                               event->part.kund_identifierare,
                                               event->part.kund_tillagg, kund);
                if (status != MA_OK)
                        return ma_error_set(err, status, NULL,
                                            "could not compute the customer "
                                            "pseudonym");
        }
        if (proc_taggar_literal(event, &taggar) != MA_OK)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not build taggar: out of memory");
        snprintf(sekvens, sizeof(sekvens), "%" PRId64, event->sekvens);
        snprintf(offset_min, sizeof(offset_min), "%d",
                 (int)event->tidpunkt.offset_min);
        snprintf(partition, sizeof(partition), "%d", (int)message->partition);
        snprintf(kafka_offset, sizeof(kafka_offset), "%" PRId64,
                 message->offset);
        ma_instant_format(&event->tidpunkt, tidpunkt, sizeof(tidpunkt));
        if (event->giltig_till != MA_DATE_NONE)
                ma_date_format(event->giltig_till, giltig, sizeof(giltig));
        if (event->atgard_senast != MA_DATE_NONE)
                ma_date_format(event->atgard_senast, atgard, sizeof(atgard));

        v[0] = event->producent_organisationsnummer;
        v[1] = event->kundhandelse_id;
        v[2] = sekvens;
        v[3] = event->part.has_kund ? kund : NULL;
        v[4] = event->part.has_kund ? ma_kund_typ_name(event->part.kund_typ)
                                    : NULL;
        v[5] = event->part.has_arende
                       ? ma_arende_typ_name(event->part.arende_typ)
                       : NULL;
        v[6] = event->part.has_arende ? event->part.arende_identifierare : NULL;
        v[7] = event->producent;
        v[8] = event->rubrik;
        v[9] = event->beskrivning;
        v[10] = event->sprak ? event->sprak : "sv";
        v[11] = event->kundhandelse_typ;
        v[12] = event->producentarendet_kraver_kundatgard ? "true" : "false";
        v[13] = event->producentarendet_klart ? "true" : "false";
        v[14] = event->version ? event->version : "6.1";
        v[15] = tidpunkt;
        v[16] = offset_min;
        v[17] = (const char *)taggar.data;
        v[18] = event->utokad_information;
        v[19] = event->referenser;
        v[20] = event->giltig_till != MA_DATE_NONE ? giltig : NULL;
        v[21] = event->atgard_senast != MA_DATE_NONE ? atgard : NULL;
        v[22] = event->kundhandelsereferens;
        v[23] = rd_kafka_topic_name(message->rkt);
        v[24] = partition;
        v[25] = kafka_offset;
        status = proc_sql(proc, proc_apply_publish_sql, 26, v, NULL, NULL,
                          PGRES_TUPLES_OK, &result,
                          "could not apply kundhandelse", err);
        ma_buf_free(&taggar);
        if (status != MA_OK)
                return status;
        snprintf(outcome, outcome_size, "%s", PQgetvalue(result, 0, 0));
        PQclear(result);
        return MA_OK;
}

static ma_status_t proc_apply_retract(proc_t *proc, const ma_event_t *event,
                                      char *outcome, size_t outcome_size,
                                      ma_error_t *err)
{
        char sekvens[24];
        const char *v[3];
        PGresult *result = NULL;

        snprintf(sekvens, sizeof(sekvens), "%" PRId64, event->sekvens);
        v[0] = event->producent_organisationsnummer;
        v[1] = event->kundhandelse_id;
        v[2] = sekvens;
        if (proc_sql(proc, "SELECT ma_apply_aterkallelse($1, $2, $3)", 3, v,
                     NULL, NULL, PGRES_TUPLES_OK, &result,
                     "could not apply aterkallelse", err) != MA_OK)
                return MA_ERR_PG;
        snprintf(outcome, outcome_size, "%s", PQgetvalue(result, 0, 0));
        PQclear(result);
        return MA_OK;
}

ma_status_t proc_stage_record(proc_t *proc, proc_copy_t *copy, size_t ord,
                              const rd_kafka_message_t *message,
                              const ma_event_t *event, ma_error_t *err)
{
        char kund[MA_PSEUDONYM_HEX_LEN + 1];

        kund[0] = '\0';
        if (event->kind == MA_EVENT_PUBLISH && event->part.has_kund) {
                ma_status_t status = ma_pseudonym_customer(
                        proc->pseudonym_key, event->part.kund_typ,
                        event->part.kund_identifierare,
                        event->part.kund_tillagg, kund);

                if (status != MA_OK)
                        return ma_error_set(err, status, NULL,
                                            "could not compute the customer "
                                            "pseudonym");
        }
        return proc_copy_record(copy, ord, message, event, kund, err);
}

static void proc_count_outcome(proc_attempt_t *attempt,
                               proc_part_stats_t *stats, const char *outcome)
{
        stats->applied++;
        if (strcmp(outcome, "inserted") == 0)
                attempt->outcome_inserted++;
        else if (strcmp(outcome, "replaced") == 0)
                attempt->outcome_replaced++;
        else if (strcmp(outcome, "retracted") == 0)
                attempt->outcome_retracted++;
        else if (strcmp(outcome, "tombstone") == 0)
                attempt->outcome_tombstone++;
        else {
                attempt->outcome_stale++;
                stats->stale++;
        }
}

/* ---- Rejecting one record ---- */

/* Returns the headers of message as a JSON array text (ma_malloc), or NULL. */
static char *proc_headers_json(const rd_kafka_message_t *message)
{
        rd_kafka_headers_t *headers = NULL;
        json_t *array = json_array();
        const char *name;
        const void *value;
        size_t size, i;
        char *text = NULL, *copy;

        if (array == NULL)
                return NULL;
        if (rd_kafka_message_headers(message, &headers) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (i = 0; rd_kafka_header_get_all(headers, i, &name, &value,
                                                    &size) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++) {
                        json_t *entry = json_object();
                        char *hex;
                        size_t j;

                        if (entry == NULL)
                                goto fail;
                        json_array_append_new(array, entry);
                        json_object_set_new(entry, "name", json_string(name));
                        if (value == NULL) {
                                json_object_set_new(entry, "value",
                                                    json_null());
                        } else if (ma_utf8_valid(value, size)) {
                                json_object_set_new(entry, "value",
                                                    json_stringn(value, size));
                        } else {
                                hex = ma_malloc(2 * size + 1);
                                if (hex == NULL)
                                        goto fail;
                                for (j = 0; j < size; j++)
                                        snprintf(hex + 2 * j, 3, "%02x",
                                                 ((const unsigned char *)
                                                          value)[j]);
                                hex[2 * size] = '\0';
                                json_object_set_new(entry, "value_hex",
                                                    json_string(hex));
                                ma_free(hex);
                        }
                }
        }
        text = json_dumps(array, JSON_COMPACT);
fail:
        json_decref(array);
        if (text == NULL)
                return NULL;
        copy = ma_strdup(text);
        free(text); /* json_dumps allocates with jansson's malloc */
        return copy;
}

static ma_status_t proc_reject_record(proc_t *proc,
                                      const rd_kafka_message_t *message,
                                      proc_reason_t reason, const char *detail,
                                      size_t slot, ma_error_t *err)
{
        char partition[16], offset[24], timestamp[24];
        const char *v[10];
        int lengths[10] = {0};
        int formats[10] = {0};
        char *headers;
        int64_t ts = rd_kafka_message_timestamp(message, NULL);
        ma_status_t status;

        status = proc_dlq_produce(proc, message, proc_reason_code(reason),
                                  detail, slot, err);
        if (status != MA_OK)
                return status;
        headers = proc_headers_json(message);
        if (headers == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not encode record headers");
        snprintf(partition, sizeof(partition), "%d", (int)message->partition);
        snprintf(offset, sizeof(offset), "%" PRId64, message->offset);
        snprintf(timestamp, sizeof(timestamp), "%" PRId64, ts);
        v[0] = proc->settings.group_id;
        v[1] = rd_kafka_topic_name(message->rkt);
        v[2] = partition;
        v[3] = offset;
        v[4] = proc_reason_code(reason);
        v[5] = detail;
        v[6] = message->key;
        lengths[6] = (int)message->key_len;
        formats[6] = 1;
        v[7] = message->payload;
        lengths[7] = (int)message->len;
        formats[7] = 1;
        v[8] = headers;
        v[9] = ts >= 0 ? timestamp : NULL;
        status = proc_sql(
                proc,
                "INSERT INTO rejected_events (consumer_group, topic, "
                "kafka_partition, kafka_offset, reason, detail, record_key, "
                "record_value, headers, record_timestamp) VALUES ($1, $2, $3, "
                "$4, $5, $6, $7, $8, $9::jsonb, "
                "to_timestamp($10::bigint / 1000.0))",
                10, v, lengths, formats, PGRES_COMMAND_OK, NULL,
                "could not record rejected event", err);
        ma_free(headers);
        return status;
}

/* ---- One record ---- */

static ma_status_t proc_batch_record(proc_t *proc, proc_attempt_t *attempt,
                                     size_t index, size_t *dlq_count,
                                     ma_error_t *err)
{
        const rd_kafka_message_t *message = proc->batch[index];
        proc_part_stats_t *stats = proc_attempt_part(
                attempt, rd_kafka_topic_name(message->rkt), message->partition);
        proc_reason_t reason = PROC_ACCEPT;
        ma_event_t event;
        char detail[700];
        char outcome[32];
        int64_t now_ms = rd_kafka_message_timestamp(message, NULL);
        ma_status_t status;

        /* Already committed: read again after a rewind that raced a seek.
         * Its staged row, if any, stays marked to skip. */
        if (message->offset <= stats->last_offset)
                return MA_OK;
        stats->last_offset = message->offset;
        stats->consumed++;

        if (!attempt->per_record && proc->forced_detail[index] == NULL) {
                /* Classified by the classifier thread (proc_ahead.c). */
                const proc_verdict_t *verdict = &proc->verdict[index];

                if (verdict->status != MA_OK)
                        return ma_error_set(err, verdict->status, NULL,
                                            "could not classify record: %s",
                                            ma_status_str(verdict->status));
                if (verdict->reason == PROC_ACCEPT) {
                        if (verdict->row >= 0 &&
                            (size_t)verdict->row < proc->copy.rows)
                                proc->copy.row[verdict->row].skip = false;
                        return MA_OK;
                }
                reason = verdict->reason;
                snprintf(detail, sizeof(detail), "%s", verdict->detail);
        } else {
                /* The record's own timestamp makes the time rules give the
                 * same verdict when the record is read again after a
                 * crash. */
                if (now_ms < 0)
                        now_ms = ma_now_ms();
                ma_event_init(&event);
                if (proc->forced_detail[index] != NULL) {
                        reason = PROC_REJECT_VALIDATION;
                        snprintf(detail, sizeof(detail), "%s",
                                 proc->forced_detail[index]);
                } else {
                        status = proc_classify(proc->codec, proc->catalog,
                                               &proc->limits, message->payload,
                                               message->len, now_ms, &event,
                                               &reason, detail, sizeof(detail));
                        if (status != MA_OK)
                                return ma_error_set(
                                        err, status, NULL,
                                        "could not decode record: %s",
                                        ma_status_str(status));
                }
        }

        if (reason != PROC_ACCEPT) {
                status = proc_reject_record(proc, message, reason, detail,
                                            *dlq_count, err);
                if (status != MA_OK)
                        return status;
                (*dlq_count)++;
                stats->rejected++;
                attempt->rejected[reason]++;
                return MA_OK;
        }

        if (event.kind == MA_EVENT_PUBLISH)
                status = proc_apply_publish(proc, message, &event, outcome,
                                            sizeof(outcome), err);
        else
                status = proc_apply_retract(proc, &event, outcome,
                                            sizeof(outcome), err);
        ma_event_clear(&event);
        if (status != MA_OK) {
                attempt->failed_index = (long)index;
                return status;
        }
        proc_count_outcome(attempt, stats, outcome);
        return MA_OK;
}

/* Counts the outcomes of the rows that proc_copy_divide() resolved. */
static void proc_batch_count_new(proc_t *proc, proc_attempt_t *attempt)
{
        size_t i;

        for (i = 0; i < proc->copy.rows; i++) {
                const rd_kafka_message_t *message;

                if (proc->copy.row[i].staged || proc->copy.row[i].skip ||
                    proc->copy.row[i].outcome == NULL)
                        continue;
                message = proc->batch[proc->copy.row[i].ord];
                proc_count_outcome(
                        attempt,
                        proc_attempt_part(attempt,
                                          rd_kafka_topic_name(message->rkt),
                                          message->partition),
                        proc->copy.row[i].outcome);
        }
}

/*
 * Copies the batch's new events straight into their tables, loads the
 * other records with COPY and applies them with one ma_apply_staged()
 * call, then counts the outcomes.  A record PostgreSQL refuses fails the
 * whole statement without naming the record; the caller then retries per
 * record.  So does a new event that another instance inserted meanwhile
 * (a unique violation).
 */
static ma_status_t proc_batch_apply_staged(proc_t *proc,
                                           proc_attempt_t *attempt,
                                           const PGresult *probe,
                                           ma_error_t *err)
{
        PGresult *result = NULL;
        ma_status_t status;
        int i, rows;

        if (proc->copy.rows == 0)
                return MA_OK;
        /* The lookup sent with the lock is for the rows expected to be
         * applied; should proc_batch_record() have applied others, the
         * events are looked up again. */
        if (proc_copy_plan_holds(&proc->copy))
                status = proc_copy_divide(&proc->copy, probe, err);
        else
                status = proc_copy_split(proc->pg, &proc->copy, err);
        if (status == MA_OK)
                status = proc_copy_send(proc->pg, &proc->copy, err);
        if (status != MA_OK)
                return status;
        proc_batch_count_new(proc, attempt);
        if (proc->copy.staged_rows == 0)
                return MA_OK;
        if (proc_sql(proc, "SELECT ord, outcome FROM ma_apply_staged()", 0,
                     NULL, NULL, NULL, PGRES_TUPLES_OK, &result,
                     "could not apply the batch", err) != MA_OK)
                return MA_ERR_PG;
        rows = PQntuples(result);
        for (i = 0; i < rows; i++) {
                long ord = strtol(PQgetvalue(result, i, 0), NULL, 10);
                const rd_kafka_message_t *message;

                if (ord < 0 || (size_t)ord >= proc->batch_count)
                        continue;
                message = proc->batch[ord];
                proc_count_outcome(
                        attempt,
                        proc_attempt_part(attempt,
                                          rd_kafka_topic_name(message->rkt),
                                          message->partition),
                        PQgetvalue(result, i, 1));
        }
        PQclear(result);
        if ((size_t)rows != proc->copy.staged_rows)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "ma_apply_staged returned %d outcomes for "
                                    "%zu records",
                                    rows, proc->copy.staged_rows);
        return MA_OK;
}

/* ---- The transaction ---- */

/*
 * Advances the offsets and counters of the batch's partitions with one
 * statement and commits, both in one pipeline.
 */
static ma_status_t
proc_batch_commit(proc_t *proc, const proc_attempt_t *attempt, ma_error_t *err)
{
        ma_buf_t lists[PROC_LIST_COUNT] = {{0}};
        const char *v[PROC_LIST_COUNT + 1];
        long listed = proc_offsets_lists(attempt, false, lists);
        proc_pipe_query_t query[2];
        ma_status_t status;
        int c, n = 0;

        if (listed < 0) {
                proc_offsets_lists_free(lists);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not list the batch's offsets");
        }
        v[0] = proc->settings.group_id;
        for (c = 0; c < PROC_LIST_COUNT; c++)
                v[c + 1] = (const char *)lists[c].data;
        memset(query, 0, sizeof(query));
        if (listed > 0)
                query[n++] = (proc_pipe_query_t){
                        .name = proc_batch_statements[PROC_STMT_OFFSETS_ADVANCE]
                                        .name,
                        .count = PROC_LIST_COUNT + 1,
                        .values = v,
                        .expected = PGRES_COMMAND_OK,
                        .action = "could not advance offsets"};
        query[n++] =
                (proc_pipe_query_t){.sql = "COMMIT",
                                    .expected = PGRES_COMMAND_OK,
                                    .action = "could not commit the batch"};
        status = proc_pipeline(proc->pg, query, n, err);
        proc_offsets_lists_free(lists);
        return status;
}

static ma_status_t proc_batch_transaction(proc_t *proc, proc_attempt_t *attempt,
                                          ma_error_t *err)
{
        size_t i, dlq_count = 0;
        PGresult *probe = NULL;
        ma_status_t status;

        status = proc_batch_lock_offsets(proc, attempt, &probe, err);
        /* proc_batch_record() unmarks the staged rows it applies. */
        for (i = 0; i < proc->copy.rows; i++)
                proc->copy.row[i].skip = true;
        for (i = 0; status == MA_OK && i < proc->batch_count; i++)
                status = proc_batch_record(proc, attempt, i, &dlq_count, err);
        if (status == MA_OK && !attempt->per_record)
                status = proc_batch_apply_staged(proc, attempt, probe, err);
        PQclear(probe);
        if (status == MA_OK && dlq_count > 0)
                status = proc_dlq_wait(proc, dlq_count, err);
        if (status == MA_OK)
                status = proc_batch_commit(proc, attempt, err);
        if (status != MA_OK && PQstatus(proc->pg) == CONNECTION_OK &&
            PQtransactionStatus(proc->pg) != PQTRANS_IDLE)
                ma_pg_exec(proc->pg, "ROLLBACK", NULL);
        /* 26000: the session lost its prepared statements (a new server
         * process that reused the old one's pid); prepare them again. */
        if (status == MA_ERR_PG && strcmp(err->sqlstate, "26000") == 0)
                proc->prepared_pid = 0;
        return status;
}

static void proc_batch_publish_metrics(const proc_attempt_t *attempt)
{
        size_t i;
        uint64_t consumed = 0;

        for (i = 0; i < attempt->part_count; i++)
                consumed += (uint64_t)attempt->parts[i].consumed;
        proc_metrics_consumed(consumed);
        proc_metrics_applied("inserted", attempt->outcome_inserted);
        proc_metrics_applied("replaced", attempt->outcome_replaced);
        proc_metrics_applied("stale", attempt->outcome_stale);
        proc_metrics_applied("retracted", attempt->outcome_retracted);
        proc_metrics_applied("tombstone", attempt->outcome_tombstone);
        for (i = 1; i < PROC_REASON_COUNT; i++)
                proc_metrics_rejected((proc_reason_t)i, attempt->rejected[i]);
}

/* Moves the committed offsets into the owned-partition table. */
static void proc_batch_remember(proc_t *proc, const proc_attempt_t *attempt)
{
        size_t i;

        for (i = 0; i < attempt->part_count; i++) {
                proc_partition_t *owned =
                        proc_partition_find(proc, attempt->parts[i].topic,
                                            attempt->parts[i].partition);

                if (owned != NULL)
                        owned->last_offset = attempt->parts[i].last_offset;
        }
}

/*
 * A data error (SQLSTATE class 22) or constraint violation (class 23) on
 * one record would fail every retry, so that record is rejected instead.
 */
static bool proc_error_is_record_fault(const ma_error_t *err)
{
        return err->status == MA_ERR_PG &&
               (strncmp(err->sqlstate, "22", 2) == 0 ||
                strncmp(err->sqlstate, "23", 2) == 0);
}

/*
 * Waits before the records of a rolled-back batch are read again, 250 ms
 * doubling to 16 s, so a failure that persists (the dead-letter topic
 * missing, the broker down) does not spin.  A fenced batch (another member
 * moved on) retries at once.
 */
static void proc_batch_backoff(proc_t *proc)
{
        int shift = proc->failed_batches < 6 ? proc->failed_batches : 6;
        struct timespec ts;
        long ms = 250L << shift;

        proc->failed_batches++;
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
}

/* Recovers from a failed attempt by rewinding; false when impossible. */
static bool proc_batch_recover(proc_t *proc, ma_error_t *err)
{
        ma_status_t status = MA_OK;

        if (PQstatus(proc->pg) != CONNECTION_OK)
                status = proc_pg_reconnect(proc, err);
        if (status == MA_OK)
                status = proc_kafka_rewind(proc, err);
        if (status != MA_OK && ma_pg_error_is_transient(err)) {
                status = proc_pg_reconnect(proc, err);
                if (status == MA_OK)
                        status = proc_kafka_rewind(proc, err);
        }
        return status == MA_OK;
}

ma_status_t proc_batch_flush(proc_t *proc, ma_error_t *err)
{
        proc_attempt_t attempt;
        size_t batch_size = proc->batch_count;
        int64_t started = ma_now_ms();
        char refusal[96];
        bool attempt_fenced;
        bool per_record = proc->settings.batch_per_record;
        ma_status_t status;

        if (batch_size == 0)
                return MA_OK;
        for (;;) {
                memset(&attempt, 0, sizeof(attempt));
                attempt.failed_index = -1;
                attempt.per_record = per_record;
                attempt.parts = ma_calloc(batch_size, sizeof(*attempt.parts));
                if (attempt.parts == NULL) {
                        status = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                              "could not allocate batch state");
                        break;
                }
                proc->dlq_generation++;
                status = proc_batch_transaction(proc, &attempt, err);
                if (status != MA_OK && !attempt.fenced && !per_record &&
                    proc_error_is_record_fault(err)) {
                        /* PostgreSQL rejected some record's values, or
                         * another instance inserted a new event first.
                         * The per-record path finds the record or
                         * replaces the event.  The basic test reaches
                         * this through the second case.
                         * NOTE: no test makes PostgreSQL reject a
                         * record's values after classification. */
                        MA_LOG_AT(MA_LOG_WARN,
                                  "batch refused by PostgreSQL, retrying "
                                  "record by record",
                                  MA_LOG_STR("sqlstate", err->sqlstate));
                        per_record = true;
                        ma_free(attempt.parts);
                        continue;
                }
                if (status == MA_OK || attempt.fenced ||
                    attempt.failed_index < 0 ||
                    !proc_error_is_record_fault(err))
                        break;
                /* Retry without the record PostgreSQL refused. */
                MA_LOG_AT(MA_LOG_WARN,
                          "record refused by PostgreSQL, "
                          "rejecting it",
                          MA_LOG_STR("topic",
                                     rd_kafka_topic_name(
                                             proc->batch[attempt.failed_index]
                                                     ->rkt)),
                          MA_LOG_INT("offset",
                                     proc->batch[attempt.failed_index]->offset),
                          MA_LOG_STR("sqlstate", err->sqlstate));
                /* The server's message may quote the value, so only the
                 * SQLSTATE goes into the dead letter. */
                snprintf(refusal, sizeof(refusal),
                         "PostgreSQL refused the record (SQLSTATE %s)",
                         err->sqlstate);
                proc->forced_detail[attempt.failed_index] = ma_strdup(refusal);
                ma_free(attempt.parts);
                if (proc->forced_detail[attempt.failed_index] == NULL) {
                        status = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                              "could not record refusal");
                        attempt.parts = NULL;
                        break;
                }
        }

        if (status == MA_OK) {
                proc_batch_remember(proc, &attempt);
                proc_batch_publish_metrics(&attempt);
                proc_metrics_batch(batch_size,
                                   (double)(ma_now_ms() - started) / 1000.0,
                                   true);
                MA_LOG_AT(MA_LOG_DEBUG, "batch committed",
                          MA_LOG_INT("records", batch_size),
                          MA_LOG_INT("partitions", attempt.part_count));
                ma_free(attempt.parts);
                proc_batch_drop(proc);
                proc_kafka_commit_async(proc);
                proc->failed_batches = 0;
                return MA_OK;
        }

        attempt_fenced = attempt.fenced;
        ma_free(attempt.parts);
        proc_batch_drop(proc);
        /* The rewind reads the filled batch's records again. */
        proc_ahead_drop(proc);
        proc->dlq_generation++;
        proc_metrics_batch(batch_size, (double)(ma_now_ms() - started) / 1000.0,
                           false);
        MA_LOG_AT(MA_LOG_WARN, "batch rolled back, rewinding partitions",
                  MA_LOG_STR("error", err->message),
                  MA_LOG_STR("sqlstate", err->sqlstate),
                  MA_LOG_INT("records", batch_size));
        if (!attempt_fenced)
                proc_batch_backoff(proc);
        /* Not ready while the database or the broker is being recovered. */
        proc_metrics_set_ready(false);
        if (status != MA_ERR_NOMEM && proc_batch_recover(proc, err)) {
                proc_metrics_set_ready(true);
                return MA_OK;
        }
        proc->fatal = true;
        return status != MA_OK ? status : MA_ERR_INTERNAL;
}
