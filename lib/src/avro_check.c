/*
 * avro_check.c - a bounded walk over an Avro binary body.
 *
 * avro-c 1.11 reads lengths and block counts from its input and allocates
 * or skips by them without comparing them to what is left, so a short or
 * hostile message can make it read past the buffer or allocate gigabytes.
 * The codec therefore walks every body here first, against the writer
 * schema, touching only bytes inside [body, body + len) and allocating
 * nothing.  Encoding rules are those of the "Binary Encoding" section of the
 * Avro specification.
 */
#include <stdio.h>
#include <string.h>

#include "ma/avro.h"

typedef struct ma_walk {
        const unsigned char *pos;
        const unsigned char *end;
        const ma_avro_check_limits_t *limits;
        size_t items;
        char path[64];
        ma_error_t *err;
} ma_walk_t;

void ma_avro_check_limits_default(ma_avro_check_limits_t *limits)
{
        limits->max_depth = MA_AVRO_CHECK_MAX_DEPTH_DEFAULT;
        limits->max_items = MA_AVRO_CHECK_MAX_ITEMS_DEFAULT;
}

static size_t ma_walk_left(const ma_walk_t *walk)
{
        return (size_t)(walk->end - walk->pos);
}

static ma_status_t ma_walk_truncated(ma_walk_t *walk, const char *what)
{
        return ma_error_set(walk->err, MA_ERR_TRUNCATED, walk->path,
                            "cannot decode field \"%s\": the message ends "
                            "inside %s; the producer sent a cut-off body",
                            walk->path[0] ? walk->path : "(top level)", what);
}

static ma_status_t ma_walk_invalid(ma_walk_t *walk, const char *what)
{
        return ma_error_set(walk->err, MA_ERR_PARSE, walk->path,
                            "cannot decode field \"%s\": %s; the body does "
                            "not match its writer schema",
                            walk->path[0] ? walk->path : "(top level)", what);
}

/* Reads a zig-zag varint of at most max_bytes bytes (10 for long, 5 int). */
static ma_status_t ma_walk_varint(ma_walk_t *walk, int max_bytes, int64_t *out)
{
        uint64_t value = 0;

        for (int i = 0; i < max_bytes; i++) {
                unsigned char byte;

                if (walk->pos == walk->end)
                        return ma_walk_truncated(walk, "a number");
                byte = *walk->pos++;
                /* The 10th byte of a long may only carry the 64th bit. */
                if (i == 9 && byte > 1)
                        return ma_walk_invalid(walk, "a long is wider than "
                                                     "64 bits");
                value |= (uint64_t)(byte & 0x7f) << (7 * i);
                if ((byte & 0x80) == 0) {
                        *out = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
                        return MA_OK;
                }
        }
        return ma_walk_invalid(walk, max_bytes == 5
                                             ? "an int is longer than 5 bytes"
                                             : "a long is longer than 10 "
                                               "bytes");
}

static ma_status_t ma_walk_int(ma_walk_t *walk, int64_t *out)
{
        ma_status_t status = ma_walk_varint(walk, 5, out);

        if (status == MA_OK && (*out < INT32_MIN || *out > INT32_MAX))
                return ma_walk_invalid(walk, "an int is outside 32 bits");
        return status;
}

/* Checks UTF-8 per RFC 3629: no overlongs, surrogates or values > 10FFFF. */
static int ma_utf8_ok(const unsigned char *s, size_t len)
{
        size_t i = 0;

        while (i < len) {
                unsigned char c = s[i];
                size_t need;
                uint32_t cp;

                if (c == 0)
                        return 0;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        need = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        need = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        need = 3;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (len - i <= need)
                        return 0;
                for (size_t k = 1; k <= need; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return 0;
                i += need + 1;
        }
        return 1;
}

static ma_status_t ma_walk_bytes(ma_walk_t *walk, int is_string)
{
        int64_t len;
        ma_status_t status = ma_walk_varint(walk, 10, &len);

        if (status != MA_OK)
                return status;
        if (len < 0)
                return ma_walk_invalid(walk, "a length is negative");
        if ((uint64_t)len > ma_walk_left(walk))
                return ma_walk_truncated(walk, is_string ? "a string"
                                                         : "a byte string");
        if (is_string && !ma_utf8_ok(walk->pos, (size_t)len))
                return ma_walk_invalid(walk, "a string is not valid UTF-8 "
                                             "or contains a NUL byte");
        walk->pos += len;
        return MA_OK;
}

static ma_status_t ma_walk_fixed_bytes(ma_walk_t *walk, size_t count)
{
        if (count > ma_walk_left(walk))
                return ma_walk_truncated(walk, "a fixed-size value");
        walk->pos += count;
        return MA_OK;
}

static ma_status_t ma_walk_node(ma_walk_t *walk, const ma_avro_node_t *node,
                                size_t depth);

/* Array and map blocks: count, [byte size if count < 0], items; 0 ends. */
static ma_status_t ma_walk_blocks(ma_walk_t *walk, const ma_avro_node_t *node,
                                  size_t depth)
{
        for (;;) {
                int64_t count;
                int64_t size = -1;
                const unsigned char *start;
                ma_status_t status = ma_walk_varint(walk, 10, &count);

                if (status != MA_OK)
                        return status;
                if (count == 0)
                        return MA_OK;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return ma_walk_invalid(walk, "a block count "
                                                             "is out of range");
                        count = -count;
                        status = ma_walk_varint(walk, 10, &size);
                        if (status != MA_OK)
                                return status;
                        if (size < 0)
                                return ma_walk_invalid(walk, "a block size is "
                                                             "negative");
                        if ((uint64_t)size > ma_walk_left(walk))
                                return ma_walk_truncated(walk, "a block");
                }
                if ((uint64_t)count > walk->limits->max_items - walk->items)
                        return ma_walk_invalid(walk, "an array or map has "
                                                     "more entries than the "
                                                     "limit");
                walk->items += (size_t)count;
                start = walk->pos;
                for (int64_t i = 0; i < count; i++) {
                        if (node->type == MA_AVRO_MAP) {
                                status = ma_walk_bytes(walk, 1);
                                if (status != MA_OK)
                                        return status;
                        }
                        status = ma_walk_node(walk, node->items, depth + 1);
                        if (status != MA_OK)
                                return status;
                }
                if (size >= 0 && walk->pos - start != size)
                        return ma_walk_invalid(walk, "a block's byte size "
                                                     "does not match its "
                                                     "content");
        }
}

