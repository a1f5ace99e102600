/*
 * test_process_log.c - the CSV and XES process-log adapters.
 *
 * Covers CSV edge cases (quoting, line breaks in fields, CRLF, byte order
 * mark, bad rows), XES parsing and its protection against entity
 * expansion, allocation failures, and the JSON Lines hiring fixtures.  The
 * committed XES fixture is compared with the log it was converted from, and
 * the two real logs are read with their committed mappings.
 *
 * The real logs are not part of the repository.  The tests look for them in
 * shared/data beside the repository and are skipped, with a message, when
 * they are absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/datetime.h"
#include "ma/input.h"
#include "ma/validate.h"

#define CATALOG  MA_TEST_SCHEMA_DIR "/catalog.json"
#define DIR      MA_TEST_DATA_DIR "/processlog/"
#define REPO     MA_TEST_DATA_DIR "/../../"
#define MAPPINGS REPO "producers/mappings/"
#define FIXTURES REPO "producers/fixtures/"
#define REAL     MA_TEST_DATA_DIR "/../../../shared/data/"

/* ---- helpers ------------------------------------------------------------- */

static ma_status_t open_log(const char *path, bool xes, const char *mapping,
                            ma_input_t **input, ma_error_t *err)
{
        ma_process_log_options_t options = {
                .mapping_path = mapping,
                .catalog_path = CATALOG,
                .seed = "test",
        };
        ma_error_clear(err);
        if (xes)
                return ma_input_xes_open(path, &options, NULL, input, err);
        return ma_input_csv_open(path, &options, NULL, input, err);
}

static const char *write_temp(const char *text, size_t len)
{
        static char path[64];
        snprintf(path, sizeof(path), "/tmp/ma-test-process-log-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, len), (ssize_t)len);
        close(fd);
        return path;
}

/* One call of next(), kept for checks. */
typedef struct step {
        ma_input_outcome_t outcome;
        ma_input_location_t loc;
        const char *reason;
        ma_error_t err;
        ma_event_t event;
} step_t;

static void step_next(ma_input_t *input, step_t *step)
{
        memset(step, 0, sizeof(*step));
        ma_event_init(&step->event);
        step->outcome = ma_input_next(input, &step->event, &step->loc,
                                      &step->reason, &step->err);
}

static void expect_step(ma_input_t *input, ma_input_outcome_t outcome,
                        long line, step_t *step)
{
        step_next(input, step);
        if (step->outcome != outcome)
                fail_msg("line %ld: expected outcome %d, got %d (%s)", line,
                         outcome, step->outcome, step->err.message);
        assert_int_equal(step->loc.line, line);
}

static bool file_exists(const char *path)
{
        return access(path, R_OK) == 0;
}

/* ---- CSV ----------------------------------------------------------------- */

static const char header[] =
        "case:concept:name,concept:name,time:timestamp,org:resource,amount,"
        "case:vehicle,case:valid\n";

static void test_csv_quoted_fields(void **state)
{
        long live = ma_alloc_live();
        char text[600];
        snprintf(text, sizeof(text),
                 "%s"
                 "N1,Create Fine,2005-03-23 00:00:00+01:00,537,35.0,"
                 "\"Volvo, \"\"V70\"\"\nblå\",2006-03-22\n"
                 "N1,Bogus,2005-03-23 00:00:00+01:00,537,,\" A \","
                 "2006-03-22\n"
                 "N2,Create Fine,yesterday,537,,A,2006-03-22\n"
                 "N3,\"Create Fine\",2005-03-23 00:00:00+01:00,,1,B,"
                 "2006-03-22",
                 header);
        const char *path = write_temp(text, strlen(text));
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(path, false, DIR "basic.json", &input, &err),
                         MA_OK);
        assert_string_equal(input->ops->name, "csv");
        step_t step;
        expect_step(input, MA_INPUT_EVENT, 2, &step);
        assert_string_equal(step.loc.file, path);
        assert_string_equal(step.event.beskrivning,
                            "Belopp 35.0, {ej} Create Fine av 537, fordon "
                            "Volvo, \"V70\"\nblå");
        assert_string_equal(step.event.taggar[1], "Volvo, \"V70\"\nblå");
        ma_event_clear(&step.event);

        expect_step(input, MA_INPUT_SKIP, 4, &step);
        assert_string_equal(step.reason, "unmapped activity \"Bogus\"");

        expect_step(input, MA_INPUT_REJECT, 5, &step);
        assert_string_equal(step.err.field, "time:timestamp");
        assert_non_null(strstr(step.err.message, "\"yesterday\""));
        assert_non_null(strstr(step.err.message, "RFC 3339"));

        /* The last record has no line break; quotes are optional. */
        expect_step(input, MA_INPUT_EVENT, 6, &step);
        assert_string_equal(step.event.kundhandelse_id, "N3-1");
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_END, 0, &step);

        uint64_t done, total;
        input->ops->progress(input, &done, &total);
        assert_int_equal(total, strlen(text));
        assert_int_equal(done, total);
        ma_input_close(input);
        unlink(path);
        assert_int_equal(ma_alloc_live(), live);
}

