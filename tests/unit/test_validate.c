/*
 * Unit tests of validate.c: identity numbers, type names, UTF-8 and whole
 * events against the demo catalog.  Identity numbers are generated here
 * with their Luhn check digit; none belongs to a real person.
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
#include "ma/datetime.h"
#include "ma/validate.h"

/* Luhn check digit for the nine digits that end at the last of prefix. */
static char luhn_digit(const char *prefix)
{
        size_t len = strlen(prefix);
        const char *nine = prefix + len - 9;
        int sum = 0;
        for (int i = 0; i < 9; i++) {
                int d = (nine[i] - '0') * (i % 2 == 0 ? 2 : 1);
                sum += d > 9 ? d - 9 : d;
        }
        return (char)('0' + (10 - sum % 10) % 10);
}

/* Completes prefix (11 or 9 digits) with its check digit into out. */
static const char *with_check(const char *prefix, char *out)
{
        size_t len = strlen(prefix);
        memcpy(out, prefix, len);
        out[len] = luhn_digit(prefix);
        out[len + 1] = '\0';
        return out;
}

/* The same number with a wrong check digit. */
static const char *with_bad_check(const char *prefix, char *out)
{
        with_check(prefix, out);
        size_t len = strlen(out);
        out[len - 1] = (char)('0' + (out[len - 1] - '0' + 1) % 10);
        return out;
}

static void assert_no_identity(const ma_error_t *err, const char *id)
{
        if (strlen(id) < 8)
                return;
        if (strstr(err->message, id) != NULL)
                fail_msg("message shows the identity number: %s", err->message);
        /* Not even the date part. */
        char head[9];
        memcpy(head, id, 8);
        head[8] = '\0';
        if (strlen(id) == 12 && strstr(err->message, head) != NULL)
                fail_msg("message shows part of the number: %s", err->message);
}

/* ---- Luhn and identity numbers ---- */

static void luhn_generated_numbers(void **state)
{
        (void)state;
        char buf[16];
        static const char *const prefixes[] = {
                "19800101123", "19991231002", "20000229999",
                "195001010",   "202100544",   "16202100544",
        };
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                with_check(prefixes[i], buf);
                assert_true(ma_luhn_valid(buf, strlen(buf)));
                with_bad_check(prefixes[i], buf);
                assert_false(ma_luhn_valid(buf, strlen(buf)));
        }
        assert_true(ma_luhn_valid("2021005448", 10));
        assert_false(ma_luhn_valid("202100544", 9));
        assert_false(ma_luhn_valid("20210054481", 11));
        assert_false(ma_luhn_valid("202100544x", 10));
}

static void personnummer_valid(void **state)
{
        (void)state;
        static const char *const prefixes[] = {
                "19800101123", "19800229456", "20000229001",
                "19991231998", "19120630050", "19640715321",
        };
        char id[16];
        ma_error_t err;
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                with_check(prefixes[i], id);
                if (ma_validate_personnummer(id, &err) != MA_OK)
                        fail_msg("%s: %s", prefixes[i], err.message);
                assert_int_equal(
                        ma_validate_kund(MA_KUND_PERSONNUMMER, id, &err),
                        MA_OK);
        }
}

static void expect_person_error(const char *id, const char *part)
{
        ma_error_t err;
        assert_int_equal(ma_validate_personnummer(id, &err), MA_ERR_INVALID);
        if (strstr(err.message, part) == NULL)
                fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
        assert_no_identity(&err, id);
}

static void personnummer_invalid(void **state)
{
        (void)state;
        char id[16];
        expect_person_error(with_check("19000229123", id), "invalid date");
        expect_person_error(with_check("19810229123", id), "invalid date");
        expect_person_error(with_check("19801301123", id), "invalid date");
        expect_person_error(with_check("19800100123", id), "invalid date");
        expect_person_error(with_check("19800431123", id), "invalid date");
        expect_person_error(with_bad_check("19800101123", id),
                            "invalid check digit");
        expect_person_error(with_check("19800101123", id) + 2,
                            "has 10 characters; expected 12 digits");
        expect_person_error("198001011234X", "has 13 characters");
        expect_person_error("19800101-123", "contains a character other "
                                            "than a digit");
        expect_person_error("", "has 0 characters");
        /* A samordningsnummer typed as personnummer gets a hint. */
        expect_person_error(with_check("19800161123", id),
                            "set typ to Samordningsnummer");
        ma_error_t err;
        assert_int_equal(ma_validate_personnummer(NULL, &err), MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "personnummer is missing"));
}

