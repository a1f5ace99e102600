/*
 * Unit tests of the PostgreSQL helpers the processor relies on that need no
 * server: which failures count as transient, and how a refused connection
 * and a missing migration folder are reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ma/pg.h"

static ma_error_t pg_error(const char *sqlstate)
{
        ma_error_t err;

        ma_error_set(&err, MA_ERR_PG, NULL, "test");
        snprintf(err.sqlstate, sizeof(err.sqlstate), "%s", sqlstate);
        return err;
}

static void test_pg_transient_states(void **state)
{
        static const char *const transient[] = {"",      "08000", "08006",
                                                "40001", "40P01", "57P01",
                                                "57P02", "57P03"};
        size_t i;

        for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
                ma_error_t err = pg_error(transient[i]);

                assert_true(ma_pg_error_is_transient(&err));
        }
}

static void test_pg_permanent_states(void **state)
{
        static const char *const permanent[] = {"23505", "22P02", "42P01",
                                                "42601", "28P01", "3D000"};
        size_t i;

        for (i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
                ma_error_t err = pg_error(permanent[i]);

                assert_false(ma_pg_error_is_transient(&err));
        }
}

static void test_pg_other_status_not_transient(void **state)
{
        ma_error_t err;

        ma_error_set(&err, MA_ERR_KAFKA, NULL, "not a database error");
        assert_false(ma_pg_error_is_transient(&err));
        assert_false(ma_pg_error_is_transient(NULL));
}

static void test_pg_connect_gives_up(void **state)
{
        ma_pg_retry_t retry;
        PGconn *conn = (PGconn *)&retry;
        ma_error_t err;

        ma_pg_retry_default(&retry);
        retry.max_attempts = 2;
        retry.initial_backoff_ms = 10;
        /* Port 1 on loopback: nothing listens there, so both attempts fail. */
        assert_int_equal(ma_pg_connect("host=127.0.0.1 port=1 "
                                       "connect_timeout=2 password=secret",
                                       &retry, &conn, &err),
                         MA_ERR_PG);
        assert_null(conn);
        assert_non_null(strstr(err.message, "could not connect"));
        assert_null(strstr(err.message, "secret"));
}

static void test_pg_connect_stops_on_flag(void **state)
{
        volatile sig_atomic_t stop = 1;
        ma_pg_retry_t retry;
        PGconn *conn = NULL;
        ma_error_t err;

        ma_pg_retry_default(&retry);
        retry.stop = &stop;
        assert_int_equal(ma_pg_connect("host=127.0.0.1 port=1 "
                                       "connect_timeout=2",
                                       &retry, &conn, &err),
                         MA_ERR_STATE);
        assert_null(conn);
}

static void test_pg_migrate_missing_dir(void **state)
{
        ma_error_t err;
        int applied = -1;

        /* The folder is read before the connection is used. */
        assert_int_equal(
                ma_pg_migrate(NULL, "/nonexistent/migrations", &applied, &err),
                MA_ERR_IO);
        assert_int_equal(applied, 0);
        assert_non_null(strstr(err.message, "/nonexistent/migrations"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pg_transient_states),
                cmocka_unit_test(test_pg_permanent_states),
                cmocka_unit_test(test_pg_other_status_not_transient),
                cmocka_unit_test(test_pg_connect_gives_up),
                cmocka_unit_test(test_pg_connect_stops_on_flag),
                cmocka_unit_test(test_pg_migrate_missing_dir),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