static void test_csv_crlf_and_bom(void **state)
{
        static const char text[] =
                "\xEF\xBB\xBF"
                "case:concept:name,concept:name,time:timestamp,org:resource,"
                "amount,case:vehicle,case:valid\r\n"
                "N1,Create Fine,2005-03-23 00:00:00+01:00,537,35.0,A,"
                "2006-03-22\r\n"
                "N1,Payment,2005-03-24 00:00:00+01:00,,35.0,\"A\r\nB\","
                "2006-03-22\r\n"
                "N2,Create Fine,2005-03-24 00:00:00+01:00,537,35.0,A,"
                "2006-03-22\r\n";
        const char *path = write_temp(text, sizeof(text) - 1);
        ma_input_t *input;
        ma_error_t err;
        ma_status_t st = open_log(path, false, DIR "basic.json", &input, &err);
        if (st != MA_OK)
                fail_msg("%s", err.message);
        step_t step;
        /* A trailing \r would make case:valid unparsable. */
        expect_step(input, MA_INPUT_EVENT, 2, &step);
        assert_int_equal(step.event.giltig_till,
                         (int32_t)ma_days_from_civil(2006, 3, 22));
        assert_string_equal(step.event.taggar[1], "A");
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_EVENT, 3, &step);
        assert_string_equal(step.event.kundhandelse_id, "N1-2");
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_EVENT, 5, &step);
        assert_string_equal(step.event.kundhandelse_id, "N2-1");
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        unlink(path);
}

static void test_csv_bad_rows(void **state)
{
        long live = ma_alloc_live();
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(DIR "bad-rows.csv", false, DIR "basic.json",
                                  &input, &err),
                         MA_OK);
        step_t step;
        expect_step(input, MA_INPUT_EVENT, 2, &step);
        ma_event_clear(&step.event);

        expect_step(input, MA_INPUT_REJECT, 3, &step);
        assert_string_equal(step.err.field, "time:timestamp");
        assert_non_null(strstr(step.err.message, "\"not a time\""));

        expect_step(input, MA_INPUT_REJECT, 4, &step);
        assert_non_null(strstr(step.err.message, "6 fields"));
        assert_non_null(strstr(step.err.message, "header has 7"));

        expect_step(input, MA_INPUT_REJECT, 5, &step);
        assert_string_equal(step.err.field, "case:concept:name");

        expect_step(input, MA_INPUT_REJECT, 6, &step);
        assert_string_equal(step.err.field, "case:valid");
        assert_non_null(strstr(step.err.message, "giltigTill"));

        expect_step(input, MA_INPUT_REJECT, 7, &step);
        assert_non_null(strstr(step.err.message, "quoted field"));
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        assert_int_equal(ma_alloc_live(), live);
}

static void test_csv_malformed_quote_continues(void **state)
{
        char text[600];
        snprintf(text, sizeof(text),
                 "%s"
                 "N1,Create \"Fine\",2005-03-23 00:00:00+01:00,537,1,A,"
                 "2006-03-22\n"
                 "N2,Create Fine,2005-03-23 00:00:00+01:00,537,1,A,"
                 "2006-03-22\n",
                 header);
        const char *path = write_temp(text, strlen(text));
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(path, false, DIR "basic.json", &input, &err),
                         MA_OK);
        step_t step;
        expect_step(input, MA_INPUT_REJECT, 2, &step);
        assert_non_null(strstr(step.err.message, "malformed CSV"));
        expect_step(input, MA_INPUT_EVENT, 3, &step);
        assert_string_equal(step.event.kundhandelse_id, "N2-1");
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        unlink(path);
}

