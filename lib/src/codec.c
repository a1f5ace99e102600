/*
 * codec.c - ma_event_t to and from Avro single-object messages.
 *
 * Encoding writes the body of the newest schema of the event's kind after
 * the 10-byte header: directly from the event when that schema is one of
 * the two version-1 schemas, else by filling an avro-c generic value.
 * Decoding looks the writer schema up by fingerprint, walks the body with
 * ma_avro_check_binary() so avro-c never reads a length it could overrun,
 * and lets avro-c read it through a resolved writer into the reader schema.
 * avro-c 1.11 cannot fill reader fields that the writer lacks, so each
 * writer is resolved against a projection of the reader without those
 * fields (ma_avro_projection_json()) and the mapping below takes their
 * values from the reader schema's defaults.  avro-c ignores logical types:
 * timestamp-millis is the long ma_instant_t.utc_ms, date the int of days
 * since 1970-01-01.
 */
#include <avro.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/avro.h"
#include "ma/codec.h"

#define MA_CODEC_KUNDHANDELSE "se.minaarenden.Kundhandelse"
#define MA_CODEC_ATERKALLELSE "se.minaarenden.Aterkallelse"

/*
 * Not in codec.h, for tests/unit/test_codec_direct.c: the avro-c generic
 * encoder, and whether ma_codec_encode() takes the direct path for kind.
 */
ma_status_t ma_codec_encode_generic(const ma_codec_t *codec,
                                    const ma_event_t *event, ma_buf_t *out,
                                    ma_error_t *err);
bool ma_codec_encode_is_direct(const ma_codec_t *codec, ma_event_kind_t kind);

/* One known writer schema with its resolution to the reader schema. */
typedef struct ma_codec_writer {
        const ma_avro_store_entry_t *entry;
        const ma_avro_store_entry_t *reader;
        avro_schema_t writer_schema;
        avro_schema_t projection; /* reader without fields the writer lacks */
        avro_value_iface_t *projection_iface;
        avro_value_iface_t *resolver;
} ma_codec_writer_t;

struct ma_codec {
        ma_avro_store_t *store;
        size_t max_message;
        ma_codec_writer_t *writers;
        size_t writer_count;
        /* Indexed by ma_event_kind_t: what ma_codec_encode() writes. */
        const ma_avro_store_entry_t *encode_entry[2];
        avro_schema_t encode_schema[2];
        avro_value_iface_t *encode_iface[2];
};

/* ---- Opening ---- */

static ma_status_t ma_codec_avro_schema(const char *json, const char *path,
                                        avro_schema_t *out, ma_error_t *err)
{
        if (avro_schema_from_json_length(json, strlen(json), out) != 0)
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot use schema \"%s\": avro-c rejects "
                                    "it: %s",
                                    path, avro_strerror());
        return MA_OK;
}

static ma_status_t ma_codec_writer_init(ma_codec_writer_t *writer,
                                        const ma_avro_store_t *store,
                                        const ma_avro_store_entry_t *entry,
                                        int reader_version_max, ma_error_t *err)
{
        const ma_avro_node_t *wroot = ma_avro_schema_root(entry->schema);
        const ma_avro_node_t *rroot;
        ma_error_t inner = {0};
        char *json = NULL;
        ma_status_t status;

        writer->entry = entry;
        writer->reader = ma_avro_store_latest(store, entry->fullname,
                                              reader_version_max);
        if (writer->reader == NULL)
                writer->reader = entry; /* newer than the pinned reader */
        rroot = ma_avro_schema_root(writer->reader->schema);
        status = ma_avro_compat_can_read(rroot, wroot, &inner);
        if (status == MA_OK)
                status = ma_avro_enum_order_check(rroot, wroot, &inner);
        if (status != MA_OK)
                return ma_error_set(err, MA_ERR_SCHEMA, inner.field,
                                    "cannot read data written with \"%s\" "
                                    "using reader \"%s\": %s",
                                    entry->path, writer->reader->path,
                                    inner.message);
        status = ma_codec_avro_schema(ma_avro_schema_canonical(entry->schema),
                                      entry->path, &writer->writer_schema, err);
        if (status == MA_OK)
                status = ma_avro_projection_json(rroot, wroot, &json, err);
        if (status == MA_OK)
                status = ma_codec_avro_schema(json, writer->reader->path,
                                              &writer->projection, err);
        ma_free(json);
        if (status != MA_OK)
                return status;
        writer->projection_iface =
                avro_generic_class_from_schema(writer->projection);
        writer->resolver = avro_resolved_writer_new(writer->writer_schema,
                                                    writer->projection);
        if (writer->projection_iface == NULL || writer->resolver == NULL)
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot resolve schema \"%s\" to reader "
                                    "\"%s\": %s",
                                    entry->path, writer->reader->path,
                                    avro_strerror());
        return MA_OK;
}

static ma_status_t ma_codec_encoder_init(ma_codec_t *codec,
                                         ma_event_kind_t kind,
                                         const char *fullname,
                                         int reader_version_max,
                                         ma_error_t *err)
{
        const ma_avro_store_entry_t *entry = ma_avro_store_latest(
                codec->store, fullname, reader_version_max);
        ma_status_t status;

        if (entry == NULL)
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot open codec: no schema defines "
                                    "record \"%s\"; add its .avsc file to the "
                                    "schema directory",
                                    fullname);
        codec->encode_entry[kind] = entry;
        status = ma_codec_avro_schema(ma_avro_schema_canonical(entry->schema),
                                      entry->path, &codec->encode_schema[kind],
                                      err);
        if (status != MA_OK)
                return status;
        codec->encode_iface[kind] =
                avro_generic_class_from_schema(codec->encode_schema[kind]);
        if (codec->encode_iface[kind] == NULL)
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot use schema \"%s\": %s", entry->path,
                                    avro_strerror());
        return MA_OK;
}