static void personnummer_message_wording(void **state)
{
        (void)state;
        char id[16];
        ma_error_t err;
        with_bad_check("19800101123", id);
        ma_validate_kund(MA_KUND_PERSONNUMMER, id, &err);
        assert_string_equal(err.message,
                            "personnummer has an invalid check digit; "
                            "expected 12 digits YYYYMMDDNNNC with a valid "
                            "Luhn check digit");
}

static void samordningsnummer_rules(void **state)
{
        (void)state;
        char id[16];
        ma_error_t err;
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19800161123", id), &err),
                         MA_OK);
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19800191123", id), &err),
                         MA_OK);
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("20000289123", id), &err),
                         MA_OK);
        assert_int_equal(ma_validate_kund(MA_KUND_SAMORDNINGSNUMMER, id, &err),
                         MA_OK);
        /* Day 60 is day 0, day 92 is 32, a plain personnummer is too low. */
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19800160123", id), &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "60 added to the day"));
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19800192123", id), &err),
                         MA_ERR_INVALID);
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19800101123", id), &err),
                         MA_ERR_INVALID);
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_check("19810289123", id), &err),
                         MA_ERR_INVALID);
        assert_int_equal(ma_validate_samordningsnummer(
                                 with_bad_check("19800161123", id), &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "samordningsnummer has an "
                                            "invalid check digit"));
        assert_no_identity(&err, id);
}

static void organisationsnummer_rules(void **state)
{
        (void)state;
        char id[16];
        ma_error_t err;
        /* Published numbers of Swedish agencies, checked with Luhn here. */
        assert_int_equal(ma_validate_organisationsnummer("2021005448", &err),
                         MA_OK);
        assert_int_equal(ma_validate_organisationsnummer("2021002114", &err),
                         MA_OK);
        assert_int_equal(ma_validate_organisationsnummer("162021000076", &err),
                         MA_OK);
        assert_int_equal(ma_validate_organisationsnummer(
                                 with_check("556000123", id), &err),
                         MA_OK);
        assert_int_equal(ma_validate_organisationsnummer(
                                 with_bad_check("556000123", id), &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "invalid check digit"));
        assert_int_equal(ma_validate_organisationsnummer(
                                 with_check("551000123", id), &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "third digit"));
        assert_int_equal(ma_validate_organisationsnummer("172021005448", &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "does not start with 16"));
        assert_int_equal(ma_validate_organisationsnummer("202100-5448", &err),
                         MA_ERR_INVALID);
        assert_int_equal(ma_validate_organisationsnummer("20210054", &err),
                         MA_ERR_INVALID);
        /* part.kund needs the 12-digit form. */
        assert_int_equal(ma_validate_kund(MA_KUND_ORGANISATIONSNUMMER,
                                          "2021005448", &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "16 followed by"));
        assert_int_equal(ma_validate_kund(MA_KUND_ORGANISATIONSNUMMER,
                                          "162021005448", &err),
                         MA_OK);
        /* A personnummer typed Organisationsnummer is caught. */
        assert_int_equal(ma_validate_kund(MA_KUND_ORGANISATIONSNUMMER,
                                          with_check("19800101123", id), &err),
                         MA_ERR_INVALID);
        assert_no_identity(&err, id);
        assert_int_equal(ma_validate_kund((ma_kund_typ_t)7, id, &err),
                         MA_ERR_INVALID);
}

/* ---- Event-type names and UTF-8 ---- */