static void test_csv_invalid_utf8_rejected(void **state)
{
        char text[600];
        /* 0xE9 is "é" in Latin-1 and not valid UTF-8 on its own. */
        snprintf(text, sizeof(text),
                 "%s"
                 "N1,Create Fine,2005-03-23 00:00:00+01:00,537,3\xe9,A,"
                 "2006-03-22\n"
                 "N2,Create Fine,2005-03-23 00:00:00+01:00,537,35,A,"
                 "2006-03-22\n",
                 header);
        const char *path = write_temp(text, strlen(text));
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(path, false, DIR "basic.json", &input, &err),
                         MA_OK);
        step_t step;
        expect_step(input, MA_INPUT_REJECT, 2, &step);
        assert_string_equal(step.err.field, "utokadInformation");
        assert_non_null(strstr(step.err.message, "UTF-8"));
        expect_step(input, MA_INPUT_EVENT, 3, &step);
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        unlink(path);
}

static void test_csv_open_errors(void **state)
{
        long live = ma_alloc_live();
        ma_input_t *input = NULL;
        ma_error_t err;
        const char *empty = write_temp("", 0);
        assert_int_equal(open_log(empty, false, DIR "basic.json", &input, &err),
                         MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "header"));
        unlink(empty);

        assert_int_equal(open_log(DIR "no-such.csv", false, DIR "basic.json",
                                  &input, &err),
                         MA_ERR_NOT_FOUND);
        assert_non_null(strstr(err.message, "no-such.csv"));

        static const char twice[] =
                "case:concept:name,concept:name,time:timestamp,org:resource,"
                "amount,case:vehicle,case:valid,amount\n";
        const char *path = write_temp(twice, sizeof(twice) - 1);
        assert_int_equal(open_log(path, false, DIR "basic.json", &input, &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "\"amount\" appears twice"));
        unlink(path);
        assert_null(input);
        assert_int_equal(ma_alloc_live(), live);
}

/* ---- XES ----------------------------------------------------------------- */

static void test_xes_fines(void **state)
{
        long live = ma_alloc_live();
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(
                open_log(DIR "fines.xes", true, DIR "basic.json", &input, &err),
                MA_OK);
        assert_string_equal(input->ops->name, "xes");
        step_t step;
        expect_step(input, MA_INPUT_EVENT, 13, &step);
        assert_string_equal(step.loc.file, DIR "fines.xes");
        assert_string_equal(step.event.kundhandelse_id, "N1-1");
        /* Entities in values are decoded; the nested list is ignored. */
        assert_string_equal(step.event.beskrivning,
                            "Belopp 35.0, {ej} Create Fine av 537, fordon "
                            "A & B");
        assert_int_equal(step.event.giltig_till,
                         (int32_t)ma_days_from_civil(2006, 3, 22));
        assert_int_equal(step.event.tidpunkt.offset_min, 60);
        ma_event_clear(&step.event);

        expect_step(input, MA_INPUT_SKIP, 23, &step);
        assert_non_null(strstr(step.reason, "\"start\""));
        expect_step(input, MA_INPUT_EVENT, 28, &step);
        assert_string_equal(step.event.kundhandelse_id, "N1-3");
        assert_string_equal(step.event.kundhandelse_typ,
                            "POL.TRAFIKBOT.BETALNING_MOTTAGEN");
        assert_int_equal(step.event.tidpunkt.offset_min, 120);
        ma_event_clear(&step.event);
        expect_step(input, MA_INPUT_SKIP, 33, &step);
        assert_string_equal(step.reason, "unmapped activity \"Send Fine\"");

        expect_step(input, MA_INPUT_REJECT, 40, &step);
        assert_string_equal(step.err.field, "case:concept:name");
        expect_step(input, MA_INPUT_REJECT, 45, &step);
        assert_non_null(strstr(step.err.message, "outside a <trace>"));
        expect_step(input, MA_INPUT_REJECT, 51, &step);
        assert_string_equal(step.err.field, "time:timestamp");
        expect_step(input, MA_INPUT_REJECT, 55, &step);
        assert_string_equal(step.err.field, "time:timestamp");
        assert_non_null(strstr(step.err.message, "missing"));
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        assert_int_equal(ma_alloc_live(), live);
}

