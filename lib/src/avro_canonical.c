/*
 * avro_canonical.c - Avro schema JSON to a tree, and the tree to Parsing
 * Canonical Form.
 *
 * Canonical form follows the "Parsing Canonical Form for Schemas" section of
 * the Avro specification: primitives as plain strings, named types by full
 * name with no namespace attribute, only name, type, fields, symbols, items,
 * values and size kept, in that order, no whitespace.  A named type is
 * written out where it first appears and by its full name afterwards.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/avro.h"

struct ma_avro_schema {
        ma_avro_node_t *root;
        ma_avro_node_t **nodes; /* every node, for freeing */
        size_t node_count;
        size_t node_cap;
        char *canonical;
        uint64_t fingerprint;
};

/* ---- Growable string ---- */

typedef struct ma_sb {
        char *data;
        size_t len;
        size_t cap;
        int failed;
} ma_sb_t;

static void ma_sb_add(ma_sb_t *sb, const char *text)
{
        size_t n = strlen(text);

        if (sb->failed)
                return;
        if (sb->len + n + 1 > sb->cap) {
                size_t cap = sb->cap ? sb->cap : 256;
                char *grown;

                while (sb->len + n + 1 > cap)
                        cap *= 2;
                grown = ma_realloc(sb->data, cap);
                if (grown == NULL) {
                        sb->failed = 1;
                        return;
                }
                sb->data = grown;
                sb->cap = cap;
        }
        memcpy(sb->data + sb->len, text, n + 1);
        sb->len += n;
}

/* ---- Parsing ---- */

typedef struct ma_parse_ctx {
        ma_avro_schema_t *schema;
        const char *source;
        ma_error_t *err;
        ma_status_t status;
} ma_parse_ctx_t;

