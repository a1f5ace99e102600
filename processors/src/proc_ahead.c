/*
 * proc_ahead.c - classifying the next batch while the current one is
 * applied.
 *
 * The poll loop adds records to the batch being filled (proc->fill).  A
 * classifier thread decodes and validates each record as it is added and
 * stages an accepted one as a COPY row, so this CPU work overlaps the
 * previous batch's transaction, which waits on PostgreSQL.  When the loop
 * decides to commit, proc_batch_close() waits for the classifier to catch
 * up and moves the filled batch, with its verdicts and rows, into the
 * batch that proc_batch_flush() applies (proc->batch).
 *
 * The classifier only reads the codec, the catalog, the limits and the
 * pseudonym key, which are not changed while the loop runs, and writes the
 * filled batch's verdicts and rows.  The main thread touches those only
 * under the lock and after the classifier has caught up.  Nothing here
 * reaches PostgreSQL or Kafka, so a crash at any point loses only work that
 * the records' offsets will have read again.
 */
#include <stdio.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "processor.h"

/* Classifies the fill's record index; runs on the classifier thread. */
static void proc_ahead_classify(proc_t *proc, size_t index)
{
        proc_fill_t *fill = &proc->fill;
        const rd_kafka_message_t *message = fill->batch[index];
        proc_verdict_t *verdict = &fill->verdict[index];
        int64_t now_ms = rd_kafka_message_timestamp(message, NULL);
        char detail[700];
        ma_event_t event;
        ma_error_t err;

        verdict->status = MA_OK;
        verdict->reason = PROC_ACCEPT;
        verdict->row = -1;
        verdict->detail = NULL;
        /* With batch.apply=record, proc_batch_record() classifies each
         * record itself when it applies it. */
        if (proc->settings.batch_per_record)
                return;
        /* The record's own timestamp makes the time rules give the same
         * verdict when the record is read again after a crash. */
        if (now_ms < 0)
                now_ms = ma_now_ms();
        ma_event_init(&event);
        ma_error_clear(&err);
        verdict->status =
                proc_classify(proc->codec, proc->catalog, &proc->limits,
                              message->payload, message->len, now_ms, &event,
                              &verdict->reason, detail, sizeof(detail));
        if (verdict->status != MA_OK)
                return;
        if (verdict->reason != PROC_ACCEPT) {
                verdict->detail = ma_strdup(detail);
                if (verdict->detail == NULL)
                        verdict->status = MA_ERR_NOMEM;
                return;
        }
        verdict->row = (long)fill->copy.rows;
        verdict->status = proc_stage_record(proc, &fill->copy, index, message,
                                            &event, &err);
        ma_event_clear(&event);
}

static void *proc_ahead_main(void *arg)
{
        proc_t *proc = arg;
        proc_fill_t *fill = &proc->fill;
        size_t index;

        pthread_mutex_lock(&fill->lock);
        for (;;) {
                while (!fill->stop && fill->classified == fill->count)
                        pthread_cond_wait(&fill->cond, &fill->lock);
                if (fill->stop)
                        break;
                index = fill->classified;
                pthread_mutex_unlock(&fill->lock);
                proc_ahead_classify(proc, index);
                pthread_mutex_lock(&fill->lock);
                fill->classified = index + 1;
                pthread_cond_broadcast(&fill->cond);
        }
        pthread_mutex_unlock(&fill->lock);
        return NULL;
}

