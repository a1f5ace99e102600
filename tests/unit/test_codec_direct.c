/*
 * The direct encoder of the version-1 schemas (lib/src/codec.c) against
 * avro-c's generic encoder.  Bodies must be equal byte for byte over many
 * generated events of both kinds, and events the direct encoder cannot write
 * must get the same errors.  A newest schema other than version 1 (written
 * here in a temporary schema directory, never in schemas/) must take the
 * generic path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "ma/codec.h"

/* In codec.c, not in codec.h. */
ma_status_t ma_codec_encode_generic(const ma_codec_t *codec,
                                    const ma_event_t *event, ma_buf_t *out,
                                    ma_error_t *err);
bool ma_codec_encode_is_direct(const ma_codec_t *codec, ma_event_kind_t kind);

#define TEST_EVENTS 4000

/* xorshift64*: the same sequence on every run, so a failure repeats. */
static uint64_t test_rng = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t test_next(void)
{
        test_rng ^= test_rng >> 12;
        test_rng ^= test_rng << 25;
        test_rng ^= test_rng >> 27;
        return test_rng * UINT64_C(0x2545F4914F6CDD1D);
}

static int test_below(int n)
{
        return (int)(test_next() % (uint64_t)n);
}

/* Values around every varint length boundary and the extremes. */
static int64_t test_long(void)
{
        static const int64_t edges[] = {
                0,
                -1,
                1,
                63,
                64,
                -64,
                -65,
                8191,
                8192,
                -8193,
                1048575,
                -1048577,
                INT32_MAX,
                INT32_MIN,
                INT64_MAX,
                INT64_MIN,
                1774747800123LL,
                -1000,
                9007199254740993LL,
        };

        if (test_below(3) == 0)
                return edges[test_below(sizeof(edges) / sizeof(edges[0]))];
        return (int64_t)(test_next() >> test_below(64));
}

static int32_t test_date(void)
{
        static const int32_t edges[] = {
                MA_DATE_NONE, MA_DATE_NONE + 1, INT32_MAX, 0, -1,
                20819,        -719162,          2932896};

        return edges[test_below(sizeof(edges) / sizeof(edges[0]))];
}

/*
 * A string of 0 to about 20000 bytes from ASCII, Swedish letters, a
 * four-byte character, quotes and control characters, so that lengths
 * cross the one-, two- and three-byte varint sizes.
 */
static char *test_text(void)
{
        static const char *const pieces[] = {
                "a",  "Z",    "0",         " ",
                "ä",  "Å",    "ö",         "é",
                "😀",  "\"",   "\\",        "\n",
                "\t", "\x01", "{\"k\":1}", "Skatteverket",
        };
        static const size_t sizes[] = {0,   1,   5,   40,   63,   64,
                                       127, 128, 300, 8191, 8192, 20000};
        size_t want = sizes[test_below(sizeof(sizes) / sizeof(sizes[0]))];
        char *text = ma_malloc(want + 16); /* the last piece may overrun want */
        size_t len = 0;

        assert_non_null(text);
        while (len < want) {
                const char *piece =
                        pieces[test_below(sizeof(pieces) / sizeof(pieces[0]))];
                size_t n = strlen(piece);

                memcpy(text + len, piece, n);
                len += n;
        }
        text[len] = '\0';
        return text;
}

static char *test_optional_text(void)
{
        return test_below(2) == 0 ? NULL : test_text();
}

static void test_part(ma_part_t *part)
{
        int parties = test_below(4); /* 0: kund, 1: arende, 2: both, 3: none */

        part->has_kund = parties == 0 || parties == 2;
        if (part->has_kund) {
                part->kund_identifierare = test_text();
                part->kund_typ = (ma_kund_typ_t)test_below(3);
                part->kund_tillagg = test_optional_text();
        }
        part->has_arende = parties == 1 || parties == 2;
        if (part->has_arende) {
                part->arende_identifierare = test_text();
                part->arende_typ = (ma_arende_typ_t)test_below(4);
        }
}

