/*
 * Unit tests of datetime.c: civil dates, RFC 3339, Europe/Stockholm.
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

#include "ma/datetime.h"

#define HOUR_MS (INT64_C(3600) * 1000)
#define DAY_MS  (24 * HOUR_MS)

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
        return ma_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS +
               mi * INT64_C(60000) + s * INT64_C(1000);
}

/* Last Sunday of a month found with timegm() and tm_wday, as an oracle. */
static int last_sunday_oracle(int year, int month)
{
        for (int day = 31; day >= 22; day--) {
                struct tm tm = {0};
                tm.tm_year = year - 1900;
                tm.tm_mon = month - 1;
                tm.tm_mday = day;
                tm.tm_hour = 12;
                time_t t = timegm(&tm);
                struct tm back;
                gmtime_r(&t, &back);
                if (back.tm_mon == month - 1 && back.tm_wday == 0)
                        return day;
        }
        return -1;
}

static void civil_known_dates(void **state)
{
        (void)state;
        assert_int_equal(ma_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(ma_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(ma_days_from_civil(1900, 1, 1), -25567);
        assert_int_equal(ma_days_from_civil(1969, 12, 31), -1);
        int y, m, d;
        ma_civil_from_days(-25567, &y, &m, &d);
        assert_int_equal(y, 1900);
        assert_int_equal(m, 1);
        assert_int_equal(d, 1);
}

static void civil_matches_timegm(void **state)
{
        (void)state;
        /* Every day from 1900 to 2100 against the C library. */
        for (int64_t days = -25567; days < 47482; days++) {
                time_t t = (time_t)(days * 86400);
                struct tm tm;
                gmtime_r(&t, &tm);
                int y, m, d;
                ma_civil_from_days(days, &y, &m, &d);
                assert_int_equal(y, tm.tm_year + 1900);
                assert_int_equal(m, tm.tm_mon + 1);
                assert_int_equal(d, tm.tm_mday);
                assert_int_equal(ma_days_from_civil(y, m, d), days);
        }
}

static void stockholm_transitions_by_year(void **state)
{
        (void)state;
        for (int year = 1996; year <= 2060; year++) {
                int march = last_sunday_oracle(year, 3);
                int october = last_sunday_oracle(year, 10);
                int64_t spring = utc_ms(year, 3, march, 1, 0, 0);
                int64_t autumn = utc_ms(year, 10, october, 1, 0, 0);
                assert_int_equal(ma_stockholm_offset_min(spring - 1), 60);
                assert_int_equal(ma_stockholm_offset_min(spring), 120);
                assert_int_equal(ma_stockholm_offset_min(autumn - 1), 120);
                assert_int_equal(ma_stockholm_offset_min(autumn), 60);
                assert_int_equal(
                        ma_stockholm_offset_min(utc_ms(year, 1, 15, 12, 0, 0)),
                        60);
                assert_int_equal(
                        ma_stockholm_offset_min(utc_ms(year, 7, 1, 12, 0, 0)),
                        120);
                assert_int_equal(
                        ma_stockholm_offset_min(utc_ms(year, 12, 31, 23, 0, 0)),
                        60);
        }
}

static void stockholm_known_dates(void **state)
{
        (void)state;
        /* Transition Sundays published for Sweden. */
        static const int cases[][3] = {
                {2024, 31, 27}, {2025, 30, 26}, {2026, 29, 25},
                {2027, 28, 31}, {2028, 26, 29}, {2030, 31, 27},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int y = cases[i][0];
                assert_int_equal(ma_stockholm_offset_min(
                                         utc_ms(y, 3, cases[i][1], 0, 59, 59)),
                                 60);
                assert_int_equal(ma_stockholm_offset_min(
                                         utc_ms(y, 3, cases[i][1], 1, 0, 0)),
                                 120);
                assert_int_equal(ma_stockholm_offset_min(
                                         utc_ms(y, 10, cases[i][2], 0, 59, 59)),
                                 120);
                assert_int_equal(ma_stockholm_offset_min(
                                         utc_ms(y, 10, cases[i][2], 1, 0, 0)),
                                 60);
        }
}

/* Compares hour by hour with the host's tz database when it has one. */
static void stockholm_matches_tzdata(void **state)
{
        (void)state;
        if (access("/usr/share/zoneinfo/Europe/Stockholm", R_OK) != 0) {
                skip();
                return;
        }
        const char *old = getenv("TZ");
        char *saved = old ? strdup(old) : NULL;
        setenv("TZ", "Europe/Stockholm", 1);
        tzset();
        for (int64_t t = utc_ms(1997, 1, 1, 0, 0, 0);
             t < utc_ms(2037, 12, 31, 0, 0, 0); t += HOUR_MS) {
                time_t secs = (time_t)(t / 1000);
                struct tm tm;
                localtime_r(&secs, &tm);
                assert_int_equal(ma_stockholm_offset_min(t), tm.tm_gmtoff / 60);
        }
        if (saved) {
                setenv("TZ", saved, 1);
                free(saved);
        } else {
                unsetenv("TZ");
        }
        tzset();
}

static void rfc3339_valid_forms(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                int64_t utc_ms;
                int32_t offset;
        } cases[] = {
                {"2026-03-29T02:30:00+02:00", 1774744200000, 120},
                {"2026-03-29T00:30:00Z", 1774744200000, 0},
                {"2026-03-29t00:30:00z", 1774744200000, 0},
                {"2026-03-29 00:30:00Z", 1774744200000, 0},
                {"2026-03-29T00:30:00.5Z", 1774744200500, 0},
                {"2026-03-29T00:30:00.123456789Z", 1774744200123, 0},
                {"2026-03-29T06:00:00+05:30", 1774744200000, 330},
                {"2026-03-28T15:30:00-09:00", 1774744200000, -540},
                {"2026-03-29T18:30:00+18:00", 1774744200000, 1080},
                {"2026-03-28T06:30:00-18:00", 1774744200000, -1080},
                {"2024-02-29T12:00:00Z", 1709208000000, 0},
                {"1969-12-31T23:59:59.999Z", -1, 0},
                {"2000-02-29T23:59:59-00:00", 951868799000, 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ma_instant_t out;
                ma_error_t err;
                assert_int_equal(
                        ma_instant_parse_rfc3339(cases[i].text, &out, &err),
                        MA_OK);
                assert_int_equal(out.utc_ms, cases[i].utc_ms);
                assert_int_equal(out.offset_min, cases[i].offset);
        }
}

static void rfc3339_invalid_forms(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                const char *message_part;
        } cases[] = {
                {"2026-02-30T10:00:00Z", "day 30 does not exist"},
                {"2023-02-29T10:00:00Z", "day 29 does not exist"},
                {"2026-13-01T10:00:00Z", "month 13"},
                {"2026-00-01T10:00:00Z", "month 00"},
                {"2026-04-31T10:00:00Z", "day 31"},
                {"2026-03-29T24:00:00Z", "out of range"},
                {"2026-03-29T23:60:00Z", "out of range"},
                {"2026-03-29T23:59:60Z", "leap seconds"},
                {"2026-03-29T10:00:00+18:01", "-18:00 to +18:00"},
                {"2026-03-29T10:00:00+19:00", "-18:00 to +18:00"},
                {"2026-03-29T10:00:00-24:00", "-18:00 to +18:00"},
                {"2026-03-29T10:00:00+01:60", "-18:00 to +18:00"},
                {"2026-03-29T10:00:00", "Z or +HH:MM"},
                {"2026-03-29T10:00:00+0100", "Z or +HH:MM"},
                {"2026-03-29T10:00:00Z ", "Z or +HH:MM"},
                {"2026-03-29T10:00Z", "HH:MM:SS"},
                {"2026-03-29X10:00:00Z", "expected T"},
                {"2026-3-29T10:00:00Z", "YYYY-MM-DD"},
                {"26-03-29T10:00:00Z", "YYYY-MM-DD"},
                {"2026-03-29T10:00:00.Z", "1 to 9 digits"},
                {"2026-03-29T10:00:00.1234567890Z", "1 to 9 digits"},
                {"", "expected RFC 3339"},
                {"yesterday", "expected RFC 3339"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ma_instant_t out;
                ma_error_t err;
                assert_int_equal(
                        ma_instant_parse_rfc3339(cases[i].text, &out, &err),
                        MA_ERR_PARSE);
                assert_int_equal(err.status, MA_ERR_PARSE);
                if (strstr(err.message, cases[i].message_part) == NULL)
                        fail_msg("\"%s\": message \"%s\" lacks \"%s\"",
                                 cases[i].text, err.message,
                                 cases[i].message_part);
        }
}

/* A local time that exists once: its UTC and offset. */
static void assert_local(const char *text, int64_t expected_utc,
                         int32_t expected_offset)
{
        ma_instant_t out;
        ma_error_t err;
        ma_status_t st = ma_instant_parse_stockholm(text, &out, &err);
        if (st != MA_OK)
                fail_msg("\"%s\": %s", text, err.message);
        assert_int_equal(out.utc_ms, expected_utc);
        assert_int_equal(out.offset_min, expected_offset);
}

static void assert_local_error(const char *text, const char *part)
{
        ma_instant_t out;
        ma_error_t err;
        assert_int_equal(ma_instant_parse_stockholm(text, &out, &err),
                         MA_ERR_PARSE);
        if (strstr(err.message, part) == NULL)
                fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text,
                         err.message, part);
        assert_non_null(strstr(err.message, "offset"));
}

static void stockholm_spring_gap(void **state)
{
        (void)state;
        for (int year = 2020; year <= 2032; year++) {
                int day = last_sunday_oracle(year, 3);
                char text[40];
                snprintf(text, sizeof(text), "%04d-03-%02d 01:59:59", year,
                         day);
                assert_local(text, utc_ms(year, 3, day, 0, 59, 59), 60);
                snprintf(text, sizeof(text), "%04d-03-%02d 02:00:00", year,
                         day);
                assert_local_error(text, "does not exist");
                snprintf(text, sizeof(text), "%04d-03-%02d 02:30:00.250", year,
                         day);
                assert_local_error(text, "does not exist");
                snprintf(text, sizeof(text), "%04d-03-%02d 02:59:59", year,
                         day);
                assert_local_error(text, "does not exist");
                snprintf(text, sizeof(text), "%04d-03-%02d 03:00:00", year,
                         day);
                assert_local(text, utc_ms(year, 3, day, 1, 0, 0), 120);
                /* The same wall time a week earlier exists. */
                snprintf(text, sizeof(text), "%04d-03-%02d 02:30:00", year,
                         day - 7);
                assert_local(text, utc_ms(year, 3, day - 7, 1, 30, 0), 60);
        }
}

static void stockholm_autumn_overlap(void **state)
{
        (void)state;
        for (int year = 2020; year <= 2032; year++) {
                int day = last_sunday_oracle(year, 10);
                char text[40];
                snprintf(text, sizeof(text), "%04d-10-%02d 01:59:59.999", year,
                         day);
                assert_local(text, utc_ms(year, 10, day, 0, 0, 0) - 1, 120);
                snprintf(text, sizeof(text), "%04d-10-%02d 02:00:00", year,
                         day);
                assert_local_error(text, "ambiguous");
                snprintf(text, sizeof(text), "%04d-10-%02d 02:59:59", year,
                         day);
                assert_local_error(text, "ambiguous");
                snprintf(text, sizeof(text), "%04d-10-%02d 03:00:00", year,
                         day);
                assert_local(text, utc_ms(year, 10, day, 2, 0, 0), 60);
                /* The same wall time a week earlier is summer time. */
                snprintf(text, sizeof(text), "%04d-10-%02d 02:30:00", year,
                         day - 7);
                assert_local(text, utc_ms(year, 10, day - 7, 0, 30, 0), 120);
                snprintf(text, sizeof(text), "%04d-11-01 02:30:00", year);
                assert_local(text, utc_ms(year, 11, 1, 1, 30, 0), 60);
        }
}

static void stockholm_error_suggests_offsets(void **state)
{
        (void)state;
        ma_instant_t out;
        ma_error_t err;
        assert_int_equal(
                ma_instant_parse_stockholm("2026-10-25 02:30:00", &out, &err),
                MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "2026-10-25T02:30:00+02:00"));
        assert_non_null(strstr(err.message, "+01:00"));
        assert_int_equal(
                ma_instant_parse_stockholm("2026-03-29 02:30:00", &out, &err),
                MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "2026-03-29T02:30:00+01:00"));
}

