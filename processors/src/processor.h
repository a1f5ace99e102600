/*
 * processor.h - internals of ma-processor shared by its source files.
 *
 * Threads: everything here runs on the main thread (the consumer's poll
 * loop, which also runs the rebalance callback), except proc_metrics_*,
 * which the HTTP thread reads under the metrics lock.
 */
#ifndef MA_PROCESSOR_H
#define MA_PROCESSOR_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "ma/catalog.h"
#include "ma/codec.h"
#include "ma/event.h"
#include "ma/pg.h"
#include "ma/pseudonym.h"
#include "ma/status.h"
#include "ma/validate.h"

/* ---- Classification of one record ---- */

/* Why a record goes to the dead-letter topic; PROC_ACCEPT when it does not. */
typedef enum proc_reason {
        PROC_ACCEPT = 0,
        PROC_REJECT_DECODE,           /* not Avro single-object, or corrupt */
        PROC_REJECT_FINGERPRINT,      /* unknown writer schema */
        PROC_REJECT_VALIDATION,       /* breaks a rule of ma_event_validate */
        PROC_REJECT_UNKNOWN_PRODUCER, /* organisationsnummer not in catalog */
        PROC_REJECT_UNKNOWN_TYPE,     /* type not in the catalog */
        PROC_REJECT_FOREIGN_PREFIX,   /* type of another producer's prefix */
} proc_reason_t;

#define PROC_REASON_COUNT 7

/* The code stored in ma_dlq_reason and rejected_events.reason. */
const char *proc_reason_code(proc_reason_t reason);

/*
 * Decodes and checks one record value.  On PROC_ACCEPT *event contains the
 * decoded event (the caller clears it); otherwise detail contains a readable
 * reason without identity numbers and event is cleared.  now_ms is the
 * instant the time rules are checked against.  Returns MA_OK, or
 * MA_ERR_NOMEM when the record could not be judged at all.
 */
ma_status_t proc_classify(const ma_codec_t *codec, const ma_catalog_t *catalog,
                          const ma_validate_limits_t *limits, const void *value,
                          size_t len, int64_t now_ms, ma_event_t *event,
                          proc_reason_t *reason_out, char *detail,
                          size_t detail_size);

/* ---- Settings ---- */

typedef struct proc_settings {
        const char *brokers;
        const char *group_id;
        const char *topic_prefix; /* "ma." */
        char topic_pattern[256];  /* ^ma\.kundhandelser\..* */
        char dlq_topic[256];      /* ma.deadletter */
        bool dlq_create;
        int dlq_partitions;
        const char *assignment_strategy;
        int metadata_refresh_ms;
        int session_timeout_ms;
        int fetch_wait_ms;
        int close_timeout_ms; /* maximum wait to leave the group at stop */
        int batch_max;
        int batch_linger_ms;
        bool batch_flush_idle;   /* commit once nothing more is queued */
        bool batch_per_record;   /* batch.apply=record: one statement each */
        bool synchronous_commit; /* false: SET LOCAL synchronous_commit=off */
        int dlq_timeout_ms;
        const char *database_url;
        const char *migrations_dir;
        const char *schema_dir;
        const char *catalog_path;
        int max_message_bytes;
        const char *metrics_address;
        int metrics_port;
        int64_t retention_interval_ms; /* 0: no scheduled retention */
        int retention_batch;           /* events deleted per transaction */
        const char *retention_now;     /* timestamptz text; NULL: now() */
        bool retention_once;           /* run retention, then exit */
} proc_settings_t;

/* ---- Retention ---- */

/* What one retention transaction deleted or recomputed, by table. */
enum {
        PROC_RETENTION_KUNDHANDELSE = 0,
        PROC_RETENTION_VERSION,
        PROC_RETENTION_ARENDE,
        PROC_RETENTION_KUND_INDEX,
        PROC_RETENTION_ARENDE_UPDATED,
        PROC_RETENTION_KUND_INDEX_UPDATED,
        PROC_RETENTION_COUNTS
};

/* ---- Partitions this instance owns ---- */

typedef struct proc_partition {
        char *topic;
        int32_t partition;
        int64_t last_offset; /* committed in PostgreSQL; -1: none yet */
} proc_partition_t;

/* ---- Staging rows for ma_apply_staged (proc_copy.c) ---- */

