/*
 * avro_store.c - every schema version under schemas/<subject>/v<N>.avsc,
 * by fingerprint and by record name.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ma/alloc.h"
#include "ma/avro.h"

/* A schema file larger than this is a mistake, not a schema. */
#define MA_AVRO_SCHEMA_FILE_MAX (1024 * 1024)

typedef struct ma_store_item {
        ma_avro_store_entry_t entry;
        char *subject;
        char *path;
        ma_avro_schema_t *schema;
} ma_store_item_t;

struct ma_avro_store {
        ma_store_item_t *items;
        size_t count;
        size_t cap;
};

static ma_status_t ma_store_read_file(const char *path, char **text,
                                      size_t *len, ma_error_t *err)
{
        FILE *file = fopen(path, "rb");
        size_t used = 0;
        char *data;

        *text = NULL;
        if (file == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open schema file \"%s\": %s",
                                    path, strerror(errno));
        data = ma_malloc(MA_AVRO_SCHEMA_FILE_MAX + 1);
        if (data == NULL) {
                fclose(file);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not read schema file \"%s\": out "
                                    "of memory",
                                    path);
        }
        used = fread(data, 1, MA_AVRO_SCHEMA_FILE_MAX + 1, file);
        if (ferror(file) || used > MA_AVRO_SCHEMA_FILE_MAX) {
                int too_large = !ferror(file);

                fclose(file);
                ma_free(data);
                return ma_error_set(
                        err, too_large ? MA_ERR_SCHEMA : MA_ERR_IO, NULL,
                        "could not read schema file \"%s\": %s", path,
                        too_large ? "larger than 1 MiB" : "read error");
        }
        fclose(file);
        data[used] = '\0';
        *text = data;
        *len = used;
        return MA_OK;
}

/* Returns N of "v<N>.avsc", or 0 when the name has another form. */
static int ma_store_version_of(const char *name)
{
        char *end;
        long version;

        if (name[0] != 'v' || name[1] < '1' || name[1] > '9')
                return 0;
        errno = 0;
        version = strtol(name + 1, &end, 10);
        if (errno != 0 || version > 1000000 || strcmp(end, ".avsc") != 0)
                return 0;
        return (int)version;
}

static ma_status_t ma_store_add(ma_avro_store_t *store, const char *subject,
                                const char *path, int version, ma_error_t *err)
{
        ma_store_item_t *item;
        char *text;
        size_t len = 0;
        ma_status_t status;

        if (store->count == store->cap) {
                size_t cap = store->cap ? store->cap * 2 : 8;
                ma_store_item_t *grown =
                        ma_realloc(store->items, cap * sizeof(*grown));

                if (grown == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "could not load schemas: out of "
                                            "memory");
                store->items = grown;
                store->cap = cap;
        }
        status = ma_store_read_file(path, &text, &len, err);
        if (status != MA_OK)
                return status;
        item = &store->items[store->count];
        memset(item, 0, sizeof(*item));
        status = ma_avro_schema_parse(text, len, path, &item->schema, err);
        ma_free(text);
        if (status != MA_OK)
                return status == MA_ERR_PARSE ? MA_ERR_SCHEMA : status;
        item->subject = ma_strdup(subject);
        item->path = ma_strdup(path);
        store->count++;
        if (item->subject == NULL || item->path == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not load schemas: out of memory");
        if (ma_avro_schema_root(item->schema)->fullname == NULL)
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot use schema file \"%s\": its top "
                                    "level is not a named type; make it a "
                                    "record",
                                    path);
        item->entry.version = version;
        return MA_OK;
}

static ma_status_t ma_store_scan_subject(ma_avro_store_t *store,
                                         const char *dir, const char *subject,
                                         ma_error_t *err)
{
        char path[4096];
        DIR *sub;
        struct dirent *ent;
        ma_status_t status = MA_OK;

        snprintf(path, sizeof(path), "%s/%s", dir, subject);
        sub = opendir(path);
        if (sub == NULL)
                return MA_OK; /* a plain file next to the folders */
        while (status == MA_OK && (ent = readdir(sub)) != NULL) {
                int version = ma_store_version_of(ent->d_name);

                if (version == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s/%s", dir, subject,
                         ent->d_name);
                status = ma_store_add(store, subject, path, version, err);
        }
        closedir(sub);
        return status;
}

