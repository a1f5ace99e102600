/*
 * Unit tests of config.c: types, bounds, precedence of file, environment
 * and flags, error messages and --help.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/config.h"

static const ma_config_entry_t table[] = {
        {"kafka.brokers", MA_CONFIG_STRING, NULL, "127.0.0.1:9092", 1, 1024,
         "Kafka bootstrap servers, host:port separated by commas."},
        {"batch-size", MA_CONFIG_INT, "events", "500", 1, 10000,
         "Events per database transaction."},
        {"poll.timeout", MA_CONFIG_DURATION_MS, "ms", "1s", 10, 600000,
         "How long one poll waits for messages."},
        {"max.message", MA_CONFIG_SIZE_BYTES, "bytes", "256KiB", 1024,
         16 * 1024 * 1024, "Largest message accepted."},
        {"verbose", MA_CONFIG_BOOL, NULL, "false", 0, 0, "Log at debug level."},
        {"pseudonym.secret", MA_CONFIG_SECRET, NULL, NULL, 16, 0,
         "Key for customer pseudonyms; at least 16 bytes."},
};
#define TABLE_COUNT (sizeof(table) / sizeof(table[0]))

static const char *const good_secret = "s3cr3t-s3cr3t-s3cr3t";

static char temp_path[64];

static const char *write_file(const char *content)
{
        snprintf(temp_path, sizeof(temp_path), "/tmp/ma-test-config-XXXXXX");
        int fd = mkstemp(temp_path);
        assert_true(fd >= 0);
        FILE *file = fdopen(fd, "w");
        fputs(content, file);
        fclose(file);
        return temp_path;
}

static void clear_env(void)
{
        static const char *const names[] = {
                "MA_KAFKA_BROKERS", "MA_BATCH_SIZE", "MA_POLL_TIMEOUT",
                "MA_MAX_MESSAGE",   "MA_VERBOSE",    "MA_PSEUDONYM_SECRET",
                "MA_CONFIG",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                unsetenv(names[i]);
}

static int setup(void **state)
{
        (void)state;
        clear_env();
        return 0;
}

static ma_status_t load(int argc, char **argv, ma_config_t **config,
                        ma_error_t *err)
{
        return ma_config_load(table, TABLE_COUNT, NULL, argc, argv, config,
                              err);
}

static void defaults_and_flags(void **state)
{
        (void)state;
        long live = ma_alloc_live();
        char *argv[] = {"prog", "--pseudonym.secret", (char *)good_secret,
                        "--batch-size=20", NULL};
        ma_config_t *config;
        ma_error_t err;
        if (load(4, argv, &config, &err) != MA_OK)
                fail_msg("%s", err.message);
        assert_string_equal(ma_config_string(config, "kafka.brokers"),
                            "127.0.0.1:9092");
        assert_int_equal(ma_config_int(config, "batch-size"), 20);
        assert_int_equal(ma_config_int(config, "poll.timeout"), 1000);
        assert_int_equal(ma_config_int(config, "max.message"), 256 * 1024);
        assert_false(ma_config_bool(config, "verbose"));
        assert_string_equal(ma_config_string(config, "pseudonym.secret"),
                            good_secret);
        const char *where;
        assert_int_equal(ma_config_source_of(config, "batch-size", &where),
                         MA_CONFIG_FROM_FLAG);
        assert_string_equal(where, "flag --batch-size");
        assert_int_equal(ma_config_source_of(config, "verbose", &where),
                         MA_CONFIG_FROM_DEFAULT);
        /* Wrong type or unknown name gives the zero value. */
        assert_null(ma_config_string(config, "batch-size"));
        assert_int_equal(ma_config_int(config, "kafka.brokers"), 0);
        assert_null(ma_config_string(config, "nope"));
        ma_config_free(config);
        assert_int_equal(ma_alloc_live(), live);
}