/* Where one staged row sits in proc_copy_t.data. */
typedef struct proc_copy_row {
        size_t ord;   /* the record's index in the batch */
        size_t start; /* the row's first byte */
        size_t end;   /* one past its newline */
        size_t key;   /* its organisationsnummer and id in keys */
        /* A publish's kundhandelse columns as a binary COPY tuple in bin:
         * its first byte (SIZE_MAX when it has none), the end of its
         * org, id and sekvens fields, and one past its end. */
        size_t bin_start, bin_key_end, bin_end;
        int64_t sekvens;
        long group; /* the first row of the batch with the same event */
        long best;  /* in a first row: the row with the highest sekvens */
        bool publish;
        bool retraction_in_group; /* in a first row */
        bool staged;              /* goes through ma_apply_staged() */
        bool write;               /* new: copied into kundhandelse */
        bool skip;           /* its offset is already committed: not applied */
        bool planned_skip;   /* skip when proc_copy_plan() ran */
        const char *outcome; /* of a row that is not staged */
} proc_copy_row_t;

/*
 * A batch's accepted records in COPY text format, reused across batches.
 * proc_copy_divide() divides them by event: when every record of an event
 * in the batch is a publish and the event is not registered yet, the
 * event is new.  The record with its highest sekvens is copied into
 * kundhandelse and, as its version, into kundhandelse_version, and the
 * outcomes of the event's records follow from their order (inserted,
 * then replaced by each higher sekvens, the others stale).  Every other record
 * is staged in ma_batch_in for ma_apply_staged(), which decides replace,
 * retract and stale against what is stored.
 */
typedef struct proc_copy {
        char *data;
        size_t len;
        size_t cap;
        size_t rows;
        bool failed; /* an allocation failed; the rows are incomplete */
        proc_copy_row_t *row;
        size_t row_cap;
        ma_buf_t keys; /* per row: organisationsnummer NUL id NUL */
        ma_buf_t bin;  /* the publishes' binary tuples */
        /* Working state of proc_copy_plan() and proc_copy_divide(): the
         * array literals of the events that may be new, their first rows,
         * and a hash table of keys that groups the rows by event. */
        ma_buf_t orgs, ids;
        size_t *candidate;
        size_t candidates; /* entries of candidate, orgs and ids */
        bool planned;      /* proc_copy_plan() ran on these rows */
        long *slot;
        size_t slot_cap;
        ma_buf_t events, versions;    /* the new events' binary COPY data */
        ma_buf_t staged;              /* ma_batch_in rows */
        size_t new_rows, staged_rows; /* after proc_copy_divide() */
} proc_copy_t;

/* Empties the rows and keeps the memory. */
void proc_copy_reset(proc_copy_t *copy);
void proc_copy_free(proc_copy_t *copy);
/*
 * Appends the record as one row of ma_batch_in; ord is its index in the
 * batch and kund its customer pseudonym (ignored when the event has no
 * customer).  Errors: MA_ERR_NOMEM.
 */
ma_status_t proc_copy_record(proc_copy_t *copy, size_t ord,
                             const rd_kafka_message_t *message,
                             const ma_event_t *event, const char *kund,
                             ma_error_t *err);
/*
 * The statement that returns which events proc_copy_plan() listed are
 * registered already; its parameters come from proc_copy_probe_params().
 */
extern const char proc_copy_probe_sql[];
/*
 * Groups the rows that are not skipped by event and lists the events that
 * may be new (copy->candidates of them), so the probe can be sent before
 * the records are applied.  Remembers each row's skip flag.  Errors:
 * MA_ERR_NOMEM.
 */
ma_status_t proc_copy_plan(proc_copy_t *copy, ma_error_t *err);
/* Sets values to the probe's parameters: the candidates' organisationsnummer
 * and id array literals. */
void proc_copy_probe_params(const proc_copy_t *copy, const char *values[2]);
/* True when proc_copy_plan() ran and every row's skip flag is unchanged. */
bool proc_copy_plan_holds(const proc_copy_t *copy);
/*
 * Divides the planned rows into new and staged ones by the result of the
 * probe (NULL when there were no candidates).  Errors: MA_ERR_NOMEM,
 * MA_ERR_INTERNAL.
 */
ma_status_t proc_copy_divide(proc_copy_t *copy, const PGresult *probe,
                             ma_error_t *err);
/*
 * Plans, looks up in the open transaction which of the batch's events that
 * may be new are registered already, and divides the rows into new and
 * staged ones.  Errors: MA_ERR_PG, MA_ERR_NOMEM.
 */
ma_status_t proc_copy_split(PGconn *pg, proc_copy_t *copy, ma_error_t *err);
/*
 * Copies the new events into kundhandelse and kundhandelse_version and
 * loads the staged rows into ma_batch_in (creating the session's staging
 * tables when missing), in the open transaction.  Errors: MA_ERR_PG.
 */
ma_status_t proc_copy_send(PGconn *pg, const proc_copy_t *copy,
                           ma_error_t *err);

/* ---- Classifying ahead (proc_ahead.c) ---- */

