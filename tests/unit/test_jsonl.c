/*
 * test_jsonl.c - the JSON Lines shape: ma_input_json_event() and the
 * adapter that reads lines from a file.
 *
 * The identity numbers are generated test numbers (dates in the 1940s to
 * 1980s with a computed Luhn digit), not numbers of real people.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/event.h"
#include "ma/input.h"

#define PNR   "194203129871"
#define ORGNR "2120000134"

static const ma_input_defaults_t defaults = {
        .producent = "Testverket",
        .producent_organisationsnummer = ORGNR,
        .sprak = "sv",
        .version = "6.1",
};

/* UTC milliseconds of a civil UTC time, computed with libc's timegm. */
static int64_t utc_ms(int year, int month, int day, int hour, int minute,
                      int second)
{
        struct tm tm = {
                .tm_year = year - 1900,
                .tm_mon = month - 1,
                .tm_mday = day,
                .tm_hour = hour,
                .tm_min = minute,
                .tm_sec = second,
        };
        return (int64_t)timegm(&tm) * 1000;
}

static ma_status_t parse(const char *json, ma_event_t *event, ma_error_t *err)
{
        ma_event_init(event);
        ma_error_clear(err);
        return ma_input_json_event(json, strlen(json), &defaults, event, err);
}

/* ------------------------------------------------------------------------
 * Valid records
 */

static void test_json_event_full(void **state)
{
        const char *json =
                "{\"kundhandelseId\": \"ANS-1\","
                " \"part\": {\"kund\": {\"identifierare\": \"" PNR "\","
                " \"typ\": \"Personnummer\", \"tillagg\": \"Firma 2\"},"
                " \"arende\": {\"identifierare\": \"D-2026-17\","
                " \"typ\": \"Diarienummer\"}},"
                " \"rubrik\": \"Ansökan mottagen\","
                " \"beskrivning\": \"Vi har tagit emot din ansökan.\","
                " \"tidpunkt\": \"2026-03-02T09:15:00+01:00\","
                " \"kundhandelseTyp\": \"TST.BYGGLOV.ANSOKAN_MOTTAGEN\","
                " \"producentarendetKraverKundatgard\": true,"
                " \"producentarendetKlart\": false,"
                " \"sprak\": \"en\", \"version\": \"6.1\","
                " \"producent\": \"Annat namn\","
                " \"taggar\": [\"bygglov\", \"ansokan\"],"
                " \"referenser\": {\"minaSidor\": \"https://example.org/a\"},"
                " \"utokadInformation\": {\"belopp\": 1200, \"valuta\": "
                "\"SEK\"},"
                " \"sekvens\": 42,"
                " \"giltigTill\": \"2027-03-01\","
                " \"atgardSenast\": \"2026-04-01\","
                " \"kundhandelsereferens\": \"DP-99\"}";
        ma_event_t event;
        ma_error_t err;
        long live = ma_alloc_live();

        (void)state;
        assert_int_equal(parse(json, &event, &err), MA_OK);
        assert_int_equal(event.kind, MA_EVENT_PUBLISH);
        assert_string_equal(event.kundhandelse_id, "ANS-1");
        assert_true(event.part.has_kund);
        assert_string_equal(event.part.kund_identifierare, PNR);
        assert_int_equal(event.part.kund_typ, MA_KUND_PERSONNUMMER);
        assert_string_equal(event.part.kund_tillagg, "Firma 2");
        assert_true(event.part.has_arende);
        assert_string_equal(event.part.arende_identifierare, "D-2026-17");
        assert_int_equal(event.part.arende_typ, MA_ARENDE_DIARIENUMMER);
        assert_string_equal(event.rubrik, "Ansökan mottagen");
        assert_string_equal(event.beskrivning,
                            "Vi har tagit emot din ansökan.");
        assert_int_equal(event.tidpunkt.utc_ms, utc_ms(2026, 3, 2, 8, 15, 0));
        assert_int_equal(event.tidpunkt.offset_min, 60);
        assert_string_equal(event.kundhandelse_typ,
                            "TST.BYGGLOV.ANSOKAN_MOTTAGEN");
        assert_true(event.producentarendet_kraver_kundatgard);
        assert_false(event.producentarendet_klart);
        assert_string_equal(event.sprak, "en");
        assert_string_equal(event.producent, "Annat namn");
        assert_string_equal(event.producent_organisationsnummer, ORGNR);
        assert_int_equal(event.taggar_count, 2);
        assert_string_equal(event.taggar[0], "bygglov");
        assert_string_equal(event.taggar[1], "ansokan");
        assert_string_equal(event.referenser,
                            "{\"minaSidor\":\"https://example.org/a\"}");
        assert_string_equal(event.utokad_information,
                            "{\"belopp\":1200,\"valuta\":\"SEK\"}");
        assert_int_equal(event.sekvens, 42);
        assert_int_equal(event.giltig_till,
                         utc_ms(2027, 3, 1, 0, 0, 0) / 86400000);
        assert_int_equal(event.atgard_senast,
                         utc_ms(2026, 4, 1, 0, 0, 0) / 86400000);
        assert_string_equal(event.kundhandelsereferens, "DP-99");
        ma_event_clear(&event);
        assert_int_equal(ma_alloc_live(), live);
}

