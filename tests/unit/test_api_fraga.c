/*
 * Unit tests of ma-api's request handling without a database: parsing and
 * validating kundhandelseFragaSynkron questions, type-prefix matching,
 * Swedish day bounds, ORDER BY construction and user-token checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "ma/datetime.h"

/* Test personnummer: 1950-01-01 and 1960-02-02 with computed Luhn digits. */
#define USER  "195001010015"
#define OTHER "196002020029"

static json_t *parse_json(const char *text)
{
        json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

        assert_non_null(root);
        return root;
}

/* The JSON document of the last parse_question(); q borrows its strings. */
static json_t *last_root;

/* Parses text and returns whether it was accepted; message gets the error. */
static bool parse_question(const char *text, api_question_t *q, char *message,
                           size_t size)
{
        json_decref(last_root);
        last_root = parse_json(text);
        return api_question_parse(last_root, q, message, size);
}

static void test_type_matches_segments(void **state)
{
        (void)state;
        assert_true(api_type_matches("X.BYGGLOV", "X.BYGGLOV"));
        assert_true(api_type_matches("X.BYGGLOV", "X.BYGGLOV.BESLUT"));
        assert_true(api_type_matches("X", "X.BYGGLOV.BESLUT"));
        assert_false(api_type_matches("X.BYGGLOV", "X.BYGGLOVX"));
        assert_false(api_type_matches("X.BYGGLOV", "X.BYGGLOVX.BESLUT"));
        assert_false(api_type_matches("X.BYGGLOV.BESLUT", "X.BYGGLOV"));
        assert_false(api_type_matches("Y", "X.BYGGLOV"));
}

static int64_t utc_ms(int y, int mo, int d, int h, int mi)
{
        return ma_days_from_civil(y, mo, d) * 86400000LL +
               (int64_t)h * 3600000LL + (int64_t)mi * 60000LL;
}

static void test_day_start_follows_dst(void **state)
{
        (void)state;
        /* Winter: midnight is 23:00 UTC the day before. */
        assert_int_equal(
                api_stockholm_day_start_ms(ma_days_from_civil(2026, 1, 1)),
                utc_ms(2025, 12, 31, 23, 0));
        /* 29 March 2026 begins in winter time and ends in summer time. */
        assert_int_equal(
                api_stockholm_day_start_ms(ma_days_from_civil(2026, 3, 29)),
                utc_ms(2026, 3, 28, 23, 0));
        assert_int_equal(
                api_stockholm_day_start_ms(ma_days_from_civil(2026, 3, 30)),
                utc_ms(2026, 3, 29, 22, 0));
        /* 25 October 2026 has 25 hours. */
        assert_int_equal(
                api_stockholm_day_start_ms(ma_days_from_civil(2026, 10, 25)),
                utc_ms(2026, 10, 24, 22, 0));
        assert_int_equal(
                api_stockholm_day_start_ms(ma_days_from_civil(2026, 10, 26)),
                utc_ms(2026, 10, 25, 23, 0));
}

static void test_question_minimal(void **state)
{
        api_question_t q;
        char message[API_MESSAGE_MAX] = "";

        (void)state;
        assert_true(parse_question(
                "{\"fraga\": {\"parter\": [{\"kund\": {\"identifierare\": "
                "\"" OTHER "\", \"typ\": \"Personnummer\"}}]}, "
                "\"anvandare\": \"" USER "\"}",
                &q, message, sizeof(message)));
        assert_int_equal(q.party_count, 1);
        assert_true(q.parties[0].has_kund);
        assert_false(q.parties[0].has_arende);
        assert_string_equal(q.parties[0].kund_identifierare, OTHER);
        assert_int_equal(q.anvandare_typ, MA_KUND_PERSONNUMMER);
        assert_false(q.has_paging);
        assert_int_equal(q.limit, API_LIMIT_MAX);
}

