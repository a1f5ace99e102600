/*
 * avro_compat.c - schema compatibility by the resolution rules of the Avro
 * specification ("Schema Resolution"), with the modes of Confluent's schema
 * registry: backward (the new schema reads data written with the old one),
 * forward (the old schema reads data written with the new one) and full
 * (both).  Aliases and enum defaults are not considered, so a rename always
 * counts as breaking.
 */
#include <stdio.h>
#include <string.h>

#include "ma/avro.h"

typedef enum ma_issue_kind {
        MA_ISSUE_NONE,
        MA_ISSUE_FIELD_NO_DEFAULT, /* reader field missing from writer */
        MA_ISSUE_TYPE,             /* writer type not readable as reader's */
        MA_ISSUE_NAME,             /* named types with different names */
        MA_ISSUE_SIZE,             /* fixed sizes differ */
        MA_ISSUE_SYMBOL,           /* writer enum symbol missing in reader */
        MA_ISSUE_BRANCH,           /* writer union branch unreadable */
} ma_issue_kind_t;

typedef struct ma_issue {
        ma_issue_kind_t kind;
        char path[64];
        char reader_type[128];
        char writer_type[128];
        char detail[128]; /* field name, symbol */
} ma_issue_t;

/* Pairs under comparison, so recursive records end the recursion. */
#define MA_COMPAT_MAX_STACK 64

typedef struct ma_compat {
        const ma_avro_node_t *reader_stack[MA_COMPAT_MAX_STACK];
        const ma_avro_node_t *writer_stack[MA_COMPAT_MAX_STACK];
        size_t depth;
        char path[64];
        ma_issue_t issue;
} ma_compat_t;

static const char *ma_type_label(const ma_avro_node_t *node)
{
        static const char *const names[] = {
                "null",   "boolean", "int",    "long",   "float",
                "double", "bytes",   "string", "record", "enum",
                "array",  "map",     "union",  "fixed",
        };

        if (node->fullname != NULL)
                return node->fullname;
        return names[node->type];
}

static int ma_compat_fail(ma_compat_t *compat, ma_issue_kind_t kind,
                          const ma_avro_node_t *reader,
                          const ma_avro_node_t *writer, const char *detail)
{
        ma_issue_t *issue = &compat->issue;

        issue->kind = kind;
        snprintf(issue->path, sizeof(issue->path), "%s", compat->path);
        snprintf(issue->reader_type, sizeof(issue->reader_type), "%s",
                 reader ? ma_type_label(reader) : "");
        snprintf(issue->writer_type, sizeof(issue->writer_type), "%s",
                 writer ? ma_type_label(writer) : "");
        snprintf(issue->detail, sizeof(issue->detail), "%s",
                 detail ? detail : "");
        return 0;
}

/* Unqualified names: the specification matches records by them. */
static const char *ma_short_name(const char *fullname)
{
        const char *dot = strrchr(fullname, '.');

        return dot ? dot + 1 : fullname;
}

static int ma_promotable(ma_avro_type_t writer, ma_avro_type_t reader)
{
        switch (writer) {
        case MA_AVRO_INT:
                return reader == MA_AVRO_LONG || reader == MA_AVRO_FLOAT ||
                       reader == MA_AVRO_DOUBLE;
        case MA_AVRO_LONG:
                return reader == MA_AVRO_FLOAT || reader == MA_AVRO_DOUBLE;
        case MA_AVRO_FLOAT:
                return reader == MA_AVRO_DOUBLE;
        case MA_AVRO_STRING:
                return reader == MA_AVRO_BYTES;
        case MA_AVRO_BYTES:
                return reader == MA_AVRO_STRING;
        default:
                return 0;
        }
}

static int ma_can_read(ma_compat_t *compat, const ma_avro_node_t *reader,
                       const ma_avro_node_t *writer);

static int ma_can_read_record(ma_compat_t *compat, const ma_avro_node_t *reader,
                              const ma_avro_node_t *writer)
{
        size_t path_len = strlen(compat->path);

        for (size_t i = 0; i < reader->field_count; i++) {
                const ma_avro_field_t *field = &reader->fields[i];
                const ma_avro_field_t *wfield =
                        ma_avro_record_field(writer, field->name);

                snprintf(compat->path + path_len,
                         sizeof(compat->path) - path_len, "%s%s",
                         path_len ? "." : "", field->name);
                if (wfield == NULL) {
                        if (field->default_json == NULL)
                                return ma_compat_fail(
                                        compat, MA_ISSUE_FIELD_NO_DEFAULT,
                                        field->type, NULL, field->name);
                        continue;
                }
                if (!ma_can_read(compat, field->type, wfield->type))
                        return 0;
        }
        compat->path[path_len] = '\0';
        return 1;
}

