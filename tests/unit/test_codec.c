/*
 * ma_codec: single-object messages of both kinds, the header, every decode
 * error, and resolution between schema versions written here in temporary
 * schema directories (never in schemas/).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ma/alloc.h"
#include "ma/avro.h"
#include "ma/codec.h"

/* Test identity numbers with computed check digits. */
#define TEST_PERSONNUMMER "195003141230"
#define TEST_ORGNR        "5566778899"

static char *test_strdup(const char *s)
{
        return s ? ma_strdup(s) : NULL;
}

static void fill_publish(ma_event_t *e)
{
        ma_event_init(e);
        e->kind = MA_EVENT_PUBLISH;
        e->kundhandelse_id = test_strdup("evt-0001");
        e->producent_organisationsnummer = test_strdup(TEST_ORGNR);
        e->part.has_kund = true;
        e->part.kund_identifierare = test_strdup(TEST_PERSONNUMMER);
        e->part.kund_typ = MA_KUND_SAMORDNINGSNUMMER;
        e->part.kund_tillagg = test_strdup("firma 2");
        e->part.has_arende = true;
        e->part.arende_identifierare = test_strdup("BN 2026/123");
        e->part.arende_typ = MA_ARENDE_DIARIENUMMER;
        e->tidpunkt.utc_ms = 1774747800123LL;
        e->tidpunkt.offset_min = 120;
        e->sekvens = 9007199254740993LL;
        e->producent = test_strdup("Exempelkommunen");
        e->rubrik = test_strdup("Bygglov beviljat för Åkervägen 3");
        e->beskrivning = test_strdup("Beslut fattat.\nLäs mer på Mina sidor.");
        e->sprak = test_strdup("sv");
        e->kundhandelse_typ = test_strdup("EXK.BYGGLOV.BESLUT_FATTAT");
        e->producentarendet_kraver_kundatgard = true;
        e->producentarendet_klart = true;
        e->version = test_strdup("6.1");
        e->utokad_information = test_strdup("{\"senastDatum\":\"2026-01-31\"}");
        e->referenser = test_strdup("{\"url\":\"https://example.org/\"}");
        assert_int_equal(ma_event_add_tag(e, "bygglov"), MA_OK);
        assert_int_equal(ma_event_add_tag(e, "beslut"), MA_OK);
        e->giltig_till = 20819;
        e->atgard_senast = -3;
        e->kundhandelsereferens = test_strdup("dp-42");
}

static void fill_retract(ma_event_t *e)
{
        ma_event_init(e);
        e->kind = MA_EVENT_RETRACT;
        e->kundhandelse_id = test_strdup("evt-0001");
        e->producent_organisationsnummer = test_strdup(TEST_ORGNR);
        e->part.has_kund = true;
        e->part.kund_identifierare = test_strdup(TEST_PERSONNUMMER);
        e->part.kund_typ = MA_KUND_PERSONNUMMER;
        e->tidpunkt.utc_ms = -1000;
        e->sekvens = 7;
        e->orsak = test_strdup("Publicerad av misstag");
}