static void test_question_full(void **state)
{
        api_question_t q;
        char message[API_MESSAGE_MAX] = "";

        (void)state;
        assert_true(parse_question(
                "{\"fraga\": {\"parter\": [{\"kund\": {\"identifierare\": "
                "\"" USER "\", \"typ\": \"Personnummer\", \"tillagg\": "
                "\"DB1\"}, \"arende\": {\"identifierare\": \"D-1\", "
                "\"typ\": \"Diarienummer\"}}], \"kundhandelseTyper\": "
                "[\"EXK.BYGGLOV\"], \"taggar\": [\"a\", \"b\"], "
                "\"startDatum\": \"2026-03-29\", \"slutDatum\": "
                "\"2026-03-29\", \"behandling\": {\"sortering\": "
                "[{\"attribut\": \"RUBRIK\", \"stigande\": true}], "
                "\"paginering\": {\"offset\": 10, \"limit\": 5}}}, "
                "\"anvandare\": \"" USER "\"}",
                &q, message, sizeof(message)));
        assert_true(q.parties[0].has_arende);
        assert_string_equal(q.parties[0].kund_tillagg, "DB1");
        assert_int_equal(q.parties[0].arende_typ, MA_ARENDE_DIARIENUMMER);
        assert_int_equal(q.type_count, 1);
        assert_int_equal(q.tag_count, 2);
        assert_int_equal(q.start_utc_ms, utc_ms(2026, 3, 28, 23, 0));
        assert_int_equal(q.end_utc_ms, utc_ms(2026, 3, 29, 22, 0));
        assert_int_equal(q.sort_count, 1);
        assert_int_equal(q.sort[0].attribute, API_SORT_RUBRIK);
        assert_true(q.sort[0].ascending);
        assert_true(q.has_paging);
        assert_int_equal(q.offset, 10);
        assert_int_equal(q.limit, 5);
}

/* Each invalid body and a fragment its message must contain. */
static void test_question_rejects(void **state)
{
        static const struct {
                const char *body;
                const char *expected;
        } cases[] = {
                {"[]", "JSON object"},
                {"{\"anvandare\": \"" USER "\"}", "fraga is missing"},
                {"{\"fraga\": {}, \"anvandare\": \"" USER "\"}",
                 "fraga.parter is missing"},
                {"{\"fraga\": {\"parter\": []}, \"anvandare\": \"" USER "\"}",
                 "1 to 100 parties"},
                {"{\"fraga\": {\"parter\": [{}]}, \"anvandare\": \"" USER "\"}",
                 "needs kund, arende or both"},
                {"{\"fraga\": {\"parter\": [{\"kund\": {\"identifierare\": "
                 "\"195001010016\", \"typ\": \"Personnummer\"}}]}, "
                 "\"anvandare\": \"" USER "\"}",
                 "fraga.parter[0].kund.identifierare"},
                {"{\"fraga\": {\"parter\": [{\"kund\": {\"identifierare\": "
                 "1, \"typ\": \"Personnummer\"}}]}, \"anvandare\": \"" USER
                 "\"}",
                 "must be a string"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Passnummer\"}}]}, \"anvandare\": \"" USER
                 "\"}",
                 "is not an arende typ"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"kundhandelseTyper\": "
                 "[\"x.y\"]}, \"anvandare\": \"" USER "\"}",
                 "is not a type or type prefix"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"startDatum\": "
                 "\"2026-02-30\"}, \"anvandare\": \"" USER "\"}",
                 "fraga.startDatum"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"startDatum\": "
                 "\"2026-03-02\", \"slutDatum\": \"2026-03-01\"}, "
                 "\"anvandare\": \"" USER "\"}",
                 "after fraga.slutDatum"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"behandling\": "
                 "{\"sortering\": [{\"attribut\": \"KUND\"}]}}, "
                 "\"anvandare\": \"" USER "\"}",
                 "cannot be sorted on"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"behandling\": "
                 "{\"paginering\": {\"offset\": 0, \"limit\": 1}}}, "
                 "\"anvandare\": \"" USER "\"}",
                 "requires fraga.behandling.sortering"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"behandling\": "
                 "{\"sortering\": [{\"attribut\": \"TIDPUNKT\"}], "
                 "\"paginering\": {\"offset\": 0, \"limit\": 1001}}}, "
                 "\"anvandare\": \"" USER "\"}",
                 "between 1 and 1000"},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}], \"extra\": 1}, "
                 "\"anvandare\": \"" USER "\"}",
                 "unknown attribute \"extra\""},
                {"{\"fraga\": {\"parter\": [{\"arende\": {\"identifierare\": "
                 "\"x\", \"typ\": \"Diarienummer\"}}]}, \"anvandare\": "
                 "\"195001010016\"}",
                 "anvandare must be a personnummer"},
        };
        api_question_t q;
        char message[API_MESSAGE_MAX];

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                message[0] = '\0';
                assert_false(parse_question(cases[i].body, &q, message,
                                            sizeof(message)));
                if (strstr(message, cases[i].expected) == NULL)
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, message,
                                 cases[i].expected);
                assert_null(strstr(message, "195001010016"));
        }
}