static const char *const ma_avro_primitive_names[] = {
        "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static int ma_avro_primitive_lookup(const char *name)
{
        for (size_t i = 0; i < 8; i++) {
                if (strcmp(name, ma_avro_primitive_names[i]) == 0)
                        return (int)i; /* same order as ma_avro_type_t */
        }
        return -1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static ma_status_t
ma_parse_fail(ma_parse_ctx_t *ctx, ma_status_t status, const char *path,
              const char *fmt, ...)
{
        char detail[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        ctx->status = ma_error_set(
                ctx->err, status, path, "invalid Avro schema \"%s\" at %s: %s",
                ctx->source, path[0] ? path : "top level", detail);
        return ctx->status;
}

static ma_avro_node_t *ma_node_new(ma_parse_ctx_t *ctx, ma_avro_type_t type)
{
        ma_avro_schema_t *schema = ctx->schema;
        ma_avro_node_t *node;

        if (schema->node_count == schema->node_cap) {
                size_t cap = schema->node_cap ? schema->node_cap * 2 : 32;
                ma_avro_node_t **grown =
                        ma_realloc(schema->nodes, cap * sizeof(*grown));

                if (grown == NULL)
                        return NULL;
                schema->nodes = grown;
                schema->node_cap = cap;
        }
        node = ma_calloc(1, sizeof(*node));
        if (node == NULL)
                return NULL;
        node->type = type;
        schema->nodes[schema->node_count++] = node;
        return node;
}

static void ma_node_free(ma_avro_node_t *node)
{
        for (size_t i = 0; i < node->field_count; i++) {
                ma_free(node->fields[i].name);
                ma_free(node->fields[i].default_json);
        }
        ma_free(node->fields);
        for (size_t i = 0; i < node->symbol_count; i++)
                ma_free(node->symbols[i]);
        ma_free(node->symbols);
        ma_free(node->branches);
        ma_free(node->fullname);
        ma_free(node->logical_type);
        ma_free(node);
}

/* An Avro name part: [A-Za-z_][A-Za-z0-9_]*. */
static int ma_avro_name_valid(const char *name, size_t len)
{
        if (len == 0)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            c == '_';

                if (!alpha && (i == 0 || c < '0' || c > '9'))
                        return 0;
        }
        return 1;
}

static int ma_avro_fullname_valid(const char *fullname)
{
        const char *part = fullname;

        for (;;) {
                const char *dot = strchr(part, '.');
                size_t len = dot ? (size_t)(dot - part) : strlen(part);

                if (!ma_avro_name_valid(part, len))
                        return 0;
                if (dot == NULL)
                        return 1;
                part = dot + 1;
        }
}

static ma_avro_node_t *ma_named_lookup(ma_parse_ctx_t *ctx,
                                       const char *fullname)
{
        for (size_t i = 0; i < ctx->schema->node_count; i++) {
                ma_avro_node_t *node = ctx->schema->nodes[i];

                if (node->fullname && strcmp(node->fullname, fullname) == 0)
                        return node;
        }
        return NULL;
}

/* Joins namespace and name; a name with a dot is already full. */
static char *ma_fullname_make(const char *ns, const char *name)
{
        size_t ns_len, name_len;
        char *full;

        if (strchr(name, '.') != NULL || ns == NULL || ns[0] == '\0')
                return ma_strdup(name);
        ns_len = strlen(ns);
        name_len = strlen(name);
        full = ma_malloc(ns_len + name_len + 2);
        if (full == NULL)
                return NULL;
        memcpy(full, ns, ns_len);
        full[ns_len] = '.';
        memcpy(full + ns_len + 1, name, name_len + 1);
        return full;
}

static ma_avro_node_t *ma_parse_node(ma_parse_ctx_t *ctx, json_t *json,
                                     const char *ns, const char *path,
                                     int depth);

static ma_avro_node_t *ma_parse_reference(ma_parse_ctx_t *ctx, const char *name,
                                          const char *ns, const char *path)
{
        int primitive = ma_avro_primitive_lookup(name);
        ma_avro_node_t *node;
        char *full;

        if (primitive >= 0)
                return ma_node_new(ctx, (ma_avro_type_t)primitive);
        full = ma_fullname_make(ns, name);
        if (full == NULL)
                return NULL;
        node = ma_named_lookup(ctx, full);
        ma_free(full);
        if (node == NULL)
                node = ma_named_lookup(ctx, name);
        if (node == NULL)
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "type \"%s\" is not defined before this use; "
                              "define it or fix the name",
                              name);
        return node;
}

static ma_avro_node_t *ma_parse_union(ma_parse_ctx_t *ctx, json_t *json,
                                      const char *ns, const char *path,
                                      int depth)
{
        size_t count = json_array_size(json);
        ma_avro_node_t *node = ma_node_new(ctx, MA_AVRO_UNION);
        char sub[512];

        if (node == NULL)
                return NULL;
        node->branches = ma_calloc(count ? count : 1, sizeof(*node->branches));
        if (node->branches == NULL)
                return NULL;
        for (size_t i = 0; i < count; i++) {
                ma_avro_node_t *branch;

                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                branch = ma_parse_node(ctx, json_array_get(json, i), ns, sub,
                                       depth + 1);
                if (branch == NULL)
                        return NULL;
                if (branch->type == MA_AVRO_UNION) {
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, sub,
                                      "a union may not contain a union");
                        return NULL;
                }
                for (size_t j = 0; j < i; j++) {
                        const ma_avro_node_t *other = node->branches[j];
                        int same = other->type == branch->type;

                        if (same && branch->fullname != NULL)
                                same = strcmp(other->fullname,
                                              branch->fullname) == 0;
                        if (same) {
                                ma_parse_fail(ctx, MA_ERR_SCHEMA, sub,
                                              "the union already has a branch "
                                              "of this type");
                                return NULL;
                        }
                }
                node->branches[node->branch_count++] = branch;
        }
        return node;
}