ma_status_t ma_codec_open_pinned(const char *schema_dir, size_t max_message,
                                 int reader_version_max, ma_codec_t **codec_out,
                                 ma_error_t *err)
{
        ma_codec_t *codec;
        ma_status_t status;

        *codec_out = NULL;
        codec = ma_calloc(1, sizeof(*codec));
        if (codec == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not open codec: out of memory");
        codec->max_message =
                max_message ? max_message : MA_CODEC_MAX_MESSAGE_DEFAULT;
        status = ma_avro_store_load(schema_dir, &codec->store, err);
        if (status == MA_OK) {
                size_t count = ma_avro_store_count(codec->store);

                codec->writers =
                        ma_calloc(count ? count : 1, sizeof(*codec->writers));
                if (codec->writers == NULL)
                        status = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                              "could not open codec: out of "
                                              "memory");
                for (size_t i = 0; status == MA_OK && i < count; i++) {
                        codec->writer_count++;
                        status = ma_codec_writer_init(
                                &codec->writers[i], codec->store,
                                ma_avro_store_at(codec->store, i),
                                reader_version_max, err);
                }
        }
        if (status == MA_OK)
                status = ma_codec_encoder_init(codec, MA_EVENT_PUBLISH,
                                               MA_CODEC_KUNDHANDELSE,
                                               reader_version_max, err);
        if (status == MA_OK)
                status = ma_codec_encoder_init(codec, MA_EVENT_RETRACT,
                                               MA_CODEC_ATERKALLELSE,
                                               reader_version_max, err);
        if (status != MA_OK) {
                ma_codec_close(codec);
                return status;
        }
        *codec_out = codec;
        return MA_OK;
}

ma_status_t ma_codec_open(const char *schema_dir, size_t max_message,
                          ma_codec_t **codec_out, ma_error_t *err)
{
        return ma_codec_open_pinned(schema_dir, max_message, 0, codec_out, err);
}

void ma_codec_close(ma_codec_t *codec)
{
        if (codec == NULL)
                return;
        for (size_t i = 0; i < codec->writer_count; i++) {
                ma_codec_writer_t *writer = &codec->writers[i];

                if (writer->resolver)
                        avro_value_iface_decref(writer->resolver);
                if (writer->projection_iface)
                        avro_value_iface_decref(writer->projection_iface);
                if (writer->projection)
                        avro_schema_decref(writer->projection);
                if (writer->writer_schema)
                        avro_schema_decref(writer->writer_schema);
        }
        for (int kind = 0; kind < 2; kind++) {
                if (codec->encode_iface[kind])
                        avro_value_iface_decref(codec->encode_iface[kind]);
                if (codec->encode_schema[kind])
                        avro_schema_decref(codec->encode_schema[kind]);
        }
        ma_free(codec->writers);
        ma_avro_store_free(codec->store);
        ma_free(codec);
}

uint64_t ma_codec_writer_fingerprint(const ma_codec_t *codec,
                                     ma_event_kind_t kind)
{
        return codec->encode_entry[kind == MA_EVENT_RETRACT]->fingerprint;
}

void ma_buf_free(ma_buf_t *buf)
{
        if (buf == NULL)
                return;
        ma_free(buf->data);
        buf->data = NULL;
        buf->len = 0;
        buf->cap = 0;
}

/* ---- Encoding ---- */

static ma_status_t ma_enc_avro_fail(ma_error_t *err, const char *field)
{
        return ma_error_set(err, MA_ERR_INTERNAL, field,
                            "could not encode field \"%s\": avro-c: %s", field,
                            avro_strerror());
}

/* Selects the union branch of type want (MA_AVRO_NULL or the other one). */
static int ma_enc_branch(avro_value_t *value, const ma_avro_node_t *node,
                         int null_branch, avro_value_t *branch)
{
        if (node->type != MA_AVRO_UNION) {
                *branch = *value;
                return 0;
        }
        for (size_t i = 0; i < node->branch_count; i++) {
                int is_null = node->branches[i]->type == MA_AVRO_NULL;

                if (is_null == null_branch)
                        return avro_value_set_branch(value, (int)i, branch);
        }
        return -1;
}

static int ma_enc_set_json(avro_value_t *value, const ma_avro_node_t *node,
                           json_t *json);

static int ma_enc_set_json_record(avro_value_t *value,
                                  const ma_avro_node_t *node, json_t *json)
{
        for (size_t i = 0; i < node->field_count; i++) {
                const ma_avro_field_t *field = &node->fields[i];
                json_t *sub = json_object_get(json, field->name);
                json_t *parsed = NULL;
                avro_value_t child;
                int rc;

                if (sub == NULL && field->default_json != NULL)
                        sub = parsed = json_loads(field->default_json,
                                                  JSON_DECODE_ANY, NULL);
                if (sub == NULL ||
                    avro_value_get_by_name(value, field->name, &child, NULL))
                        return -1;
                rc = ma_enc_set_json(&child, field->type, sub);
                json_decref(parsed);
                if (rc != 0)
                        return rc;
        }
        return 0;
}

/* Sets a value from a JSON default, as the specification encodes them. */
static int ma_enc_set_json(avro_value_t *value, const ma_avro_node_t *node,
                           json_t *json)
{
        avro_value_t child;

        switch (node->type) {
        case MA_AVRO_NULL:
                return json_is_null(json) ? avro_value_set_null(value) : -1;
        case MA_AVRO_BOOLEAN:
                return json_is_boolean(json)
                               ? avro_value_set_boolean(value,
                                                        json_is_true(json))
                               : -1;
        case MA_AVRO_INT:
                return json_is_integer(json)
                               ? avro_value_set_int(
                                         value,
                                         (int32_t)json_integer_value(json))
                               : -1;
        case MA_AVRO_LONG:
                return json_is_integer(json)
                               ? avro_value_set_long(value,
                                                     json_integer_value(json))
                               : -1;
        case MA_AVRO_FLOAT:
                return json_is_number(json)
                               ? avro_value_set_float(
                                         value, (float)json_number_value(json))
                               : -1;
        case MA_AVRO_DOUBLE:
                return json_is_number(json)
                               ? avro_value_set_double(value,
                                                       json_number_value(json))
                               : -1;
        case MA_AVRO_STRING:
                return json_is_string(json)
                               ? avro_value_set_string(value,
                                                       json_string_value(json))
                               : -1;
        case MA_AVRO_ENUM:
                for (size_t i = 0;
                     json_is_string(json) && i < node->symbol_count; i++) {
                        if (strcmp(node->symbols[i], json_string_value(json)) ==
                            0)
                                return avro_value_set_enum(value, (int)i);
                }
                return -1;
        case MA_AVRO_UNION:
                /* A union's default belongs to its first branch. */
                if (avro_value_set_branch(value, 0, &child))
                        return -1;
                return ma_enc_set_json(&child, node->branches[0], json);
        case MA_AVRO_ARRAY:
                for (size_t i = 0;
                     json_is_array(json) && i < json_array_size(json); i++) {
                        if (avro_value_append(value, &child, NULL) ||
                            ma_enc_set_json(&child, node->items,
                                            json_array_get(json, i)))
                                return -1;
                }
                return json_is_array(json) ? 0 : -1;
        case MA_AVRO_RECORD:
                return json_is_object(json)
                               ? ma_enc_set_json_record(value, node, json)
                               : -1;
        default:
                /* bytes, fixed and map defaults: not used by our schemas. */
                return -1;
        }
}