static void test_question_limits(void **state)
{
        char body[16384];
        size_t used;
        api_question_t q;
        char message[API_MESSAGE_MAX] = "";

        (void)state;
        used = (size_t)snprintf(body, sizeof(body),
                                "{\"fraga\": {\"parter\": [");
        for (int i = 0; i < 101; i++)
                used += (size_t)snprintf(body + used, sizeof(body) - used,
                                         "%s{\"arende\": {\"identifierare\": "
                                         "\"x\", \"typ\": \"Diarienummer\"}}",
                                         i ? "," : "");
        snprintf(body + used, sizeof(body) - used,
                 "]}, \"anvandare\": \"" USER "\"}");
        assert_false(parse_question(body, &q, message, sizeof(message)));
        assert_non_null(strstr(message, "not 101"));
}

static void test_order_by_fixed_columns(void **state)
{
        api_question_t q;
        char order[512];

        (void)state;
        memset(&q, 0, sizeof(q));
        api_order_by(&q, order, sizeof(order));
        assert_string_equal(order, "tidpunkt DESC, "
                                   "producent_organisationsnummer, "
                                   "kundhandelse_id");
        q.sort[0].attribute = API_SORT_RUBRIK;
        q.sort[0].ascending = true;
        q.sort[1].attribute = API_SORT_KLART;
        q.sort_count = 2;
        api_order_by(&q, order, sizeof(order));
        assert_string_equal(order,
                            "lower(rubrik COLLATE \"sv-x-icu\") ASC, "
                            "producentarendet_klart DESC, tidpunkt DESC, "
                            "producent_organisationsnummer, kundhandelse_id");
}

/* ---- user tokens ---- */

static void b64url(const unsigned char *data, size_t len, char *out)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                       "nopqrstuvwxyz0123456789-_";
        size_t n = 0;
        uint32_t acc = 0;
        int bits = 0;

        for (size_t i = 0; i < len; i++) {
                acc = (acc << 8) | data[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        out[n++] = alphabet[(acc >> bits) & 63];
                }
        }
        if (bits > 0)
                out[n++] = alphabet[(acc << (6 - bits)) & 63];
        out[n] = '\0';
}

/* Builds an HS256 token over header and payload JSON. */
static void make_token(const char *header, const char *payload,
                       const char *secret, char *out, size_t size)
{
        char h[512], p[512], sig[128];
        char input[1100];
        unsigned char mac[32];
        unsigned int mac_len = 0;

        b64url((const unsigned char *)header, strlen(header), h);
        b64url((const unsigned char *)payload, strlen(payload), p);
        snprintf(input, sizeof(input), "%s.%s", h, p);
        HMAC(EVP_sha256(), secret, (int)strlen(secret),
             (const unsigned char *)input, strlen(input), mac, &mac_len);
        b64url(mac, mac_len, sig);
        snprintf(out, size, "%s.%s", input, sig);
}

static void test_base64url_decode(void **state)
{
        unsigned char out[16];

        (void)state;
        assert_int_equal(api_base64url_decode("YWJj", 4, out, sizeof(out)), 3);
        assert_memory_equal(out, "abc", 3);
        assert_int_equal(api_base64url_decode("YWI", 3, out, sizeof(out)), 2);
        assert_int_equal(api_base64url_decode("Y", 1, out, sizeof(out)), -1);
        assert_int_equal(api_base64url_decode("YW+j", 4, out, sizeof(out)), -1);
        assert_int_equal(api_base64url_decode("YWJ=", 4, out, sizeof(out)), -1);
}