static void test_xes_entities_rejected(void **state)
{
        ma_input_t *input;
        ma_error_t err;
        step_t step;
        /* Expanded, &g; would be 16^6 * 64 bytes; it must fail at once. */
        assert_int_equal(open_log(DIR "entities.xes", true, DIR "basic.json",
                                  &input, &err),
                         MA_OK);
        clock_t start = clock();
        step_next(input, &step);
        assert_int_equal(step.outcome, MA_INPUT_FAIL);
        assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 1.0);
        ma_input_close(input);

        /* A harmless DTD is rejected as well, before any event is read. */
        assert_int_equal(open_log(DIR "doctype.xes", true, DIR "basic.json",
                                  &input, &err),
                         MA_OK);
        step_next(input, &step);
        assert_int_equal(step.outcome, MA_INPUT_FAIL);
        assert_non_null(strstr(step.err.message, "DOCTYPE"));
        assert_true(step.loc.line > 0);
        ma_input_close(input);
}

static void test_xes_malformed(void **state)
{
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(DIR "malformed.xes", true, DIR "basic.json",
                                  &input, &err),
                         MA_OK);
        /* libxml2 reads ahead, so the error may come before the first event. */
        step_t step;
        do {
                step_next(input, &step);
                ma_event_clear(&step.event);
        } while (step.outcome == MA_INPUT_EVENT);
        assert_int_equal(step.outcome, MA_INPUT_FAIL);
        assert_non_null(strstr(step.err.message, "malformed.xes"));
        assert_non_null(strstr(step.err.message, "line 11"));
        ma_input_close(input);

        assert_int_equal(open_log(DIR "not-xes.xml", true, DIR "basic.json",
                                  &input, &err),
                         MA_OK);
        step_next(input, &step);
        assert_int_equal(step.outcome, MA_INPUT_FAIL);
        assert_non_null(strstr(step.err.message, "<events>"));
        ma_input_close(input);

        input = NULL;
        assert_int_equal(open_log(DIR "no-such.xes", true, DIR "basic.json",
                                  &input, &err),
                         MA_ERR_NOT_FOUND);
        assert_null(input);
}

/* libxml2 stores node lines in 16 bits; lines past 65535 must stay exact. */
static void test_xes_line_past_65535(void **state)
{
        char path[] = "/tmp/ma-test-process-log-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *file = fdopen(fd, "w");
        assert_non_null(file);
        fputs("<log>\n<trace>\n<string key=\"concept:name\" value=\"N1\"/>\n",
              file);
        for (int i = 0; i < 70000; i++)
                fputs("<string key=\"padding\" value=\"x\"/>\n", file);
        fputs("<event>\n<string key=\"concept:name\" value=\"Create "
              "Fine\"/>\n</event>\n</trace>\n</log>\n",
              file);
        fclose(file);
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(path, true, DIR "basic.json", &input, &err),
                         MA_OK);
        step_t step;
        expect_step(input, MA_INPUT_REJECT, 3 + 70000 + 1, &step);
        assert_string_equal(step.err.field, "time:timestamp");
        expect_step(input, MA_INPUT_END, 0, &step);
        ma_input_close(input);
        unlink(path);
}

/* Counts of one pass over a log. */
typedef struct tally {
        long read;
        long events;
        long skipped;
        long rejected;
        long failed;
        long invalid;
        long duplicate_ids;
} tally_t;