/* Allocates both batches' arrays and starts the classifier. */
static ma_status_t proc_ahead_start(proc_t *proc, ma_error_t *err)
{
        size_t max = (size_t)proc->settings.batch_max;
        proc_fill_t *fill = &proc->fill;

        proc->batch = ma_calloc(max, sizeof(*proc->batch));
        proc->verdict = ma_calloc(max, sizeof(*proc->verdict));
        proc->forced_detail = ma_calloc(max, sizeof(*proc->forced_detail));
        proc->dlq_slots = ma_calloc(max, sizeof(*proc->dlq_slots));
        fill->batch = ma_calloc(max, sizeof(*fill->batch));
        fill->verdict = ma_calloc(max, sizeof(*fill->verdict));
        if (proc->batch == NULL || proc->verdict == NULL ||
            proc->forced_detail == NULL || proc->dlq_slots == NULL ||
            fill->batch == NULL || fill->verdict == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not allocate the batch");
        proc->dlq_slot_count = max;
        if (pthread_mutex_init(&fill->lock, NULL) != 0 ||
            pthread_cond_init(&fill->cond, NULL) != 0)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not create the classifier's lock");
        if (pthread_create(&fill->thread, NULL, proc_ahead_main, proc) != 0)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not start the classifier thread");
        fill->started = true;
        return MA_OK;
}

ma_status_t proc_batch_add(proc_t *proc, rd_kafka_message_t *message,
                           ma_error_t *err)
{
        proc_fill_t *fill = &proc->fill;

        if (!fill->started) {
                ma_status_t status = proc_ahead_start(proc, err);

                if (status != MA_OK)
                        return status;
        }
        if (fill->count >= (size_t)proc->settings.batch_max)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "batch is full; flush it first");
        pthread_mutex_lock(&fill->lock);
        if (fill->count == 0)
                fill->started_ms = ma_now_ms();
        fill->batch[fill->count++] = message;
        pthread_cond_broadcast(&fill->cond);
        pthread_mutex_unlock(&fill->lock);
        return MA_OK;
}

/* Waits until the classifier has done every record of the fill. */
static void proc_ahead_wait(proc_fill_t *fill)
{
        if (!fill->started)
                return;
        pthread_mutex_lock(&fill->lock);
        while (fill->classified < fill->count)
                pthread_cond_wait(&fill->cond, &fill->lock);
        pthread_mutex_unlock(&fill->lock);
}

void proc_batch_close(proc_t *proc)
{
        proc_fill_t *fill = &proc->fill;
        rd_kafka_message_t **batch;
        proc_verdict_t *verdict;
        proc_copy_t copy;

        if (fill->count == 0 || proc->batch_count > 0)
                return;
        proc_ahead_wait(fill);
        /* The classifier is idle until the next proc_batch_add(). */
        pthread_mutex_lock(&fill->lock);
        batch = proc->batch;
        verdict = proc->verdict;
        copy = proc->copy;
        proc->batch = fill->batch;
        proc->verdict = fill->verdict;
        proc->copy = fill->copy;
        proc->batch_count = fill->count;
        proc->batch_started_ms = fill->started_ms;
        fill->batch = batch;
        fill->verdict = verdict;
        fill->copy = copy;
        proc_copy_reset(&fill->copy);
        fill->count = 0;
        fill->classified = 0;
        pthread_mutex_unlock(&fill->lock);
}

void proc_ahead_drop(proc_t *proc)
{
        proc_fill_t *fill = &proc->fill;
        size_t i;

        if (!fill->started)
                return;
        proc_ahead_wait(fill);
        pthread_mutex_lock(&fill->lock);
        for (i = 0; i < fill->count; i++) {
                rd_kafka_message_destroy(fill->batch[i]);
                fill->batch[i] = NULL;
                ma_free(fill->verdict[i].detail);
                fill->verdict[i].detail = NULL;
        }
        proc_copy_reset(&fill->copy);
        fill->count = 0;
        fill->classified = 0;
        pthread_mutex_unlock(&fill->lock);
}

void proc_ahead_free(proc_t *proc)
{
        proc_fill_t *fill = &proc->fill;

        if (fill->started) {
                proc_ahead_drop(proc);
                pthread_mutex_lock(&fill->lock);
                fill->stop = true;
                pthread_cond_broadcast(&fill->cond);
                pthread_mutex_unlock(&fill->lock);
                pthread_join(fill->thread, NULL);
                pthread_cond_destroy(&fill->cond);
                pthread_mutex_destroy(&fill->lock);
                fill->started = false;
        }
        ma_free(fill->batch);
        ma_free(fill->verdict);
        proc_copy_free(&fill->copy);
        fill->batch = NULL;
        fill->verdict = NULL;
}

ma_status_t proc_batch_flush_all(proc_t *proc, ma_error_t *err)
{
        ma_status_t status = proc_batch_flush(proc, err);

        if (status == MA_OK && !proc->fatal && proc->fill.count > 0) {
                proc_batch_close(proc);
                status = proc_batch_flush(proc, err);
        }
        return status;
}