static int ma_parse_fields(ma_parse_ctx_t *ctx, ma_avro_node_t *node,
                           json_t *fields, const char *ns, const char *path,
                           int depth)
{
        size_t count;
        char sub[512];

        if (!json_is_array(fields)) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "a record needs a \"fields\" array");
                return -1;
        }
        count = json_array_size(fields);
        node->fields = ma_calloc(count ? count : 1, sizeof(*node->fields));
        if (node->fields == NULL)
                return -1;
        for (size_t i = 0; i < count; i++) {
                json_t *field = json_array_get(fields, i);
                json_t *name = json_object_get(field, "name");
                json_t *def = json_object_get(field, "default");
                ma_avro_field_t *out = &node->fields[node->field_count];

                if (!json_is_string(name) ||
                    !ma_avro_name_valid(json_string_value(name),
                                        strlen(json_string_value(name)))) {
                        snprintf(sub, sizeof(sub), "%s.fields[%zu]", path, i);
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, sub,
                                      "a field needs a \"name\" of letters, "
                                      "digits and underscores");
                        return -1;
                }
                snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
                         json_string_value(name));
                if (ma_avro_record_field(node, json_string_value(name))) {
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, sub,
                                      "field \"%s\" appears twice",
                                      json_string_value(name));
                        return -1;
                }
                out->name = ma_strdup(json_string_value(name));
                if (out->name == NULL)
                        return -1;
                node->field_count++;
                if (def != NULL) {
                        out->default_json =
                                json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY);
                        if (out->default_json == NULL)
                                return -1;
                        /* jansson allocated it; keep ours in ma_malloc. */
                        char *copy = ma_strdup(out->default_json);
                        free(out->default_json);
                        out->default_json = copy;
                        if (copy == NULL)
                                return -1;
                }
                out->type = ma_parse_node(ctx, json_object_get(field, "type"),
                                          ns, sub, depth + 1);
                if (out->type == NULL)
                        return -1;
        }
        return 0;
}

static int ma_parse_symbols(ma_parse_ctx_t *ctx, ma_avro_node_t *node,
                            json_t *symbols, const char *path)
{
        size_t count = json_array_size(symbols);

        if (!json_is_array(symbols)) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "an enum needs a \"symbols\" array");
                return -1;
        }
        node->symbols = ma_calloc(count ? count : 1, sizeof(*node->symbols));
        if (node->symbols == NULL)
                return -1;
        for (size_t i = 0; i < count; i++) {
                const char *symbol =
                        json_string_value(json_array_get(symbols, i));

                if (symbol == NULL ||
                    !ma_avro_name_valid(symbol, strlen(symbol))) {
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                                      "enum symbol %s is not a valid name",
                                      symbol ? symbol : "(not a string)");
                        return -1;
                }
                for (size_t j = 0; j < i; j++) {
                        if (strcmp(node->symbols[j], symbol) == 0) {
                                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                                              "enum symbol %s appears twice",
                                              symbol);
                                return -1;
                        }
                }
                node->symbols[i] = ma_strdup(symbol);
                if (node->symbols[i] == NULL)
                        return -1;
                node->symbol_count++;
        }
        return 0;
}

static ma_avro_node_t *ma_parse_named(ma_parse_ctx_t *ctx, json_t *json,
                                      ma_avro_type_t type, const char *ns,
                                      const char *path, int depth)
{
        json_t *name = json_object_get(json, "name");
        json_t *ns_json = json_object_get(json, "namespace");
        const char *own_ns = ns;
        ma_avro_node_t *node;
        char *full;
        char *ns_copy = NULL;
        int rc = 0;

        if (!json_is_string(name)) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "a named type needs a \"name\" string");
                return NULL;
        }
        if (json_is_string(ns_json))
                own_ns = json_string_value(ns_json);
        full = ma_fullname_make(own_ns, json_string_value(name));
        if (full == NULL)
                return NULL;
        if (!ma_avro_fullname_valid(full) ||
            ma_avro_primitive_lookup(full) >= 0) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "\"%s\" is not a valid type name", full);
                ma_free(full);
                return NULL;
        }
        if (ma_named_lookup(ctx, full) != NULL) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "type \"%s\" is defined twice", full);
                ma_free(full);
                return NULL;
        }
        node = ma_node_new(ctx, type);
        if (node == NULL) {
                ma_free(full);
                return NULL;
        }
        node->fullname = full;
        /* Nested definitions inherit this type's namespace. */
        if (strrchr(full, '.') != NULL) {
                ns_copy = ma_strndup(full, (size_t)(strrchr(full, '.') - full));
                if (ns_copy == NULL)
                        return NULL;
        }
        if (type == MA_AVRO_RECORD) {
                rc = ma_parse_fields(ctx, node, json_object_get(json, "fields"),
                                     ns_copy ? ns_copy : "", path, depth);
        } else if (type == MA_AVRO_ENUM) {
                rc = ma_parse_symbols(ctx, node,
                                      json_object_get(json, "symbols"), path);
        } else {
                json_t *size = json_object_get(json, "size");

                if (!json_is_integer(size) || json_integer_value(size) < 0) {
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                                      "a fixed type needs a non-negative "
                                      "integer \"size\"");
                        rc = -1;
                } else {
                        node->size = (size_t)json_integer_value(size);
                }
        }
        ma_free(ns_copy);
        return rc == 0 ? node : NULL;
}

