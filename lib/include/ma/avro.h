/*
 * avro.h - Avro schemas beneath the codec: parsing, Parsing Canonical Form,
 * CRC-64-AVRO fingerprints, single-object headers, a bounded check of binary
 * bodies, the schema store and schema compatibility.
 *
 * avro-c 1.11 offers none of canonical form, fingerprints, defaults or
 * compatibility, and trusts every length it reads, so this layer keeps its
 * own schema tree (parsed with jansson) and uses avro-c only for the generic
 * values the codec builds.
 *
 * Threads: schemas and stores are immutable after loading and may be shared.
 */
#ifndef MA_AVRO_H
#define MA_AVRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/codec.h"
#include "ma/status.h"

/* ---- Schema tree ---- */

typedef enum ma_avro_type {
        MA_AVRO_NULL,
        MA_AVRO_BOOLEAN,
        MA_AVRO_INT,
        MA_AVRO_LONG,
        MA_AVRO_FLOAT,
        MA_AVRO_DOUBLE,
        MA_AVRO_BYTES,
        MA_AVRO_STRING,
        MA_AVRO_RECORD,
        MA_AVRO_ENUM,
        MA_AVRO_ARRAY,
        MA_AVRO_MAP,
        MA_AVRO_UNION,
        MA_AVRO_FIXED,
} ma_avro_type_t;

typedef struct ma_avro_node ma_avro_node_t;

typedef struct ma_avro_field {
        char *name;
        ma_avro_node_t *type;
        char *default_json; /* compact JSON text of "default", or NULL */
} ma_avro_field_t;

/*
 * One schema node.  A named type (record, enum, fixed) exists once per
 * schema, and every reference to its name points at the same node.  The tree
 * may therefore contain cycles through records.
 */
struct ma_avro_node {
        ma_avro_type_t type;
        char *fullname;     /* record, enum, fixed: namespace.name */
        char *logical_type; /* "timestamp-millis", "date", ... or NULL */
        ma_avro_field_t *fields;
        size_t field_count;
        char **symbols;
        size_t symbol_count;
        ma_avro_node_t *items;     /* array items, map values */
        ma_avro_node_t **branches; /* union branches */
        size_t branch_count;
        size_t size; /* fixed size in bytes */
};

typedef struct ma_avro_schema ma_avro_schema_t;

/*
 * Parses schema JSON text into a tree and computes its Parsing Canonical
 * Form and fingerprint.  source names the text in messages (a file name).
 * Errors: MA_ERR_PARSE (not JSON), MA_ERR_SCHEMA (not a valid Avro schema,
 * with the JSON path), MA_ERR_NOMEM.
 */
ma_status_t ma_avro_schema_parse(const char *json, size_t len,
                                 const char *source, ma_avro_schema_t **out,
                                 ma_error_t *err);
void ma_avro_schema_free(ma_avro_schema_t *schema);
const ma_avro_node_t *ma_avro_schema_root(const ma_avro_schema_t *schema);
/* The Parsing Canonical Form, owned by the schema. */
const char *ma_avro_schema_canonical(const ma_avro_schema_t *schema);
uint64_t ma_avro_schema_fingerprint(const ma_avro_schema_t *schema);

/*
 * Returns in *out the Parsing Canonical Form of schema JSON text, as defined
 * by the Avro specification, in memory from ma_malloc (free with ma_free).
 */
ma_status_t ma_avro_canonical_form(const char *json, size_t len, char **out,
                                   ma_error_t *err);

/*
 * Returns in *out (ma_malloc) schema JSON in canonical form for reading data
 * of writer with reader: reader's tree with every record field that the
 * matching writer record (same fullname) lacks left out.  avro-c 1.11
 * rejects reader fields missing from the writer instead of using their
 * defaults, so the codec resolves against this projection and fills the
 * defaults itself.  With writer NULL this is the canonical form of reader.
 */
ma_status_t ma_avro_projection_json(const ma_avro_node_t *reader,
                                    const ma_avro_node_t *writer, char **out,
                                    ma_error_t *err);

/* Returns the named record field of a record node, or NULL. */
const ma_avro_field_t *ma_avro_record_field(const ma_avro_node_t *record,
                                            const char *name);

/* ---- Fingerprints and single-object encoding ---- */

/* CRC-64-AVRO (Rabin) of bytes; the fingerprint of "" is 0xc15d213aa4d7a795. */
uint64_t ma_avro_crc64(const void *data, size_t len);

#define MA_AVRO_SOE_MARKER0    0xC3
#define MA_AVRO_SOE_MARKER1    0x01
#define MA_AVRO_SOE_HEADER_LEN 10

/* Writes C3 01 and the fingerprint in little-endian byte order. */
void ma_avro_soe_header_write(unsigned char out[MA_AVRO_SOE_HEADER_LEN],
                              uint64_t fingerprint);
/*
 * Reads the header of a single-object message.  Errors: MA_ERR_ENCODING
 * when the marker is missing, MA_ERR_TRUNCATED when len < 10.
 */
ma_status_t ma_avro_soe_header_read(const void *data, size_t len,
                                    uint64_t *fingerprint, ma_error_t *err);

/* ---- Bounded check of a binary body ---- */

