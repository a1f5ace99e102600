/*
 * Unit tests of the processor's record classification: which dead-letter
 * reason each kind of bad record gets, and that valid records pass.
 * Records are encoded with the real codec from schemas/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/codec.h"
#include "processor.h"

#define TSTA_ORGNR "2120001116"
#define TSTB_ORGNR "5566778899"
/* 2026-01-01T00:00:00Z; "now" is one hour later. */
#define BASE_MS 1767225600000LL
#define NOW_MS  (BASE_MS + 3600000LL)

static const char *catalog_json =
        "{\"version\": 1, \"producers\": ["
        "{\"organisationsnummer\": \"" TSTA_ORGNR "\", \"name\": \"A\","
        " \"prefix\": \"TSTA\", \"kind\": \"municipality\","
        " \"retention_days\": 365, \"processes\": [{\"name\": \"ANSOKAN\","
        " \"description\": \"d\", \"authorisation_object_type\": \"X\","
        " \"event_types\": [{\"name\": \"TSTA.ANSOKAN.MOTTAGEN\","
        " \"description\": \"d\", \"customer_has_ball\": false,"
        " \"case_finished\": false, \"notification\": \"none\","
        " \"authorisation_object_type\": \"X\"}]}]},"
        "{\"organisationsnummer\": \"" TSTB_ORGNR "\", \"name\": \"B\","
        " \"prefix\": \"TSTB\", \"kind\": \"agency\","
        " \"retention_days\": 365, \"processes\": [{\"name\": \"TILLSTAND\","
        " \"description\": \"d\", \"authorisation_object_type\": \"Y\","
        " \"event_types\": [{\"name\": \"TSTB.TILLSTAND.MOTTAGEN\","
        " \"description\": \"d\", \"customer_has_ball\": false,"
        " \"case_finished\": false, \"notification\": \"none\","
        " \"authorisation_object_type\": \"Y\"}]}]}]}";

/* A test personnummer born 1980-01-01 with a correct Luhn digit. */
#define TEST_PNR     "198001010001"
#define TEST_PNR_BAD "198001010002"

typedef struct fixture {
        ma_codec_t *codec;
        ma_catalog_t *catalog;
        ma_validate_limits_t limits;
} fixture_t;

static int setup(void **state)
{
        fixture_t *f = ma_calloc(1, sizeof(*f));
        ma_error_t err;

        if (f == NULL ||
            ma_codec_open(MA_TEST_SCHEMA_DIR, 0, &f->codec, &err) != MA_OK ||
            ma_catalog_load_string(catalog_json, "test", &f->catalog, &err) !=
                    MA_OK) {
                fprintf(stderr, "setup failed: %s\n", err.message);
                return -1;
        }
        ma_validate_limits_default(&f->limits);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture_t *f = *state;

        ma_codec_close(f->codec);
        ma_catalog_free(f->catalog);
        ma_free(f);
        return 0;
}

static void make_publish(ma_event_t *event, const char *orgnr, const char *type,
                         const char *pnr)
{
        ma_event_init(event);
        event->kind = MA_EVENT_PUBLISH;
        event->kundhandelse_id = ma_strdup("id-1");
        event->producent_organisationsnummer = ma_strdup(orgnr);
        event->part.has_kund = true;
        event->part.kund_identifierare = ma_strdup(pnr);
        event->part.kund_typ = MA_KUND_PERSONNUMMER;
        event->tidpunkt.utc_ms = BASE_MS;
        event->tidpunkt.offset_min = 60;
        event->sekvens = 1;
        event->producent = ma_strdup("Producent");
        event->rubrik = ma_strdup("Rubrik");
        event->beskrivning = ma_strdup("Beskrivning");
        event->sprak = ma_strdup("sv");
        event->kundhandelse_typ = ma_strdup(type);
        event->version = ma_strdup("6.1");
}

/* Encodes event (and clears it) and classifies the bytes. */
static proc_reason_t classify_event(fixture_t *f, ma_event_t *event,
                                    char *detail, size_t size)
{
        ma_buf_t buf = {0};
        ma_event_t decoded;
        proc_reason_t reason = PROC_ACCEPT;
        ma_error_t err;

        assert_int_equal(ma_codec_encode(f->codec, event, &buf, &err), MA_OK);
        ma_event_clear(event);
        ma_event_init(&decoded);
        assert_int_equal(proc_classify(f->codec, f->catalog, &f->limits,
                                       buf.data, buf.len, NOW_MS, &decoded,
                                       &reason, detail, size),
                         MA_OK);
        if (reason == PROC_ACCEPT)
                assert_string_equal(decoded.kundhandelse_id, "id-1");
        ma_event_clear(&decoded);
        ma_buf_free(&buf);
        return reason;
}

static proc_reason_t classify_bytes(fixture_t *f, const void *data, size_t len,
                                    char *detail, size_t size)
{
        ma_event_t event;
        proc_reason_t reason = PROC_ACCEPT;

        ma_event_init(&event);
        assert_int_equal(proc_classify(f->codec, f->catalog, &f->limits, data,
                                       len, NOW_MS, &event, &reason, detail,
                                       size),
                         MA_OK);
        assert_null(event.kundhandelse_id);
        return reason;
}

static void test_classify_accepts_valid(void **state)
{
        ma_event_t event;
        char detail[700];

        make_publish(&event, TSTA_ORGNR, "TSTA.ANSOKAN.MOTTAGEN", TEST_PNR);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_ACCEPT);
        assert_string_equal(detail, "");
}