/* Both nodes have the same type, and neither is a union. */
static int ma_can_read_same(ma_compat_t *compat, const ma_avro_node_t *reader,
                            const ma_avro_node_t *writer)
{
        char size[64];

        if (reader->fullname != NULL &&
            strcmp(ma_short_name(reader->fullname),
                   ma_short_name(writer->fullname)) != 0)
                return ma_compat_fail(compat, MA_ISSUE_NAME, reader, writer,
                                      NULL);
        switch (reader->type) {
        case MA_AVRO_RECORD:
                return ma_can_read_record(compat, reader, writer);
        case MA_AVRO_ENUM:
                for (size_t i = 0; i < writer->symbol_count; i++) {
                        size_t j = 0;

                        while (j < reader->symbol_count &&
                               strcmp(reader->symbols[j], writer->symbols[i]))
                                j++;
                        if (j == reader->symbol_count)
                                return ma_compat_fail(compat, MA_ISSUE_SYMBOL,
                                                      reader, writer,
                                                      writer->symbols[i]);
                }
                return 1;
        case MA_AVRO_FIXED:
                if (reader->size == writer->size)
                        return 1;
                snprintf(size, sizeof(size), "%zu to %zu", writer->size,
                         reader->size);
                return ma_compat_fail(compat, MA_ISSUE_SIZE, reader, writer,
                                      size);
        case MA_AVRO_ARRAY:
        case MA_AVRO_MAP:
                return ma_can_read(compat, reader->items, writer->items);
        default:
                return 1;
        }
}

static int ma_can_read_inner(ma_compat_t *compat, const ma_avro_node_t *reader,
                             const ma_avro_node_t *writer)
{
        if (writer->type == MA_AVRO_UNION) {
                for (size_t i = 0; i < writer->branch_count; i++) {
                        if (!ma_can_read(compat, reader, writer->branches[i])) {
                                if (compat->issue.kind == MA_ISSUE_TYPE)
                                        return ma_compat_fail(
                                                compat, MA_ISSUE_BRANCH, reader,
                                                writer->branches[i], NULL);
                                return 0;
                        }
                }
                return 1;
        }
        if (reader->type == MA_AVRO_UNION) {
                /* The first branch of the same type, else one it promotes to.
                 */
                for (size_t i = 0; i < reader->branch_count; i++) {
                        const ma_avro_node_t *branch = reader->branches[i];

                        if (branch->type == writer->type &&
                            (branch->fullname == NULL ||
                             strcmp(ma_short_name(branch->fullname),
                                    ma_short_name(writer->fullname)) == 0))
                                return ma_can_read(compat, branch, writer);
                }
                for (size_t i = 0; i < reader->branch_count; i++) {
                        if (ma_promotable(writer->type,
                                          reader->branches[i]->type))
                                return 1;
                }
                return ma_compat_fail(compat, MA_ISSUE_TYPE, reader, writer,
                                      NULL);
        }
        if (reader->type == writer->type)
                return ma_can_read_same(compat, reader, writer);
        if (ma_promotable(writer->type, reader->type))
                return 1;
        return ma_compat_fail(compat, MA_ISSUE_TYPE, reader, writer, NULL);
}

static int ma_can_read(ma_compat_t *compat, const ma_avro_node_t *reader,
                       const ma_avro_node_t *writer)
{
        int ok;

        for (size_t i = 0; i < compat->depth; i++) {
                if (compat->reader_stack[i] == reader &&
                    compat->writer_stack[i] == writer)
                        return 1; /* a recursive type: assumed while checked */
        }
        if (compat->depth == MA_COMPAT_MAX_STACK)
                return ma_compat_fail(compat, MA_ISSUE_TYPE, reader, writer,
                                      NULL);
        compat->reader_stack[compat->depth] = reader;
        compat->writer_stack[compat->depth] = writer;
        compat->depth++;
        ok = ma_can_read_inner(compat, reader, writer);
        compat->depth--;
        return ok;
}