static void assert_str_or_null(const char *a, const char *b)
{
        if (a == NULL || b == NULL)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_events_equal(const ma_event_t *a, const ma_event_t *b)
{
        assert_int_equal(a->kind, b->kind);
        assert_str_or_null(a->kundhandelse_id, b->kundhandelse_id);
        assert_str_or_null(a->producent_organisationsnummer,
                           b->producent_organisationsnummer);
        assert_int_equal(a->part.has_kund, b->part.has_kund);
        assert_str_or_null(a->part.kund_identifierare,
                           b->part.kund_identifierare);
        if (a->part.has_kund)
                assert_int_equal(a->part.kund_typ, b->part.kund_typ);
        assert_str_or_null(a->part.kund_tillagg, b->part.kund_tillagg);
        assert_int_equal(a->part.has_arende, b->part.has_arende);
        assert_str_or_null(a->part.arende_identifierare,
                           b->part.arende_identifierare);
        if (a->part.has_arende)
                assert_int_equal(a->part.arende_typ, b->part.arende_typ);
        assert_int_equal(a->tidpunkt.utc_ms, b->tidpunkt.utc_ms);
        assert_int_equal(a->tidpunkt.offset_min, b->tidpunkt.offset_min);
        assert_int_equal(a->sekvens, b->sekvens);
        assert_str_or_null(a->producent, b->producent);
        assert_str_or_null(a->rubrik, b->rubrik);
        assert_str_or_null(a->beskrivning, b->beskrivning);
        assert_str_or_null(a->sprak, b->sprak);
        assert_str_or_null(a->kundhandelse_typ, b->kundhandelse_typ);
        assert_int_equal(a->producentarendet_kraver_kundatgard,
                         b->producentarendet_kraver_kundatgard);
        assert_int_equal(a->producentarendet_klart, b->producentarendet_klart);
        assert_str_or_null(a->version, b->version);
        assert_str_or_null(a->utokad_information, b->utokad_information);
        assert_str_or_null(a->referenser, b->referenser);
        assert_int_equal(a->taggar_count, b->taggar_count);
        for (size_t i = 0; i < a->taggar_count; i++)
                assert_string_equal(a->taggar[i], b->taggar[i]);
        assert_int_equal(a->giltig_till, b->giltig_till);
        assert_int_equal(a->atgard_senast, b->atgard_senast);
        assert_str_or_null(a->kundhandelsereferens, b->kundhandelsereferens);
        assert_str_or_null(a->orsak, b->orsak);
}

static ma_codec_t *open_codec(const char *dir, size_t max, int pinned)
{
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};

        if (ma_codec_open_pinned(dir, max, pinned, &codec, &err) != MA_OK)
                fail_msg("ma_codec_open(%s): %s", dir, err.message);
        return codec;
}

static void roundtrip(const ma_codec_t *codec, const ma_event_t *event)
{
        ma_buf_t buf = {0};
        ma_event_t decoded;
        ma_error_t err = {0};

        if (ma_codec_encode(codec, event, &buf, &err) != MA_OK)
                fail_msg("encode: %s", err.message);
        ma_event_init(&decoded);
        if (ma_codec_decode(codec, buf.data, buf.len, &decoded, &err) != MA_OK)
                fail_msg("decode: %s", err.message);
        assert_events_equal(event, &decoded);
        ma_event_clear(&decoded);
        ma_buf_free(&buf);
}