static void test_classify_accepts_retraction(void **state)
{
        ma_event_t event;
        char detail[700];

        ma_event_init(&event);
        event.kind = MA_EVENT_RETRACT;
        event.kundhandelse_id = ma_strdup("id-1");
        event.producent_organisationsnummer = ma_strdup(TSTB_ORGNR);
        event.part.has_arende = true;
        event.part.arende_identifierare = ma_strdup("D-1");
        event.part.arende_typ = MA_ARENDE_DIARIENUMMER;
        event.tidpunkt.utc_ms = BASE_MS;
        event.sekvens = 2;
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_ACCEPT);
}

static void test_classify_empty_is_decode(void **state)
{
        char detail[700];

        assert_int_equal(
                classify_bytes(*state, NULL, 0, detail, sizeof(detail)),
                PROC_REJECT_DECODE);
        assert_true(strlen(detail) > 0);
}

static void test_classify_garbage_is_decode(void **state)
{
        static const char garbage[] = "not avro at all";
        char detail[700];

        assert_int_equal(classify_bytes(*state, garbage, sizeof(garbage) - 1,
                                        detail, sizeof(detail)),
                         PROC_REJECT_DECODE);
}

static void test_classify_truncated_is_decode(void **state)
{
        fixture_t *f = *state;
        ma_event_t event;
        ma_buf_t buf = {0};
        ma_error_t err;
        char detail[700];

        make_publish(&event, TSTA_ORGNR, "TSTA.ANSOKAN.MOTTAGEN", TEST_PNR);
        assert_int_equal(ma_codec_encode(f->codec, &event, &buf, &err), MA_OK);
        ma_event_clear(&event);
        assert_int_equal(classify_bytes(f, buf.data, buf.len - 5, detail,
                                        sizeof(detail)),
                         PROC_REJECT_DECODE);
        ma_buf_free(&buf);
}

static void test_classify_unknown_fingerprint(void **state)
{
        static const unsigned char record[] = {0xC3, 0x01, 1, 2, 3, 4,
                                               5,    6,    7, 8, 0, 0};
        char detail[700];

        assert_int_equal(classify_bytes(*state, record, sizeof(record), detail,
                                        sizeof(detail)),
                         PROC_REJECT_FINGERPRINT);
}

static void test_classify_bad_luhn_is_validation(void **state)
{
        ma_event_t event;
        char detail[700];

        make_publish(&event, TSTA_ORGNR, "TSTA.ANSOKAN.MOTTAGEN", TEST_PNR_BAD);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_VALIDATION);
        /* The detail goes into a Kafka header and must not hold the number. */
        assert_null(strstr(detail, TEST_PNR_BAD));
        assert_null(strstr(detail, "1980010100"));
}

static void test_classify_unknown_producer(void **state)
{
        ma_event_t event;
        char detail[700];

        make_publish(&event, "5560001116", "TSTA.ANSOKAN.MOTTAGEN", TEST_PNR);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_UNKNOWN_PRODUCER);
        assert_non_null(strstr(detail, "5560001116"));
}

static void test_classify_unknown_type(void **state)
{
        ma_event_t event;
        char detail[700];

        make_publish(&event, TSTA_ORGNR, "TSTA.ANSOKAN.FINNS_INTE", TEST_PNR);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_UNKNOWN_TYPE);
}

static void test_classify_foreign_prefix(void **state)
{
        ma_event_t event;
        char detail[700];

        /* The type exists, but belongs to the other producer. */
        make_publish(&event, TSTA_ORGNR, "TSTB.TILLSTAND.MOTTAGEN", TEST_PNR);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_FOREIGN_PREFIX);
}

static void test_classify_prefix_needs_dot(void **state)
{
        ma_event_t event;
        char detail[700];

        /* "TSTAX" starts with "TSTA" but is not the TSTA prefix. */
        make_publish(&event, TSTA_ORGNR, "TSTAX.ANSOKAN.MOTTAGEN", TEST_PNR);
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_FOREIGN_PREFIX);
}

static void test_classify_future_time_is_validation(void **state)
{
        ma_event_t event;
        char detail[700];

        make_publish(&event, TSTA_ORGNR, "TSTA.ANSOKAN.MOTTAGEN", TEST_PNR);
        event.tidpunkt.utc_ms = NOW_MS + 3LL * 86400000LL;
        assert_int_equal(classify_event(*state, &event, detail, sizeof(detail)),
                         PROC_REJECT_VALIDATION);
}

static void test_reason_codes(void **state)
{
        assert_string_equal(proc_reason_code(PROC_REJECT_DECODE), "DECODE");
        assert_string_equal(proc_reason_code(PROC_REJECT_FINGERPRINT),
                            "FINGERPRINT");
        assert_string_equal(proc_reason_code(PROC_REJECT_VALIDATION),
                            "VALIDATION");
        assert_string_equal(proc_reason_code(PROC_REJECT_UNKNOWN_PRODUCER),
                            "UNKNOWN_PRODUCER");
        assert_string_equal(proc_reason_code(PROC_REJECT_UNKNOWN_TYPE),
                            "UNKNOWN_TYPE");
        assert_string_equal(proc_reason_code(PROC_REJECT_FOREIGN_PREFIX),
                            "FOREIGN_PREFIX");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify_accepts_valid),
                cmocka_unit_test(test_classify_accepts_retraction),
                cmocka_unit_test(test_classify_empty_is_decode),
                cmocka_unit_test(test_classify_garbage_is_decode),
                cmocka_unit_test(test_classify_truncated_is_decode),
                cmocka_unit_test(test_classify_unknown_fingerprint),
                cmocka_unit_test(test_classify_bad_luhn_is_validation),
                cmocka_unit_test(test_classify_unknown_producer),
                cmocka_unit_test(test_classify_unknown_type),
                cmocka_unit_test(test_classify_foreign_prefix),
                cmocka_unit_test(test_classify_prefix_needs_dot),
                cmocka_unit_test(test_classify_future_time_is_validation),
                cmocka_unit_test(test_reason_codes),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
