/*
 * ma_avro_compat_check: backward, forward and full compatibility of schema
 * pairs by the resolution rules of the Avro specification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/avro.h"

/* A record "se.x.R" with the given fields JSON. */
#define RECORD(fields)                                                         \
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"se.x\","          \
        "\"fields\":[" fields "]}"

static ma_status_t check(const char *old_json, const char *new_json,
                         ma_avro_compat_mode_t mode, ma_error_t *err)
{
        ma_avro_schema_t *old_schema = NULL, *new_schema = NULL;
        ma_status_t status;

        assert_int_equal(ma_avro_schema_parse(old_json, strlen(old_json), "old",
                                              &old_schema, NULL),
                         MA_OK);
        assert_int_equal(ma_avro_schema_parse(new_json, strlen(new_json), "new",
                                              &new_schema, NULL),
                         MA_OK);
        memset(err, 0, sizeof(*err));
        status = ma_avro_compat_check(ma_avro_schema_root(old_schema),
                                      ma_avro_schema_root(new_schema), mode,
                                      err);
        ma_avro_schema_free(old_schema);
        ma_avro_schema_free(new_schema);
        assert_int_equal(ma_alloc_live(), 0);
        return status;
}

static void test_compat_added_field_without_default(void **state)
{
        const char *old_json = RECORD("{\"name\":\"a\",\"type\":\"string\"}");
        const char *new_json = RECORD("{\"name\":\"a\",\"type\":\"string\"},"
                                      "{\"name\":\"foo\",\"type\":\"int\"}");
        ma_error_t err;

        (void)state;
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_ERR_SCHEMA);
        assert_string_equal(err.message,
                            "field \"foo\" added without a default breaks "
                            "backward compatibility; give it a default");
        assert_string_equal(err.field, "foo");
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_FORWARD, &err), MA_OK);
        assert_int_equal(check(old_json, new_json, MA_AVRO_COMPAT_FULL, &err),
                         MA_ERR_SCHEMA);
}

static void test_compat_added_field_with_default(void **state)
{
        const char *old_json = RECORD("{\"name\":\"a\",\"type\":\"string\"}");
        const char *new_json =
                RECORD("{\"name\":\"a\",\"type\":\"string\"},"
                       "{\"name\":\"b\",\"type\":[\"null\",\"string\"],"
                       "\"default\":null}");
        ma_error_t err;

        (void)state;
        assert_int_equal(check(old_json, new_json, MA_AVRO_COMPAT_FULL, &err),
                         MA_OK);
}

static void test_compat_removed_field_without_default(void **state)
{
        const char *old_json = RECORD("{\"name\":\"a\",\"type\":\"string\"},"
                                      "{\"name\":\"gone\",\"type\":\"long\"}");
        const char *new_json = RECORD("{\"name\":\"a\",\"type\":\"string\"}");
        ma_error_t err;

        (void)state;
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_OK);
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_FORWARD, &err),
                MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "\"gone\" removed"));
        assert_non_null(strstr(err.message, "forward"));
}