static void units_are_parsed(void **state)
{
        (void)state;
        static const struct {
                const char *flag;
                const char *name;
                int64_t value;
        } cases[] = {
                {"--poll.timeout=250ms", "poll.timeout", 250},
                {"--poll.timeout=250", "poll.timeout", 250},
                {"--poll.timeout=30s", "poll.timeout", 30000},
                {"--poll.timeout=5min", "poll.timeout", 300000},
                {"--poll.timeout=0h", "poll.timeout", -1},
                {"--poll.timeout=1h", "poll.timeout", -1},
                {"--poll.timeout=10min", "poll.timeout", 600000},
                {"--poll.timeout=1d", "poll.timeout", -1},
                {"--poll.timeout=1.5s", "poll.timeout", -1},
                {"--poll.timeout=30 s", "poll.timeout", -1},
                {"--max.message=64KiB", "max.message", 65536},
                {"--max.message=16M", "max.message", 16777216},
                {"--max.message=16MiB", "max.message", 16777216},
                {"--max.message=2048B", "max.message", 2048},
                {"--max.message=1GiB", "max.message", -1},
                {"--max.message=1TB", "max.message", -1},
                {"--batch-size=10000", "batch-size", 10000},
                {"--batch-size=10001", "batch-size", -1},
                {"--batch-size=0", "batch-size", -1},
                {"--batch-size=12abc", "batch-size", -1},
                {"--batch-size=99999999999999999999", "batch-size", -1},
                {"--batch-size=", "batch-size", -1},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *argv[] = {"prog", (char *)cases[i].flag,
                                "--pseudonym.secret", (char *)good_secret};
                ma_config_t *config;
                ma_error_t err;
                ma_status_t st = load(4, argv, &config, &err);
                if (cases[i].value < 0) {
                        if (st != MA_ERR_CONFIG)
                                fail_msg("%s accepted", cases[i].flag);
                        assert_string_equal(err.field, cases[i].name);
                        continue;
                }
                if (st != MA_OK)
                        fail_msg("%s: %s", cases[i].flag, err.message);
                assert_int_equal(ma_config_int(config, cases[i].name),
                                 cases[i].value);
                ma_config_free(config);
        }
}

static void booleans(void **state)
{
        (void)state;
        static const struct {
                const char *flag;
                int value;
        } cases[] = {
                {"--verbose", 1},       {"--verbose=true", 1},
                {"--verbose=yes", 1},   {"--verbose=on", 1},
                {"--verbose=1", 1},     {"--verbose=false", 0},
                {"--verbose=no", 0},    {"--verbose=off", 0},
                {"--verbose=0", 0},     {"--verbose=maybe", -1},
                {"--verbose=TRUE", -1},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *argv[] = {"prog", (char *)cases[i].flag,
                                "--pseudonym.secret=s3cr3t-s3cr3t-s3cr3t"};
                ma_config_t *config;
                ma_error_t err;
                ma_status_t st = load(3, argv, &config, &err);
                if (cases[i].value < 0) {
                        assert_int_equal(st, MA_ERR_CONFIG);
                        assert_non_null(strstr(err.message, "true or false"));
                        continue;
                }
                assert_int_equal(st, MA_OK);
                assert_int_equal(ma_config_bool(config, "verbose"),
                                 cases[i].value);
                ma_config_free(config);
        }
}

