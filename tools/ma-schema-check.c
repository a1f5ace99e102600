/*
 * ma-schema-check - checks that every version of every Avro schema can be
 * read by, and can read, the version before it.
 *
 * Usage: ma-schema-check [--mode backward|forward|full] SCHEMA_DIR
 *
 * Loads SCHEMA_DIR/<subject>/v<N>.avsc, requires versions 1..N without gaps,
 * and checks each consecutive pair v(N-1) -> vN in the mode (default full:
 * consumers on either version read producers on either version).  Prints one
 * line per problem and exits 0 when all pairs pass, 1 when one does not, 2
 * on a usage error or a schema that does not load.  It reads files only, so
 * stopping or crashing it changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "ma/avro.h"

static int usage(void)
{
        fprintf(stderr, "usage: ma-schema-check [--mode backward|forward|full] "
                        "SCHEMA_DIR\n"
                        "Checks each consecutive pair of schema versions in "
                        "SCHEMA_DIR/<name>/v<N>.avsc.\n"
                        "  --mode  backward: the new version reads old data; "
                        "forward: the old version reads new data; full: both "
                        "(default)\n");
        return 2;
}

/* Checks one pair; returns 1 when it breaks compatibility. */
static int check_pair(const ma_avro_store_entry_t *old_entry,
                      const ma_avro_store_entry_t *new_entry,
                      ma_avro_compat_mode_t mode)
{
        ma_error_t err = {0};

        if (new_entry->version != old_entry->version + 1) {
                printf("schema %s v%d -> v%d: version %d is missing; number "
                       "versions without gaps\n",
                       new_entry->fullname, old_entry->version,
                       new_entry->version, old_entry->version + 1);
                return 1;
        }
        const ma_avro_node_t *old_root = ma_avro_schema_root(old_entry->schema);
        const ma_avro_node_t *new_root = ma_avro_schema_root(new_entry->schema);
        ma_status_t status =
                ma_avro_compat_check(old_root, new_root, mode, &err);

        /* The codec also needs enum symbols to keep their positions. */
        if (status == MA_OK && (mode & MA_AVRO_COMPAT_BACKWARD))
                status = ma_avro_enum_order_check(new_root, old_root, &err);
        if (status == MA_OK && (mode & MA_AVRO_COMPAT_FORWARD))
                status = ma_avro_enum_order_check(old_root, new_root, &err);
        if (status == MA_OK)
                return 0;
        printf("schema %s v%d -> v%d: %s\n", new_entry->fullname,
               old_entry->version, new_entry->version, err.message);
        return 1;
}

int main(int argc, char **argv)
{
        ma_avro_compat_mode_t mode = MA_AVRO_COMPAT_FULL;
        const char *dir = NULL;
        ma_avro_store_t *store = NULL;
        ma_error_t err = {0};
        size_t count;
        int failures = 0;
        int pairs = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
                        int parsed = ma_avro_compat_mode_parse(argv[++i]);

                        if (parsed < 0) {
                                fprintf(stderr,
                                        "ma-schema-check: invalid "
                                        "--mode \"%s\"; use backward, "
                                        "forward or full\n",
                                        argv[i]);
                                return 2;
                        }
                        mode = (ma_avro_compat_mode_t)parsed;
                } else if (argv[i][0] == '-' || dir != NULL) {
                        return usage();
                } else {
                        dir = argv[i];
                }
        }
        if (dir == NULL)
                return usage();
        if (ma_avro_store_load(dir, &store, &err) != MA_OK) {
                fprintf(stderr, "ma-schema-check: %s\n", err.message);
                return 2;
        }
        count = ma_avro_store_count(store);
        for (size_t i = 0; i < count; i++) {
                const ma_avro_store_entry_t *entry = ma_avro_store_at(store, i);
                const ma_avro_store_entry_t *prev =
                        i ? ma_avro_store_at(store, i - 1) : NULL;

                if (prev == NULL ||
                    strcmp(prev->subject, entry->subject) != 0) {
                        if (entry->version != 1) {
                                printf("schema %s: the first version is v%d; "
                                       "start at v1\n",
                                       entry->fullname, entry->version);
                                failures++;
                        }
                        continue;
                }
                pairs++;
                failures += check_pair(prev, entry, mode);
        }
        printf("ma-schema-check: %zu schema files, %d version pairs checked "
               "(%s), problems found: %d\n",
               count, pairs, ma_avro_compat_mode_name(mode), failures);
        ma_avro_store_free(store);
        return failures ? 1 : 0;
}