static void type_names_valid(void **state)
{
        (void)state;
        static const char *const names[] = {
                "SKV.ARBETSGIVARREGISTRERING.ANSOKAN_MOTTAGEN",
                "AF.A.B",
                "EXK.BYGGLOV.BESLUT_FATTAT.2",
                "X.P1.E_2_3",
                "POL.TRAFIKBOT.BOT_UTFARDAD",
        };
        ma_error_t err;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (ma_validate_event_type_name(names[i], &err) != MA_OK)
                        fail_msg("%s: %s", names[i], err.message);
        }
}

static void type_names_invalid(void **state)
{
        (void)state;
        static const struct {
                const char *name;
                const char *part;
        } cases[] = {
                {"SKV.ARBETSGIVARE", "2 segments"},
                {"SKV", "1 segments"},
                {"skv.A.B", "not allowed in the prefix"},
                {"SKV.a.B", "not allowed in a segment"},
                {"SKV.A.b", "not allowed in a segment"},
                {"S1.A.B", "not allowed in the prefix"},
                {"S_V.A.B", "not allowed in the prefix"},
                {"SKV..B", "empty segment"},
                {"SKV.A.B.", "empty segment"},
                {".SKV.A.B", "empty segment"},
                {"SKV.A.B C", "not allowed in a segment"},
                {"SKV.ÄRENDE.B", "no å, ä or ö"},
                {"SKV.A.BESLUT-FATTAT", "not allowed in a segment"},
                {"", "missing"},
        };
        ma_error_t err;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(
                        ma_validate_event_type_name(cases[i].name, &err),
                        MA_ERR_INVALID);
                assert_string_equal(err.field, "kundhandelseTyp");
                if (strstr(err.message, cases[i].part) == NULL)
                        fail_msg("\"%s\": message \"%s\" lacks \"%s\"",
                                 cases[i].name, err.message, cases[i].part);
        }
        char long_name[300];
        memset(long_name, 'A', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        long_name[3] = '.';
        long_name[6] = '.';
        assert_int_equal(ma_validate_event_type_name(long_name, &err),
                         MA_ERR_INVALID);
        assert_int_equal(ma_validate_event_type_name(NULL, &err),
                         MA_ERR_INVALID);
}

static void utf8_accepts_valid_text(void **state)
{
        (void)state;
        static const char *const texts[] = {
                "",
                "Beslut fattat",
                "Ansökan är mottagen – åäö ÅÄÖ",
                "tab\tnewline\ncr\r",
                "\xF0\x9F\x98\x80 emoji",
                "\xEF\xBF\xBF",     /* U+FFFF */
                "\xF4\x8F\xBF\xBF", /* U+10FFFF */
                "\xED\x9F\xBF",     /* U+D7FF, just below surrogates */
                "\x7F",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                if (!ma_utf8_valid(texts[i], strlen(texts[i])))
                        fail_msg("case %zu rejected", i);
        }
        assert_int_equal(ma_utf8_length("åäö", strlen("åäö")), 3);
        assert_int_equal(ma_utf8_length("a\xF0\x9F\x98\x80z", 6), 3);
        assert_int_equal(ma_utf8_length("", 0), 0);
}

static void utf8_rejects_invalid_text(void **state)
{
        (void)state;
        static const struct {
                const char *bytes;
                size_t len;
        } cases[] = {
                {"\xC0\x80", 2},         /* overlong NUL */
                {"\xC1\xBF", 2},         /* overlong */
                {"\xE0\x80\x80", 3},     /* overlong */
                {"\xE0\x9F\xBF", 3},     /* overlong U+07FF */
                {"\xF0\x80\x80\x80", 4}, /* overlong */
                {"\xF0\x8F\xBF\xBF", 4}, /* overlong U+FFFF */
                {"\xED\xA0\x80", 3},     /* U+D800 surrogate */
                {"\xED\xBF\xBF", 3},     /* U+DFFF surrogate */
                {"\xF4\x90\x80\x80", 4}, /* U+110000 */
                {"\xF5\x80\x80\x80", 4}, /* lead byte above F4 */
                {"\xFF", 1},
                {"\x80", 1},     /* stray continuation */
                {"a\xC3", 2},    /* truncated */
                {"\xE2\x82", 2}, /* truncated */
                {"\xC3\x28", 2}, /* bad continuation */
                {"a\0b", 3},     /* NUL */
                {"\x01", 1},     /* C0 control */
                {"\x1B[31m", 5}, /* escape */
                {"\x1F", 1},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (ma_utf8_valid(cases[i].bytes, cases[i].len))
                        fail_msg("case %zu accepted", i);
        }
}

