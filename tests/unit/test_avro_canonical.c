/*
 * Parsing Canonical Form and CRC-64-AVRO fingerprints against the test
 * vectors the Avro project publishes in share/test/data/schema-tests.txt
 * (cases 000-033; the fingerprints there are Java longs, that is the
 * unsigned CRC reinterpreted as signed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/avro.h"

typedef struct vector {
        const char *input;
        const char *canonical;
        int has_fingerprint;
        int64_t fingerprint;
} vector_t;

static const vector_t vectors[] = {
        {"\"null\"", "\"null\"", 1, 7195948357588979594LL},
        {"{\"type\":\"null\"}", "\"null\"", 0, 0},
        {"\"boolean\"", "\"boolean\"", 1, -6970731678124411036LL},
        {"{\"type\":\"boolean\"}", "\"boolean\"", 0, 0},
        {"\"int\"", "\"int\"", 1, 8247732601305521295LL},
        {"{\"type\":\"int\"}", "\"int\"", 0, 0},
        {"\"long\"", "\"long\"", 1, -3434872931120570953LL},
        {"{\"type\":\"long\"}", "\"long\"", 0, 0},
        {"\"float\"", "\"float\"", 1, 5583340709985441680LL},
        {"{\"type\":\"float\"}", "\"float\"", 0, 0},
        {"\"double\"", "\"double\"", 1, -8181574048448539266LL},
        {"{\"type\":\"double\"}", "\"double\"", 0, 0},
        {"\"bytes\"", "\"bytes\"", 1, 5746618253357095269LL},
        {"{\"type\":\"bytes\"}", "\"bytes\"", 0, 0},
        {"\"string\"", "\"string\"", 1, -8142146995180207161LL},
        {"{\"type\":\"string\"}", "\"string\"", 0, 0},
        {"[  ]", "[]", 1, -1241056759729112623LL},
        {"[ \"int\"  ]", "[\"int\"]", 1, -5232228896498058493LL},
        {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 1,
         5392556393470105090LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1,
         -4824392279771201922LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
         "\"namespace\":\"x.y\"}",
         "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 1,
         5916914534497305771LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", "
         "\"namespace\":\"x.y\"}",
         "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", 1,
         -4616218487480524110LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
         "\"doc\":\"Useful info\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1,
         -4824392279771201922LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
         "\"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1,
         -4824392279771201922LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
         "\"doc\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1,
         -4824392279771201922LL},
        {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], "
         "\"type\":\"record\", \"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
         "\"type\":\"boolean\"}]}",
         1, 7843277075252814651LL},
        {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], "
         "\"name\":\"f1\", \"default\":\"true\"},\n"
         "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\","
         "\"type\":\"int\"}],\n \"type\":\"record\", \"name\":\"foo\"\n}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
         "\"type\":\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}",
         1, -4860222112080293046LL},
        {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
         "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", 1,
         -6342190197741309591LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", "
         "\"doc\":\"foo bar\", \"symbols\":[\"A1\", \"A2\"]}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\","
         "\"A2\"]}",
         1, -4448647247586288245LL},
        {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
         "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1,
         1756455273707447556LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", "
         "\"doc\":\"foo bar\", \"size\":32}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", 1,
         -3064184465700546786LL},
        {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
         "{\"type\":\"array\",\"items\":\"null\"}", 1, -589620603366471059LL},
        {"{ \"values\":\"string\", \"type\":\"map\"}",
         "{\"type\":\"map\",\"values\":\"string\"}", 1, -8732877298790414990LL},
        {"{\"name\":\"PigValue\",\"type\":\"record\",\n"
         "\"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", "
         "\"long\", \"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":"
         "\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         1, -1759257747318642341LL},
};

static void test_canonical_published_vectors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                char *canonical = NULL;
                ma_error_t err = {0};
                ma_status_t status = ma_avro_canonical_form(
                        vectors[i].input, strlen(vectors[i].input), &canonical,
                        &err);

                if (status != MA_OK)
                        fail_msg("case %03zu: %s", i, err.message);
                assert_string_equal(canonical, vectors[i].canonical);
                if (vectors[i].has_fingerprint) {
                        uint64_t fp =
                                ma_avro_crc64(canonical, strlen(canonical));

                        if ((int64_t)fp != vectors[i].fingerprint)
                                fail_msg("case %03zu: fingerprint %lld, "
                                         "published %lld",
                                         i, (long long)(int64_t)fp,
                                         (long long)vectors[i].fingerprint);
                }
                ma_free(canonical);
        }
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_crc64_empty_input(void **state)
{
        (void)state;
        assert_true(ma_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
}

static void test_canonical_nested_namespace(void **state)
{
        const char *json =
                "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\","
                "\"fields\":[{\"name\":\"x\",\"type\":{\"type\":\"enum\","
                "\"name\":\"E\",\"symbols\":[\"S\"]}},{\"name\":\"y\","
                "\"type\":\"E\"},{\"name\":\"z\",\"type\":{\"type\":"
                "\"fixed\",\"name\":\"c.F\",\"size\":2}},{\"name\":\"w\","
                "\"type\":{\"type\":\"long\",\"logicalType\":"
                "\"timestamp-millis\"}}]}";
        char *canonical = NULL;

        (void)state;
        assert_int_equal(
                ma_avro_canonical_form(json, strlen(json), &canonical, NULL),
                MA_OK);
        assert_string_equal(
                canonical,
                "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":"
                "\"x\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\","
                "\"symbols\":[\"S\"]}},{\"name\":\"y\",\"type\":\"a.b.E\"},"
                "{\"name\":\"z\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\","
                "\"size\":2}},{\"name\":\"w\",\"type\":\"long\"}]}");
        ma_free(canonical);
}

static void test_canonical_rejects_invalid(void **state)
{
        static const char *const bad[] = {
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"Missing\"}]}",
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
                "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                "[\"int\",\"int\"]",
                "[\"null\",[\"int\"]]",
                "{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}",
                "{\"type\":\"fixed\",\"name\":\"F\"}",
                "{\"type\":\"array\"}",
                "42",
                "{\"type\":",
        };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *canonical = NULL;
                ma_error_t err = {0};
                ma_status_t status = ma_avro_canonical_form(
                        bad[i], strlen(bad[i]), &canonical, &err);

                if (status == MA_OK)
                        fail_msg("schema %zu accepted: %s", i, canonical);
                assert_null(canonical);
                assert_true(err.message[0] != '\0');
        }
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_store_loads_project_schemas(void **state)
{
        ma_avro_store_t *store = NULL;
        ma_error_t err = {0};
        const ma_avro_store_entry_t *entry;

        (void)state;
        if (ma_avro_store_load(MA_TEST_SCHEMA_DIR, &store, &err) != MA_OK)
                fail_msg("%s", err.message);
        entry = ma_avro_store_latest(store, "se.minaarenden.Kundhandelse", 0);
        assert_non_null(entry);
        assert_string_equal(entry->subject, "kundhandelse");
        assert_true(entry->version >= 1);
        assert_ptr_equal(ma_avro_store_find(store, entry->fingerprint), entry);
        assert_true(
                entry->fingerprint ==
                ma_avro_crc64(ma_avro_schema_canonical(entry->schema),
                              strlen(ma_avro_schema_canonical(entry->schema))));
        entry = ma_avro_store_latest(store, "se.minaarenden.Aterkallelse", 0);
        assert_non_null(entry);
        assert_null(ma_avro_store_find(store, 0x1234));
        ma_avro_store_free(store);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_canonical_survives_alloc_failures(void **state)
{
        const char *json = vectors[33].input;

        (void)state;
        for (long nth = 1; nth < 200; nth++) {
                char *canonical = NULL;
                ma_status_t status;

                ma_alloc_fail_after(nth, 0);
                status = ma_avro_canonical_form(json, strlen(json), &canonical,
                                                NULL);
                ma_alloc_fail_after(0, 0);
                if (status == MA_OK) {
                        assert_string_equal(canonical, vectors[33].canonical);
                        ma_free(canonical);
                        break;
                }
                assert_int_equal(status, MA_ERR_NOMEM);
                assert_int_equal(ma_alloc_live(), 0);
        }
        assert_int_equal(ma_alloc_live(), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_canonical_published_vectors),
                cmocka_unit_test(test_crc64_empty_input),
                cmocka_unit_test(test_canonical_nested_namespace),
                cmocka_unit_test(test_canonical_rejects_invalid),
                cmocka_unit_test(test_store_loads_project_schemas),
                cmocka_unit_test(test_canonical_survives_alloc_failures),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