static ma_status_t ma_enc_default(avro_value_t *value,
                                  const ma_avro_field_t *field, ma_error_t *err)
{
        json_t *json = NULL;
        int rc = -1;

        if (field->default_json != NULL)
                json = json_loads(field->default_json, JSON_DECODE_ANY, NULL);
        if (json != NULL)
                rc = ma_enc_set_json(value, field->type, json);
        json_decref(json);
        if (rc != 0)
                return ma_error_set(err, MA_ERR_SCHEMA, field->name,
                                    "cannot encode field \"%s\": the event "
                                    "has no value for it and the schema "
                                    "gives no usable default; add a default "
                                    "or map the field in codec.c",
                                    field->name);
        return MA_OK;
}

static ma_status_t ma_enc_string(avro_value_t *value,
                                 const ma_avro_field_t *field, const char *text,
                                 int optional, ma_error_t *err)
{
        avro_value_t branch;

        if (text == NULL && !optional)
                return ma_error_set(err, MA_ERR_INVALID, field->name,
                                    "cannot encode event: required field "
                                    "\"%s\" is missing; set it",
                                    field->name);
        if (ma_enc_branch(value, field->type, text == NULL, &branch))
                return ma_enc_avro_fail(err, field->name);
        if (text == NULL ? avro_value_set_null(&branch)
                         : avro_value_set_string(&branch, text))
                return ma_enc_avro_fail(err, field->name);
        return MA_OK;
}

/* avro-c writes any index it is given, so check it against the symbols. */
static ma_status_t ma_enc_enum(avro_value_t *value,
                               const ma_avro_field_t *field, int index,
                               ma_error_t *err)
{
        if (field->type->type != MA_AVRO_ENUM || index < 0 ||
            (size_t)index >= field->type->symbol_count)
                return ma_error_set(err, MA_ERR_INVALID, field->name,
                                    "cannot encode event: %s value %d is not "
                                    "a symbol index of the schema; use a "
                                    "value of the matching C enum",
                                    field->name, index);
        if (avro_value_set_enum(value, index))
                return ma_enc_avro_fail(err, field->name);
        return MA_OK;
}

static ma_status_t ma_enc_date(avro_value_t *value,
                               const ma_avro_field_t *field, int32_t days,
                               ma_error_t *err)
{
        avro_value_t branch;
        int absent = days == MA_DATE_NONE;

        if (ma_enc_branch(value, field->type, absent, &branch) ||
            (absent ? avro_value_set_null(&branch)
                    : avro_value_set_int(&branch, days)))
                return ma_enc_avro_fail(err, field->name);
        return MA_OK;
}

static ma_status_t ma_enc_record(avro_value_t *value,
                                 const ma_avro_node_t *node,
                                 const ma_event_t *event, const char *what,
                                 ma_error_t *err);

/* Optional sub-record of part: kund or arende. */
static ma_status_t ma_enc_optional_record(avro_value_t *value,
                                          const ma_avro_field_t *field,
                                          const ma_event_t *event, int present,
                                          const char *what, ma_error_t *err)
{
        avro_value_t branch;
        const ma_avro_node_t *type = field->type;

        if (ma_enc_branch(value, type, !present, &branch))
                return ma_enc_avro_fail(err, field->name);
        if (!present)
                return avro_value_set_null(&branch)
                               ? ma_enc_avro_fail(err, field->name)
                               : MA_OK;
        if (type->type == MA_AVRO_UNION) {
                for (size_t i = 0; i < type->branch_count; i++) {
                        if (type->branches[i]->type == MA_AVRO_RECORD)
                                type = type->branches[i];
                }
        }
        return ma_enc_record(&branch, type, event, what, err);
}

static ma_status_t ma_enc_tags(avro_value_t *value,
                               const ma_avro_field_t *field,
                               const ma_event_t *event, ma_error_t *err)
{
        for (size_t i = 0; i < event->taggar_count; i++) {
                avro_value_t item;

                if (event->taggar[i] == NULL)
                        return ma_error_set(err, MA_ERR_INVALID, field->name,
                                            "cannot encode event: tag %zu "
                                            "is NULL",
                                            i);
                if (avro_value_append(value, &item, NULL) ||
                    avro_value_set_string(&item, event->taggar[i]))
                        return ma_enc_avro_fail(err, field->name);
        }
        return MA_OK;
}

static ma_status_t ma_enc_tidpunkt(avro_value_t *value,
                                   const ma_avro_field_t *field,
                                   const ma_event_t *event, ma_error_t *err)
{
        if (field->type->type == MA_AVRO_LONG)
                return avro_value_set_long(value, event->tidpunkt.utc_ms)
                               ? ma_enc_avro_fail(err, field->name)
                               : MA_OK;
        return ma_enc_record(value, field->type, event, "tidpunkt", err);
}

/*
 * Sets one field of the record `what` ("event", "part", "kund", "arende",
 * "tidpunkt") from the event.  Returns MA_ERR_NOT_FOUND for a field this
 * build does not know, which then gets its schema default.
 */