static void stockholm_rejects_bad_text(void **state)
{
        (void)state;
        ma_instant_t out;
        ma_error_t err;
        assert_int_equal(
                ma_instant_parse_stockholm("2026-02-30 10:00:00", &out, &err),
                MA_ERR_PARSE);
        assert_int_equal(
                ma_instant_parse_stockholm("2026-03-01 24:00:00", &out, &err),
                MA_ERR_PARSE);
        assert_int_equal(
                ma_instant_parse_stockholm("2026-03-01 10:00:00Z", &out, &err),
                MA_ERR_PARSE);
        assert_int_equal(ma_instant_parse_stockholm("2026-03-01", &out, &err),
                         MA_ERR_PARSE);
}

static void parse_dispatches_on_offset(void **state)
{
        (void)state;
        ma_instant_t out;
        ma_error_t err;
        assert_int_equal(ma_instant_parse("2026-07-01 12:00:00", &out, &err),
                         MA_OK);
        assert_int_equal(out.utc_ms, utc_ms(2026, 7, 1, 10, 0, 0));
        assert_int_equal(out.offset_min, 120);
        assert_int_equal(ma_instant_parse("2026-07-01T12:00:00.5", &out, &err),
                         MA_OK);
        assert_int_equal(out.utc_ms, utc_ms(2026, 7, 1, 10, 0, 0) + 500);
        assert_int_equal(ma_instant_parse("2026-07-01T12:00:00Z", &out, &err),
                         MA_OK);
        assert_int_equal(out.offset_min, 0);
        /* An explicit offset resolves the ambiguous autumn hour. */
        assert_int_equal(
                ma_instant_parse("2026-10-25T02:30:00+01:00", &out, &err),
                MA_OK);
        assert_int_equal(out.utc_ms, utc_ms(2026, 10, 25, 1, 30, 0));
        assert_int_equal(ma_instant_parse("2026-10-25 02:30:00", &out, &err),
                         MA_ERR_PARSE);
}