/* ---- Whole events ---- */

static ma_catalog_t *demo_catalog;
/* 2026-12-04T12:00:00Z, the fixed "now" of these tests. */
static const int64_t test_now = INT64_C(1796472000000);

static int load_catalog(void **state)
{
        (void)state;
        ma_error_t err;
        if (ma_catalog_load(MA_TEST_SCHEMA_DIR "/catalog.json", &demo_catalog,
                            &err) != MA_OK) {
                fprintf(stderr, "catalog: %s\n", err.message);
                return -1;
        }
        return 0;
}

static int free_catalog(void **state)
{
        (void)state;
        ma_catalog_free(demo_catalog);
        return 0;
}

static void set(char **field, const char *value)
{
        ma_free(*field);
        *field = value ? ma_strdup(value) : NULL;
}

/* A valid kundhändelse of Skatteverket for a generated personnummer. */
static void make_event(ma_event_t *event)
{
        char id[16];
        ma_event_init(event);
        set(&event->kundhandelse_id, "skv-2026-000123");
        set(&event->producent_organisationsnummer, "2021005448");
        set(&event->producent, "Skatteverket");
        event->part.has_kund = true;
        set(&event->part.kund_identifierare, with_check("19800101123", id));
        event->part.kund_typ = MA_KUND_PERSONNUMMER;
        event->part.has_arende = true;
        set(&event->part.arende_identifierare, "131 123456-26/113");
        event->part.arende_typ = MA_ARENDE_DIARIENUMMER;
        set(&event->rubrik, "Ansökan om registrering som arbetsgivare");
        set(&event->beskrivning, "Vi har tagit emot din ansökan.");
        set(&event->sprak, "sv");
        set(&event->kundhandelse_typ,
            "SKV.ARBETSGIVARREGISTRERING.ANSOKAN_MOTTAGEN");
        set(&event->version, "6.1");
        set(&event->utokad_information, "{\"senastDatum\": \"2026-12-31\"}");
        set(&event->referenser, "{}");
        ma_event_add_tag(event, "arbetsgivare");
        event->tidpunkt.utc_ms = test_now - 3600000;
        event->tidpunkt.offset_min = 60;
        event->sekvens = 1;
}

static void expect_event_error(ma_event_t *event, const char *field,
                               const char *part)
{
        ma_error_t err;
        ma_status_t st =
                ma_event_validate(event, demo_catalog, NULL, test_now, &err);
        if (st != MA_ERR_INVALID)
                fail_msg("expected an error on %s, got %d", field, st);
        if (strcmp(err.field, field) != 0)
                fail_msg("expected field %s, got %s (%s)", field, err.field,
                         err.message);
        if (strstr(err.message, part) == NULL)
                fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
        if (event->part.kund_identifierare != NULL)
                assert_no_identity(&err, event->part.kund_identifierare);
        ma_event_clear(event);
}

static void event_valid(void **state)
{
        (void)state;
        ma_event_t event;
        ma_error_t err;
        long live_before = ma_alloc_live();
        make_event(&event);
        ma_status_t st =
                ma_event_validate(&event, demo_catalog, NULL, test_now, &err);
        if (st != MA_OK)
                fail_msg("%s: %s", err.field, err.message);
        /* Without a catalog, and with only one part each. */
        assert_int_equal(ma_event_validate(&event, NULL, NULL, test_now, &err),
                         MA_OK);
        event.part.has_arende = false;
        assert_int_equal(
                ma_event_validate(&event, demo_catalog, NULL, test_now, &err),
                MA_OK);
        event.part.has_arende = true;
        event.part.has_kund = false;
        assert_int_equal(
                ma_event_validate(&event, demo_catalog, NULL, test_now, &err),
                MA_OK);
        ma_event_clear(&event);
        assert_int_equal(ma_alloc_live(), live_before);
}