static ma_status_t ma_enc_field(avro_value_t *v, const ma_avro_field_t *f,
                                const ma_event_t *e, const char *what,
                                ma_error_t *err)
{
        const char *n = f->name;
        const ma_part_t *p = &e->part;

        if (strcmp(what, "part") == 0) {
                if (strcmp(n, "kund") == 0)
                        return ma_enc_optional_record(v, f, e, p->has_kund,
                                                      "kund", err);
                if (strcmp(n, "arende") == 0)
                        return ma_enc_optional_record(v, f, e, p->has_arende,
                                                      "arende", err);
                return MA_ERR_NOT_FOUND;
        }
        if (strcmp(what, "kund") == 0) {
                if (strcmp(n, "identifierare") == 0)
                        return ma_enc_string(v, f, p->kund_identifierare, 0,
                                             err);
                if (strcmp(n, "typ") == 0)
                        return ma_enc_enum(v, f, (int)p->kund_typ, err);
                if (strcmp(n, "tillagg") == 0)
                        return ma_enc_string(v, f, p->kund_tillagg, 1, err);
                return MA_ERR_NOT_FOUND;
        }
        if (strcmp(what, "arende") == 0) {
                if (strcmp(n, "identifierare") == 0)
                        return ma_enc_string(v, f, p->arende_identifierare, 0,
                                             err);
                if (strcmp(n, "typ") == 0)
                        return ma_enc_enum(v, f, (int)p->arende_typ, err);
                return MA_ERR_NOT_FOUND;
        }
        if (strcmp(what, "tidpunkt") == 0) {
                if (strcmp(n, "utc") == 0)
                        return avro_value_set_long(v, e->tidpunkt.utc_ms)
                                       ? ma_enc_avro_fail(err, n)
                                       : MA_OK;
                if (strcmp(n, "offsetMinuter") == 0)
                        return avro_value_set_int(v, e->tidpunkt.offset_min)
                                       ? ma_enc_avro_fail(err, n)
                                       : MA_OK;
                return MA_ERR_NOT_FOUND;
        }

        /* Top level of Kundhandelse and Aterkallelse. */
        if (strcmp(n, "kundhandelseId") == 0)
                return ma_enc_string(v, f, e->kundhandelse_id, 0, err);
        if (strcmp(n, "producentOrganisationsnummer") == 0)
                return ma_enc_string(v, f, e->producent_organisationsnummer, 0,
                                     err);
        if (strcmp(n, "part") == 0)
                return ma_enc_record(v, f->type, e, "part", err);
        if (strcmp(n, "tidpunkt") == 0)
                return ma_enc_tidpunkt(v, f, e, err);
        if (strcmp(n, "sekvens") == 0)
                return avro_value_set_long(v, e->sekvens)
                               ? ma_enc_avro_fail(err, n)
                               : MA_OK;
        if (e->kind == MA_EVENT_RETRACT) {
                if (strcmp(n, "orsak") == 0)
                        return ma_enc_string(v, f, e->orsak, 1, err);
                return MA_ERR_NOT_FOUND;
        }
        if (strcmp(n, "producent") == 0)
                return ma_enc_string(v, f, e->producent, 0, err);
        if (strcmp(n, "rubrik") == 0)
                return ma_enc_string(v, f, e->rubrik, 0, err);
        if (strcmp(n, "beskrivning") == 0)
                return ma_enc_string(v, f, e->beskrivning, 0, err);
        if (strcmp(n, "sprak") == 0 && e->sprak != NULL)
                return ma_enc_string(v, f, e->sprak, 0, err);
        if (strcmp(n, "kundhandelseTyp") == 0)
                return ma_enc_string(v, f, e->kundhandelse_typ, 0, err);
        if (strcmp(n, "producentarendetKraverKundatgard") == 0)
                return avro_value_set_boolean(
                               v, e->producentarendet_kraver_kundatgard)
                               ? ma_enc_avro_fail(err, n)
                               : MA_OK;
        if (strcmp(n, "producentarendetKlart") == 0)
                return avro_value_set_boolean(v, e->producentarendet_klart)
                               ? ma_enc_avro_fail(err, n)
                               : MA_OK;
        if (strcmp(n, "version") == 0 && e->version != NULL)
                return ma_enc_string(v, f, e->version, 0, err);
        if (strcmp(n, "utokadInformation") == 0)
                return ma_enc_string(v, f, e->utokad_information, 1, err);
        if (strcmp(n, "referenser") == 0)
                return ma_enc_string(v, f, e->referenser, 1, err);
        if (strcmp(n, "taggar") == 0)
                return ma_enc_tags(v, f, e, err);
        if (strcmp(n, "giltigTill") == 0)
                return ma_enc_date(v, f, e->giltig_till, err);
        if (strcmp(n, "atgardSenast") == 0)
                return ma_enc_date(v, f, e->atgard_senast, err);
        if (strcmp(n, "kundhandelsereferens") == 0)
                return ma_enc_string(v, f, e->kundhandelsereferens, 1, err);
        /* sprak and version fall back to their defaults when NULL. */
        return MA_ERR_NOT_FOUND;
}

static ma_status_t ma_enc_record(avro_value_t *value,
                                 const ma_avro_node_t *node,
                                 const ma_event_t *event, const char *what,
                                 ma_error_t *err)
{
        for (size_t i = 0; i < node->field_count; i++) {
                const ma_avro_field_t *field = &node->fields[i];
                avro_value_t child;
                ma_status_t status;

                if (avro_value_get_by_name(value, field->name, &child, NULL))
                        return ma_enc_avro_fail(err, field->name);
                status = ma_enc_field(&child, field, event, what, err);
                if (status == MA_ERR_NOT_FOUND)
                        status = ma_enc_default(&child, field, err);
                if (status != MA_OK)
                        return status;
        }
        return MA_OK;
}

static ma_status_t ma_buf_reserve(ma_buf_t *out, size_t size, ma_error_t *err)
{
        unsigned char *grown;

        if (out->cap >= size)
                return MA_OK;
        grown = ma_realloc(out->data, size);
        if (grown == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not encode event: out of memory "
                                    "for %zu bytes",
                                    size);
        out->data = grown;
        out->cap = size;
        return MA_OK;
}

ma_status_t ma_codec_encode_generic(const ma_codec_t *codec,
                                    const ma_event_t *event, ma_buf_t *out,
                                    ma_error_t *err)
{
        int kind = event->kind == MA_EVENT_RETRACT;
        const ma_avro_store_entry_t *entry = codec->encode_entry[kind];
        avro_value_t value;
        avro_writer_t writer = NULL;
        size_t size = 0;
        ma_status_t status;

        out->len = 0;
        if (avro_generic_value_new(codec->encode_iface[kind], &value))
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not encode event: avro-c: %s",
                                    avro_strerror());
        status = ma_enc_record(&value, ma_avro_schema_root(entry->schema),
                               event, "event", err);
        if (status == MA_OK && avro_value_sizeof(&value, &size))
                status = ma_enc_avro_fail(err, "(top level)");
        if (status == MA_OK)
                status =
                        ma_buf_reserve(out, MA_AVRO_SOE_HEADER_LEN + size, err);
        if (status == MA_OK) {
                writer = avro_writer_memory((const char *)out->data +
                                                    MA_AVRO_SOE_HEADER_LEN,
                                            (int64_t)size);
                if (writer == NULL || avro_value_write(writer, &value))
                        status = ma_enc_avro_fail(err, "(top level)");
        }
        if (writer != NULL)
                avro_writer_free(writer);
        avro_value_decref(&value);
        if (status != MA_OK)
                return status;
        ma_avro_soe_header_write(out->data, entry->fingerprint);
        out->len = MA_AVRO_SOE_HEADER_LEN + size;
        return MA_OK;
}

/* ---- Direct encoding of the version-1 schemas ---- */