static void precedence_file_env_flag(void **state)
{
        (void)state;
        const char *path =
                write_file("# comment\n"
                           "\n"
                           "kafka.brokers = 127.0.0.1:19092\n"
                           "batch-size=100\n"
                           "poll.timeout = \" 2s\"\n"
                           "  max.message   =   1MiB  \n"
                           "pseudonym.secret = from-the-file-0123456789\n");
        char config_flag[80];
        snprintf(config_flag, sizeof(config_flag), "--config=%s", path);
        setenv("MA_BATCH_SIZE", "200", 1);
        setenv("MA_MAX_MESSAGE", "2MiB", 1);
        char *argv[] = {"prog", config_flag, "--max.message", "4MiB"};
        ma_config_t *config;
        ma_error_t err;
        /* " 2s" keeps its space inside quotes and is invalid. */
        assert_int_equal(load(4, argv, &config, &err), MA_ERR_CONFIG);
        assert_string_equal(err.field, "poll.timeout");
        char where_5[128];
        snprintf(where_5, sizeof(where_5), "(from %s:5)", path);
        assert_non_null(strstr(err.message, where_5));
        unlink(path);
        write_file("kafka.brokers = 127.0.0.1:19092\n"
                   "batch-size=100\n"
                   "poll.timeout = \"2s\"\n"
                   "max.message = 1MiB\n"
                   "pseudonym.secret = from-the-file-0123456789\n");
        snprintf(config_flag, sizeof(config_flag), "--config=%s", temp_path);
        if (load(4, argv, &config, &err) != MA_OK)
                fail_msg("%s", err.message);
        assert_string_equal(ma_config_string(config, "kafka.brokers"),
                            "127.0.0.1:19092");
        assert_int_equal(ma_config_int(config, "batch-size"), 200);
        assert_int_equal(ma_config_int(config, "poll.timeout"), 2000);
        assert_int_equal(ma_config_int(config, "max.message"), 4 << 20);
        const char *where;
        assert_int_equal(ma_config_source_of(config, "batch-size", &where),
                         MA_CONFIG_FROM_ENV);
        assert_string_equal(where, "environment variable MA_BATCH_SIZE");
        assert_int_equal(ma_config_source_of(config, "kafka.brokers", &where),
                         MA_CONFIG_FROM_FILE);
        char expected[128];
        snprintf(expected, sizeof(expected), "%s:1", temp_path);
        assert_string_equal(where, expected);
        ma_config_free(config);
        unlink(temp_path);
        clear_env();
}

static void config_file_from_env(void **state)
{
        (void)state;
        const char *path = write_file("batch-size = 7\n"
                                      "pseudonym.secret = "
                                      "from-the-file-0123456789\n");
        setenv("MA_CONFIG", path, 1);
        char *argv[] = {"prog"};
        ma_config_t *config;
        ma_error_t err;
        assert_int_equal(load(1, argv, &config, &err), MA_OK);
        assert_int_equal(ma_config_int(config, "batch-size"), 7);
        ma_config_free(config);
        unlink(path);
        clear_env();
}

static void errors_name_source_and_range(void **state)
{
        (void)state;
        ma_config_t *config;
        ma_error_t err;
        setenv("MA_BATCH_SIZE", "20000", 1);
        char *argv[] = {"prog", "--pseudonym.secret", (char *)good_secret};
        assert_int_equal(load(3, argv, &config, &err), MA_ERR_CONFIG);
        assert_string_equal(err.message,
                            "value \"20000\" for batch-size (from environment "
                            "variable MA_BATCH_SIZE) is out of range: "
                            "expected 1 to 10000");
        clear_env();

        char *argv2[] = {"prog", "--poll.timeout=5", "--pseudonym.secret",
                         (char *)good_secret};
        assert_int_equal(load(4, argv2, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "(from flag --poll.timeout)"));
        assert_non_null(strstr(err.message, "10 to 600000 ms"));

        const char *path = write_file("batch-size = 5\nbogus = 1\n");
        char flag[80];
        snprintf(flag, sizeof(flag), "--config=%s", path);
        char *argv3[] = {"prog", flag};
        assert_int_equal(load(2, argv3, &config, &err), MA_ERR_CONFIG);
        char expected[128];
        snprintf(expected, sizeof(expected), "%s:2: unknown setting \"bogus\"",
                 path);
        assert_non_null(strstr(err.message, expected));
        unlink(path);

        path = write_file("batch-size = 5\nbatch-size = 6\n");
        snprintf(flag, sizeof(flag), "--config=%s", path);
        assert_int_equal(load(2, argv3, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "a second time"));
        unlink(path);

        path = write_file("just words\n");
        snprintf(flag, sizeof(flag), "--config=%s", path);
        assert_int_equal(load(2, argv3, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, ":1: invalid line"));
        unlink(path);

        snprintf(flag, sizeof(flag), "--config=/nonexistent/ma.conf");
        assert_int_equal(load(2, argv3, &config, &err), MA_ERR_IO);
        assert_non_null(strstr(err.message, "/nonexistent/ma.conf"));

        char *argv4[] = {"prog", "--no-such-flag=1"};
        assert_int_equal(load(2, argv4, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "unknown option "
                                            "\"--no-such-flag\""));

        char *argv6[] = {"prog", "--config"};
        assert_int_equal(load(2, argv6, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "--config needs a file name"));

        char long_value[1100];
        memset(long_value, 'h', sizeof(long_value) - 1);
        long_value[sizeof(long_value) - 1] = '\0';
        char *argv7[] = {"prog", "--kafka.brokers", long_value};
        assert_int_equal(load(3, argv7, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "is 1099 bytes long; expected a "
                                            "length of 1 to 1024 bytes"));

        char *argv5[] = {"prog", "--batch-size"};
        assert_int_equal(load(2, argv5, &config, &err), MA_ERR_CONFIG);
        assert_non_null(strstr(err.message, "needs a value"));
}

