/*
 * gw_create_topic.c - creates Kafka topics for the gateway tests and waits
 * until each has a leader, because the test broker does not create topics
 * on first use (auto.create.topics.enable=false).
 *
 * Usage: gw_create_topic BOOTSTRAP TOPIC...
 * Exits 0 when every topic exists (created now or before), 1 otherwise,
 * with the reason on stderr.
 */
#include <stdio.h>

#include "ma/kafka_admin.h"

#define GW_TOPIC_TIMEOUT_MS 30000
#define GW_TOPIC_PARTITIONS 3

int main(int argc, char **argv)
{
        ma_error_t err;

        if (argc < 3) {
                fprintf(stderr, "usage: gw_create_topic BOOTSTRAP TOPIC...\n");
                return 2;
        }
        for (int i = 2; i < argc; i++) {
                if (ma_kafka_topic_ensure(argv[1], argv[i], GW_TOPIC_PARTITIONS,
                                          1, GW_TOPIC_TIMEOUT_MS, NULL, NULL,
                                          &err) != MA_OK) {
                        fprintf(stderr, "gw_create_topic: %s\n", err.message);
                        return 1;
                }
        }
        return 0;
}