/*
 * The generic path above costs most of a publish: a generic value per event,
 * a field lookup by name per field and defaults parsed from JSON.  So events
 * for the two version-1 schemas are written straight into the buffer in the
 * schema's field order.  In Avro binary, int, long, enum symbol index, union
 * branch index and lengths are zig-zag varints.  A string is its byte length
 * and its bytes.  An array is one block (count, items) and the count 0, or
 * only 0 when empty, as avro-c writes it.  This layout belongs to exactly the
 * fingerprints below (CRC-64-AVRO of the Parsing Canonical Form of
 * schemas/kundhandelse/v1.avsc and schemas/aterkallelse/v1.avsc), so any
 * other newest schema, such as a future v2, takes the generic path.
 * tests/unit/test_codec_direct.c compares both paths byte for byte.
 */
#define MA_CODEC_V1_KUNDHANDELSE_FP  UINT64_C(0x35c7ffd95d43d75e)
#define MA_CODEC_V1_ATERKALLELSE_FP  UINT64_C(0x79829950a0a73f46)
#define MA_CODEC_V1_KUND_TYP_COUNT   3
#define MA_CODEC_V1_ARENDE_TYP_COUNT 4

/* Writes into data, or only counts bytes when data is NULL. */
typedef struct ma_dw {
        unsigned char *data;
        size_t len;
} ma_dw_t;

static void ma_dw_long(ma_dw_t *w, int64_t value)
{
        uint64_t n = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);

        while (n > 0x7F) {
                if (w->data != NULL)
                        w->data[w->len] = (unsigned char)((n & 0x7F) | 0x80);
                w->len++;
                n >>= 7;
        }
        if (w->data != NULL)
                w->data[w->len] = (unsigned char)n;
        w->len++;
}

static void ma_dw_string(ma_dw_t *w, const char *text)
{
        size_t n = strlen(text);

        ma_dw_long(w, (int64_t)n);
        if (w->data != NULL)
                memcpy(w->data + w->len, text, n);
        w->len += n;
}

static void ma_dw_boolean(ma_dw_t *w, bool value)
{
        if (w->data != NULL)
                w->data[w->len] = value ? 1 : 0;
        w->len++;
}

/* A ["null", T] union: branch 0 for null, 1 otherwise. */
static void ma_dw_optional_string(ma_dw_t *w, const char *text)
{
        ma_dw_long(w, text != NULL);
        if (text != NULL)
                ma_dw_string(w, text);
}

static void ma_dw_optional_date(ma_dw_t *w, int32_t days)
{
        ma_dw_long(w, days != MA_DATE_NONE);
        if (days != MA_DATE_NONE)
                ma_dw_long(w, days);
}

static void ma_dw_part(ma_dw_t *w, const ma_part_t *part)
{
        ma_dw_long(w, part->has_kund);
        if (part->has_kund) {
                ma_dw_string(w, part->kund_identifierare);
                ma_dw_long(w, (int64_t)part->kund_typ);
                ma_dw_optional_string(w, part->kund_tillagg);
        }
        ma_dw_long(w, part->has_arende);
        if (part->has_arende) {
                ma_dw_string(w, part->arende_identifierare);
                ma_dw_long(w, (int64_t)part->arende_typ);
        }
}

static void ma_dw_kundhandelse(ma_dw_t *w, const ma_event_t *e)
{
        ma_dw_string(w, e->kundhandelse_id);
        ma_dw_string(w, e->producent_organisationsnummer);
        ma_dw_string(w, e->producent);
        ma_dw_part(w, &e->part);
        ma_dw_string(w, e->rubrik);
        ma_dw_string(w, e->beskrivning);
        ma_dw_string(w, e->sprak != NULL ? e->sprak : "sv"); /* default */
        ma_dw_long(w, e->tidpunkt.utc_ms);
        ma_dw_long(w, e->tidpunkt.offset_min);
        ma_dw_string(w, e->kundhandelse_typ);
        ma_dw_boolean(w, e->producentarendet_kraver_kundatgard);
        ma_dw_boolean(w, e->producentarendet_klart);
        ma_dw_string(w, e->version != NULL ? e->version : "6.1"); /* default */
        ma_dw_optional_string(w, e->utokad_information);
        ma_dw_optional_string(w, e->referenser);
        if (e->taggar_count > 0) {
                ma_dw_long(w, (int64_t)e->taggar_count);
                for (size_t i = 0; i < e->taggar_count; i++)
                        ma_dw_string(w, e->taggar[i]);
        }
        ma_dw_long(w, 0);
        ma_dw_long(w, e->sekvens);
        ma_dw_optional_date(w, e->giltig_till);
        ma_dw_optional_date(w, e->atgard_senast);
        ma_dw_optional_string(w, e->kundhandelsereferens);
}

static void ma_dw_aterkallelse(ma_dw_t *w, const ma_event_t *e)
{
        ma_dw_string(w, e->kundhandelse_id);
        ma_dw_string(w, e->producent_organisationsnummer);
        ma_dw_part(w, &e->part);
        ma_dw_long(w, e->tidpunkt.utc_ms);
        ma_dw_long(w, e->sekvens);
        ma_dw_optional_string(w, e->orsak);
}

static bool ma_dw_part_ok(const ma_part_t *part)
{
        if (part->has_kund &&
            (part->kund_identifierare == NULL || (int)part->kund_typ < 0 ||
             (int)part->kund_typ >= MA_CODEC_V1_KUND_TYP_COUNT))
                return false;
        if (part->has_arende &&
            (part->arende_identifierare == NULL || (int)part->arende_typ < 0 ||
             (int)part->arende_typ >= MA_CODEC_V1_ARENDE_TYP_COUNT))
                return false;
        return true;
}

/*
 * Whether the direct path can write event.  An event it cannot write (a
 * required field NULL, an enum value out of range, a NULL tag) goes to the
 * generic path, which reports the error.
 */
static bool ma_dw_event_ok(const ma_event_t *e)
{
        if (e->kundhandelse_id == NULL ||
            e->producent_organisationsnummer == NULL ||
            !ma_dw_part_ok(&e->part))
                return false;
        if (e->kind == MA_EVENT_RETRACT)
                return true;
        if (e->producent == NULL || e->rubrik == NULL ||
            e->beskrivning == NULL || e->kundhandelse_typ == NULL)
                return false;
        for (size_t i = 0; i < e->taggar_count; i++) {
                if (e->taggar[i] == NULL)
                        return false;
        }
        return true;
}

