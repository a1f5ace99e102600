/*
 * ma_avro_check_binary: the bounded walk the codec runs before avro-c reads
 * a body.  Bodies are written here byte by byte from the Avro binary
 * encoding rules (zig-zag varints, length-prefixed strings, blocks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/avro.h"

static const char schema_json[] =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"l\",\"type\":\"long\"},"
        "{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"b\",\"type\":\"boolean\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
        "\"symbols\":[\"A\",\"B\"]}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
        "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
        "\"size\":2}},"
        "{\"name\":\"d\",\"type\":\"double\"}]}";

/* s="hi" l=1 i=-1 b=true e=B u="x" a=[1,2] m={"k":3} f=AABB d=0.0 */
static const unsigned char valid[] = {
        0x04, 'h',  'i',  0x02, 0x01, 0x01, 0x02, 0x02, 0x02, 'x',
        0x04, 0x02, 0x04, 0x00, 0x02, 0x02, 'k',  0x06, 0x00, 0xaa,
        0xbb, 0,    0,    0,    0,    0,    0,    0,    0,
};

/* Offsets into valid[] of the values the cases below replace. */
enum {
        OFF_S = 0,
        OFF_L = 3,
        OFF_I = 4,
        OFF_B = 5,
        OFF_E = 6,
        OFF_U = 7,
        OFF_A = 10,
        OFF_M = 14
};

static ma_avro_schema_t *schema;

static int setup(void **state)
{
        (void)state;
        return ma_avro_schema_parse(schema_json, strlen(schema_json), "test",
                                    &schema, NULL) == MA_OK
                       ? 0
                       : -1;
}

static int teardown(void **state)
{
        (void)state;
        ma_avro_schema_free(schema);
        return 0;
}

/* Checks valid[] with bytes [at, at + cut) replaced by patch. */
static ma_status_t check_patched(size_t at, size_t cut,
                                 const unsigned char *patch, size_t patch_len,
                                 ma_error_t *err)
{
        unsigned char body[256];
        size_t len = 0;

        memcpy(body, valid, at);
        len = at;
        memcpy(body + len, patch, patch_len);
        len += patch_len;
        memcpy(body + len, valid + at + cut, sizeof(valid) - at - cut);
        len += sizeof(valid) - at - cut;
        return ma_avro_check_binary(ma_avro_schema_root(schema), body, len,
                                    NULL, err);
}

static void test_check_valid_body(void **state)
{
        ma_error_t err = {0};

        (void)state;
        if (ma_avro_check_binary(ma_avro_schema_root(schema), valid,
                                 sizeof(valid), NULL, &err) != MA_OK)
                fail_msg("%s", err.message);
}

static void test_check_every_truncation(void **state)
{
        (void)state;
        for (size_t len = 0; len < sizeof(valid); len++) {
                ma_status_t status = ma_avro_check_binary(
                        ma_avro_schema_root(schema), valid, len, NULL, NULL);

                if (status != MA_ERR_TRUNCATED)
                        fail_msg("length %zu: %s", len, ma_status_name(status));
        }
}

static void test_check_trailing_byte(void **state)
{
        unsigned char body[sizeof(valid) + 1];
        ma_error_t err = {0};

        (void)state;
        memcpy(body, valid, sizeof(valid));
        body[sizeof(valid)] = 0;
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(schema), body,
                                              sizeof(body), NULL, &err),
                         MA_ERR_PARSE);
}

static void test_check_string_lengths(void **state)
{
        static const unsigned char negative[] = {0x01};
        static const unsigned char huge[] = {0x80, 0x80, 0x80,
                                             0x80, 0x80, 0x01};
        static const unsigned char nul[] = {0x04, 'h', 0x00};
        static const unsigned char bad_utf8[] = {0x04, 0xc3, 0x28};
        static const unsigned char overlong[] = {0x04, 0xc0, 0xaf};
        static const unsigned char good_utf8[] = {0x04, 0xc3, 0xa5};
        ma_error_t err = {0};

        (void)state;
        assert_int_equal(check_patched(OFF_S, 3, negative, 1, &err),
                         MA_ERR_PARSE);
        assert_string_equal(err.field, "s");
        assert_int_equal(check_patched(OFF_S, 3, huge, sizeof(huge), &err),
                         MA_ERR_TRUNCATED);
        assert_int_equal(check_patched(OFF_S, 3, nul, 3, &err), MA_ERR_PARSE);
        assert_int_equal(check_patched(OFF_S, 3, bad_utf8, 3, &err),
                         MA_ERR_PARSE);
        assert_int_equal(check_patched(OFF_S, 3, overlong, 3, &err),
                         MA_ERR_PARSE);
        assert_int_equal(check_patched(OFF_S, 3, good_utf8, 3, &err), MA_OK);
}