static ma_status_t ma_walk_record(ma_walk_t *walk, const ma_avro_node_t *node,
                                  size_t depth)
{
        size_t path_len = strlen(walk->path);

        for (size_t i = 0; i < node->field_count; i++) {
                ma_status_t status;

                snprintf(walk->path + path_len, sizeof(walk->path) - path_len,
                         "%s%s", path_len ? "." : "", node->fields[i].name);
                status = ma_walk_node(walk, node->fields[i].type, depth + 1);
                if (status != MA_OK)
                        return status;
        }
        walk->path[path_len] = '\0';
        return MA_OK;
}

static ma_status_t ma_walk_node(ma_walk_t *walk, const ma_avro_node_t *node,
                                size_t depth)
{
        int64_t value;
        ma_status_t status;

        if (depth > walk->limits->max_depth)
                return ma_walk_invalid(walk, "values nest deeper than the "
                                             "limit");
        switch (node->type) {
        case MA_AVRO_NULL:
                return MA_OK;
        case MA_AVRO_BOOLEAN:
                if (walk->pos == walk->end)
                        return ma_walk_truncated(walk, "a boolean");
                if (*walk->pos > 1)
                        return ma_walk_invalid(walk, "a boolean is neither "
                                                     "0 nor 1");
                walk->pos++;
                return MA_OK;
        case MA_AVRO_INT:
                return ma_walk_int(walk, &value);
        case MA_AVRO_LONG:
                return ma_walk_varint(walk, 10, &value);
        case MA_AVRO_FLOAT:
                return ma_walk_fixed_bytes(walk, 4);
        case MA_AVRO_DOUBLE:
                return ma_walk_fixed_bytes(walk, 8);
        case MA_AVRO_BYTES:
                return ma_walk_bytes(walk, 0);
        case MA_AVRO_STRING:
                return ma_walk_bytes(walk, 1);
        case MA_AVRO_FIXED:
                return ma_walk_fixed_bytes(walk, node->size);
        case MA_AVRO_ENUM:
                status = ma_walk_int(walk, &value);
                if (status == MA_OK &&
                    (value < 0 || (uint64_t)value >= node->symbol_count))
                        return ma_walk_invalid(walk, "an enum index is out "
                                                     "of range");
                return status;
        case MA_AVRO_UNION:
                status = ma_walk_varint(walk, 10, &value);
                if (status != MA_OK)
                        return status;
                if (value < 0 || (uint64_t)value >= node->branch_count)
                        return ma_walk_invalid(walk, "a union index is out "
                                                     "of range");
                return ma_walk_node(walk, node->branches[value], depth + 1);
        case MA_AVRO_ARRAY:
        case MA_AVRO_MAP:
                return ma_walk_blocks(walk, node, depth);
        case MA_AVRO_RECORD:
                return ma_walk_record(walk, node, depth);
        }
        return ma_walk_invalid(walk, "the schema has an unknown type");
}

ma_status_t ma_avro_check_binary(const ma_avro_node_t *writer, const void *body,
                                 size_t len,
                                 const ma_avro_check_limits_t *limits,
                                 ma_error_t *err)
{
        ma_avro_check_limits_t defaults;
        ma_walk_t walk = {0};
        ma_status_t status;

        if (limits == NULL) {
                ma_avro_check_limits_default(&defaults);
                limits = &defaults;
        }
        walk.pos = body;
        walk.end = walk.pos + len;
        walk.limits = limits;
        walk.err = err;
        status = ma_walk_node(&walk, writer, 0);
        if (status != MA_OK)
                return status;
        if (walk.pos != walk.end)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "cannot decode message: %zu bytes follow "
                                    "the end of the body; the producer must "
                                    "send one value per message",
                                    ma_walk_left(&walk));
        return MA_OK;
}