static int compare_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole log, validating every event against the catalog. */
static void tally_log(ma_input_t *input, tally_t *tally, long *by_type,
                      const char *const *types, size_t type_count)
{
        ma_catalog_t *catalog;
        ma_error_t err;
        assert_int_equal(ma_catalog_load(CATALOG, &catalog, &err), MA_OK);
        ma_validate_limits_t limits;
        ma_validate_limits_default(&limits);
        size_t id_cap = 1024;
        char **ids = malloc(id_cap * sizeof(*ids));
        assert_non_null(ids);
        memset(tally, 0, sizeof(*tally));
        for (;;) {
                step_t step;
                step_next(input, &step);
                if (step.outcome == MA_INPUT_END)
                        break;
                if (step.outcome == MA_INPUT_FAIL) {
                        tally->failed++;
                        print_error("failed: %s\n", step.err.message);
                        break;
                }
                tally->read++;
                if (step.outcome == MA_INPUT_SKIP)
                        tally->skipped++;
                if (step.outcome == MA_INPUT_REJECT) {
                        tally->rejected++;
                        print_error("rejected line %ld: %s\n", step.loc.line,
                                    step.err.message);
                }
                if (step.outcome != MA_INPUT_EVENT)
                        continue;
                tally->events++;
                if (ma_event_validate(&step.event, catalog, &limits,
                                      ma_now_ms(), &err) != MA_OK) {
                        tally->invalid++;
                        print_error("invalid event line %ld: %s\n",
                                    step.loc.line, err.message);
                }
                for (size_t t = 0; t < type_count; t++)
                        if (strcmp(step.event.kundhandelse_typ, types[t]) == 0)
                                by_type[t]++;
                if ((size_t)tally->events > id_cap) {
                        id_cap *= 2;
                        ids = realloc(ids, id_cap * sizeof(*ids));
                        assert_non_null(ids);
                }
                ids[tally->events - 1] = strdup(step.event.kundhandelse_id);
                ma_event_clear(&step.event);
        }
        qsort(ids, (size_t)tally->events, sizeof(*ids), compare_strings);
        for (long i = 1; i < tally->events; i++)
                tally->duplicate_ids += strcmp(ids[i - 1], ids[i]) == 0;
        for (long i = 0; i < tally->events; i++)
                free(ids[i]);
        free(ids);
        ma_catalog_free(catalog);
}

/* Data lines of a CSV without line breaks inside fields, and how many
 * contain each needle. */
static long count_csv_rows(const char *path, const char *const *needles,
                           long *hits, size_t needle_count)
{
        FILE *file = fopen(path, "r");
        assert_non_null(file);
        char line[8192];
        long rows = -1; /* the header */
        while (fgets(line, sizeof(line), file) != NULL) {
                rows++;
                for (size_t i = 0; rows > 0 && i < needle_count; i++)
                        hits[i] += strstr(line, needles[i]) != NULL;
        }
        fclose(file);
        return rows;
}

static void test_xes_fixture_counts(void **state)
{
        ma_input_t *input;
        ma_error_t err;
        assert_int_equal(open_log(FIXTURES "wabo-receipt-25.xes", true,
                                  MAPPINGS "wabo-receipt.json", &input, &err),
                         MA_OK);
        tally_t tally;
        tally_log(input, &tally, NULL, NULL, 0);
        ma_input_close(input);
        assert_int_equal(tally.failed, 0);
        assert_int_equal(tally.rejected, 0);
        assert_int_equal(tally.invalid, 0);
        assert_int_equal(tally.duplicate_ids, 0);
        assert_true(tally.events > 0);
        assert_true(tally.skipped > 0);
        assert_int_equal(tally.read,
                         tally.events + tally.skipped + tally.rejected);
}

/* The XES fixture gives the same events as the CSV it was made from. */
static void test_xes_fixture_matches_csv(void **state)
{
        const char *csv_path = REAL "wabo-receipt.csv";
        if (!file_exists(csv_path)) {
                print_message("skipped: %s is absent; the real logs live in "
                              "shared/data beside the repository\n",
                              csv_path);
                skip();
        }
        ma_input_t *xes;
        ma_input_t *csv;
        ma_error_t err;
        assert_int_equal(open_log(FIXTURES "wabo-receipt-25.xes", true,
                                  MAPPINGS "wabo-receipt.json", &xes, &err),
                         MA_OK);
        assert_int_equal(open_log(csv_path, false, MAPPINGS "wabo-receipt.json",
                                  &csv, &err),
                         MA_OK);
        long compared = 0;
        for (;;) {
                step_t a, b;
                do
                        step_next(xes, &a);
                while (a.outcome == MA_INPUT_SKIP);
                if (a.outcome == MA_INPUT_END)
                        break;
                do
                        step_next(csv, &b);
                while (b.outcome == MA_INPUT_SKIP);
                assert_int_equal(a.outcome, MA_INPUT_EVENT);
                assert_int_equal(b.outcome, MA_INPUT_EVENT);
                ma_event_t *x = &a.event;
                ma_event_t *y = &b.event;
                assert_string_equal(x->kundhandelse_id, y->kundhandelse_id);
                assert_string_equal(x->part.kund_identifierare,
                                    y->part.kund_identifierare);
                assert_string_equal(x->part.arende_identifierare,
                                    y->part.arende_identifierare);
                assert_string_equal(x->rubrik, y->rubrik);
                assert_string_equal(x->beskrivning, y->beskrivning);
                assert_string_equal(x->kundhandelse_typ, y->kundhandelse_typ);
                assert_int_equal(x->tidpunkt.utc_ms, y->tidpunkt.utc_ms);
                assert_int_equal(x->tidpunkt.offset_min,
                                 y->tidpunkt.offset_min);
                assert_int_equal(x->sekvens, y->sekvens);
                assert_int_equal(x->atgard_senast, y->atgard_senast);
                assert_string_equal(
                        x->utokad_information != NULL ? x->utokad_information
                                                      : "",
                        y->utokad_information != NULL ? y->utokad_information
                                                      : "");
                ma_event_clear(x);
                ma_event_clear(y);
                compared++;
        }
        assert_true(compared > 0);
        ma_input_close(xes);
        ma_input_close(csv);
}