static void test_json_event_defaults(void **state)
{
        const char *json =
                "{\"kundhandelseId\": \"A\","
                " \"part\": {\"arende\": {\"identifierare\": \"K-1\","
                " \"typ\": \"Kvittensnummer\"}},"
                " \"rubrik\": \"R\", \"beskrivning\": \"B\","
                " \"tidpunkt\": \"2026-01-15T12:00:00.250Z\","
                " \"kundhandelseTyp\": \"TST.X.Y\","
                " \"producentarendetKraverKundatgard\": false,"
                " \"producentarendetKlart\": true}";
        ma_event_t event;
        ma_error_t err;

        (void)state;
        assert_int_equal(parse(json, &event, &err), MA_OK);
        assert_false(event.part.has_kund);
        assert_int_equal(event.part.arende_typ, MA_ARENDE_KVITTENSNUMMER);
        assert_string_equal(event.producent, "Testverket");
        assert_string_equal(event.producent_organisationsnummer, ORGNR);
        assert_string_equal(event.sprak, "sv");
        assert_string_equal(event.version, "6.1");
        assert_null(event.taggar);
        assert_null(event.referenser);
        assert_int_equal(event.giltig_till, MA_DATE_NONE);
        /* sekvens defaults to tidpunkt in milliseconds. */
        assert_int_equal(event.tidpunkt.utc_ms,
                         utc_ms(2026, 1, 15, 12, 0, 0) + 250);
        assert_int_equal(event.sekvens, event.tidpunkt.utc_ms);
        ma_event_clear(&event);
}

static const char *event_at(const char *tidpunkt, char *buf, size_t size)
{
        snprintf(buf, size,
                 "{\"kundhandelseId\": \"A\","
                 " \"part\": {\"kund\": {\"identifierare\": \"" PNR "\","
                 " \"typ\": \"Personnummer\"}},"
                 " \"rubrik\": \"R\", \"beskrivning\": \"B\","
                 " \"tidpunkt\": \"%s\", \"kundhandelseTyp\": \"TST.X.Y\","
                 " \"producentarendetKraverKundatgard\": false,"
                 " \"producentarendetKlart\": false}",
                 tidpunkt);
        return buf;
}

