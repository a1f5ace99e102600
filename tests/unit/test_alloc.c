/* Unit tests of the counted allocator and its failure injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/status.h"

static void test_alloc_counts_live(void **state)
{
        long before = ma_alloc_live();
        char *a = ma_malloc(10);
        char *b = ma_strdup("abc");

        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(ma_alloc_live(), before + 2);
        ma_free(a);
        ma_free(b);
        ma_free(NULL);
        assert_int_equal(ma_alloc_live(), before);
}

static void test_alloc_fails_nth(void **state)
{
        void *first;

        ma_alloc_fail_after(2, 0);
        first = ma_malloc(1);
        assert_non_null(first);
        assert_null(ma_malloc(1));
        /* Not sticky: the next allocation succeeds again. */
        void *third = ma_malloc(1);
        assert_non_null(third);
        ma_free(first);
        ma_free(third);
}

static void test_alloc_fails_sticky(void **state)
{
        ma_alloc_fail_after(1, 1);
        assert_null(ma_malloc(1));
        assert_null(ma_strdup("x"));
        ma_alloc_fail_after(0, 0);
        void *ok = ma_calloc(2, 2);
        assert_non_null(ok);
        ma_free(ok);
}

static void test_status_names(void **state)
{
        ma_error_t err;

        assert_string_equal(ma_status_name(MA_ERR_INVALID), "MA_ERR_INVALID");
        assert_string_equal(ma_status_str(MA_OK), "success");
        assert_string_equal(ma_status_name((ma_status_t)-999),
                            "MA_ERR_UNKNOWN");
        assert_int_equal(
                ma_error_set(&err, MA_ERR_PARSE, "rubrik", "value %d", 7),
                MA_ERR_PARSE);
        assert_string_equal(err.field, "rubrik");
        assert_string_equal(err.message, "value 7");
        assert_int_equal(ma_error_set(NULL, MA_ERR_IO, NULL, "x"), MA_ERR_IO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alloc_counts_live),
                cmocka_unit_test(test_alloc_fails_nth),
                cmocka_unit_test(test_alloc_fails_sticky),
                cmocka_unit_test(test_status_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