static void format_round_trip(void **state)
{
        (void)state;
        static const char *const texts[] = {
                "2026-03-29T03:30:00+02:00",     "2026-03-29T01:30:00Z",
                "2026-01-01T00:00:00.001+01:00", "1969-12-31T23:59:59.999Z",
                "2026-06-30T19:15:00-04:30",     "2000-02-29T00:00:00+18:00",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                ma_instant_t out;
                ma_error_t err;
                char buf[40];
                assert_int_equal(ma_instant_parse_rfc3339(texts[i], &out, &err),
                                 MA_OK);
                size_t n = ma_instant_format(&out, buf, sizeof(buf));
                assert_string_equal(buf, texts[i]);
                assert_int_equal(n, strlen(texts[i]));
        }
}

static void format_drops_zero_millis(void **state)
{
        (void)state;
        ma_instant_t instant = {utc_ms(2026, 12, 4, 15, 0, 0) + 120, 60};
        char buf[40];
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf, "2026-12-04T16:00:00.120+01:00");
        instant.utc_ms -= 120;
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf, "2026-12-04T16:00:00+01:00");
}

static void extreme_instants_are_safe(void **state)
{
        (void)state;
        char buf[64];
        ma_instant_t instant = {INT64_MAX, 0};
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf,
                            "(invalid instant 9223372036854775807 ms +0 min)");
        instant.utc_ms = 0;
        instant.offset_min = 5000;
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf, "(invalid instant 0 ms +5000 min)");
        instant.utc_ms =
                INT64_C(253402300799999); /* 9999-12-31T23:59:59.999Z */
        instant.offset_min = 0;
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
        assert_int_equal(ma_stockholm_offset_min(INT64_MAX), 60);
        assert_int_equal(ma_stockholm_offset_min(INT64_MIN), 60);
        /* A short buffer is cut, never overrun. */
        char small[8];
        instant.utc_ms = 0;
        assert_int_equal(ma_instant_format(&instant, small, sizeof(small)),
                         strlen("1970-01-01T00:00:00Z"));
        assert_string_equal(small, "1970-01");
        /* The first instant with an offset west of UTC lies in year -1
         * locally: written with a sign, as before. */
        instant.utc_ms = INT64_C(-62167219200000); /* 0000-01-01T00:00Z */
        instant.offset_min = -60;
        ma_instant_format(&instant, buf, sizeof(buf));
        assert_string_equal(buf, "-001-12-31T23:00:00-01:00");
}