/* ---- the real logs ------------------------------------------------------- */

static void check_real_log(const char *csv_path, const char *mapping,
                           const char *const *activities,
                           const char *const *types, size_t count)
{
        if (!file_exists(csv_path)) {
                print_message("skipped: %s is absent; the real logs live in "
                              "shared/data beside the repository\n",
                              csv_path);
                skip();
        }
        long live = ma_alloc_live();
        long expected[8] = {0};
        long rows = count_csv_rows(csv_path, activities, expected, count);
        ma_input_t *input;
        ma_error_t err;
        ma_status_t st = open_log(csv_path, false, mapping, &input, &err);
        if (st != MA_OK)
                fail_msg("%s", err.message);
        long by_type[8] = {0};
        tally_t tally;
        tally_log(input, &tally, by_type, types, count);
        ma_input_close(input);
        assert_int_equal(ma_alloc_live(), live);

        assert_int_equal(tally.failed, 0);
        assert_int_equal(tally.read, rows);
        assert_int_equal(tally.read,
                         tally.events + tally.skipped + tally.rejected);
        assert_int_equal(tally.rejected, 0);
        assert_int_equal(tally.invalid, 0);
        assert_int_equal(tally.duplicate_ids, 0);
        for (size_t i = 0; i < count; i++)
                if (by_type[i] != expected[i])
                        fail_msg("%s: %ld events, but %ld rows have %s",
                                 types[i], by_type[i], expected[i],
                                 activities[i]);
        print_message("%s: read %ld, events %ld, skipped %ld, rejected %ld\n",
                      csv_path, tally.read, tally.events, tally.skipped,
                      tally.rejected);
}

static void test_real_wabo_log(void **state)
{
        /* Each mapped activity has its own event type in this mapping. */
        static const char *const activities[] = {
                ",T05 Print and send confirmation of receipt,",
                ",T10 Determine necessity to stop indication,",
                ",T15 Print document X request unlicensed,",
        };
        static const char *const types[] = {
                "EXK.BYGGLOV.ANSOKAN_MOTTAGEN",
                "EXK.BYGGLOV.HANDLAGGNING_PABORJAD",
                "EXK.BYGGLOV.KOMPLETTERING_BEGARD",
        };
        check_real_log(REAL "wabo-receipt.csv", MAPPINGS "wabo-receipt.json",
                       activities, types, 3);
}

static void test_real_fines_log(void **state)
{
        static const char *const activities[] = {
                ",Create Fine,",
                ",Send Fine,",
                ",Add penalty,",
                ",Payment,",
                ",Notify Result Appeal to Offender,",
        };
        static const char *const types[] = {
                "POL.TRAFIKBOT.BOT_UTFARDAD",
                "POL.TRAFIKBOT.BOT_SKICKAD",
                "POL.TRAFIKBOT.PAMINNELSE",
                "POL.TRAFIKBOT.BETALNING_MOTTAGEN",
                "POL.TRAFIKBOT.OVERKLAGANDE_AVGJORT",
        };
        check_real_log(REAL "road-traffic-fines-100.csv",
                       MAPPINGS "road-traffic-fines.json", activities, types,
                       5);
}

/* ---- allocation failures ------------------------------------------------- */