/* Formats an issue; old_is_writer is set when the old schema wrote the data. */
static ma_status_t ma_issue_report(const ma_issue_t *issue, const char *mode,
                                   int old_is_writer, ma_error_t *err)
{
        const char *path = issue->path[0] ? issue->path : "(top level)";
        const char *old_type =
                old_is_writer ? issue->writer_type : issue->reader_type;
        const char *new_type =
                old_is_writer ? issue->reader_type : issue->writer_type;

        switch (issue->kind) {
        case MA_ISSUE_FIELD_NO_DEFAULT:
                if (old_is_writer)
                        return ma_error_set(
                                err, MA_ERR_SCHEMA, issue->path,
                                "field \"%s\" added without a default breaks "
                                "%s compatibility; give it a default",
                                path, mode);
                return ma_error_set(err, MA_ERR_SCHEMA, issue->path,
                                    "field \"%s\" removed, but the old schema "
                                    "has no default for it, which breaks %s "
                                    "compatibility; keep the field, or first "
                                    "give it a default in a version of its own",
                                    path, mode);
        case MA_ISSUE_SYMBOL:
                return ma_error_set(
                        err, MA_ERR_SCHEMA, issue->path,
                        "field \"%s\": enum symbol \"%s\" %s breaks "
                        "%s compatibility; %s",
                        path, issue->detail,
                        old_is_writer ? "removed" : "added", mode,
                        old_is_writer ? "keep the symbol"
                                      : "readers of the old "
                                        "schema cannot read it");
        case MA_ISSUE_NAME:
                return ma_error_set(err, MA_ERR_SCHEMA, issue->path,
                                    "field \"%s\": type renamed from \"%s\" "
                                    "to \"%s\" breaks %s compatibility; keep "
                                    "the name",
                                    path, old_type, new_type, mode);
        case MA_ISSUE_SIZE:
                return ma_error_set(err, MA_ERR_SCHEMA, issue->path,
                                    "field \"%s\": fixed size changed (%s "
                                    "bytes, writer to reader) breaks %s "
                                    "compatibility; keep the size",
                                    path, issue->detail, mode);
        case MA_ISSUE_BRANCH:
                return ma_error_set(err, MA_ERR_SCHEMA, issue->path,
                                    "field \"%s\": union branch \"%s\" %s "
                                    "breaks %s compatibility; %s",
                                    path, issue->writer_type,
                                    old_is_writer ? "removed" : "added", mode,
                                    old_is_writer ? "keep the branch"
                                                  : "readers of the old "
                                                    "schema cannot read it");
        default:
                return ma_error_set(err, MA_ERR_SCHEMA, issue->path,
                                    "field \"%s\": type changed from \"%s\" "
                                    "to \"%s\" breaks %s compatibility; keep "
                                    "the type or use a promotion the Avro "
                                    "specification allows (int to long, "
                                    "float or double; long to float or "
                                    "double; float to double; string and "
                                    "bytes)",
                                    path, old_type, new_type, mode);
        }
}

ma_status_t ma_avro_compat_can_read(const ma_avro_node_t *reader,
                                    const ma_avro_node_t *writer,
                                    ma_error_t *err)
{
        ma_compat_t compat = {0};

        if (ma_can_read(&compat, reader, writer))
                return MA_OK;
        return ma_issue_report(&compat.issue, "backward", 1, err);
}

ma_status_t ma_avro_compat_check(const ma_avro_node_t *old_schema,
                                 const ma_avro_node_t *new_schema,
                                 ma_avro_compat_mode_t mode, ma_error_t *err)
{
        if (mode & MA_AVRO_COMPAT_BACKWARD) {
                ma_compat_t compat = {0};

                if (!ma_can_read(&compat, new_schema, old_schema))
                        return ma_issue_report(&compat.issue, "backward", 1,
                                               err);
        }
        if (mode & MA_AVRO_COMPAT_FORWARD) {
                ma_compat_t compat = {0};

                if (!ma_can_read(&compat, old_schema, new_schema))
                        return ma_issue_report(&compat.issue, "forward", 0,
                                               err);
        }
        return MA_OK;
}

/* ---- Enum symbol positions ---- */

typedef struct ma_enum_walk {
        const ma_avro_node_t *reader_stack[MA_COMPAT_MAX_STACK];
        const ma_avro_node_t *writer_stack[MA_COMPAT_MAX_STACK];
        size_t depth;
        char path[64];
        ma_error_t *err;
} ma_enum_walk_t;

static ma_status_t ma_enum_walk(ma_enum_walk_t *walk,
                                const ma_avro_node_t *reader,
                                const ma_avro_node_t *writer);