static void test_check_varint_bounds(void **state)
{
        static const unsigned char eleven[] = {0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0x01};
        static const unsigned char wide[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0x02};
        static const unsigned char max_long[] = {0xfe, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0x01};
        static const unsigned char int_too_big[] = {0x80, 0x80, 0x80, 0x80,
                                                    0x10};
        static const unsigned char int_six[] = {0x80, 0x80, 0x80,
                                                0x80, 0x80, 0x00};
        ma_error_t err = {0};

        (void)state;
        assert_int_equal(check_patched(OFF_L, 1, eleven, sizeof(eleven), &err),
                         MA_ERR_PARSE);
        assert_string_equal(err.field, "l");
        assert_int_equal(check_patched(OFF_L, 1, wide, sizeof(wide), &err),
                         MA_ERR_PARSE);
        assert_int_equal(
                check_patched(OFF_L, 1, max_long, sizeof(max_long), &err),
                MA_OK);
        assert_int_equal(
                check_patched(OFF_I, 1, int_too_big, sizeof(int_too_big), &err),
                MA_ERR_PARSE);
        assert_string_equal(err.field, "i");
        assert_int_equal(
                check_patched(OFF_I, 1, int_six, sizeof(int_six), &err),
                MA_ERR_PARSE);
}

static void test_check_indexes(void **state)
{
        static const unsigned char two = 0x02;
        static const unsigned char four = 0x04;
        static const unsigned char minus_one = 0x01;
        ma_error_t err = {0};

        (void)state;
        assert_int_equal(check_patched(OFF_B, 1, &two, 1, &err), MA_ERR_PARSE);
        assert_string_equal(err.field, "b");
        assert_int_equal(check_patched(OFF_E, 1, &four, 1, &err), MA_ERR_PARSE);
        assert_string_equal(err.field, "e");
        assert_int_equal(check_patched(OFF_E, 1, &minus_one, 1, &err),
                         MA_ERR_PARSE);
        /* Union index 2 of a two-branch union, then -1. */
        assert_int_equal(check_patched(OFF_U, 1, &four, 1, &err), MA_ERR_PARSE);
        assert_string_equal(err.field, "u");
        assert_int_equal(check_patched(OFF_U, 1, &minus_one, 1, &err),
                         MA_ERR_PARSE);
}

static void test_check_blocks(void **state)
{
        /* count -2 with byte size 2, then the end block. */
        static const unsigned char sized[] = {0x03, 0x04, 0x02, 0x04, 0x00};
        static const unsigned char wrong_size[] = {0x03, 0x06, 0x02,
                                                   0x04, 0x00, 0x00};
        static const unsigned char size_past_end[] = {0x03, 0x7e, 0x02, 0x04,
                                                      0x00};
        static const unsigned char negative_size[] = {0x03, 0x03, 0x02, 0x04,
                                                      0x00};
        static const unsigned char min_count[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                                  0xff, 0xff, 0xff, 0xff, 0x01};
        static const unsigned char huge_count[] = {0xfe, 0xff, 0xff, 0xff,
                                                   0x0f};
        static const unsigned char map_key_cut[] = {0x02, 0x7e};
        ma_error_t err = {0};

        (void)state;
        assert_int_equal(check_patched(OFF_A, 4, sized, sizeof(sized), &err),
                         MA_OK);
        assert_int_equal(
                check_patched(OFF_A, 4, wrong_size, sizeof(wrong_size), &err),
                MA_ERR_PARSE);
        assert_string_equal(err.field, "a");
        assert_int_equal(check_patched(OFF_A, 4, size_past_end,
                                       sizeof(size_past_end), &err),
                         MA_ERR_TRUNCATED);
        assert_int_equal(check_patched(OFF_A, 4, negative_size,
                                       sizeof(negative_size), &err),
                         MA_ERR_PARSE);
        assert_int_equal(
                check_patched(OFF_A, 4, min_count, sizeof(min_count), &err),
                MA_ERR_PARSE);
        assert_int_equal(
                check_patched(OFF_A, 4, huge_count, sizeof(huge_count), &err),
                MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "limit"));
        assert_int_equal(
                check_patched(OFF_M, 5, map_key_cut, sizeof(map_key_cut), &err),
                MA_ERR_TRUNCATED);
        assert_string_equal(err.field, "m");
}

