/*
 * proc_partitions.c - the partitions this instance owns and the offset each
 * has committed in PostgreSQL.  A batch commits only when the database still
 * contains the offset recorded here, which fences out an instance that lost a
 * partition without noticing.
 */
#include <string.h>

#include "ma/alloc.h"
#include "processor.h"

proc_partition_t *proc_partition_find(proc_t *proc, const char *topic,
                                      int32_t partition)
{
        size_t i;

        for (i = 0; i < proc->partition_count; i++) {
                proc_partition_t *p = &proc->partitions[i];

                if (p->partition == partition && strcmp(p->topic, topic) == 0)
                        return p;
        }
        return NULL;
}

ma_status_t proc_partition_add(proc_t *proc, const char *topic,
                               int32_t partition, int64_t last_offset)
{
        proc_partition_t *p = proc_partition_find(proc, topic, partition);

        if (p != NULL) {
                p->last_offset = last_offset;
                return MA_OK;
        }
        if (proc->partition_count == proc->partition_cap) {
                size_t cap = proc->partition_cap ? proc->partition_cap * 2 : 16;
                proc_partition_t *grown =
                        ma_realloc(proc->partitions, cap * sizeof(*grown));

                if (grown == NULL)
                        return MA_ERR_NOMEM;
                proc->partitions = grown;
                proc->partition_cap = cap;
        }
        p = &proc->partitions[proc->partition_count];
        p->topic = ma_strdup(topic);
        if (p->topic == NULL)
                return MA_ERR_NOMEM;
        p->partition = partition;
        p->last_offset = last_offset;
        proc->partition_count++;
        return MA_OK;
}

void proc_partition_remove(proc_t *proc, const char *topic, int32_t partition)
{
        proc_partition_t *p = proc_partition_find(proc, topic, partition);
        size_t index;

        if (p == NULL)
                return;
        index = (size_t)(p - proc->partitions);
        ma_free(p->topic);
        proc->partitions[index] = proc->partitions[proc->partition_count - 1];
        proc->partition_count--;
}

void proc_partitions_clear(proc_t *proc)
{
        size_t i;

        for (i = 0; i < proc->partition_count; i++)
                ma_free(proc->partitions[i].topic);
        ma_free(proc->partitions);
        proc->partitions = NULL;
        proc->partition_count = 0;
        proc->partition_cap = 0;
}