static void required_and_secret(void **state)
{
        (void)state;
        ma_config_t *config;
        ma_error_t err;
        char *argv[] = {"prog"};
        assert_int_equal(load(1, argv, &config, &err), MA_ERR_CONFIG);
        assert_string_equal(err.field, "pseudonym.secret");
        assert_non_null(strstr(err.message, "missing required setting "
                                            "pseudonym.secret"));
        assert_non_null(strstr(err.message, "MA_PSEUDONYM_SECRET"));

        /* A secret that is too short is reported without its value. */
        setenv("MA_PSEUDONYM_SECRET", "hunter2", 1);
        assert_int_equal(load(1, argv, &config, &err), MA_ERR_CONFIG);
        assert_null(strstr(err.message, "hunter2"));
        assert_non_null(strstr(err.message, "7 bytes long"));
        assert_non_null(strstr(err.message, "expected a length of at least 16 "
                                            "bytes"));
        setenv("MA_PSEUDONYM_SECRET", good_secret, 1);
        assert_int_equal(load(1, argv, &config, &err), MA_OK);
        char buf[64];
        ma_config_format(config, "pseudonym.secret", buf, sizeof(buf));
        assert_string_equal(buf, "(secret)");
        ma_config_format(config, "batch-size", buf, sizeof(buf));
        assert_string_equal(buf, "500");
        ma_config_free(config);
        clear_env();
}

static void positional_arguments(void **state)
{
        (void)state;
        char *argv[] = {"prog", "input.jsonl",    "--verbose", "-",
                        "--",   "--batch-size=3", NULL};
        ma_config_t *config;
        ma_error_t err;
        setenv("MA_PSEUDONYM_SECRET", good_secret, 1);
        assert_int_equal(load(6, argv, &config, &err), MA_OK);
        assert_true(ma_config_bool(config, "verbose"));
        assert_int_equal(ma_config_int(config, "batch-size"), 500);
        assert_int_equal(ma_config_positional_count(config), 3);
        assert_string_equal(ma_config_positional(config, 0), "input.jsonl");
        assert_string_equal(ma_config_positional(config, 1), "-");
        assert_string_equal(ma_config_positional(config, 2), "--batch-size=3");
        assert_null(ma_config_positional(config, 3));
        ma_config_free(config);
        clear_env();
}