static void ma_dw_body(ma_dw_t *w, const ma_event_t *event)
{
        if (event->kind == MA_EVENT_RETRACT)
                ma_dw_aterkallelse(w, event);
        else
                ma_dw_kundhandelse(w, event);
}

bool ma_codec_encode_is_direct(const ma_codec_t *codec, ma_event_kind_t kind)
{
        uint64_t want = kind == MA_EVENT_RETRACT ? MA_CODEC_V1_ATERKALLELSE_FP
                                                 : MA_CODEC_V1_KUNDHANDELSE_FP;

        return ma_codec_writer_fingerprint(codec, kind) == want;
}

ma_status_t ma_codec_encode(const ma_codec_t *codec, const ma_event_t *event,
                            ma_buf_t *out, ma_error_t *err)
{
        int kind = event->kind == MA_EVENT_RETRACT;
        ma_dw_t w = {NULL, MA_AVRO_SOE_HEADER_LEN};
        ma_status_t status;

        if (!ma_codec_encode_is_direct(codec, event->kind) ||
            !ma_dw_event_ok(event))
                return ma_codec_encode_generic(codec, event, out, err);
        out->len = 0;
        ma_dw_body(&w, event); /* counts */
        status = ma_buf_reserve(out, w.len, err);
        if (status != MA_OK)
                return status;
        ma_avro_soe_header_write(out->data,
                                 codec->encode_entry[kind]->fingerprint);
        w.data = out->data;
        w.len = MA_AVRO_SOE_HEADER_LEN;
        ma_dw_body(&w, event);
        out->len = w.len;
        return MA_OK;
}

/* ---- Decoding ---- */

/*
 * A field of a decoded record: its avro-c value, or, when the writer did
 * not have it, the reader schema's default as JSON.
 */
typedef struct ma_dec_field {
        int present;        /* value is set */
        avro_value_t value; /* union branches already selected */
        json_t *fallback;   /* the default, when !present */
        const ma_avro_field_t *schema;
} ma_dec_field_t;

typedef struct ma_dec {
        ma_error_t *err;
        char path[64];
} ma_dec_t;

static ma_status_t ma_dec_fail(ma_dec_t *dec, const char *field,
                               const char *why)
{
        return ma_error_set(dec->err, MA_ERR_PARSE, field,
                            "cannot decode field \"%s\": %s", field, why);
}

static ma_status_t ma_dec_nomem(ma_dec_t *dec, const char *field)
{
        return ma_error_set(dec->err, MA_ERR_NOMEM, field,
                            "could not decode field \"%s\": out of memory",
                            field);
}

/* Fetches field name of record, unwrapping a union to its branch. */
static ma_status_t ma_dec_get(ma_dec_t *dec, avro_value_t *record,
                              const ma_avro_node_t *node, const char *name,
                              ma_dec_field_t *out)
{
        memset(out, 0, sizeof(*out));
        out->schema = ma_avro_record_field(node, name);
        if (out->schema == NULL)
                return ma_dec_fail(dec, name,
                                   "the reader schema has no such "
                                   "field; the codec and the "
                                   "schema directory disagree");
        if (avro_value_get_by_name(record, name, &out->value, NULL) == 0) {
                out->present = 1;
                if (avro_value_get_type(&out->value) == AVRO_UNION) {
                        avro_value_t branch;

                        if (avro_value_get_current_branch(&out->value, &branch))
                                return ma_dec_fail(dec, name,
                                                   "a union has no branch");
                        out->value = branch;
                }
                return MA_OK;
        }
        if (out->schema->default_json != NULL)
                out->fallback = json_loads(out->schema->default_json,
                                           JSON_DECODE_ANY, NULL);
        if (out->fallback == NULL)
                return ma_dec_fail(dec, name,
                                   "the writer schema lacks it "
                                   "and the reader schema has no "
                                   "default");
        return MA_OK;
}

static int ma_dec_is_null(const ma_dec_field_t *field)
{
        if (field->present)
                return avro_value_get_type(&field->value) == AVRO_NULL;
        return json_is_null(field->fallback);
}

static ma_status_t ma_dec_string(ma_dec_t *dec, avro_value_t *record,
                                 const ma_avro_node_t *node, const char *name,
                                 char **out)
{
        ma_dec_field_t field;
        ma_status_t status = ma_dec_get(dec, record, node, name, &field);
        const char *text = NULL;
        size_t size = 0;

        *out = NULL;
        if (status != MA_OK)
                return status;
        if (ma_dec_is_null(&field)) {
                json_decref(field.fallback);
                return MA_OK;
        }
        if (field.present) {
                if (avro_value_get_type(&field.value) != AVRO_STRING ||
                    avro_value_get_string(&field.value, &text, &size))
                        return ma_dec_fail(dec, name, "not a string");
                /*
                 * avro-c counts the terminating NUL in size.  A NUL inside
                 * (possible only from a bytes writer) would cut the C string.
                 */
                if (size > 0 && memchr(text, '\0', size - 1) != NULL)
                        return ma_dec_fail(dec, name,
                                           "the value contains a "
                                           "NUL byte");
                *out = ma_strndup(text, size ? size - 1 : 0);
        } else {
                text = json_string_value(field.fallback);
                *out = text ? ma_strdup(text) : NULL;
                json_decref(field.fallback);
                if (text == NULL)
                        return ma_dec_fail(dec, name,
                                           "the default is not a "
                                           "string");
        }
        return *out == NULL ? ma_dec_nomem(dec, name) : MA_OK;
}

/* Reads an int, long, boolean or enum index as int64_t. */
static ma_status_t ma_dec_number(ma_dec_t *dec, avro_value_t *record,
                                 const ma_avro_node_t *node, const char *name,
                                 int64_t absent, int64_t *out)
{
        ma_dec_field_t field;
        ma_status_t status = ma_dec_get(dec, record, node, name, &field);
        int32_t i32 = 0;
        int b = 0;
        int rc = 0;

        if (status != MA_OK)
                return status;
        if (ma_dec_is_null(&field)) {
                *out = absent;
        } else if (!field.present) {
                if (!json_is_integer(field.fallback) &&
                    !json_is_boolean(field.fallback))
                        rc = -1;
                *out = json_is_boolean(field.fallback)
                               ? json_is_true(field.fallback)
                               : json_integer_value(field.fallback);
        } else {
                switch (avro_value_get_type(&field.value)) {
                case AVRO_INT32:
                        rc = avro_value_get_int(&field.value, &i32);
                        *out = i32;
                        break;
                case AVRO_INT64:
                        rc = avro_value_get_long(&field.value, out);
                        break;
                case AVRO_BOOLEAN:
                        rc = avro_value_get_boolean(&field.value, &b);
                        *out = b;
                        break;
                case AVRO_ENUM:
                        rc = avro_value_get_enum(&field.value, &b);
                        *out = b;
                        break;
                default:
                        rc = -1;
                }
        }
        json_decref(field.fallback);
        return rc ? ma_dec_fail(dec, name,
                                "not a number of the expected "
                                "type")
                  : MA_OK;
}