static void date_format_cuts_short_buffer(void **state)
{
        (void)state;
        char small[5];
        assert_int_equal(ma_date_format(ma_days_from_civil(2026, 1, 31), small,
                                        sizeof(small)),
                         10);
        assert_string_equal(small, "2026");
        char buf[16];
        ma_date_format(ma_days_from_civil(1, 2, 3), buf, sizeof(buf));
        assert_string_equal(buf, "0001-02-03");
}

static void date_parse_and_format(void **state)
{
        (void)state;
        int32_t days;
        ma_error_t err;
        char buf[11];
        assert_int_equal(ma_date_parse("2026-01-31", &days, &err), MA_OK);
        assert_int_equal(days, ma_days_from_civil(2026, 1, 31));
        ma_date_format(days, buf, sizeof(buf));
        assert_string_equal(buf, "2026-01-31");
        assert_int_equal(ma_date_parse("1900-01-01", &days, &err), MA_OK);
        assert_int_equal(days, -25567);
        assert_int_equal(ma_date_parse("2024-02-29", &days, &err), MA_OK);
        assert_int_equal(ma_date_parse("2026-02-29", &days, &err),
                         MA_ERR_PARSE);
        assert_non_null(strstr(err.message, "2026-02-29"));
        assert_int_equal(ma_date_parse("2026-1-31", &days, &err), MA_ERR_PARSE);
        assert_int_equal(ma_date_parse("2026-01-31T00:00:00Z", &days, &err),
                         MA_ERR_PARSE);
        assert_int_equal(ma_date_parse(NULL, &days, &err), MA_ERR_PARSE);
}