static ma_avro_node_t *ma_parse_object(ma_parse_ctx_t *ctx, json_t *json,
                                       const char *ns, const char *path,
                                       int depth)
{
        json_t *type = json_object_get(json, "type");
        const char *name = json_string_value(type);
        json_t *logical = json_object_get(json, "logicalType");
        ma_avro_node_t *node;

        if (type == NULL) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "the object has no \"type\"");
                return NULL;
        }
        if (name == NULL)
                return ma_parse_node(ctx, type, ns, path, depth + 1);
        if (strcmp(name, "record") == 0 || strcmp(name, "error") == 0)
                return ma_parse_named(ctx, json, MA_AVRO_RECORD, ns, path,
                                      depth);
        if (strcmp(name, "enum") == 0)
                return ma_parse_named(ctx, json, MA_AVRO_ENUM, ns, path, depth);
        if (strcmp(name, "fixed") == 0)
                node = ma_parse_named(ctx, json, MA_AVRO_FIXED, ns, path,
                                      depth);
        else if (strcmp(name, "array") == 0 || strcmp(name, "map") == 0) {
                int is_array = name[0] == 'a';
                const char *key = is_array ? "items" : "values";
                json_t *sub = json_object_get(json, key);

                if (sub == NULL) {
                        ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                                      "the type needs \"%s\"", key);
                        return NULL;
                }
                node = ma_node_new(ctx, is_array ? MA_AVRO_ARRAY : MA_AVRO_MAP);
                if (node == NULL)
                        return NULL;
                node->items = ma_parse_node(ctx, sub, ns, path, depth + 1);
                if (node->items == NULL)
                        return NULL;
        } else {
                node = ma_parse_reference(ctx, name, ns, path);
        }
        if (node != NULL && json_is_string(logical) &&
            node->logical_type == NULL && node->fullname == NULL) {
                node->logical_type = ma_strdup(json_string_value(logical));
                if (node->logical_type == NULL)
                        return NULL;
        }
        return node;
}

/* Bounds recursion on hostile schema text; real schemas nest a few levels. */
#define MA_AVRO_PARSE_MAX_DEPTH 64

static ma_avro_node_t *ma_parse_node(ma_parse_ctx_t *ctx, json_t *json,
                                     const char *ns, const char *path,
                                     int depth)
{
        if (depth > MA_AVRO_PARSE_MAX_DEPTH) {
                ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                              "the schema nests deeper than %d levels",
                              MA_AVRO_PARSE_MAX_DEPTH);
                return NULL;
        }
        if (json_is_string(json))
                return ma_parse_reference(ctx, json_string_value(json), ns,
                                          path);
        if (json_is_array(json))
                return ma_parse_union(ctx, json, ns, path, depth);
        if (json_is_object(json))
                return ma_parse_object(ctx, json, ns, path, depth);
        ma_parse_fail(ctx, MA_ERR_SCHEMA, path,
                      "a type must be a string, an object or an array");
        return NULL;
}

/* ---- Printing ---- */

typedef struct ma_print_ctx {
        ma_sb_t sb;
        const ma_avro_node_t **printed;
        size_t printed_count;
        size_t printed_cap;
} ma_print_ctx_t;

static int ma_print_seen(ma_print_ctx_t *ctx, const ma_avro_node_t *node)
{
        for (size_t i = 0; i < ctx->printed_count; i++) {
                if (ctx->printed[i] == node)
                        return 1;
        }
        if (ctx->printed_count == ctx->printed_cap) {
                size_t cap = ctx->printed_cap ? ctx->printed_cap * 2 : 16;
                const ma_avro_node_t **grown =
                        ma_realloc(ctx->printed, cap * sizeof(*grown));

                if (grown == NULL) {
                        ctx->sb.failed = 1;
                        return 1;
                }
                ctx->printed = grown;
                ctx->printed_cap = cap;
        }
        ctx->printed[ctx->printed_count++] = node;
        return 0;
}