typedef struct ma_avro_check_limits {
        size_t max_depth; /* nested records, arrays, maps and unions */
        size_t max_items; /* array and map entries in one body, all blocks */
} ma_avro_check_limits_t;

#define MA_AVRO_CHECK_MAX_DEPTH_DEFAULT 32
#define MA_AVRO_CHECK_MAX_ITEMS_DEFAULT 65536

void ma_avro_check_limits_default(ma_avro_check_limits_t *limits);

/*
 * Walks body against the writer schema without allocating.  It requires
 * every varint to be at most 10 bytes (5 for int) and in range, booleans 0
 * or 1, string and bytes lengths within the remaining input, and strings to
 * be valid UTF-8 without NUL.  Block counts and block byte sizes must agree,
 * union and enum indexes be in range, nesting and item counts stay within
 * limits, and nothing may follow the value.  limits may be NULL for the
 * defaults.  Errors: MA_ERR_TRUNCATED (input ends
 * early), MA_ERR_PARSE (a value breaks the schema or a limit), both with the
 * field path in err->field.
 */
ma_status_t ma_avro_check_binary(const ma_avro_node_t *writer, const void *body,
                                 size_t len,
                                 const ma_avro_check_limits_t *limits,
                                 ma_error_t *err);

/* ---- Schema store: schemas/<subject>/v<N>.avsc ---- */

typedef struct ma_avro_store_entry {
        const char *subject;  /* the folder name, e.g. "kundhandelse" */
        int version;          /* N of vN.avsc */
        const char *path;     /* the file it was read from */
        const char *fullname; /* of the root type, e.g.
                                 se.minaarenden.Kundhandelse */
        uint64_t fingerprint;
        const ma_avro_schema_t *schema;
} ma_avro_store_entry_t;

typedef struct ma_avro_store ma_avro_store_t;

/*
 * Loads every <dir>/<subject>/v<N>.avsc (N >= 1) and sorts the entries by
 * subject and version.  Errors: MA_ERR_IO when dir or a file is unreadable,
 * MA_ERR_SCHEMA when a file is not a valid schema or two files of one subject
 * have different root names (the message names the file), MA_ERR_NOMEM.
 */
ma_status_t ma_avro_store_load(const char *dir, ma_avro_store_t **out,
                               ma_error_t *err);
void ma_avro_store_free(ma_avro_store_t *store);
size_t ma_avro_store_count(const ma_avro_store_t *store);
const ma_avro_store_entry_t *ma_avro_store_at(const ma_avro_store_t *store,
                                              size_t index);
/* Returns the entry with this fingerprint, or NULL. */
const ma_avro_store_entry_t *ma_avro_store_find(const ma_avro_store_t *store,
                                                uint64_t fingerprint);
/*
 * Returns the newest version whose root type has this fullname and whose
 * version is at most max_version (0: no bound), or NULL.
 */
const ma_avro_store_entry_t *ma_avro_store_latest(const ma_avro_store_t *store,
                                                  const char *fullname,
                                                  int max_version);

/* ---- Compatibility ---- */

typedef enum ma_avro_compat_mode {
        MA_AVRO_COMPAT_BACKWARD = 1, /* the new schema reads old data */
        MA_AVRO_COMPAT_FORWARD = 2,  /* the old schema reads new data */
        MA_AVRO_COMPAT_FULL = 3,     /* both */
} ma_avro_compat_mode_t;

/* Parses "backward", "forward" or "full"; -1 if unknown. */
int ma_avro_compat_mode_parse(const char *name);
const char *ma_avro_compat_mode_name(ma_avro_compat_mode_t mode);

/*
 * Checks by the Avro resolution rules that data written with writer can be
 * read with reader.  On failure returns MA_ERR_SCHEMA with err->field set to
 * the field path and a message that names what breaks and how to fix it.
 */
ma_status_t ma_avro_compat_can_read(const ma_avro_node_t *reader,
                                    const ma_avro_node_t *writer,
                                    ma_error_t *err);

/*
 * Checks new_schema against old_schema in mode.  The message names the
 * broken direction, e.g. 'field "foo" added without a default breaks
 * backward compatibility; give it a default'.
 */
ma_status_t ma_avro_compat_check(const ma_avro_node_t *old_schema,
                                 const ma_avro_node_t *new_schema,
                                 ma_avro_compat_mode_t mode, ma_error_t *err);

/*
 * Checks that every enum the writer and reader share keeps the writer's
 * symbols at the same positions in the reader.  The Avro specification
 * resolves enums by symbol name, but avro-c 1.11 copies the index, so a
 * reordered or inserted symbol would silently change values.  Returns
 * MA_ERR_SCHEMA naming the field and the first moved symbol.
 */
ma_status_t ma_avro_enum_order_check(const ma_avro_node_t *reader,
                                     const ma_avro_node_t *writer,
                                     ma_error_t *err);

/* ---- Codec variants for tests and tools ---- */

/*
 * As ma_codec_open(), but the reader schema of each record name is the
 * newest version at most reader_version_max (0: the newest), so a test can
 * read newer data with an older reader.
 */
ma_status_t ma_codec_open_pinned(const char *schema_dir, size_t max_message,
                                 int reader_version_max, ma_codec_t **codec_out,
                                 ma_error_t *err);

#endif /* MA_AVRO_H */