static void test_event(ma_event_t *e)
{
        ma_event_init(e);
        e->kind = test_below(3) == 0 ? MA_EVENT_RETRACT : MA_EVENT_PUBLISH;
        e->kundhandelse_id = test_text();
        e->producent_organisationsnummer = test_text();
        test_part(&e->part);
        e->tidpunkt.utc_ms = test_long();
        e->tidpunkt.offset_min =
                e->kind == MA_EVENT_RETRACT ? 0 : (int32_t)test_long();
        e->sekvens = test_long();
        if (e->kind == MA_EVENT_RETRACT) {
                e->orsak = test_optional_text();
                return;
        }
        e->producent = test_text();
        e->rubrik = test_text();
        e->beskrivning = test_text();
        e->sprak = test_optional_text(); /* NULL: the default "sv" */
        e->kundhandelse_typ = test_text();
        e->producentarendet_kraver_kundatgard = test_below(2);
        e->producentarendet_klart = test_below(2);
        e->version = test_optional_text(); /* NULL: the default "6.1" */
        e->utokad_information = test_optional_text();
        e->referenser = test_optional_text();
        /* 0 to 130 tags: the block count crosses one varint byte. */
        int tags = test_below(4) == 0 ? test_below(131) : test_below(3);
        for (int i = 0; i < tags; i++) {
                char *tag = test_text();

                assert_int_equal(ma_event_add_tag(e, tag), MA_OK);
                ma_free(tag);
        }
        e->giltig_till = test_date();
        e->atgard_senast = test_date();
        e->kundhandelsereferens = test_optional_text();
}

static ma_codec_t *test_open(const char *dir)
{
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};

        /* Generated events reach a few MB; the decoder's cap is lifted. */
        if (ma_codec_open(dir, 64 * 1024 * 1024, &codec, &err) != MA_OK)
                fail_msg("ma_codec_open(%s): %s", dir, err.message);
        return codec;
}

/* Both encoders give the same status, field and bytes. */
static void assert_same_encoding(const ma_codec_t *codec,
                                 const ma_event_t *event)
{
        ma_buf_t direct = {0}, generic = {0};
        ma_error_t direct_err = {0}, generic_err = {0};
        ma_status_t direct_status =
                ma_codec_encode(codec, event, &direct, &direct_err);
        ma_status_t generic_status =
                ma_codec_encode_generic(codec, event, &generic, &generic_err);

        assert_int_equal(direct_status, generic_status);
        if (direct_status == MA_OK) {
                assert_int_equal(direct.len, generic.len);
                assert_memory_equal(direct.data, generic.data, direct.len);
        } else {
                assert_string_equal(direct_err.field, generic_err.field);
                assert_string_equal(direct_err.message, generic_err.message);
        }
        ma_buf_free(&direct);
        ma_buf_free(&generic);
}

static void test_direct_used_for_v1(void **state)
{
        ma_codec_t *codec = test_open(MA_TEST_SCHEMA_DIR);

        (void)state;
        /* Fails when a v1.avsc in schemas/ changes without codec.c. */
        assert_true(ma_codec_encode_is_direct(codec, MA_EVENT_PUBLISH));
        assert_true(ma_codec_encode_is_direct(codec, MA_EVENT_RETRACT));
        ma_codec_close(codec);
}

static void test_direct_equals_generic(void **state)
{
        ma_codec_t *codec = test_open(MA_TEST_SCHEMA_DIR);
        int kinds[2] = {0, 0};

        (void)state;
        for (int i = 0; i < TEST_EVENTS; i++) {
                ma_event_t event;
                ma_event_t decoded;
                ma_buf_t msg = {0};
                ma_error_t err = {0};

                test_event(&event);
                kinds[event.kind]++;
                assert_same_encoding(codec, &event);
                /* And the decoder reads it back. */
                assert_int_equal(ma_codec_encode(codec, &event, &msg, NULL),
                                 MA_OK);
                ma_event_init(&decoded);
                if (ma_codec_decode(codec, msg.data, msg.len, &decoded, &err) !=
                    MA_OK)
                        fail_msg("event %d: %s", i, err.message);
                assert_string_equal(decoded.kundhandelse_id,
                                    event.kundhandelse_id);
                assert_true(decoded.sekvens == event.sekvens);
                assert_int_equal(decoded.taggar_count, event.taggar_count);
                ma_event_clear(&decoded);
                ma_buf_free(&msg);
                ma_event_clear(&event);
        }
        assert_true(kinds[MA_EVENT_PUBLISH] > TEST_EVENTS / 2);
        assert_true(kinds[MA_EVENT_RETRACT] > TEST_EVENTS / 5);
        ma_codec_close(codec);
}