static void ma_print_quoted(ma_sb_t *sb, const char *text)
{
        /* Names and symbols are validated as [A-Za-z0-9_.], so no escapes. */
        ma_sb_add(sb, "\"");
        ma_sb_add(sb, text);
        ma_sb_add(sb, "\"");
}

/* Finds the branch of a writer union, or the writer itself, matching r. */
static const ma_avro_node_t *ma_match_writer(const ma_avro_node_t *reader,
                                             const ma_avro_node_t *writer)
{
        if (writer == NULL)
                return NULL;
        if (writer->type == MA_AVRO_UNION) {
                for (size_t i = 0; i < writer->branch_count; i++) {
                        const ma_avro_node_t *match =
                                ma_match_writer(reader, writer->branches[i]);

                        if (match != NULL)
                                return match;
                }
                return NULL;
        }
        if (writer->type != reader->type)
                return NULL;
        if (reader->fullname != NULL &&
            strcmp(reader->fullname, writer->fullname) != 0)
                return NULL;
        return writer;
}

static void ma_print_node(ma_print_ctx_t *ctx, const ma_avro_node_t *node,
                          const ma_avro_node_t *writer);

static void ma_print_record(ma_print_ctx_t *ctx, const ma_avro_node_t *node,
                            const ma_avro_node_t *writer)
{
        int first = 1;

        ma_sb_add(&ctx->sb, "\"fields\":[");
        for (size_t i = 0; i < node->field_count; i++) {
                const ma_avro_field_t *field = &node->fields[i];
                const ma_avro_field_t *wfield = NULL;

                if (writer != NULL) {
                        wfield = ma_avro_record_field(writer, field->name);
                        if (wfield == NULL)
                                continue;
                }
                if (!first)
                        ma_sb_add(&ctx->sb, ",");
                first = 0;
                ma_sb_add(&ctx->sb, "{\"name\":");
                ma_print_quoted(&ctx->sb, field->name);
                ma_sb_add(&ctx->sb, ",\"type\":");
                ma_print_node(ctx, field->type, wfield ? wfield->type : NULL);
                ma_sb_add(&ctx->sb, "}");
        }
        ma_sb_add(&ctx->sb, "]");
}

static void ma_print_named(ma_print_ctx_t *ctx, const ma_avro_node_t *node,
                           const ma_avro_node_t *writer)
{
        char size[32];

        if (ma_print_seen(ctx, node)) {
                ma_print_quoted(&ctx->sb, node->fullname);
                return;
        }
        ma_sb_add(&ctx->sb, "{\"name\":");
        ma_print_quoted(&ctx->sb, node->fullname);
        switch (node->type) {
        case MA_AVRO_RECORD:
                ma_sb_add(&ctx->sb, ",\"type\":\"record\",");
                ma_print_record(ctx, node, writer);
                break;
        case MA_AVRO_ENUM:
                ma_sb_add(&ctx->sb, ",\"type\":\"enum\",\"symbols\":[");
                for (size_t i = 0; i < node->symbol_count; i++) {
                        if (i > 0)
                                ma_sb_add(&ctx->sb, ",");
                        ma_print_quoted(&ctx->sb, node->symbols[i]);
                }
                ma_sb_add(&ctx->sb, "]");
                break;
        default:
                snprintf(size, sizeof(size), "%zu", node->size);
                ma_sb_add(&ctx->sb, ",\"type\":\"fixed\",\"size\":");
                ma_sb_add(&ctx->sb, size);
                break;
        }
        ma_sb_add(&ctx->sb, "}");
}

static void ma_print_node(ma_print_ctx_t *ctx, const ma_avro_node_t *node,
                          const ma_avro_node_t *writer)
{
        const ma_avro_node_t *match = ma_match_writer(node, writer);

        switch (node->type) {
        case MA_AVRO_RECORD:
        case MA_AVRO_ENUM:
        case MA_AVRO_FIXED:
                ma_print_named(ctx, node, match);
                break;
        case MA_AVRO_ARRAY:
        case MA_AVRO_MAP:
                ma_sb_add(&ctx->sb, node->type == MA_AVRO_ARRAY
                                            ? "{\"type\":\"array\",\"items\":"
                                            : "{\"type\":\"map\",\"values\":");
                ma_print_node(ctx, node->items, match ? match->items : NULL);
                ma_sb_add(&ctx->sb, "}");
                break;
        case MA_AVRO_UNION:
                ma_sb_add(&ctx->sb, "[");
                for (size_t i = 0; i < node->branch_count; i++) {
                        if (i > 0)
                                ma_sb_add(&ctx->sb, ",");
                        ma_print_node(ctx, node->branches[i], writer);
                }
                ma_sb_add(&ctx->sb, "]");
                break;
        default:
                ma_print_quoted(&ctx->sb, ma_avro_primitive_names[node->type]);
                break;
        }
}