static void help_text(void **state)
{
        (void)state;
        static const ma_config_entry_t with_default[] = {
                {"api.key", MA_CONFIG_SECRET, NULL, "default-key-0123456789",
                 16, 0, "API key."},
        };
        char *help = ma_config_help(table, TABLE_COUNT, "ma-process",
                                    "Builds the views.");
        assert_non_null(help);
        assert_non_null(strstr(help, "Usage: ma-process"));
        assert_non_null(strstr(help, "--batch-size=<int> (events)"));
        assert_non_null(strstr(help, "Events per database transaction."));
        assert_non_null(strstr(help, "default: \"500\"; range: 1 to 10000; "
                                     "environment: MA_BATCH_SIZE"));
        assert_non_null(strstr(help, "--poll.timeout=<duration> (ms)"));
        assert_non_null(strstr(help, "range: 10 to 600000 ms"));
        assert_non_null(strstr(help, "--pseudonym.secret=<secret>"));
        assert_non_null(strstr(help, "required; length: at least 16 bytes"));
        assert_non_null(strstr(help, "length: 1 to 1024 bytes"));
        ma_free(help);
        help = ma_config_help(with_default, 1, "p", NULL);
        assert_null(strstr(help, "default-key-0123456789"));
        assert_non_null(strstr(help, "default: (secret)"));
        ma_free(help);
        static const ma_config_entry_t long_help[] = {
                {"n", MA_CONFIG_INT, NULL, "1", 0, 9,
                 "A help text that is long enough to need wrapping, because "
                 "it goes on and on about what the setting does, in which "
                 "unit, and why anyone would change it at all."},
        };
        help = ma_config_help(long_help, 1, "p", NULL);
        assert_non_null(help);
        for (char *line = help; *line != '\0';) {
                size_t n = strcspn(line, "\n");
                assert_true(n <= 78);
                line += n + (line[n] == '\n');
        }
        assert_non_null(strstr(help, "      A help text that is long enough "
                                     "to need wrapping, because it goes on "
                                     "and\n      on about what the setting"));
        assert_non_null(strstr(help, "\n      change it at all.\n"));
        ma_free(help);
        char *argv[] = {"p", "--x", "-h"};
        assert_true(ma_config_help_requested(3, argv));
        char *argv2[] = {"p", "--", "--help"};
        assert_false(ma_config_help_requested(3, argv2));
}

static void bad_tables_are_bugs(void **state)
{
        (void)state;
        static const ma_config_entry_t bad_bounds[] = {
                {"n", MA_CONFIG_INT, NULL, "5", 10, 1, "x"},
        };
        static const ma_config_entry_t bad_default[] = {
                {"n", MA_CONFIG_INT, NULL, "50", 1, 10, "x"},
        };
        static const ma_config_entry_t duplicate[] = {
                {"n", MA_CONFIG_INT, NULL, "5", 1, 10, "x"},
                {"n", MA_CONFIG_INT, NULL, "5", 1, 10, "x"},
        };
        char *argv[] = {"p"};
        ma_config_t *config;
        ma_error_t err;
        assert_int_equal(
                ma_config_load(bad_bounds, 1, NULL, 1, argv, &config, &err),
                MA_ERR_INTERNAL);
        assert_int_equal(
                ma_config_load(bad_default, 1, NULL, 1, argv, &config, &err),
                MA_ERR_INTERNAL);
        assert_int_equal(err.status, MA_ERR_INTERNAL);
        assert_int_equal(
                ma_config_load(duplicate, 2, NULL, 1, argv, &config, &err),
                MA_ERR_INTERNAL);
}

static void env_names(void **state)
{
        (void)state;
        char buf[64];
        ma_config_env_name("kafka.brokers", buf, sizeof(buf));
        assert_string_equal(buf, "MA_KAFKA_BROKERS");
        ma_config_env_name("batch-size", buf, sizeof(buf));
        assert_string_equal(buf, "MA_BATCH_SIZE");
        ma_config_env_name("a.b", buf, 4);
        assert_string_equal(buf, "MA_");
}

static void missing_default_file_is_skipped(void **state)
{
        (void)state;
        char *argv[] = {"p"};
        ma_config_t *config;
        ma_error_t err;
        setenv("MA_PSEUDONYM_SECRET", good_secret, 1);
        assert_int_equal(ma_config_load(table, TABLE_COUNT,
                                        "/nonexistent/default.conf", 1, argv,
                                        &config, &err),
                         MA_OK);
        ma_config_free(config);
        clear_env();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(defaults_and_flags, setup),
                cmocka_unit_test_setup(units_are_parsed, setup),
                cmocka_unit_test_setup(booleans, setup),
                cmocka_unit_test_setup(precedence_file_env_flag, setup),
                cmocka_unit_test_setup(config_file_from_env, setup),
                cmocka_unit_test_setup(errors_name_source_and_range, setup),
                cmocka_unit_test_setup(required_and_secret, setup),
                cmocka_unit_test_setup(positional_arguments, setup),
                cmocka_unit_test_setup(help_text, setup),
                cmocka_unit_test_setup(bad_tables_are_bugs, setup),
                cmocka_unit_test_setup(env_names, setup),
                cmocka_unit_test_setup(missing_default_file_is_skipped, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