/* Reads a whole log with the nth allocation failing; true if it ran clean. */
static bool read_with_failure(const char *path, bool xes, long nth)
{
        ma_alloc_fail_after(nth, 0);
        ma_input_t *input = NULL;
        ma_error_t err;
        ma_status_t st = open_log(path, xes, DIR "basic.json", &input, &err);
        bool clean = st == MA_OK;
        if (st != MA_OK && st != MA_ERR_NOMEM)
                fail_msg("allocation %ld: open returned %s: %s", nth,
                         ma_status_name(st), err.message);
        while (input != NULL) {
                step_t step;
                step_next(input, &step);
                ma_event_clear(&step.event);
                if (step.outcome == MA_INPUT_FAIL) {
                        if (step.err.status != MA_ERR_NOMEM)
                                fail_msg("allocation %ld: %s", nth,
                                         step.err.message);
                        clean = false;
                        break;
                }
                if (step.outcome == MA_INPUT_END)
                        break;
        }
        ma_input_close(input);
        ma_alloc_fail_after(0, 0);
        return clean;
}

static void test_allocation_failures(void **state)
{
        static const char *const paths[] = {DIR "bad-rows.csv",
                                            DIR "fines.xes"};
        for (size_t p = 0; p < 2; p++) {
                long live = ma_alloc_live();
                long nth = 1;
                /* Once the nth allocation is beyond the run, it ends clean. */
                while (!read_with_failure(paths[p], p == 1, nth)) {
                        assert_int_equal(ma_alloc_live(), live);
                        nth++;
                        assert_true(nth < 100000);
                }
                assert_int_equal(ma_alloc_live(), live);
                print_message("%s: failed each of %ld allocations\n", paths[p],
                              nth - 1);
        }
}

/* ---- JSON Lines fixtures ------------------------------------------------- */

static void check_hiring_fixture(const char *path, const char *prefix,
                                 long expected_events)
{
        ma_catalog_t *catalog;
        ma_error_t err;
        assert_int_equal(ma_catalog_load(CATALOG, &catalog, &err), MA_OK);
        const ma_producer_t *producer = ma_catalog_find_prefix(catalog, prefix);
        assert_non_null(producer);
        ma_input_defaults_t defaults = {
                .producent = producer->name,
                .producent_organisationsnummer = producer->organisationsnummer,
                .sprak = "sv",
                .version = "6.1",
        };
        ma_input_t *input;
        assert_int_equal(ma_input_jsonl_open(path, &defaults, &input, &err),
                         MA_OK);
        ma_validate_limits_t limits;
        ma_validate_limits_default(&limits);
        /* 2026-12-01: after every tidpunkt in the fixtures. */
        int64_t now = ma_days_from_civil(2026, 12, 1) * 86400000;
        long events = 0;
        for (;;) {
                step_t step;
                step_next(input, &step);
                if (step.outcome == MA_INPUT_END)
                        break;
                if (step.outcome != MA_INPUT_EVENT)
                        fail_msg("%s:%ld: %s", path, step.loc.line,
                                 step.err.message);
                if (ma_event_validate(&step.event, catalog, &limits, now,
                                      &err) != MA_OK)
                        fail_msg("%s:%ld: %s", path, step.loc.line,
                                 err.message);
                assert_int_equal(step.event.part.kund_typ,
                                 MA_KUND_ORGANISATIONSNUMMER);
                events++;
                ma_event_clear(&step.event);
        }
        assert_int_equal(events, expected_events);
        ma_input_close(input);
        ma_catalog_free(catalog);
}

static void test_hiring_fixtures(void **state)
{
        check_hiring_fixture(FIXTURES "hiring-skv.jsonl", "SKV", 2);
        check_hiring_fixture(FIXTURES "hiring-af.jsonl", "AF", 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csv_quoted_fields),
                cmocka_unit_test(test_csv_crlf_and_bom),
                cmocka_unit_test(test_csv_bad_rows),
                cmocka_unit_test(test_csv_malformed_quote_continues),
                cmocka_unit_test(test_csv_invalid_utf8_rejected),
                cmocka_unit_test(test_csv_open_errors),
                cmocka_unit_test(test_xes_fines),
                cmocka_unit_test(test_xes_entities_rejected),
                cmocka_unit_test(test_xes_malformed),
                cmocka_unit_test(test_xes_line_past_65535),
                cmocka_unit_test(test_xes_fixture_counts),
                cmocka_unit_test(test_xes_fixture_matches_csv),
                cmocka_unit_test(test_real_wabo_log),
                cmocka_unit_test(test_real_fines_log),
                cmocka_unit_test(test_allocation_failures),
                cmocka_unit_test(test_hiring_fixtures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