/* What the classifier decided for one record of a batch. */
typedef struct proc_verdict {
        ma_status_t status; /* MA_OK, or why it could not be classified */
        proc_reason_t reason;
        char *detail; /* a rejected record's detail (ma_malloc) */
        long row;     /* an accepted record's row in the batch's copy */
} proc_verdict_t;

/*
 * The batch being filled by the poll loop while the previous one is
 * applied; the classifier thread works through [classified, count).
 */
typedef struct proc_fill {
        rd_kafka_message_t **batch;
        proc_verdict_t *verdict;
        proc_copy_t copy;
        size_t count;
        size_t classified;
        int64_t started_ms;
        bool started; /* thread, lock and arrays exist */
        bool stop;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
} proc_fill_t;

/* ---- Process state ---- */

/* Delivery state of one dead letter of the current batch. */
typedef struct proc_dlq_slot {
        bool done;
        rd_kafka_resp_err_t err;
} proc_dlq_slot_t;

typedef struct proc {
        proc_settings_t settings;
        const volatile sig_atomic_t *stop;

        ma_codec_t *codec;
        ma_catalog_t *catalog;
        ma_pseudonym_key_t *pseudonym_key;
        ma_validate_limits_t limits;

        PGconn *pg;
        /* The server process of pg whose session has prepared the batch's
         * statements (proc_batch.c), or 0. */
        int prepared_pid;
        rd_kafka_t *consumer;
        rd_kafka_t *dlq_producer;

        proc_partition_t *partitions;
        size_t partition_count;
        size_t partition_cap;

        /* The batch being applied, with the classifier's verdicts and
         * rows, and the next one being filled. */
        rd_kafka_message_t **batch;
        size_t batch_count;
        int64_t batch_started_ms;
        proc_verdict_t *verdict;
        proc_copy_t copy;
        proc_fill_t fill;

        /* One slot per record of the batch.  The delivery callback matches
         * the generation, which moves on with each batch attempt, so a late
         * report of an abandoned attempt cannot mark a new one delivered. */
        proc_dlq_slot_t *dlq_slots;
        size_t dlq_slot_count;
        uint32_t dlq_generation;

        /* Per batch record: a reason forced after PostgreSQL rejected it. */
        char **forced_detail;

        /* Scheduled retention: due at retention_next_ms; while
         * retention_pending, one retention transaction runs between
         * batches until nothing more is due. */
        int64_t retention_next_ms;
        bool retention_pending;
        int64_t retention_run_totals[PROC_RETENTION_COUNTS];

        int64_t kafka_commit_next_ms; /* next monitoring commit to Kafka */
        int failed_batches; /* consecutive rolled-back batches, for backoff */
        bool fatal; /* set when the loop must stop without committing more */
} proc_t;

/* ---- proc_pg.c: database work ---- */

/* Connects (with retry), applies the migrations and loads the catalog. */
ma_status_t proc_pg_open(proc_t *proc, ma_error_t *err);
/* Drops the connection and connects again (with retry). */
ma_status_t proc_pg_reconnect(proc_t *proc, ma_error_t *err);
/* Upserts producers and event types from the loaded catalog. */
ma_status_t proc_pg_load_catalog(proc_t *proc, ma_error_t *err);
/*
 * Reads the committed offsets of the partitions in parts and sets each
 * element's offset to the next one to consume (or to the beginning).
 */
ma_status_t proc_pg_load_offsets(proc_t *proc,
                                 rd_kafka_topic_partition_list_t *parts,
                                 const char *log_message, ma_error_t *err);

/* ---- proc_retention.c ---- */

/*
 * Runs one retention transaction (ma_retention_delete) for at most
 * retention.batch events and adds its counts to counts.  *more is set when
 * the batch was full, so more may be due.  Errors: MA_ERR_PG (nothing was
 * deleted; the caller may try again later).
 */
ma_status_t proc_retention_step(proc_t *proc,
                                int64_t counts[PROC_RETENTION_COUNTS],
                                bool *more, ma_error_t *err);
/* Runs retention until nothing is due; for --retention.once. */
ma_status_t proc_retention_run_all(proc_t *proc, ma_error_t *err);
/*
 * Called from the poll loop when no batch is pending: starts a run when it
 * is due and otherwise does one step of the current run.
 */
void proc_retention_tick(proc_t *proc);
/* Table names of the deleted counts, as in ma_retention_deleted_total. */
const char *proc_retention_table(int index);

/* ---- proc_partitions.c ---- */

proc_partition_t *proc_partition_find(proc_t *proc, const char *topic,
                                      int32_t partition);
ma_status_t proc_partition_add(proc_t *proc, const char *topic,
                               int32_t partition, int64_t last_offset);
void proc_partition_remove(proc_t *proc, const char *topic, int32_t partition);
void proc_partitions_clear(proc_t *proc);