static void test_compat_promotions(void **state)
{
        const char *as_int = RECORD("{\"name\":\"n\",\"type\":\"int\"}");
        const char *as_long = RECORD("{\"name\":\"n\",\"type\":\"long\"}");
        const char *as_double = RECORD("{\"name\":\"n\",\"type\":\"double\"}");
        const char *as_string = RECORD("{\"name\":\"n\",\"type\":\"string\"}");
        const char *as_bytes = RECORD("{\"name\":\"n\",\"type\":\"bytes\"}");
        ma_error_t err;

        (void)state;
        assert_int_equal(check(as_int, as_long, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_OK);
        assert_int_equal(check(as_int, as_long, MA_AVRO_COMPAT_FORWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "type changed from \"int\" to "
                                            "\"long\""));
        assert_int_equal(
                check(as_long, as_double, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_OK);
        assert_int_equal(check(as_long, as_int, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_int_equal(check(as_string, as_bytes, MA_AVRO_COMPAT_FULL, &err),
                         MA_OK);
        assert_int_equal(
                check(as_string, as_int, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_ERR_SCHEMA);
        assert_string_equal(err.field, "n");
}

static void test_compat_enum_symbols(void **state)
{
        const char *two = RECORD(
                "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                "\"symbols\":[\"A\",\"B\"]}}");
        const char *three = RECORD(
                "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                "\"symbols\":[\"A\",\"B\",\"C\"]}}");
        ma_error_t err;

        (void)state;
        assert_int_equal(check(two, three, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_OK);
        assert_int_equal(check(two, three, MA_AVRO_COMPAT_FORWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "enum symbol \"C\" added"));
        assert_int_equal(check(three, two, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "enum symbol \"C\" removed"));
}

static void test_compat_union_branches(void **state)
{
        const char *plain = RECORD("{\"name\":\"u\",\"type\":\"string\"}");
        const char *optional =
                RECORD("{\"name\":\"u\",\"type\":[\"null\",\"string\"],"
                       "\"default\":null}");
        const char *wider = RECORD(
                "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"boolean\"],"
                "\"default\":null}");
        ma_error_t err;

        (void)state;
        /* string -> [null, string]: new reads old, old cannot read null. */
        assert_int_equal(check(plain, optional, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_OK);
        assert_int_equal(check(plain, optional, MA_AVRO_COMPAT_FORWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "union branch \"null\" added"));
        assert_int_equal(check(optional, plain, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "union branch \"null\" removed"));
        assert_int_equal(check(optional, wider, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_OK);
        assert_int_equal(check(optional, wider, MA_AVRO_COMPAT_FORWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "union branch \"boolean\" added"));
}

static void test_compat_nested_record_path(void **state)
{
        const char *old_json = RECORD(
                "{\"name\":\"part\",\"type\":{\"type\":\"record\",\"name\":"
                "\"Part\",\"fields\":[{\"name\":\"kund\",\"type\":[\"null\","
                "{\"type\":\"record\",\"name\":\"Kund\",\"fields\":[{\"name\":"
                "\"id\",\"type\":\"string\"}]}]}]}}");
        const char *new_json = RECORD(
                "{\"name\":\"part\",\"type\":{\"type\":\"record\",\"name\":"
                "\"Part\",\"fields\":[{\"name\":\"kund\",\"type\":[\"null\","
                "{\"type\":\"record\",\"name\":\"Kund\",\"fields\":[{\"name\":"
                "\"id\",\"type\":\"string\"},{\"name\":\"typ\",\"type\":"
                "\"int\"}]}]}]}}");
        ma_error_t err;

        (void)state;
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_ERR_SCHEMA);
        assert_string_equal(err.field, "part.kund.typ");
        assert_int_equal(
                check(old_json, new_json, MA_AVRO_COMPAT_FORWARD, &err), MA_OK);
}

static void test_compat_named_types(void **state)
{
        const char *fixed2 = RECORD("{\"name\":\"f\",\"type\":{\"type\":"
                                    "\"fixed\",\"name\":\"F\",\"size\":2}}");
        const char *fixed4 = RECORD("{\"name\":\"f\",\"type\":{\"type\":"
                                    "\"fixed\",\"name\":\"F\",\"size\":4}}");
        const char *renamed = RECORD("{\"name\":\"f\",\"type\":{\"type\":"
                                     "\"fixed\",\"name\":\"G\",\"size\":2}}");
        const char *other_record = "{\"type\":\"record\",\"name\":\"S\","
                                   "\"fields\":[]}";
        ma_error_t err;

        (void)state;
        assert_int_equal(check(fixed2, fixed4, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "fixed size"));
        assert_int_equal(check(fixed2, renamed, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_non_null(strstr(err.message, "renamed"));
        assert_int_equal(
                check(RECORD(""), other_record, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_ERR_SCHEMA);
}

static void test_compat_recursive_and_collections(void **state)
{
        const char *list_old =
                "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                "{\"name\":\"v\",\"type\":{\"type\":\"array\",\"items\":"
                "\"int\"}},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
        const char *list_new =
                "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                "{\"name\":\"v\",\"type\":{\"type\":\"array\",\"items\":"
                "\"long\"}},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
        const char *map_old = RECORD("{\"name\":\"m\",\"type\":{\"type\":"
                                     "\"map\",\"values\":\"string\"}}");
        const char *map_new = RECORD("{\"name\":\"m\",\"type\":{\"type\":"
                                     "\"map\",\"values\":\"boolean\"}}");
        ma_error_t err;

        (void)state;
        assert_int_equal(check(list_old, list_old, MA_AVRO_COMPAT_FULL, &err),
                         MA_OK);
        assert_int_equal(
                check(list_old, list_new, MA_AVRO_COMPAT_BACKWARD, &err),
                MA_OK);
        assert_int_equal(
                check(list_old, list_new, MA_AVRO_COMPAT_FORWARD, &err),
                MA_ERR_SCHEMA);
        assert_int_equal(check(map_old, map_new, MA_AVRO_COMPAT_BACKWARD, &err),
                         MA_ERR_SCHEMA);
        assert_string_equal(err.field, "m");
}

static ma_status_t enum_order(const char *reader_json, const char *writer_json,
                              ma_error_t *err)
{
        ma_avro_schema_t *reader = NULL, *writer = NULL;
        ma_status_t status;

        assert_int_equal(ma_avro_schema_parse(reader_json, strlen(reader_json),
                                              "reader", &reader, NULL),
                         MA_OK);
        assert_int_equal(ma_avro_schema_parse(writer_json, strlen(writer_json),
                                              "writer", &writer, NULL),
                         MA_OK);
        memset(err, 0, sizeof(*err));
        status = ma_avro_enum_order_check(ma_avro_schema_root(reader),
                                          ma_avro_schema_root(writer), err);
        ma_avro_schema_free(reader);
        ma_avro_schema_free(writer);
        return status;
}

static void test_enum_order_positions(void **state)
{
        const char *ab = RECORD(
                "{\"name\":\"k\",\"type\":[\"null\",{\"type\":\"record\","
                "\"name\":\"K\",\"fields\":[{\"name\":\"e\",\"type\":{"
                "\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\","
                "\"B\"]}}]}]}");
        const char *abc = RECORD(
                "{\"name\":\"k\",\"type\":[\"null\",{\"type\":\"record\","
                "\"name\":\"K\",\"fields\":[{\"name\":\"e\",\"type\":{"
                "\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\","
                "\"B\",\"C\"]}}]}]}");
        const char *cab = RECORD(
                "{\"name\":\"k\",\"type\":[\"null\",{\"type\":\"record\","
                "\"name\":\"K\",\"fields\":[{\"name\":\"e\",\"type\":{"
                "\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\","
                "\"A\",\"B\"]}}]}]}");
        ma_error_t err;

        (void)state;
        assert_int_equal(enum_order(abc, ab, &err), MA_OK);
        /* Spec-compatible, but avro-c would turn A into C. */
        assert_int_equal(check(ab, cab, MA_AVRO_COMPAT_BACKWARD, &err), MA_OK);
        assert_int_equal(enum_order(cab, ab, &err), MA_ERR_SCHEMA);
        assert_string_equal(err.field, "k.e");
        assert_non_null(strstr(err.message, "\"A\" has position 0"));
        /* A reader with fewer symbols: the writer's C has no position. */
        assert_int_equal(enum_order(ab, abc, &err), MA_ERR_SCHEMA);
        assert_int_equal(ma_alloc_live(), 0);
}

static void test_compat_mode_names(void **state)
{
        (void)state;
        assert_int_equal(ma_avro_compat_mode_parse("backward"),
                         MA_AVRO_COMPAT_BACKWARD);
        assert_int_equal(ma_avro_compat_mode_parse("forward"),
                         MA_AVRO_COMPAT_FORWARD);
        assert_int_equal(ma_avro_compat_mode_parse("full"),
                         MA_AVRO_COMPAT_FULL);
        assert_int_equal(ma_avro_compat_mode_parse("none"), -1);
        assert_string_equal(ma_avro_compat_mode_name(MA_AVRO_COMPAT_FULL),
                            "full");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_compat_added_field_without_default),
                cmocka_unit_test(test_compat_added_field_with_default),
                cmocka_unit_test(test_compat_removed_field_without_default),
                cmocka_unit_test(test_compat_promotions),
                cmocka_unit_test(test_compat_enum_symbols),
                cmocka_unit_test(test_compat_union_branches),
                cmocka_unit_test(test_compat_nested_record_path),
                cmocka_unit_test(test_compat_named_types),
                cmocka_unit_test(test_compat_recursive_and_collections),
                cmocka_unit_test(test_enum_order_positions),
                cmocka_unit_test(test_compat_mode_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