static void test_check_item_limit_zero_size_items(void **state)
{
        static const char json[] = "{\"type\":\"array\",\"items\":\"null\"}";
        /* 100000 nulls take no bytes at all: only the limit stops them. */
        static const unsigned char body[] = {0xc0, 0x9a, 0x0c, 0x00};
        ma_avro_check_limits_t limits;
        ma_avro_schema_t *nulls = NULL;

        (void)state;
        assert_int_equal(
                ma_avro_schema_parse(json, strlen(json), "test", &nulls, NULL),
                MA_OK);
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(nulls), body,
                                              sizeof(body), NULL, NULL),
                         MA_ERR_PARSE);
        ma_avro_check_limits_default(&limits);
        limits.max_items = 200000;
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(nulls), body,
                                              sizeof(body), &limits, NULL),
                         MA_OK);
        ma_avro_schema_free(nulls);
}

static void test_check_depth_limit(void **state)
{
        static const char json[] =
                "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":"
                "\"next\",\"type\":[\"null\",\"Node\"]}]}";
        unsigned char body[200];
        ma_avro_schema_t *list = NULL;
        ma_avro_check_limits_t limits;

        (void)state;
        assert_int_equal(
                ma_avro_schema_parse(json, strlen(json), "test", &list, NULL),
                MA_OK);
        /* 10 links then null; then 100 links then null. */
        memset(body, 0x02, sizeof(body));
        body[10] = 0x00;
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(list), body,
                                              11, NULL, NULL),
                         MA_OK);
        body[10] = 0x02;
        body[100] = 0x00;
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(list), body,
                                              101, NULL, NULL),
                         MA_ERR_PARSE);
        ma_avro_check_limits_default(&limits);
        limits.max_depth = 1000;
        assert_int_equal(ma_avro_check_binary(ma_avro_schema_root(list), body,
                                              101, &limits, NULL),
                         MA_OK);
        ma_avro_schema_free(list);
}

static void test_soe_header(void **state)
{
        unsigned char header[MA_AVRO_SOE_HEADER_LEN];
        uint64_t fp = 0;

        (void)state;
        ma_avro_soe_header_write(header, 0x0102030405060708ULL);
        assert_int_equal(header[0], 0xC3);
        assert_int_equal(header[1], 0x01);
        assert_int_equal(header[2], 0x08);
        assert_int_equal(header[9], 0x01);
        assert_int_equal(
                ma_avro_soe_header_read(header, sizeof(header), &fp, NULL),
                MA_OK);
        assert_true(fp == 0x0102030405060708ULL);
        assert_int_equal(ma_avro_soe_header_read(header, 9, &fp, NULL),
                         MA_ERR_TRUNCATED);
        header[1] = 0x02;
        assert_int_equal(
                ma_avro_soe_header_read(header, sizeof(header), &fp, NULL),
                MA_ERR_ENCODING);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_valid_body),
                cmocka_unit_test(test_check_every_truncation),
                cmocka_unit_test(test_check_trailing_byte),
                cmocka_unit_test(test_check_string_lengths),
                cmocka_unit_test(test_check_varint_bounds),
                cmocka_unit_test(test_check_indexes),
                cmocka_unit_test(test_check_blocks),
                cmocka_unit_test(test_check_item_limit_zero_size_items),
                cmocka_unit_test(test_check_depth_limit),
                cmocka_unit_test(test_soe_header),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