/* ---- proc_kafka.c ---- */

ma_status_t proc_kafka_open(proc_t *proc, ma_error_t *err);
/*
 * Leaves the group (the revoke callback commits the pending batch) within
 * kafka.close-timeout and frees the consumer and the dead-letter producer.
 */
void proc_kafka_close(proc_t *proc);
/*
 * Moves every owned partition back to its offset in PostgreSQL, after a
 * failed or fenced batch, so nothing uncommitted is skipped.
 */
ma_status_t proc_kafka_rewind(proc_t *proc, ma_error_t *err);
/* Interval of the monitoring commits to Kafka. */
#define PROC_KAFKA_COMMIT_INTERVAL_MS 1000

/*
 * Commits last_offset + 1 of owned partitions to Kafka, asynchronously, at
 * most once per PROC_KAFKA_COMMIT_INTERVAL_MS (the call does nothing
 * otherwise), so Kafka's offsets may be up to that much behind.
 */
void proc_kafka_commit_async(proc_t *proc);
/*
 * Queues a copy of source (key, value, headers) for the dead-letter topic
 * with the ma_dlq_* headers added; slot is the record's index in the batch.
 */
ma_status_t proc_dlq_produce(proc_t *proc, const rd_kafka_message_t *source,
                             const char *reason, const char *detail,
                             size_t slot, ma_error_t *err);
/* Waits until slots 0..count-1 are delivered; MA_OK only if all are. */
ma_status_t proc_dlq_wait(proc_t *proc, size_t count, ma_error_t *err);
/* Refreshes the lag gauges from the cached high watermarks. */
void proc_kafka_update_lag(proc_t *proc);

/* ---- proc_batch.c ---- */

ma_status_t proc_batch_add(proc_t *proc, rd_kafka_message_t *message,
                           ma_error_t *err);
/*
 * Applies the pending batch in one transaction with its offsets, dead
 * letters and rejected rows, then frees it.  On a transient failure the
 * batch is dropped and every owned partition rewound to PostgreSQL's
 * offsets, so the records are read again.  Returns non-MA_OK only when the
 * processor cannot go on (proc->fatal is then set).
 */
ma_status_t proc_batch_flush(proc_t *proc, ma_error_t *err);
void proc_batch_drop(proc_t *proc);
/*
 * Appends the record as one row of copy (proc_copy_record with its
 * customer pseudonym).  Errors: MA_ERR_NOMEM, a pseudonym failure.
 */
ma_status_t proc_stage_record(proc_t *proc, proc_copy_t *copy, size_t ord,
                              const rd_kafka_message_t *message,
                              const ma_event_t *event, ma_error_t *err);
/*
 * Waits for the classifier and makes the filled batch the one that
 * proc_batch_flush() applies; does nothing while that one is not empty.
 */
void proc_batch_close(proc_t *proc);
/* Flushes the batch being applied, then the one being filled. */
ma_status_t proc_batch_flush_all(proc_t *proc, ma_error_t *err);
/* Drops the records of the batch being filled (before a rewind). */
void proc_ahead_drop(proc_t *proc);
/* Stops the classifier and frees the batch being filled. */
void proc_ahead_free(proc_t *proc);

/* ---- proc_metrics.c ---- */

ma_status_t proc_metrics_start(const char *address, int port, ma_error_t *err);
void proc_metrics_stop(void);
void proc_metrics_set_ready(bool ready);
void proc_metrics_consumed(uint64_t count);
/* outcome: inserted, replaced, stale, retracted, tombstone */
void proc_metrics_applied(const char *outcome, uint64_t count);
void proc_metrics_rejected(proc_reason_t reason, uint64_t count);
void proc_metrics_batch(size_t size, double seconds, bool ok);
void proc_metrics_lag(const char *topic, int32_t partition, int64_t lag);
void proc_metrics_lag_clear(void);
/* Adds one retention transaction's deleted rows (PROC_RETENTION_* order). */
void proc_metrics_retention(const int64_t counts[PROC_RETENTION_COUNTS]);

/* Makes room for extra more bytes in buf; false when out of memory. */
bool proc_buf_reserve(ma_buf_t *buf, size_t extra);
/* Appends text to buf as a double-quoted element of a PostgreSQL array
 * literal, escaping '"' and '\\'.  Errors: MA_ERR_NOMEM. */
ma_status_t proc_array_append(ma_buf_t *buf, const char *text);
/* Adds text as the next element of the array literal in buf. */
ma_status_t proc_list_add(ma_buf_t *buf, const char *text);
/* Closes the array literal in buf ("{}" when empty) and adds a NUL. */
ma_status_t proc_list_end(ma_buf_t *buf);

#endif /* MA_PROCESSOR_H */