static void now_is_recent(void **state)
{
        (void)state;
        int64_t now = ma_now_ms();
        assert_true(now > utc_ms(2024, 1, 1, 0, 0, 0));
        assert_true((int64_t)time(NULL) * 1000 - now < 2000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(civil_known_dates),
                cmocka_unit_test(civil_matches_timegm),
                cmocka_unit_test(stockholm_transitions_by_year),
                cmocka_unit_test(stockholm_known_dates),
                cmocka_unit_test(stockholm_matches_tzdata),
                cmocka_unit_test(rfc3339_valid_forms),
                cmocka_unit_test(rfc3339_invalid_forms),
                cmocka_unit_test(stockholm_spring_gap),
                cmocka_unit_test(stockholm_autumn_overlap),
                cmocka_unit_test(stockholm_error_suggests_offsets),
                cmocka_unit_test(stockholm_rejects_bad_text),
                cmocka_unit_test(parse_dispatches_on_offset),
                cmocka_unit_test(format_round_trip),
                cmocka_unit_test(format_drops_zero_millis),
                cmocka_unit_test(extreme_instants_are_safe),
                cmocka_unit_test(date_parse_and_format),
                cmocka_unit_test(date_format_cuts_short_buffer),
                cmocka_unit_test(now_is_recent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