static void event_required_fields(void **state)
{
        (void)state;
        ma_event_t e;
        make_event(&e);
        set(&e.kundhandelse_id, NULL);
        expect_event_error(&e, "kundhandelseId", "missing");
        make_event(&e);
        set(&e.kundhandelse_id, "");
        expect_event_error(&e, "kundhandelseId", "empty");
        make_event(&e);
        set(&e.rubrik, NULL);
        expect_event_error(&e, "rubrik", "missing");
        make_event(&e);
        set(&e.beskrivning, "");
        expect_event_error(&e, "beskrivning", "empty");
        make_event(&e);
        set(&e.rubrik, " \t\n ");
        expect_event_error(&e, "rubrik", "only white space");
        make_event(&e);
        set(&e.producent, NULL);
        expect_event_error(&e, "producent", "missing");
        make_event(&e);
        set(&e.version, "");
        expect_event_error(&e, "version", "empty");
        make_event(&e);
        set(&e.kundhandelse_typ, NULL);
        expect_event_error(&e, "kundhandelseTyp", "missing");
        make_event(&e);
        e.part.has_kund = false;
        e.part.has_arende = false;
        expect_event_error(&e, "part", "neither kund nor arende");
        make_event(&e);
        set(&e.part.arende_identifierare, "");
        expect_event_error(&e, "part.arende.identifierare", "empty");
        make_event(&e);
        e.part.arende_typ = (ma_arende_typ_t)9;
        expect_event_error(&e, "part.arende.typ", "Diarienummer");
}

static void event_lengths_in_characters(void **state)
{
        (void)state;
        ma_event_t e;
        ma_error_t err;
        char text[1200];
        /* 255 two-byte characters are allowed in rubrik, 256 are not. */
        size_t used = 0;
        for (int i = 0; i < 255; i++)
                used += (size_t)snprintf(text + used, sizeof(text) - used, "ä");
        make_event(&e);
        set(&e.rubrik, text);
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_OK);
        snprintf(text + used, sizeof(text) - used, "ö");
        set(&e.rubrik, text);
        expect_event_error(&e, "rubrik", "256 characters; the maximum is 255");
        make_event(&e);
        set(&e.rubrik, "bad \x01 control");
        expect_event_error(&e, "rubrik", "not valid UTF-8");
        make_event(&e);
        set(&e.beskrivning, "\xC0\x80");
        expect_event_error(&e, "beskrivning", "not valid UTF-8");
        /* Custom limits apply. */
        ma_validate_limits_t limits;
        ma_validate_limits_default(&limits);
        limits.beskrivning_max_chars = 10;
        make_event(&e);
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, &limits, test_now, &err),
                MA_ERR_INVALID);
        assert_string_equal(err.field, "beskrivning");
        ma_event_clear(&e);
}

static void event_sprak(void **state)
{
        (void)state;
        static const char *const bad[] = {"SV", "swe", "s",    "",
                                          "xx", "s1",  "sv-SE"};
        static const char *const good[] = {"sv", "en", "fi", "se",
                                           "ar", "so", "zu", "aa"};
        ma_event_t e;
        ma_error_t err;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                make_event(&e);
                set(&e.sprak, good[i]);
                assert_int_equal(ma_event_validate(&e, demo_catalog, NULL,
                                                   test_now, &err),
                                 MA_OK);
                ma_event_clear(&e);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                make_event(&e);
                set(&e.sprak, bad[i]);
                expect_event_error(&e, "sprak", "ISO 639-1");
        }
        make_event(&e);
        set(&e.sprak, NULL);
        expect_event_error(&e, "sprak", "missing");
}