static void test_json_local_time_winter_summer(void **state)
{
        char json[1024];
        ma_event_t event;
        ma_error_t err;

        (void)state;
        assert_int_equal(
                parse(event_at("2026-01-10 08:00:00", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_int_equal(event.tidpunkt.utc_ms, utc_ms(2026, 1, 10, 7, 0, 0));
        assert_int_equal(event.tidpunkt.offset_min, 60);
        ma_event_clear(&event);

        assert_int_equal(
                parse(event_at("2026-07-01 12:00:00", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_int_equal(event.tidpunkt.utc_ms, utc_ms(2026, 7, 1, 10, 0, 0));
        assert_int_equal(event.tidpunkt.offset_min, 120);
        ma_event_clear(&event);

        /* Just before the spring change the offset is still +01:00. */
        assert_int_equal(
                parse(event_at("2026-03-29 01:59:59", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_int_equal(event.tidpunkt.offset_min, 60);
        ma_event_clear(&event);
}

static void test_json_local_time_dst_gap(void **state)
{
        char json[1024];
        ma_event_t event;
        ma_error_t err;

        (void)state;
        /* 02:30 does not exist on 2026-03-29 in Sweden. */
        assert_int_not_equal(
                parse(event_at("2026-03-29 02:30:00", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_string_equal(err.field, "tidpunkt");
        assert_non_null(strstr(err.message, "tidpunkt"));
        assert_non_null(strstr(err.message, "2026-03-29 02:30:00"));
        assert_null(event.kundhandelse_id);
}

static void test_json_local_time_dst_ambiguous(void **state)
{
        char json[1024];
        ma_event_t event;
        ma_error_t err;

        (void)state;
        /* 02:30 happens twice on 2026-10-25; an offset is needed. */
        assert_int_not_equal(
                parse(event_at("2026-10-25 02:30:00", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_string_equal(err.field, "tidpunkt");
        assert_non_null(strstr(err.message, "2026-10-25 02:30:00"));

        /* With an offset the same wall time is accepted. */
        assert_int_equal(
                parse(event_at("2026-10-25T02:30:00+01:00", json, sizeof(json)),
                      &event, &err),
                MA_OK);
        assert_int_equal(event.tidpunkt.utc_ms, utc_ms(2026, 10, 25, 1, 30, 0));
        ma_event_clear(&event);
}

static void test_json_retraction(void **state)
{
        const char *json =
                "{\"aterkalla\": true, \"kundhandelseId\": \"ANS-1\","
                " \"part\": {\"kund\": {\"identifierare\": \"" PNR "\","
                " \"typ\": \"Personnummer\"}},"
                " \"tidpunkt\": \"2026-03-03T10:00:00+01:00\","
                " \"sekvens\": 43, \"orsak\": \"Fel mottagare\"}";
        ma_event_t event;
        ma_error_t err;

        (void)state;
        assert_int_equal(parse(json, &event, &err), MA_OK);
        assert_int_equal(event.kind, MA_EVENT_RETRACT);
        assert_string_equal(event.kundhandelse_id, "ANS-1");
        assert_string_equal(event.orsak, "Fel mottagare");
        assert_int_equal(event.sekvens, 43);
        assert_int_equal(event.tidpunkt.utc_ms, utc_ms(2026, 3, 3, 9, 0, 0));
        assert_int_equal(event.tidpunkt.offset_min, 0);
        assert_string_equal(event.producent_organisationsnummer, ORGNR);
        assert_null(event.rubrik);
        ma_event_clear(&event);
}

static void test_json_retraction_defaults(void **state)
{
        const char *json = "{\"aterkalla\": true, \"kundhandelseId\": \"B\","
                           " \"part\": {\"arende\": {\"identifierare\": "
                           "\"X\", \"typ\": \"Konsumentreferens\"}}}";
        ma_event_t event;
        ma_error_t err;
        int64_t before = ma_now_ms();

        (void)state;
        assert_int_equal(parse(json, &event, &err), MA_OK);
        assert_true(event.tidpunkt.utc_ms >= before);
        assert_true(event.tidpunkt.utc_ms <= ma_now_ms());
        assert_int_equal(event.sekvens, event.tidpunkt.utc_ms);
        ma_event_clear(&event);
}

/* ------------------------------------------------------------------------
 * Invalid records: one table row per kind of mistake
 */

#define BASE_PART                                                              \
        "\"part\": {\"kund\": {\"identifierare\": \"" PNR "\","                \
        " \"typ\": \"Personnummer\"}}"
#define BASE_REST                                                              \
        "\"rubrik\": \"R\", \"beskrivning\": \"B\","                           \
        " \"tidpunkt\": \"2026-01-15T12:00:00Z\","                             \
        " \"kundhandelseTyp\": \"TST.X.Y\","                                   \
        " \"producentarendetKraverKundatgard\": false,"                        \
        " \"producentarendetKlart\": false"

typedef struct invalid_case {
        const char *name;
        const char *json;
        const char *field;   /* expected err.field */
        const char *mention; /* text the message must contain */
} invalid_case_t;

static const invalid_case_t invalid_cases[] = {
        {"not JSON", "{\"kundhandelseId\": ", "", "invalid JSON"},
        {"array", "[1, 2]", "record", "JSON object"},
        {"unknown field",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"rubrk\": \"x\"}",
         "rubrk", "unknown field \"rubrk\""},
        {"unknown kund field",
         "{\"kundhandelseId\": \"A\", \"part\": {\"kund\": "
         "{\"identifierare\": \"" PNR "\", \"typ\": \"Personnummer\", "
         "\"namn\": \"x\"}}, " BASE_REST "}",
         "part.kund.namn", "unknown field \"part.kund.namn\""},
        {"missing rubrik",
         "{\"kundhandelseId\": \"A\", " BASE_PART
         ", \"beskrivning\": \"B\", \"tidpunkt\": \"2026-01-15T12:00:00Z\","
         " \"kundhandelseTyp\": \"TST.X.Y\","
         " \"producentarendetKraverKundatgard\": false,"
         " \"producentarendetKlart\": false}",
         "rubrik", "missing required field rubrik"},
        {"duplicate key",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"rubrik\": 5}",
         NULL, NULL /* test_json_duplicate_key checks the message */},
        {"boolean as string",
         "{\"kundhandelseId\": \"A\", " BASE_PART
         ", \"rubrik\": \"R\", \"beskrivning\": \"B\","
         " \"tidpunkt\": \"2026-01-15T12:00:00Z\","
         " \"kundhandelseTyp\": \"TST.X.Y\","
         " \"producentarendetKraverKundatgard\": \"ja\","
         " \"producentarendetKlart\": false}",
         "producentarendetKraverKundatgard", "true or false"},
        {"kund typ",
         "{\"kundhandelseId\": \"A\", \"part\": {\"kund\": "
         "{\"identifierare\": \"" PNR
         "\", \"typ\": \"personnummer\"}}, " BASE_REST "}",
         "part.kund.typ", "Samordningsnummer"},
        {"arende typ",
         "{\"kundhandelseId\": \"A\", \"part\": {\"arende\": "
         "{\"identifierare\": \"X\", \"typ\": \"Dnr\"}}, " BASE_REST "}",
         "part.arende.typ", "Diarienummer"},
        {"part empty",
         "{\"kundhandelseId\": \"A\", \"part\": {}, " BASE_REST "}", "part",
         "kund, arende or both"},
        {"part string",
         "{\"kundhandelseId\": \"A\", \"part\": \"x\", " BASE_REST "}", "part",
         "an object"},
        {"taggar string",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"taggar\": \"a,b\"}",
         "taggar", "array of strings"},
        {"taggar item",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"taggar\": [\"a\", 7]}",
         "taggar[1]", "a string"},
        {"referenser array",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"referenser\": [\"x\"]}",
         "referenser", "JSON object"},
        {"utokadInformation text",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"utokadInformation\": \"{}\"}",
         "utokadInformation", "JSON object"},
        {"giltigTill format",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"giltigTill\": \"2026-02-30\"}",
         "giltigTill", "giltigTill"},
        {"atgardSenast number",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"atgardSenast\": 20260101}",
         "atgardSenast", "YYYY-MM-DD"},
        {"sekvens string",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"sekvens\": \"5\"}",
         "sekvens", "integer"},
        {"sekvens real",
         "{\"kundhandelseId\": \"A\", " BASE_PART ", " BASE_REST
         ", \"sekvens\": 5.5}",
         "sekvens", "integer"},
        {"tidpunkt format",
         "{\"kundhandelseId\": \"A\", " BASE_PART
         ", \"rubrik\": \"R\", \"beskrivning\": \"B\","
         " \"tidpunkt\": \"15/1/2026\", \"kundhandelseTyp\": \"TST.X.Y\","
         " \"producentarendetKraverKundatgard\": false,"
         " \"producentarendetKlart\": false}",
         "tidpunkt", "15/1/2026"},
        {"retraction false",
         "{\"aterkalla\": false, \"kundhandelseId\": \"A\", " BASE_PART "}",
         "aterkalla", "true"},
        {"retraction with rubrik",
         "{\"aterkalla\": true, \"kundhandelseId\": \"A\", " BASE_PART
         ", \"rubrik\": \"R\"}",
         "rubrik", "unknown field \"rubrik\""},
        {"retraction without part",
         "{\"aterkalla\": true, \"kundhandelseId\": \"A\"}", "part",
         "missing required field part"},
        {"rubrik number",
         "{\"kundhandelseId\": \"A\", " BASE_PART
         ", \"rubrik\": 5, \"beskrivning\": \"B\","
         " \"tidpunkt\": \"2026-01-15T12:00:00Z\","
         " \"kundhandelseTyp\": \"TST.X.Y\","
         " \"producentarendetKraverKundatgard\": false,"
         " \"producentarendetKlart\": false}",
         "rubrik", "invalid rubrik 5: got an integer, expected a string"},
        {"kundhandelseId number",
         "{\"kundhandelseId\": 17, " BASE_PART ", " BASE_REST "}",
         "kundhandelseId", "a string"},
};

static void test_json_invalid_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
             i++) {
                const invalid_case_t *c = &invalid_cases[i];
                ma_event_t event;
                ma_error_t err;
                long live = ma_alloc_live();

                print_message("case: %s\n", c->name);
                assert_int_not_equal(parse(c->json, &event, &err), MA_OK);
                /* A failed parse leaves nothing allocated in event. */
                assert_null(event.kundhandelse_id);
                assert_int_equal(ma_alloc_live(), live);
                if (c->field == NULL)
                        continue;
                assert_string_equal(err.field, c->field);
                if (strstr(err.message, c->mention) == NULL)
                        fail_msg("case %s: message \"%s\" lacks \"%s\"",
                                 c->name, err.message, c->mention);
        }
}

static void test_json_duplicate_key(void **state)
{
        ma_event_t event;
        ma_error_t err;

        (void)state;
        /* Row "duplicate key" repeats rubrik; the loader rejects that. */
        assert_int_not_equal(parse(invalid_cases[5].json, &event, &err), MA_OK);
        assert_int_equal(err.status, MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "duplicate"));
}

static void test_json_hides_identity_numbers(void **state)
{
        ma_event_t event;
        ma_error_t err;

        (void)state;
        /* Identity number as a JSON number: a type error without value. */
        assert_int_not_equal(
                parse("{\"kundhandelseId\": \"A\", \"part\": {\"kund\": "
                      "{\"identifierare\": " PNR ", \"typ\": "
                      "\"Personnummer\"}}, " BASE_REST "}",
                      &event, &err),
                MA_OK);
        assert_string_equal(err.field, "part.kund.identifierare");
        assert_null(strstr(err.message, PNR));
        assert_null(strstr(err.message, "4203129871"));

        /* In another field, the digits are masked. */
        assert_int_not_equal(parse("{\"kundhandelseId\": \"A\", " BASE_PART
                                   ", " BASE_REST
                                   ", \"sekvens\": \"19420312-9871\"}",
                                   &event, &err),
                             MA_OK);
        assert_string_equal(err.field, "sekvens");
        assert_null(strstr(err.message, "9871"));
        assert_non_null(strstr(err.message, "********-****"));

        /* In the JSON parser's own message too. */
        assert_int_not_equal(
                parse("{\"kundhandelseId\": " PNR "x}", &event, &err), MA_OK);
        assert_null(strstr(err.message, "4203129871"));
}

/* ------------------------------------------------------------------------
 * The adapter
 */

static char *write_temp(const char *content, size_t len)
{
        char *path = strdup("/tmp/test_jsonl_XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        close(fd);
        return path;
}

static void test_jsonl_adapter_lines(void **state)
{
        char valid[1024];
        char *content;
        size_t len = 0;
        size_t cap = 3 * 1024 * 1024;
        ma_input_t *input;
        ma_input_location_t loc;
        ma_event_t event;
        ma_error_t err;
        const char *skip_reason = NULL;
        long live = ma_alloc_live();

        (void)state;
        event_at("2026-01-15T12:00:00Z", valid, sizeof(valid));
        content = malloc(cap);
        assert_non_null(content);
        /* 1: valid, 2: invalid, 3: blank, 4: valid with CRLF, 5: too long,
         * 6: valid without final newline. */
        len += (size_t)snprintf(content + len, cap - len, "%s\n", valid);
        len += (size_t)snprintf(content + len, cap - len,
                                "{\"kundhandelseId\": 1}\n");
        len += (size_t)snprintf(content + len, cap - len, "   \n");
        len += (size_t)snprintf(content + len, cap - len, "%s\r\n", valid);
        memset(content + len, ' ', 1024 * 1024 + 10);
        len += 1024 * 1024 + 10;
        content[len++] = '\n';
        len += (size_t)snprintf(content + len, cap - len, "%s", valid);
        char *path = write_temp(content, len);
        free(content);

        assert_int_equal(ma_input_jsonl_open(path, &defaults, &input, &err),
                         MA_OK);
        ma_event_init(&event);

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_EVENT);
        assert_int_equal(loc.line, 1);
        assert_string_equal(loc.file, path);
        ma_event_clear(&event);

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_REJECT);
        assert_int_equal(loc.line, 2);

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_EVENT);
        assert_int_equal(loc.line, 4);
        assert_string_equal(event.kundhandelse_id, "A");
        ma_event_clear(&event);

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_REJECT);
        assert_int_equal(loc.line, 5);
        assert_int_equal(err.status, MA_ERR_TOO_LARGE);
        assert_non_null(strstr(err.message, "1048576"));

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_EVENT);
        assert_int_equal(loc.line, 6);
        ma_event_clear(&event);

        assert_int_equal(ma_input_next(input, &event, &loc, &skip_reason, &err),
                         MA_INPUT_END);

        uint64_t done = 0;
        uint64_t total = 0;
        input->ops->progress(input, &done, &total);
        assert_int_equal(total, len);
        assert_int_equal(done, len);

        ma_input_close(input);
        assert_int_equal(ma_alloc_live(), live);
        unlink(path);
        free(path);
}

static void test_jsonl_adapter_missing_file(void **state)
{
        ma_input_t *input = NULL;
        ma_error_t err;

        (void)state;
        assert_int_equal(ma_input_jsonl_open("/nonexistent/events.jsonl",
                                             &defaults, &input, &err),
                         MA_ERR_NOT_FOUND);
        assert_null(input);
        assert_non_null(strstr(err.message, "/nonexistent/events.jsonl"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_event_full),
                cmocka_unit_test(test_json_event_defaults),
                cmocka_unit_test(test_json_local_time_winter_summer),
                cmocka_unit_test(test_json_local_time_dst_gap),
                cmocka_unit_test(test_json_local_time_dst_ambiguous),
                cmocka_unit_test(test_json_retraction),
                cmocka_unit_test(test_json_retraction_defaults),
                cmocka_unit_test(test_json_invalid_table),
                cmocka_unit_test(test_json_duplicate_key),
                cmocka_unit_test(test_json_hides_identity_numbers),
                cmocka_unit_test(test_jsonl_adapter_lines),
                cmocka_unit_test(test_jsonl_adapter_missing_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
