/*
 * kafka_admin.h - creating producer topics and raising their partition
 * count, the operators' lever for scaling the processor.
 *
 * Threads: each call makes and destroys its own librdkafka client, so any
 * thread may call it; it blocks for at most timeout_ms (plus a little).
 */
#ifndef MA_KAFKA_ADMIN_H
#define MA_KAFKA_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "ma/status.h"

/* What ma_kafka_topic_ensure() did. */
typedef enum ma_topic_action {
        MA_TOPIC_UNCHANGED = 0, /* existed with at least the partitions asked */
        MA_TOPIC_CREATED = 1,
        MA_TOPIC_GREW = 2, /* existed; partitions were added */
} ma_topic_action_t;

/*
 * Makes sure topic exists with at least partitions partitions: creates it
 * (replication factor replication) or adds partitions, and then waits until
 * every partition has a leader.  Never removes partitions.  *partitions_out, if
 * not NULL, receives the count afterwards and *action_out what was done.
 * Errors: MA_ERR_KAFKA with the broker's code in err->cause, MA_ERR_TIMEOUT
 * when Kafka did not respond in time, MA_ERR_INVALID for a bad name or count.
 */
ma_status_t ma_kafka_topic_ensure(const char *bootstrap_servers,
                                  const char *topic, int partitions,
                                  int replication, int timeout_ms,
                                  int *partitions_out,
                                  ma_topic_action_t *action_out,
                                  ma_error_t *err);

/*
 * Makes sure topic keeps its records for at least retention_ms
 * milliseconds (-1: for ever).  A topic whose retention.ms is shorter is
 * altered; one with a longer or unlimited retention is left as it is.
 * The topic's other topic-level settings are kept: librdkafka 2.0 has only
 * the non-incremental AlterConfigs, which replaces the whole set, so they
 * are read first and sent along.  *changed_out, if not NULL, is set to
 * whether it was altered.  Errors as ma_kafka_topic_ensure(), and
 * MA_ERR_NOT_FOUND when the topic does not exist.
 */
ma_status_t ma_kafka_topic_ensure_retention(const char *bootstrap_servers,
                                            const char *topic,
                                            long long retention_ms,
                                            int timeout_ms, bool *changed_out,
                                            ma_error_t *err);

#endif /* MA_KAFKA_ADMIN_H */