static ma_status_t ma_enum_walk_pair(ma_enum_walk_t *walk,
                                     const ma_avro_node_t *reader,
                                     const ma_avro_node_t *writer)
{
        size_t path_len = strlen(walk->path);
        ma_status_t status = MA_OK;

        if (reader->type == MA_AVRO_UNION || writer->type == MA_AVRO_UNION) {
                size_t rcount = reader->type == MA_AVRO_UNION
                                        ? reader->branch_count
                                        : 1;
                size_t wcount = writer->type == MA_AVRO_UNION
                                        ? writer->branch_count
                                        : 1;

                for (size_t i = 0; status == MA_OK && i < rcount; i++) {
                        for (size_t j = 0; status == MA_OK && j < wcount; j++) {
                                status = ma_enum_walk(
                                        walk,
                                        reader->type == MA_AVRO_UNION
                                                ? reader->branches[i]
                                                : reader,
                                        writer->type == MA_AVRO_UNION
                                                ? writer->branches[j]
                                                : writer);
                        }
                }
                return status;
        }
        if (reader->type != writer->type)
                return MA_OK;
        if (reader->fullname != NULL &&
            strcmp(ma_short_name(reader->fullname),
                   ma_short_name(writer->fullname)) != 0)
                return MA_OK;
        switch (reader->type) {
        case MA_AVRO_ENUM:
                for (size_t i = 0; i < writer->symbol_count; i++) {
                        if (i < reader->symbol_count &&
                            strcmp(reader->symbols[i], writer->symbols[i]) == 0)
                                continue;
                        return ma_error_set(
                                walk->err, MA_ERR_SCHEMA, walk->path,
                                "field \"%s\": enum symbol \"%s\" has "
                                "position %zu in the writer schema and "
                                "another one, or none, in the reader; avro-c "
                                "1.11 resolves enums by "
                                "position, so keep existing symbols in place "
                                "and add new ones at the end",
                                walk->path[0] ? walk->path : "(top level)",
                                writer->symbols[i], i);
                }
                return MA_OK;
        case MA_AVRO_ARRAY:
        case MA_AVRO_MAP:
                return ma_enum_walk(walk, reader->items, writer->items);
        case MA_AVRO_RECORD:
                for (size_t i = 0; status == MA_OK && i < reader->field_count;
                     i++) {
                        const ma_avro_field_t *wfield = ma_avro_record_field(
                                writer, reader->fields[i].name);

                        if (wfield == NULL)
                                continue;
                        snprintf(walk->path + path_len,
                                 sizeof(walk->path) - path_len, "%s%s",
                                 path_len ? "." : "", wfield->name);
                        status = ma_enum_walk(walk, reader->fields[i].type,
                                              wfield->type);
                        walk->path[path_len] = '\0';
                }
                return status;
        default:
                return MA_OK;
        }
}

static ma_status_t ma_enum_walk(ma_enum_walk_t *walk,
                                const ma_avro_node_t *reader,
                                const ma_avro_node_t *writer)
{
        ma_status_t status;

        for (size_t i = 0; i < walk->depth; i++) {
                if (walk->reader_stack[i] == reader &&
                    walk->writer_stack[i] == writer)
                        return MA_OK;
        }
        if (walk->depth == MA_COMPAT_MAX_STACK)
                return MA_OK; /* deeper than any schema the codec loads */
        walk->reader_stack[walk->depth] = reader;
        walk->writer_stack[walk->depth] = writer;
        walk->depth++;
        status = ma_enum_walk_pair(walk, reader, writer);
        walk->depth--;
        return status;
}

ma_status_t ma_avro_enum_order_check(const ma_avro_node_t *reader,
                                     const ma_avro_node_t *writer,
                                     ma_error_t *err)
{
        ma_enum_walk_t walk = {.err = err};

        return ma_enum_walk(&walk, reader, writer);
}

int ma_avro_compat_mode_parse(const char *name)
{
        if (strcmp(name, "backward") == 0)
                return MA_AVRO_COMPAT_BACKWARD;
        if (strcmp(name, "forward") == 0)
                return MA_AVRO_COMPAT_FORWARD;
        if (strcmp(name, "full") == 0)
                return MA_AVRO_COMPAT_FULL;
        return -1;
}

const char *ma_avro_compat_mode_name(ma_avro_compat_mode_t mode)
{
        switch (mode) {
        case MA_AVRO_COMPAT_BACKWARD:
                return "backward";
        case MA_AVRO_COMPAT_FORWARD:
                return "forward";
        default:
                return "full";
        }
}