static void test_jwt_hs256(void **state)
{
        const char *header = "{\"alg\":\"HS256\",\"kid\":\"k\"}";
        char payload[256], token[2048], message[API_MESSAGE_MAX];
        api_jwt_t jwt;
        int64_t now = 1800000000;

        (void)state;
        snprintf(payload, sizeof(payload),
                 "{\"iss\":\"idp\",\"sub\":\"" USER "\","
                 "\"aud\":[\"other-app\",\"app\"],\"iat\":%lld,"
                 "\"exp\":%lld}",
                 (long long)now, (long long)now + 300);
        make_token(header, payload, "s3cret", token, sizeof(token));
        assert_true(api_jwt_decode(token, &jwt, message, sizeof(message)));
        assert_true(api_jwt_verify_signature(&jwt, "HS256", "s3cret", message,
                                             sizeof(message)));
        assert_false(api_jwt_verify_signature(&jwt, "HS256", "other", message,
                                              sizeof(message)));
        assert_false(api_jwt_verify_signature(&jwt, "EdDSA", "s3cret", message,
                                              sizeof(message)));
        assert_non_null(strstr(message, "does not match"));
        assert_true(api_jwt_check_claims(&jwt, "idp", USER, "app", now + 10, 30,
                                         600, message, sizeof(message)));
        assert_false(api_jwt_check_claims(&jwt, "idp", OTHER, "app", now + 10,
                                          30, 600, message, sizeof(message)));
        assert_non_null(strstr(message, "subject"));
        assert_false(api_jwt_check_claims(&jwt, "other", USER, "app", now + 10,
                                          30, 600, message, sizeof(message)));
        assert_false(api_jwt_check_claims(&jwt, "idp", USER, "app", now + 400,
                                          30, 600, message, sizeof(message)));
        assert_non_null(strstr(message, "expired"));
        assert_false(api_jwt_check_claims(&jwt, "idp", USER, "app", now - 100,
                                          30, 600, message, sizeof(message)));
        assert_non_null(strstr(message, "not valid yet"));
        assert_false(api_jwt_check_claims(&jwt, "idp", USER, "app", now + 10,
                                          30, 60, message, sizeof(message)));
        assert_non_null(strstr(message, "lifetime"));
        assert_false(api_jwt_check_claims(&jwt, "idp", USER, "third-app",
                                          now + 10, 30, 600, message,
                                          sizeof(message)));
        assert_non_null(strstr(message, "audience"));
        api_jwt_clear(&jwt);
}

static void test_jwt_tampered(void **state)
{
        const char *header = "{\"alg\":\"HS256\",\"kid\":\"k\"}";
        char token[2048], message[API_MESSAGE_MAX];
        api_jwt_t jwt;
        char *payload_start;

        (void)state;
        make_token(header,
                   "{\"iss\":\"idp\",\"sub\":\"" USER "\",\"iat\":1,"
                   "\"exp\":2}",
                   "s3cret", token, sizeof(token));
        payload_start = strchr(token, '.') + 1;
        payload_start[3] = payload_start[3] == 'A' ? 'B' : 'A';
        if (api_jwt_decode(token, &jwt, message, sizeof(message))) {
                assert_false(api_jwt_verify_signature(
                        &jwt, "HS256", "s3cret", message, sizeof(message)));
                api_jwt_clear(&jwt);
        }
        assert_false(api_jwt_decode("a.b", &jwt, message, sizeof(message)));
        assert_false(api_jwt_decode("a.b.c.d", &jwt, message, sizeof(message)));
        assert_false(
                api_jwt_decode("!!.e30.e30", &jwt, message, sizeof(message)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_matches_segments),
                cmocka_unit_test(test_day_start_follows_dst),
                cmocka_unit_test(test_question_minimal),
                cmocka_unit_test(test_question_full),
                cmocka_unit_test(test_question_rejects),
                cmocka_unit_test(test_question_limits),
                cmocka_unit_test(test_order_by_fixed_columns),
                cmocka_unit_test(test_base64url_decode),
                cmocka_unit_test(test_jwt_hs256),
                cmocka_unit_test(test_jwt_tampered),
        };

        int failed = cmocka_run_group_tests(tests, NULL, NULL);

        json_decref(last_root);
        return failed;
}