static int ma_store_item_compare(const void *a, const void *b)
{
        const ma_store_item_t *x = a;
        const ma_store_item_t *y = b;
        int c = strcmp(x->subject, y->subject);

        if (c != 0)
                return c;
        return (x->entry.version > y->entry.version) -
               (x->entry.version < y->entry.version);
}

static ma_status_t ma_store_finish(ma_avro_store_t *store, ma_error_t *err)
{
        qsort(store->items, store->count, sizeof(*store->items),
              ma_store_item_compare);
        for (size_t i = 0; i < store->count; i++) {
                ma_store_item_t *item = &store->items[i];
                const ma_avro_node_t *root = ma_avro_schema_root(item->schema);

                item->entry.subject = item->subject;
                item->entry.path = item->path;
                item->entry.fullname = root->fullname;
                item->entry.fingerprint =
                        ma_avro_schema_fingerprint(item->schema);
                item->entry.schema = item->schema;
                if (i > 0 && strcmp(item->subject, item[-1].subject) == 0 &&
                    strcmp(root->fullname, item[-1].entry.fullname) != 0)
                        return ma_error_set(
                                err, MA_ERR_SCHEMA, NULL,
                                "cannot load schema \"%s\": its record is "
                                "\"%s\" but \"%s\" is \"%s\"; every version "
                                "in one folder must keep the record name",
                                item->path, root->fullname, item[-1].path,
                                item[-1].entry.fullname);
        }
        return MA_OK;
}

ma_status_t ma_avro_store_load(const char *dir, ma_avro_store_t **out,
                               ma_error_t *err)
{
        ma_avro_store_t *store;
        DIR *top;
        struct dirent *ent;
        ma_status_t status = MA_OK;

        *out = NULL;
        top = opendir(dir);
        if (top == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open schema directory \"%s\": "
                                    "%s",
                                    dir, strerror(errno));
        store = ma_calloc(1, sizeof(*store));
        if (store == NULL) {
                closedir(top);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not load schemas: out of memory");
        }
        while (status == MA_OK && (ent = readdir(top)) != NULL) {
                if (ent->d_name[0] == '.')
                        continue;
                status = ma_store_scan_subject(store, dir, ent->d_name, err);
        }
        closedir(top);
        if (status == MA_OK)
                status = ma_store_finish(store, err);
        if (status != MA_OK) {
                ma_avro_store_free(store);
                return status;
        }
        *out = store;
        return MA_OK;
}

void ma_avro_store_free(ma_avro_store_t *store)
{
        if (store == NULL)
                return;
        for (size_t i = 0; i < store->count; i++) {
                ma_free(store->items[i].subject);
                ma_free(store->items[i].path);
                ma_avro_schema_free(store->items[i].schema);
        }
        ma_free(store->items);
        ma_free(store);
}

size_t ma_avro_store_count(const ma_avro_store_t *store)
{
        return store->count;
}

const ma_avro_store_entry_t *ma_avro_store_at(const ma_avro_store_t *store,
                                              size_t index)
{
        return index < store->count ? &store->items[index].entry : NULL;
}

const ma_avro_store_entry_t *ma_avro_store_find(const ma_avro_store_t *store,
                                                uint64_t fingerprint)
{
        for (size_t i = 0; i < store->count; i++) {
                if (store->items[i].entry.fingerprint == fingerprint)
                        return &store->items[i].entry;
        }
        return NULL;
}

const ma_avro_store_entry_t *ma_avro_store_latest(const ma_avro_store_t *store,
                                                  const char *fullname,
                                                  int max_version)
{
        const ma_avro_store_entry_t *best = NULL;

        for (size_t i = 0; i < store->count; i++) {
                const ma_avro_store_entry_t *entry = &store->items[i].entry;

                if (strcmp(entry->fullname, fullname) != 0)
                        continue;
                if (max_version > 0 && entry->version > max_version)
                        continue;
                if (best == NULL || entry->version > best->version)
                        best = entry;
        }
        return best;
}