/* Finds the record node behind a field type (directly or in a union). */
static const ma_avro_node_t *ma_dec_record_node(const ma_avro_node_t *type)
{
        if (type->type == MA_AVRO_UNION) {
                for (size_t i = 0; i < type->branch_count; i++) {
                        if (type->branches[i]->type == MA_AVRO_RECORD)
                                return type->branches[i];
                }
        }
        return type->type == MA_AVRO_RECORD ? type : NULL;
}

/* Fetches a (possibly optional) sub-record; *present is 0 for null. */
static ma_status_t ma_dec_sub(ma_dec_t *dec, avro_value_t *record,
                              const ma_avro_node_t *node, const char *name,
                              avro_value_t *sub, const ma_avro_node_t **subnode,
                              bool *present)
{
        ma_dec_field_t field;
        ma_status_t status = ma_dec_get(dec, record, node, name, &field);

        *present = false;
        if (status != MA_OK)
                return status;
        if (ma_dec_is_null(&field)) {
                json_decref(field.fallback);
                return MA_OK;
        }
        json_decref(field.fallback);
        *subnode = ma_dec_record_node(field.schema->type);
        if (!field.present || *subnode == NULL ||
            avro_value_get_type(&field.value) != AVRO_RECORD)
                return ma_dec_fail(dec, name, "expected a record");
        *sub = field.value;
        *present = true;
        return MA_OK;
}

static ma_status_t ma_dec_part(ma_dec_t *dec, avro_value_t *record,
                               const ma_avro_node_t *node, ma_part_t *part)
{
        avro_value_t pv, sub;
        const ma_avro_node_t *pnode = NULL, *snode = NULL;
        bool present;
        int64_t typ = 0;
        ma_status_t status;

        status = ma_dec_sub(dec, record, node, "part", &pv, &pnode, &present);
        if (status == MA_OK && !present)
                status = ma_dec_fail(dec, "part", "missing");
        if (status == MA_OK)
                status = ma_dec_sub(dec, &pv, pnode, "kund", &sub, &snode,
                                    &part->has_kund);
        if (status == MA_OK && part->has_kund) {
                status = ma_dec_string(dec, &sub, snode, "identifierare",
                                       &part->kund_identifierare);
                if (status == MA_OK)
                        status =
                                ma_dec_number(dec, &sub, snode, "typ", 0, &typ);
                part->kund_typ = (ma_kund_typ_t)typ;
                if (status == MA_OK)
                        status = ma_dec_string(dec, &sub, snode, "tillagg",
                                               &part->kund_tillagg);
        }
        if (status == MA_OK)
                status = ma_dec_sub(dec, &pv, pnode, "arende", &sub, &snode,
                                    &part->has_arende);
        if (status == MA_OK && part->has_arende) {
                status = ma_dec_string(dec, &sub, snode, "identifierare",
                                       &part->arende_identifierare);
                if (status == MA_OK)
                        status =
                                ma_dec_number(dec, &sub, snode, "typ", 0, &typ);
                part->arende_typ = (ma_arende_typ_t)typ;
        }
        return status;
}

static ma_status_t ma_dec_tidpunkt(ma_dec_t *dec, avro_value_t *record,
                                   const ma_avro_node_t *node,
                                   ma_instant_t *out)
{
        const ma_avro_field_t *field = ma_avro_record_field(node, "tidpunkt");
        avro_value_t sub;
        const ma_avro_node_t *snode = NULL;
        bool present;
        int64_t value = 0;
        ma_status_t status;

        if (field != NULL && field->type->type == MA_AVRO_LONG) {
                out->offset_min = 0;
                return ma_dec_number(dec, record, node, "tidpunkt", 0,
                                     &out->utc_ms);
        }
        status = ma_dec_sub(dec, record, node, "tidpunkt", &sub, &snode,
                            &present);
        if (status == MA_OK && !present)
                status = ma_dec_fail(dec, "tidpunkt", "missing");
        if (status == MA_OK)
                status =
                        ma_dec_number(dec, &sub, snode, "utc", 0, &out->utc_ms);
        if (status == MA_OK)
                status = ma_dec_number(dec, &sub, snode, "offsetMinuter", 0,
                                       &value);
        out->offset_min = (int32_t)value;
        return status;
}

static ma_status_t ma_dec_tags(ma_dec_t *dec, avro_value_t *record,
                               const ma_avro_node_t *node, ma_event_t *event)
{
        ma_dec_field_t field;
        ma_status_t status = ma_dec_get(dec, record, node, "taggar", &field);
        size_t count = 0;

        if (status != MA_OK)
                return status;
        if (!field.present) {
                count = json_array_size(field.fallback);
                for (size_t i = 0; status == MA_OK && i < count; i++) {
                        const char *tag = json_string_value(
                                json_array_get(field.fallback, i));

                        status = tag ? ma_event_add_tag(event, tag)
                                     : ma_dec_fail(dec, "taggar",
                                                   "a default tag is not a "
                                                   "string");
                }
                json_decref(field.fallback);
                return status == MA_ERR_NOMEM ? ma_dec_nomem(dec, "taggar")
                                              : status;
        }
        if (avro_value_get_type(&field.value) != AVRO_ARRAY ||
            avro_value_get_size(&field.value, &count))
                return ma_dec_fail(dec, "taggar", "not an array");
        for (size_t i = 0; i < count; i++) {
                avro_value_t item;
                const char *text;
                size_t size;
                char *copy;

                if (avro_value_get_by_index(&field.value, i, &item, NULL) ||
                    avro_value_get_string(&item, &text, &size))
                        return ma_dec_fail(dec, "taggar", "not a string");
                copy = ma_strndup(text, size ? size - 1 : 0);
                if (copy == NULL)
                        return ma_dec_nomem(dec, "taggar");
                status = ma_event_add_tag(event, copy);
                ma_free(copy);
                if (status != MA_OK)
                        return ma_dec_nomem(dec, "taggar");
        }
        return MA_OK;
}