static void event_tidpunkt_bounds(void **state)
{
        (void)state;
        ma_event_t e;
        ma_error_t err;
        make_event(&e);
        e.tidpunkt.utc_ms = test_now + 24 * 3600000;
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_OK);
        e.tidpunkt.utc_ms += 1;
        expect_event_error(&e, "tidpunkt", "in the future");
        make_event(&e);
        e.tidpunkt.utc_ms = INT64_C(-2208988800000) - 1;
        expect_event_error(&e, "tidpunkt", "1900-01-01");
        make_event(&e);
        e.tidpunkt.offset_min = 1081;
        expect_event_error(&e, "tidpunkt", "-1080 to 1080");
        make_event(&e);
        e.sekvens = -1;
        expect_event_error(&e, "sekvens", "negative");
        make_event(&e);
        e.giltig_till = ma_days_from_civil(1899, 12, 31);
        expect_event_error(&e, "giltigTill",
                           "giltigTill 1899-12-31 is outside 1900-01-01");
        make_event(&e);
        e.atgard_senast = (int32_t)ma_days_from_civil(10000, 1, 1);
        expect_event_error(&e, "atgardSenast", "9999-12-31");
}

static void event_json_fields(void **state)
{
        (void)state;
        ma_event_t e;
        make_event(&e);
        set(&e.utokad_information, "[1, 2]");
        expect_event_error(&e, "utokadInformation", "not an object");
        make_event(&e);
        set(&e.utokad_information, "{\"a\": ");
        expect_event_error(&e, "utokadInformation", "not valid JSON");
        make_event(&e);
        set(&e.referenser, "\"text\"");
        expect_event_error(&e, "referenser", "not an object");
        make_event(&e);
        set(&e.referenser, "{\"a\": 1, \"a\": 2}");
        expect_event_error(&e, "referenser", "not valid JSON");
        make_event(&e);
        char big[17000];
        memset(big, ' ', sizeof(big) - 1);
        big[0] = '{';
        big[sizeof(big) - 2] = '}';
        big[sizeof(big) - 1] = '\0';
        set(&e.referenser, big);
        expect_event_error(&e, "referenser", "the maximum is 16384");
}

static void event_taggar(void **state)
{
        (void)state;
        ma_event_t e;
        ma_error_t err;
        make_event(&e);
        ma_event_add_tag(&e, "");
        expect_event_error(&e, "taggar[1]", "empty");
        make_event(&e);
        char tag[128];
        memset(tag, 'x', 101);
        tag[101] = '\0';
        ma_event_add_tag(&e, tag);
        expect_event_error(&e, "taggar[1]", "101 characters");
        make_event(&e);
        for (int i = 0; i < 99; i++)
                ma_event_add_tag(&e, "t");
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_OK);
        ma_event_add_tag(&e, "t");
        expect_event_error(&e, "taggar", "101 tags; the maximum is 100");
}

static void event_kund_numbers(void **state)
{
        (void)state;
        ma_event_t e;
        char id[16];
        make_event(&e);
        set(&e.part.kund_identifierare, with_bad_check("19800101123", id));
        expect_event_error(&e, "part.kund.identifierare",
                           "part.kund.identifierare: personnummer has an "
                           "invalid check digit; expected 12 digits "
                           "YYYYMMDDNNNC with a valid Luhn check digit");
        make_event(&e);
        set(&e.part.kund_identifierare, with_check("19800161123", id));
        expect_event_error(&e, "part.kund.identifierare",
                           "set typ to Samordningsnummer");
        make_event(&e);
        e.part.kund_typ = MA_KUND_SAMORDNINGSNUMMER;
        expect_event_error(&e, "part.kund.identifierare",
                           "samordningsnummer has an invalid date");
        make_event(&e);
        e.part.kund_typ = MA_KUND_ORGANISATIONSNUMMER;
        expect_event_error(&e, "part.kund.identifierare",
                           "organisationsnummer");
        make_event(&e);
        set(&e.part.kund_tillagg, "\x02");
        expect_event_error(&e, "part.kund.tillagg", "not valid UTF-8");
}