static void test_codec_publish_roundtrip(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event;

        (void)state;
        fill_publish(&event);
        roundtrip(codec, &event);
        ma_event_clear(&event);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_minimal_publish_defaults(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event, decoded;
        ma_buf_t buf = {0};

        (void)state;
        fill_publish(&event);
        ma_free(event.sprak);
        ma_free(event.version);
        event.sprak = event.version = NULL;
        ma_free(event.utokad_information);
        event.utokad_information = NULL;
        ma_free(event.part.kund_tillagg);
        event.part.kund_tillagg = NULL;
        event.part.has_arende = false;
        ma_free(event.part.arende_identifierare);
        event.part.arende_identifierare = NULL;
        event.giltig_till = MA_DATE_NONE;
        assert_int_equal(ma_codec_encode(codec, &event, &buf, NULL), MA_OK);
        ma_event_init(&decoded);
        assert_int_equal(
                ma_codec_decode(codec, buf.data, buf.len, &decoded, NULL),
                MA_OK);
        /* NULL sprak and version are written as the schema defaults. */
        assert_string_equal(decoded.sprak, "sv");
        assert_string_equal(decoded.version, "6.1");
        assert_null(decoded.utokad_information);
        assert_null(decoded.part.kund_tillagg);
        assert_false(decoded.part.has_arende);
        assert_int_equal(decoded.giltig_till, MA_DATE_NONE);
        assert_int_equal(decoded.atgard_senast, -3);
        ma_event_clear(&decoded);
        ma_event_clear(&event);
        ma_buf_free(&buf);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_retract_roundtrip(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event;

        (void)state;
        fill_retract(&event);
        roundtrip(codec, &event);
        event.part.has_kund = false;
        ma_free(event.part.kund_identifierare);
        event.part.kund_identifierare = NULL;
        event.part.has_arende = true;
        event.part.arende_identifierare = ma_strdup("K-1");
        event.part.arende_typ = MA_ARENDE_KVITTENSNUMMER;
        ma_free(event.orsak);
        event.orsak = NULL;
        roundtrip(codec, &event);
        ma_event_clear(&event);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_header_bytes(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_avro_store_t *store = NULL;
        ma_event_t event;
        ma_buf_t buf = {0};
        uint64_t fp = 0;

        (void)state;
        assert_int_equal(ma_avro_store_load(MA_TEST_SCHEMA_DIR, &store, NULL),
                         MA_OK);
        for (int kind = 0; kind < 2; kind++) {
                const char *name = kind ? "se.minaarenden.Aterkallelse"
                                        : "se.minaarenden.Kundhandelse";

                if (kind)
                        fill_retract(&event);
                else
                        fill_publish(&event);
                assert_int_equal(ma_codec_encode(codec, &event, &buf, NULL),
                                 MA_OK);
                assert_true(buf.len > 10);
                assert_int_equal(buf.data[0], 0xC3);
                assert_int_equal(buf.data[1], 0x01);
                fp = 0;
                for (int i = 0; i < 8; i++)
                        fp |= (uint64_t)buf.data[2 + i] << (8 * i);
                assert_true(fp == ma_codec_writer_fingerprint(
                                          codec, (ma_event_kind_t)kind));
                assert_true(fp ==
                            ma_avro_store_latest(store, name, 0)->fingerprint);
                ma_event_clear(&event);
        }
        assert_true(ma_codec_writer_fingerprint(codec, MA_EVENT_PUBLISH) !=
                    ma_codec_writer_fingerprint(codec, MA_EVENT_RETRACT));
        ma_buf_free(&buf);
        ma_avro_store_free(store);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_encode_requires_fields(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event;
        ma_buf_t buf = {0};
        ma_error_t err = {0};

        (void)state;
        fill_publish(&event);
        ma_free(event.rubrik);
        event.rubrik = NULL;
        assert_int_equal(ma_codec_encode(codec, &event, &buf, &err),
                         MA_ERR_INVALID);
        assert_string_equal(err.field, "rubrik");
        event.rubrik = ma_strdup("r");
        event.part.kund_typ = (ma_kund_typ_t)3;
        assert_int_equal(ma_codec_encode(codec, &event, &buf, &err),
                         MA_ERR_INVALID);
        assert_string_equal(err.field, "typ");
        event.part.kund_typ = MA_KUND_PERSONNUMMER;
        assert_int_equal(ma_codec_encode(codec, &event, &buf, &err), MA_OK);
        ma_event_clear(&event);
        ma_buf_free(&buf);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

static ma_status_t decode_status(const ma_codec_t *codec, const void *data,
                                 size_t len, ma_error_t *err)
{
        ma_event_t event;
        ma_status_t status;

        ma_event_init(&event);
        status = ma_codec_decode(codec, data, len, &event, err);
        if (status != MA_OK)
                assert_null(event.kundhandelse_id);
        ma_event_clear(&event);
        return status;
}

static void test_codec_decode_errors(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_codec_t *small = open_codec(MA_TEST_SCHEMA_DIR, 64, 0);
        ma_event_t event;
        ma_buf_t buf = {0};
        ma_error_t err = {0};
        unsigned char *copy;

        (void)state;
        fill_publish(&event);
        assert_int_equal(ma_codec_encode(codec, &event, &buf, NULL), MA_OK);
        ma_event_clear(&event);

        assert_int_equal(decode_status(small, buf.data, buf.len, &err),
                         MA_ERR_TOO_LARGE);
        assert_int_equal(decode_status(codec, "\x00\x01", 2, &err),
                         MA_ERR_ENCODING);
        assert_int_equal(decode_status(codec, "\xC3\x02", 2, &err),
                         MA_ERR_ENCODING);
        assert_int_equal(decode_status(codec, "\xC3\x01\x00", 3, &err),
                         MA_ERR_TRUNCATED);
        assert_int_equal(decode_status(codec, "", 0, &err), MA_ERR_TRUNCATED);

        copy = malloc(buf.len + 1);
        assert_non_null(copy);
        memcpy(copy, buf.data, buf.len);
        copy[2] ^= 0x01;
        assert_int_equal(decode_status(codec, copy, buf.len, &err),
                         MA_ERR_FINGERPRINT);
        assert_non_null(strstr(err.message, "fingerprint"));
        copy[2] ^= 0x01;

        /* Every cut-off body fails cleanly. */
        for (size_t len = 10; len < buf.len; len++) {
                ma_status_t status = decode_status(codec, copy, len, &err);

                if (status != MA_ERR_TRUNCATED && status != MA_ERR_PARSE)
                        fail_msg("length %zu: %s", len, ma_status_name(status));
        }
        /* One byte too many. */
        copy[buf.len] = 0;
        assert_int_equal(decode_status(codec, copy, buf.len + 1, &err),
                         MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "follow"));
        /* Every single-byte change decodes or fails cleanly. */
        for (size_t i = 10; i < buf.len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        copy[i] ^= (unsigned char)(1u << bit);
                        (void)decode_status(codec, copy, buf.len, NULL);
                        copy[i] ^= (unsigned char)(1u << bit);
                }
        }
        assert_int_equal(decode_status(codec, copy, buf.len, NULL), MA_OK);
        free(copy);
        ma_buf_free(&buf);
        ma_codec_close(small);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

/* ---- Temporary schema directories ---- */

static json_t *load_schema(const char *subject)
{
        char path[1024];
        json_t *json;

        snprintf(path, sizeof(path), "%s/%s/v1.avsc", MA_TEST_SCHEMA_DIR,
                 subject);
        json = json_load_file(path, 0, NULL);
        assert_non_null(json);
        return json;
}

static void write_schema(const char *dir, const char *subject, int version,
                         json_t *json)
{
        char path[1024];

        snprintf(path, sizeof(path), "%s/%s", dir, subject);
        if (access(path, F_OK) != 0)
                assert_int_equal(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/%s/v%d.avsc", dir, subject, version);
        assert_int_equal(json_dump_file(json, path, JSON_INDENT(2)), 0);
}

static void remove_dir(const char *dir)
{
        static const char *const files[] = {
                "kundhandelse/v1.avsc", "kundhandelse/v2.avsc",
                "aterkallelse/v1.avsc", "kundhandelse",
                "aterkallelse",
        };
        char path[1024];

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                if (i < 3)
                        unlink(path);
                else
                        rmdir(path);
        }
        rmdir(dir);
}

static json_t *field_new(const char *name, json_t *type, json_t *def)
{
        json_t *field = json_object();

        json_object_set_new(field, "name", json_string(name));
        json_object_set_new(field, "type", type);
        if (def != NULL)
                json_object_set_new(field, "default", def);
        return field;
}

/*
 * Writes v1 of both schemas and a v2 of Kundhandelse that adds fields with
 * defaults: "kanal" (a string, written with a non-empty default so the old
 * reader must skip bytes) in the middle, "prioritet" at the end, and "ombud"
 * inside the nested Part record.  The variants break v2: NO_DEFAULT leaves
 * "prioritet" without a default, so v2 cannot read v1 data, and ENUM_MOVED
 * inserts a KundTyp symbol first, which avro-c would resolve by position.
 */
enum { V2_COMPATIBLE, V2_NO_DEFAULT, V2_ENUM_MOVED };

static void make_schema_dir(char *dir, size_t size, int variant)
{
        json_t *v1 = load_schema("kundhandelse");
        json_t *ater = load_schema("aterkallelse");
        json_t *v2 = json_deep_copy(v1);
        json_t *fields = json_object_get(v2, "fields");
        json_t *part_fields = NULL;

        snprintf(dir, size, "/tmp/ma-test-codec-XXXXXX");
        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < json_array_size(fields); i++) {
                json_t *field = json_array_get(fields, i);

                if (strcmp(json_string_value(json_object_get(field, "name")),
                           "part") == 0)
                        part_fields = json_object_get(
                                json_object_get(field, "type"), "fields");
        }
        assert_non_null(part_fields);
        if (variant == V2_ENUM_MOVED) {
                /* part.kund is ["null", Kund]; Kund's field 1 is typ. */
                json_t *kund = json_array_get(
                        json_object_get(json_array_get(part_fields, 0), "type"),
                        1);
                json_t *typ =
                        json_array_get(json_object_get(kund, "fields"), 1);
                json_t *symbols = json_object_get(json_object_get(typ, "type"),
                                                  "symbols");

                assert_int_equal(
                        json_array_insert_new(symbols, 0, json_string("Okand")),
                        0);
        }
        json_array_insert_new(
                fields, 5,
                field_new("kanal", json_string("string"), json_string("webb")));
        json_array_append_new(
                fields,
                field_new("prioritet", json_string("int"),
                          variant == V2_NO_DEFAULT ? NULL : json_integer(0)));
        json_array_append_new(part_fields,
                              field_new("ombud",
                                        json_pack("[s,s]", "null", "string"),
                                        json_null()));
        write_schema(dir, "kundhandelse", 1, v1);
        write_schema(dir, "kundhandelse", 2, v2);
        write_schema(dir, "aterkallelse", 1, ater);
        json_decref(v1);
        json_decref(v2);
        json_decref(ater);
}

static void test_codec_v1_reader_reads_v2(void **state)
{
        char dir[64];
        ma_codec_t *v1_codec, *v2_codec;
        ma_event_t event, decoded;
        ma_buf_t v2_msg = {0}, v1_msg = {0};
        ma_error_t err = {0};

        (void)state;
        make_schema_dir(dir, sizeof(dir), V2_COMPATIBLE);
        v1_codec = open_codec(dir, 0, 1);
        v2_codec = open_codec(dir, 0, 0);
        assert_true(ma_codec_writer_fingerprint(v1_codec, MA_EVENT_PUBLISH) !=
                    ma_codec_writer_fingerprint(v2_codec, MA_EVENT_PUBLISH));

        fill_publish(&event);
        assert_int_equal(ma_codec_encode(v2_codec, &event, &v2_msg, NULL),
                         MA_OK);
        assert_int_equal(ma_codec_encode(v1_codec, &event, &v1_msg, NULL),
                         MA_OK);
        /* v2 carries "webb", an int and a null branch more than v1. */
        assert_int_equal(v2_msg.len, v1_msg.len + 5 + 1 + 1);

        ma_event_init(&decoded);
        if (ma_codec_decode(v1_codec, v2_msg.data, v2_msg.len, &decoded,
                            &err) != MA_OK)
                fail_msg("v1 reader, v2 data: %s", err.message);
        assert_events_equal(&event, &decoded);
        ma_event_clear(&decoded);

        /* The newest reader fills v2's fields from defaults for v1 data. */
        if (ma_codec_decode(v2_codec, v1_msg.data, v1_msg.len, &decoded,
                            &err) != MA_OK)
                fail_msg("v2 reader, v1 data: %s", err.message);
        assert_events_equal(&event, &decoded);
        ma_event_clear(&decoded);
        if (ma_codec_decode(v2_codec, v2_msg.data, v2_msg.len, &decoded,
                            &err) != MA_OK)
                fail_msg("v2 reader, v2 data: %s", err.message);
        assert_events_equal(&event, &decoded);
        ma_event_clear(&decoded);

        ma_event_clear(&event);
        ma_buf_free(&v1_msg);
        ma_buf_free(&v2_msg);
        ma_codec_close(v1_codec);
        ma_codec_close(v2_codec);
        remove_dir(dir);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_open_rejects_breaking_v2(void **state)
{
        char dir[64];
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};

        (void)state;
        make_schema_dir(dir, sizeof(dir), V2_NO_DEFAULT);
        assert_int_equal(ma_codec_open(dir, 0, &codec, &err), MA_ERR_SCHEMA);
        assert_null(codec);
        assert_string_equal(err.field, "prioritet");
        assert_non_null(strstr(err.message, "prioritet"));
        /* Without an ma_error_t the status alone reports it. */
        assert_int_equal(ma_codec_open(dir, 0, &codec, NULL), MA_ERR_SCHEMA);
        assert_null(codec);
        remove_dir(dir);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_open_rejects_moved_enum(void **state)
{
        char dir[64];
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};

        (void)state;
        make_schema_dir(dir, sizeof(dir), V2_ENUM_MOVED);
        assert_int_equal(ma_codec_open(dir, 0, &codec, &err), MA_ERR_SCHEMA);
        assert_null(codec);
        assert_string_equal(err.field, "part.kund.typ");
        assert_non_null(strstr(err.message, "position"));
        remove_dir(dir);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_codec_open_missing_dir(void **state)
{
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};

        (void)state;
        assert_int_equal(ma_codec_open("/nonexistent/schemas", 0, &codec, &err),
                         MA_ERR_IO);
        assert_null(codec);
        assert_non_null(strstr(err.message, "/nonexistent/schemas"));
}

static void test_codec_survives_alloc_failures(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event, decoded;
        ma_buf_t buf = {0};
        int succeeded = 0;

        (void)state;
        fill_publish(&event);
        assert_int_equal(ma_codec_encode(codec, &event, &buf, NULL), MA_OK);
        for (long nth = 1; nth < 200 && !succeeded; nth++) {
                ma_status_t status;

                ma_event_init(&decoded);
                ma_alloc_fail_after(nth, 0);
                status = ma_codec_decode(codec, buf.data, buf.len, &decoded,
                                         NULL);
                ma_alloc_fail_after(0, 0);
                if (status == MA_OK)
                        succeeded = 1;
                else
                        assert_int_equal(status, MA_ERR_NOMEM);
                ma_event_clear(&decoded);
        }
        assert_true(succeeded);
        ma_event_clear(&event);
        ma_buf_free(&buf);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

typedef struct thread_job {
        const ma_codec_t *codec;
        const ma_buf_t *message;
        const ma_event_t *expected;
        int failures;
} thread_job_t;

static void *decode_many(void *arg)
{
        thread_job_t *job = arg;

        for (int i = 0; i < 300; i++) {
                ma_event_t decoded;

                ma_event_init(&decoded);
                if (ma_codec_decode(job->codec, job->message->data,
                                    job->message->len, &decoded,
                                    NULL) != MA_OK ||
                    strcmp(decoded.rubrik, job->expected->rubrik) != 0 ||
                    decoded.sekvens != job->expected->sekvens)
                        job->failures++;
                ma_event_clear(&decoded);
        }
        return NULL;
}

/* One codec shared by threads, as codec.h allows. */
static void test_codec_shared_by_threads(void **state)
{
        ma_codec_t *codec = open_codec(MA_TEST_SCHEMA_DIR, 0, 0);
        ma_event_t event;
        ma_buf_t buf = {0};
        pthread_t threads[4];
        thread_job_t jobs[4];

        (void)state;
        fill_publish(&event);
        assert_int_equal(ma_codec_encode(codec, &event, &buf, NULL), MA_OK);
        for (int i = 0; i < 4; i++) {
                jobs[i] = (thread_job_t){codec, &buf, &event, 0};
                assert_int_equal(pthread_create(&threads[i], NULL, decode_many,
                                                &jobs[i]),
                                 0);
        }
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(threads[i], NULL), 0);
                assert_int_equal(jobs[i].failures, 0);
        }
        ma_event_clear(&event);
        ma_buf_free(&buf);
        ma_codec_close(codec);
        assert_int_equal(ma_alloc_live(), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codec_publish_roundtrip),
                cmocka_unit_test(test_codec_minimal_publish_defaults),
                cmocka_unit_test(test_codec_retract_roundtrip),
                cmocka_unit_test(test_codec_header_bytes),
                cmocka_unit_test(test_codec_encode_requires_fields),
                cmocka_unit_test(test_codec_decode_errors),
                cmocka_unit_test(test_codec_v1_reader_reads_v2),
                cmocka_unit_test(test_codec_open_rejects_breaking_v2),
                cmocka_unit_test(test_codec_open_rejects_moved_enum),
                cmocka_unit_test(test_codec_open_missing_dir),
                cmocka_unit_test(test_codec_survives_alloc_failures),
                cmocka_unit_test(test_codec_shared_by_threads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