static ma_status_t ma_dec_publish(ma_dec_t *dec, avro_value_t *rec,
                                  const ma_avro_node_t *node, ma_event_t *e)
{
        int64_t value;
        ma_status_t status;

        status = ma_dec_string(dec, rec, node, "producent", &e->producent);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "rubrik", &e->rubrik);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "beskrivning",
                                       &e->beskrivning);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "sprak", &e->sprak);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "kundhandelseTyp",
                                       &e->kundhandelse_typ);
        if (status == MA_OK) {
                status = ma_dec_number(dec, rec, node,
                                       "producentarendetKraverKundatgard", 0,
                                       &value);
                e->producentarendet_kraver_kundatgard = value != 0;
        }
        if (status == MA_OK) {
                status = ma_dec_number(dec, rec, node, "producentarendetKlart",
                                       0, &value);
                e->producentarendet_klart = value != 0;
        }
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "version", &e->version);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "utokadInformation",
                                       &e->utokad_information);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "referenser",
                                       &e->referenser);
        if (status == MA_OK)
                status = ma_dec_tags(dec, rec, node, e);
        if (status == MA_OK) {
                status = ma_dec_number(dec, rec, node, "giltigTill",
                                       MA_DATE_NONE, &value);
                e->giltig_till = (int32_t)value;
        }
        if (status == MA_OK) {
                status = ma_dec_number(dec, rec, node, "atgardSenast",
                                       MA_DATE_NONE, &value);
                e->atgard_senast = (int32_t)value;
        }
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node, "kundhandelsereferens",
                                       &e->kundhandelsereferens);
        return status;
}

static ma_status_t ma_dec_event(ma_dec_t *dec, avro_value_t *rec,
                                const ma_avro_node_t *node, ma_event_t *e)
{
        ma_status_t status;

        status = ma_dec_string(dec, rec, node, "kundhandelseId",
                               &e->kundhandelse_id);
        if (status == MA_OK)
                status = ma_dec_string(dec, rec, node,
                                       "producentOrganisationsnummer",
                                       &e->producent_organisationsnummer);
        if (status == MA_OK)
                status = ma_dec_part(dec, rec, node, &e->part);
        if (status == MA_OK)
                status = ma_dec_tidpunkt(dec, rec, node, &e->tidpunkt);
        if (status == MA_OK)
                status = ma_dec_number(dec, rec, node, "sekvens", 0,
                                       &e->sekvens);
        if (status != MA_OK)
                return status;
        if (e->kind == MA_EVENT_RETRACT)
                return ma_dec_string(dec, rec, node, "orsak", &e->orsak);
        return ma_dec_publish(dec, rec, node, e);
}

static const ma_codec_writer_t *ma_codec_find_writer(const ma_codec_t *codec,
                                                     uint64_t fingerprint)
{
        for (size_t i = 0; i < codec->writer_count; i++) {
                if (codec->writers[i].entry->fingerprint == fingerprint)
                        return &codec->writers[i];
        }
        return NULL;
}

static ma_status_t ma_codec_read_body(const ma_codec_writer_t *writer,
                                      const unsigned char *body, size_t len,
                                      ma_event_t *event, ma_error_t *err)
{
        avro_reader_t reader;
        avro_value_t dest, resolved;
        ma_dec_t dec = {.err = err};
        ma_status_t status = MA_OK;

        reader = avro_reader_memory((const char *)body, (int64_t)len);
        if (reader == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not decode message: avro-c: %s",
                                    avro_strerror());
        if (avro_generic_value_new(writer->projection_iface, &dest)) {
                avro_reader_free(reader);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not decode message: avro-c: %s",
                                    avro_strerror());
        }
        if (avro_resolved_writer_new_value(writer->resolver, &resolved)) {
                avro_value_decref(&dest);
                avro_reader_free(reader);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not decode message: avro-c: %s",
                                    avro_strerror());
        }
        avro_resolved_writer_set_dest(&resolved, &dest);
        if (avro_value_read(reader, &resolved))
                status = ma_error_set(err, MA_ERR_PARSE, NULL,
                                      "cannot decode message written with "
                                      "\"%s\": avro-c: %s",
                                      writer->entry->path, avro_strerror());
        if (status == MA_OK)
                status = ma_dec_event(
                        &dec, &dest,
                        ma_avro_schema_root(writer->reader->schema), event);
        avro_value_decref(&resolved);
        avro_value_decref(&dest);
        avro_reader_free(reader);
        return status;
}

ma_status_t ma_codec_decode(const ma_codec_t *codec, const void *data,
                            size_t len, ma_event_t *event, ma_error_t *err)
{
        const ma_codec_writer_t *writer;
        const unsigned char *bytes = data;
        uint64_t fingerprint;
        ma_status_t status;

        ma_event_clear(event);
        if (len > codec->max_message)
                return ma_error_set(err, MA_ERR_TOO_LARGE, NULL,
                                    "cannot decode message of %zu bytes: the "
                                    "limit is %zu bytes; raise the configured "
                                    "maximum if such events are expected",
                                    len, codec->max_message);
        status = ma_avro_soe_header_read(data, len, &fingerprint, err);
        if (status != MA_OK)
                return status;
        writer = ma_codec_find_writer(codec, fingerprint);
        if (writer == NULL)
                return ma_error_set(err, MA_ERR_FINGERPRINT, NULL,
                                    "cannot decode message: no schema in the "
                                    "schema directory has fingerprint "
                                    "%016" PRIx64 "; deploy the producer's "
                                    "schema version here first",
                                    fingerprint);
        if (strcmp(writer->entry->fullname, MA_CODEC_KUNDHANDELSE) == 0)
                event->kind = MA_EVENT_PUBLISH;
        else if (strcmp(writer->entry->fullname, MA_CODEC_ATERKALLELSE) == 0)
                event->kind = MA_EVENT_RETRACT;
        else
                return ma_error_set(err, MA_ERR_SCHEMA, NULL,
                                    "cannot decode message: its schema \"%s\" "
                                    "is neither a Kundhandelse nor an "
                                    "Aterkallelse",
                                    writer->entry->fullname);
        status =
                ma_avro_check_binary(ma_avro_schema_root(writer->entry->schema),
                                     bytes + MA_AVRO_SOE_HEADER_LEN,
                                     len - MA_AVRO_SOE_HEADER_LEN, NULL, err);
        if (status == MA_OK)
                status = ma_codec_read_body(
                        writer, bytes + MA_AVRO_SOE_HEADER_LEN,
                        len - MA_AVRO_SOE_HEADER_LEN, event, err);
        if (status != MA_OK)
                ma_event_clear(event);
        return status;
}