static void event_catalog_checks(void **state)
{
        (void)state;
        ma_event_t e;
        char orgnr[16];
        make_event(&e);
        set(&e.producent_organisationsnummer, with_check("556000123", orgnr));
        expect_event_error(&e, "producentOrganisationsnummer",
                           "is not in the event-type catalog");
        make_event(&e);
        set(&e.producent_organisationsnummer, "2021005449");
        expect_event_error(&e, "producentOrganisationsnummer",
                           "invalid check digit");
        make_event(&e);
        set(&e.producent_organisationsnummer, "162021005448");
        expect_event_error(&e, "producentOrganisationsnummer",
                           "has 12 characters; expected exactly 10 digits");
        make_event(&e);
        set(&e.producent_organisationsnummer, NULL);
        expect_event_error(&e, "producentOrganisationsnummer", "missing");
        make_event(&e);
        set(&e.kundhandelse_typ, "SKV.ARBETSGIVARREGISTRERING.OKAND");
        expect_event_error(&e, "kundhandelseTyp",
                           "\"SKV.ARBETSGIVARREGISTRERING.OKAND\" is not in "
                           "the event-type catalog");
        make_event(&e);
        set(&e.kundhandelse_typ, "AF.ANSTALLNINGSSTOD.BESLUT_FATTAT");
        expect_event_error(&e, "kundhandelseTyp",
                           "belongs to producer Arbetsförmedlingen (prefix "
                           "AF), not to Skatteverket (prefix SKV)");
}

static void retraction_rules(void **state)
{
        (void)state;
        ma_event_t e;
        ma_error_t err;
        char id[16];
        long live_before = ma_alloc_live();
        ma_event_init(&e);
        e.kind = MA_EVENT_RETRACT;
        set(&e.kundhandelse_id, "skv-2026-000123");
        set(&e.producent_organisationsnummer, "2021005448");
        e.part.has_kund = true;
        e.part.kund_typ = MA_KUND_PERSONNUMMER;
        set(&e.part.kund_identifierare, with_check("19800101123", id));
        e.tidpunkt.utc_ms = test_now;
        e.sekvens = 2;
        set(&e.orsak, "Publicerad av misstag");
        /* A retraction has no rubrik, typ or sprak and needs none. */
        ma_status_t st =
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err);
        if (st != MA_OK)
                fail_msg("%s: %s", err.field, err.message);
        e.sekvens = -5;
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_ERR_INVALID);
        assert_string_equal(err.field, "sekvens");
        e.sekvens = 2;
        e.part.has_kund = false;
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_ERR_INVALID);
        assert_string_equal(err.field, "part");
        e.part.has_kund = true;
        set(&e.kundhandelse_id, NULL);
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_ERR_INVALID);
        assert_string_equal(err.field, "kundhandelseId");
        set(&e.kundhandelse_id, "x");
        set(&e.producent_organisationsnummer, "2120009995");
        assert_int_equal(
                ma_event_validate(&e, demo_catalog, NULL, test_now, &err),
                MA_ERR_INVALID);
        assert_string_equal(err.field, "producentOrganisationsnummer");
        ma_event_clear(&e);
        assert_int_equal(ma_alloc_live(), live_before);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(luhn_generated_numbers),
                cmocka_unit_test(personnummer_valid),
                cmocka_unit_test(personnummer_invalid),
                cmocka_unit_test(personnummer_message_wording),
                cmocka_unit_test(samordningsnummer_rules),
                cmocka_unit_test(organisationsnummer_rules),
                cmocka_unit_test(type_names_valid),
                cmocka_unit_test(type_names_invalid),
                cmocka_unit_test(utf8_accepts_valid_text),
                cmocka_unit_test(utf8_rejects_invalid_text),
                cmocka_unit_test(event_valid),
                cmocka_unit_test(event_required_fields),
                cmocka_unit_test(event_lengths_in_characters),
                cmocka_unit_test(event_sprak),
                cmocka_unit_test(event_tidpunkt_bounds),
                cmocka_unit_test(event_json_fields),
                cmocka_unit_test(event_taggar),
                cmocka_unit_test(event_kund_numbers),
                cmocka_unit_test(event_catalog_checks),
                cmocka_unit_test(retraction_rules),
        };
        return cmocka_run_group_tests(tests, load_catalog, free_catalog);
}
