/*
 * Unit tests of log.c: logfmt quoting and escaping, levels, line layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ma/log.h"

static void pair(const char *key, const char *value, const char *expected)
{
        char buf[256];
        size_t n = ma_log_format_pair(buf, sizeof(buf), key, value);
        assert_string_equal(buf, expected);
        assert_int_equal(n, strlen(expected));
}

static void plain_values_unquoted(void **state)
{
        (void)state;
        pair("topic", "kh.skv", "topic=kh.skv");
        pair("partition", "3", "partition=3");
        pair("path", "/v1/arenden?x=1", "path=\"/v1/arenden?x=1\"");
        pair("id", "a-b_c:d/e", "id=a-b_c:d/e");
}

static void special_values_quoted(void **state)
{
        (void)state;
        pair("msg", "batch committed", "msg=\"batch committed\"");
        pair("empty", "", "empty=\"\"");
        pair("null", NULL, "null=\"\"");
        pair("q", "say \"hi\"", "q=\"say \\\"hi\\\"\"");
        pair("b", "back\\slash", "b=\"back\\\\slash\"");
        pair("nl", "line1\nline2", "nl=\"line1\\nline2\"");
        pair("cr", "a\rb\tc", "cr=\"a\\rb\\tc\"");
        pair("ctl", "bell\x07", "ctl=\"bell\\u0007\"");
        pair("esc", "\x1b[31mred", "esc=\"\\u001b[31mred\"");
        pair("del", "x\x7fy", "del=\"x\\u007fy\"");
        pair("eq", "a=b", "eq=\"a=b\"");
        pair("utf8", "Skatteverket är", "utf8=\"Skatteverket är\"");
        pair("utf8b", "Arbetsförmedlingen", "utf8b=\"Arbetsförmedlingen\"");
        pair("bad", "a\xff\xc3(b", "bad=\"a\\xff\\xc3(b\"");
        pair("cut", "x\xe2\x82", "cut=\"x\\xe2\\x82\"");
        pair("emoji", "\xf0\x9f\x98\x80", "emoji=\"\xf0\x9f\x98\x80\"");
}

static void keys_sanitised(void **state)
{
        (void)state;
        pair("bad key", "v", "bad_key=v");
        pair("k=v", "v", "k_v=v");
        pair("", "v", "_=v");
        pair(NULL, "v", "_=v");
        pair("ok.key-1_x", "v", "ok.key-1_x=v");
}

static void truncation_reports_length(void **state)
{
        (void)state;
        char buf[8];
        size_t n = ma_log_format_pair(buf, sizeof(buf), "key", "a value");
        assert_int_equal(n, strlen("key=\"a value\""));
        assert_string_equal(buf, "key=\"a ");
}

/* Reads what the logger wrote to a temporary file. */
static char *read_all(FILE *file)
{
        fflush(file);
        long size = ftell(file);
        rewind(file);
        char *text = calloc(1, (size_t)size + 1);
        assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
        return text;
}

static void line_layout(void **state)
{
        (void)state;
        FILE *out = tmpfile();
        assert_non_null(out);
        ma_log_init("processor", MA_LOG_INFO, out);
        ma_log(MA_LOG_INFO, "batch committed", "topic", "kh.skv", "note",
               "two words", NULL);
        char *text = read_all(out);
        /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ is 27 characters. */
        assert_int_equal(strncmp(text, "ts=", 3), 0);
        assert_int_equal(text[13], 'T');
        assert_int_equal(text[22], '.');
        assert_int_equal(text[26], 'Z');
        assert_string_equal(text + 27, " level=info component=processor "
                                       "msg=\"batch committed\" topic=kh.skv "
                                       "note=\"two words\"\n");
        free(text);
        fclose(out);
        ma_log_init("ma", MA_LOG_INFO, NULL);
}

static void levels_filter(void **state)
{
        (void)state;
        FILE *out = tmpfile();
        ma_log_init("api", MA_LOG_WARN, out);
        assert_false(ma_log_enabled(MA_LOG_DEBUG));
        assert_false(ma_log_enabled(MA_LOG_INFO));
        assert_true(ma_log_enabled(MA_LOG_WARN));
        assert_true(ma_log_enabled(MA_LOG_ERROR));
        ma_log(MA_LOG_INFO, "hidden", NULL);
        ma_log(MA_LOG_DEBUG, "hidden", NULL);
        MA_LOG_AT(MA_LOG_INFO, "hidden", MA_LOG_INT("n", 1));
        ma_log(MA_LOG_ERROR, "shown", "error", "could not connect", NULL);
        MA_LOG_AT(MA_LOG_WARN, "retrying", MA_LOG_STR("topic", "kh.pol"),
                  MA_LOG_INT("attempt", 3), MA_LOG_INT("offset", -42));
        ma_log_set_level(MA_LOG_DEBUG);
        ma_log(MA_LOG_DEBUG, "now shown", NULL);
        char *text = read_all(out);
        assert_null(strstr(text, "hidden"));
        assert_non_null(strstr(text, " level=error component=api msg=shown "
                                     "error=\"could not connect\"\n"));
        assert_non_null(strstr(text, " level=warn component=api msg=retrying "
                                     "topic=kh.pol attempt=3 offset=-42\n"));
        assert_non_null(strstr(text, " level=debug component=api "
                                     "msg=\"now shown\"\n"));
        size_t lines = 0;
        for (char *p = text; *p; p++)
                lines += *p == '\n';
        assert_int_equal(lines, 3);
        free(text);
        fclose(out);
        ma_log_init("ma", MA_LOG_INFO, NULL);
}

static void long_line_stays_one_line(void **state)
{
        (void)state;
        FILE *out = tmpfile();
        ma_log_init("x", MA_LOG_INFO, out);
        size_t big = 20000;
        char *value = malloc(big + 1);
        memset(value, '\n', big);
        value[big] = '\0';
        ma_log(MA_LOG_INFO, "big", "value", value, "after", "x", NULL);
        char *text = read_all(out);
        size_t len = strlen(text);
        assert_true(len <= 8193);
        assert_int_equal(text[len - 1], '\n');
        assert_ptr_equal(strchr(text, '\n'), text + len - 1);
        free(text);
        free(value);
        fclose(out);
        ma_log_init("ma", MA_LOG_INFO, NULL);
}

static void level_names(void **state)
{
        (void)state;
        assert_int_equal(ma_log_level_parse("debug"), MA_LOG_DEBUG);
        assert_int_equal(ma_log_level_parse("warn"), MA_LOG_WARN);
        assert_int_equal(ma_log_level_parse("error"), MA_LOG_ERROR);
        assert_int_equal(ma_log_level_parse("WARN"), -1);
        assert_int_equal(ma_log_level_parse(NULL), -1);
        assert_string_equal(ma_log_level_name(MA_LOG_INFO), "info");
        assert_string_equal(ma_log_level_name((ma_log_level_t)9), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(plain_values_unquoted),
                cmocka_unit_test(special_values_quoted),
                cmocka_unit_test(keys_sanitised),
                cmocka_unit_test(truncation_reports_length),
                cmocka_unit_test(line_layout),
                cmocka_unit_test(levels_filter),
                cmocka_unit_test(long_line_stays_one_line),
                cmocka_unit_test(level_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