ma_status_t ma_avro_projection_json(const ma_avro_node_t *reader,
                                    const ma_avro_node_t *writer, char **out,
                                    ma_error_t *err)
{
        ma_print_ctx_t ctx = {0};

        *out = NULL;
        ma_print_node(&ctx, reader, writer);
        ma_free(ctx.printed);
        if (ctx.sb.failed || ctx.sb.data == NULL) {
                ma_free(ctx.sb.data);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not print an Avro schema: out of "
                                    "memory");
        }
        *out = ctx.sb.data;
        return MA_OK;
}

/* ---- Public functions ---- */

const ma_avro_field_t *ma_avro_record_field(const ma_avro_node_t *record,
                                            const char *name)
{
        if (record == NULL || record->type != MA_AVRO_RECORD)
                return NULL;
        for (size_t i = 0; i < record->field_count; i++) {
                if (record->fields[i].name != NULL &&
                    strcmp(record->fields[i].name, name) == 0)
                        return &record->fields[i];
        }
        return NULL;
}

void ma_avro_schema_free(ma_avro_schema_t *schema)
{
        if (schema == NULL)
                return;
        for (size_t i = 0; i < schema->node_count; i++)
                ma_node_free(schema->nodes[i]);
        ma_free(schema->nodes);
        ma_free(schema->canonical);
        ma_free(schema);
}

ma_status_t ma_avro_schema_parse(const char *json, size_t len,
                                 const char *source, ma_avro_schema_t **out,
                                 ma_error_t *err)
{
        ma_parse_ctx_t ctx = {0};
        json_error_t jerr;
        json_t *root;
        ma_status_t status;

        *out = NULL;
        root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                          &jerr);
        if (root == NULL)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "could not parse Avro schema \"%s\": line "
                                    "%d column %d: %s",
                                    source, jerr.line, jerr.column, jerr.text);
        ctx.schema = ma_calloc(1, sizeof(*ctx.schema));
        ctx.source = source;
        ctx.err = err;
        ctx.status = MA_ERR_NOMEM;
        if (ctx.schema != NULL)
                ctx.schema->root = ma_parse_node(&ctx, root, "", "", 0);
        json_decref(root);
        if (ctx.schema == NULL || ctx.schema->root == NULL) {
                ma_avro_schema_free(ctx.schema);
                if (ctx.status == MA_ERR_NOMEM)
                        ma_error_set(err, MA_ERR_NOMEM, NULL,
                                     "could not parse Avro schema \"%s\": out "
                                     "of memory",
                                     source);
                return ctx.status;
        }
        status = ma_avro_projection_json(ctx.schema->root, NULL,
                                         &ctx.schema->canonical, err);
        if (status != MA_OK) {
                ma_avro_schema_free(ctx.schema);
                return status;
        }
        ctx.schema->fingerprint = ma_avro_crc64(ctx.schema->canonical,
                                                strlen(ctx.schema->canonical));
        *out = ctx.schema;
        return MA_OK;
}

const ma_avro_node_t *ma_avro_schema_root(const ma_avro_schema_t *schema)
{
        return schema->root;
}

const char *ma_avro_schema_canonical(const ma_avro_schema_t *schema)
{
        return schema->canonical;
}

uint64_t ma_avro_schema_fingerprint(const ma_avro_schema_t *schema)
{
        return schema->fingerprint;
}

ma_status_t ma_avro_canonical_form(const char *json, size_t len, char **out,
                                   ma_error_t *err)
{
        ma_avro_schema_t *schema;
        ma_status_t status;

        *out = NULL;
        status = ma_avro_schema_parse(json, len, "(text)", &schema, err);
        if (status != MA_OK)
                return status;
        *out = schema->canonical;
        schema->canonical = NULL;
        ma_avro_schema_free(schema);
        return MA_OK;
}