/* Events the direct path leaves to the generic one for its error. */
static void test_direct_errors_match(void **state)
{
        ma_codec_t *codec = test_open(MA_TEST_SCHEMA_DIR);

        (void)state;
        for (int c = 0; c < 9; c++) {
                ma_event_t event;

                ma_event_init(&event);
                do {
                        ma_event_clear(&event);
                        test_event(&event);
                } while (event.kind != MA_EVENT_PUBLISH ||
                         !event.part.has_kund || !event.part.has_arende);
                switch (c) {
                case 0:
                        ma_free(event.kundhandelse_id);
                        event.kundhandelse_id = NULL;
                        break;
                case 1:
                        ma_free(event.rubrik);
                        event.rubrik = NULL;
                        break;
                case 2:
                        ma_free(event.part.kund_identifierare);
                        event.part.kund_identifierare = NULL;
                        break;
                case 3:
                        event.part.kund_typ = (ma_kund_typ_t)3;
                        break;
                case 4:
                        event.part.arende_typ = (ma_arende_typ_t)4;
                        break;
                case 5:
                        event.part.arende_typ = (ma_arende_typ_t)-1;
                        break;
                case 6:
                        assert_int_equal(ma_event_add_tag(&event, "x"), MA_OK);
                        ma_free(event.taggar[event.taggar_count - 1]);
                        event.taggar[event.taggar_count - 1] = NULL;
                        break;
                case 7:
                        ma_free(event.producent);
                        event.producent = NULL;
                        break;
                default:
                        ma_free(event.part.arende_identifierare);
                        event.part.arende_identifierare = NULL;
                        break;
                }
                ma_buf_t out = {0};
                assert_int_not_equal(ma_codec_encode(codec, &event, &out, NULL),
                                     MA_OK);
                ma_buf_free(&out);
                assert_same_encoding(codec, &event);
                ma_event_clear(&event);
        }
        ma_codec_close(codec);
}

static void test_write_schema(const char *dir, const char *subject, int version,
                              json_t *schema)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, subject);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/%s/v%d.avsc", dir, subject, version);
        assert_int_equal(json_dump_file(schema, path, JSON_INDENT(2)), 0);
}

static json_t *test_load_schema(const char *subject)
{
        char path[256];
        json_error_t error;
        json_t *schema;

        snprintf(path, sizeof(path), "%s/%s/v1.avsc", MA_TEST_SCHEMA_DIR,
                 subject);
        schema = json_load_file(path, 0, &error);
        if (schema == NULL)
                fail_msg("%s: %s", path, error.text);
        return schema;
}

/* A newest schema other than v1 must not get the v1 layout. */
static void test_v2_takes_generic_path(void **state)
{
        char dir[64] = "/tmp/ma-test-codec-direct-XXXXXX";
        char path[256];
        json_t *v1 = test_load_schema("kundhandelse");
        json_t *ater = test_load_schema("aterkallelse");
        json_t *v2 = json_deep_copy(v1);
        ma_buf_t v1_msg = {0}, v2_msg = {0};
        ma_codec_t *v1_codec = test_open(MA_TEST_SCHEMA_DIR);
        ma_codec_t *codec;

        (void)state;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(
                json_array_append_new(json_object_get(v2, "fields"),
                                      json_pack("{s:s,s:[s,s],s:n}", "name",
                                                "kanal", "type", "null",
                                                "string", "default")),
                0);
        test_write_schema(dir, "kundhandelse", 1, v1);
        test_write_schema(dir, "kundhandelse", 2, v2);
        test_write_schema(dir, "aterkallelse", 1, ater);
        codec = test_open(dir);
        assert_false(ma_codec_encode_is_direct(codec, MA_EVENT_PUBLISH));
        assert_true(ma_codec_encode_is_direct(codec, MA_EVENT_RETRACT));
        for (int i = 0; i < 200; i++) {
                ma_event_t event;

                test_event(&event);
                assert_same_encoding(codec, &event);
                if (event.kind == MA_EVENT_PUBLISH) {
                        /* v2 has one union index (null) more than v1. */
                        assert_int_equal(
                                ma_codec_encode(codec, &event, &v2_msg, NULL),
                                MA_OK);
                        assert_int_equal(ma_codec_encode(v1_codec, &event,
                                                         &v1_msg, NULL),
                                         MA_OK);
                        assert_int_equal(v2_msg.len, v1_msg.len + 1);
                        assert_true(ma_codec_writer_fingerprint(
                                            codec, MA_EVENT_PUBLISH) !=
                                    ma_codec_writer_fingerprint(
                                            v1_codec, MA_EVENT_PUBLISH));
                }
                ma_event_clear(&event);
        }
        ma_buf_free(&v1_msg);
        ma_buf_free(&v2_msg);
        ma_codec_close(codec);
        ma_codec_close(v1_codec);
        json_decref(v1);
        json_decref(v2);
        json_decref(ater);
        const char *files[] = {"kundhandelse/v1.avsc", "kundhandelse/v2.avsc",
                               "aterkallelse/v1.avsc", "kundhandelse",
                               "aterkallelse",         ""};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                assert_int_equal(remove(path), 0);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_direct_used_for_v1),
                cmocka_unit_test(test_direct_equals_generic),
                cmocka_unit_test(test_direct_errors_match),
                cmocka_unit_test(test_v2_takes_generic_path),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
