/*
 * datetime.c - civil date arithmetic, RFC 3339 and Europe/Stockholm time.
 *
 * Dates are proleptic Gregorian.  The Stockholm offset is computed from the
 * EU summer-time rule (last Sunday of March 01:00 UTC to last Sunday of
 * October 01:00 UTC), which has applied in Sweden since 1996.
 *
 * NOTE: the same rule is applied to every earlier year, so instants before
 * 1996 can be an hour off.  According to the tz database, Sweden ended
 * summer time on the last Sunday of September from 1981 to 1995, used
 * 6 April to 28 September in 1980, and had none from 1950 to 1979.
 */
#include "ma/datetime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MA_MS_PER_MINUTE INT64_C(60000)
#define MA_MS_PER_HOUR   (60 * MA_MS_PER_MINUTE)
#define MA_MS_PER_DAY    (24 * MA_MS_PER_HOUR)
/* RFC 3339 allows any offset; this project bounds it like ISO 8601-1. */
#define MA_OFFSET_MAX_MIN (18 * 60)
/*
 * Instants from 0000-01-01 to 9999-12-31 (UTC).  Outside this range the
 * arithmetic below could overflow int64_t, and RFC 3339 has four-digit years.
 */
#define MA_INSTANT_MIN_MS INT64_C(-62167219200000)
#define MA_INSTANT_MAX_MS INT64_C(253402300799999)

/* Howard Hinnant's days_from_civil, valid for the whole int range of years. */
int64_t ma_days_from_civil(int year, int month, int day)
{
        int64_t y = (int64_t)year - (month <= 2);
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t mp = (month + 9) % 12;
        int64_t doy = (153 * mp + 2) / 5 + day - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void ma_civil_from_days(int64_t days, int *year, int *month, int *day)
{
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1;
        int64_t m = mp < 10 ? mp + 3 : mp - 9;
        *year = (int)(yoe + era * 400 + (m <= 2));
        *month = (int)m;
        *day = (int)d;
}

static bool ma_is_leap_year(int year)
{
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int ma_days_in_month(int year, int month)
{
        static const int days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
        if (month == 2 && ma_is_leap_year(year))
                return 29;
        return days[month - 1];
}

static int64_t ma_floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

/* Day number (0 = Sunday) of the last Sunday of a month. */
static int64_t ma_last_sunday(int year, int month)
{
        int64_t last =
                ma_days_from_civil(year, month, ma_days_in_month(year, month));
        /* 1970-01-01 was a Thursday, weekday 4 when Sunday is 0. */
        int64_t weekday = (last + 4) - ma_floor_div(last + 4, 7) * 7;
        return last - weekday;
}

int32_t ma_stockholm_offset_min(int64_t utc_ms)
{
        int year, month, day;
        /* Outside the supported years the rule is not evaluated. */
        if (utc_ms < MA_INSTANT_MIN_MS || utc_ms > MA_INSTANT_MAX_MS)
                return 60;
        ma_civil_from_days(ma_floor_div(utc_ms, MA_MS_PER_DAY), &year, &month,
                           &day);
        int64_t start =
                ma_last_sunday(year, 3) * MA_MS_PER_DAY + MA_MS_PER_HOUR;
        int64_t end = ma_last_sunday(year, 10) * MA_MS_PER_DAY + MA_MS_PER_HOUR;
        return (utc_ms >= start && utc_ms < end) ? 120 : 60;
}

/* ---- Parsing helpers ---- */

/* Reads exactly n decimal digits; false when any is missing. */
static bool ma_read_digits(const char *text, size_t n, int *value)
{
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (text[i] < '0' || text[i] > '9')
                        return false;
                v = v * 10 + (text[i] - '0');
        }
        *value = v;
        return true;
}

/* A date and time of day without offset, as read from text. */
typedef struct ma_civil_time {
        int year, month, day, hour, minute, second, millis;
} ma_civil_time_t;

static int64_t ma_civil_to_ms(const ma_civil_time_t *t)
{
        return ma_days_from_civil(t->year, t->month, t->day) * MA_MS_PER_DAY +
               t->hour * MA_MS_PER_HOUR + t->minute * MA_MS_PER_MINUTE +
               t->second * INT64_C(1000) + t->millis;
}

static ma_status_t ma_date_fields_parse(const char *text, const char *shown,
                                        ma_civil_time_t *t, ma_error_t *err)
{
        if (!ma_read_digits(text, 4, &t->year) || text[4] != '-' ||
            !ma_read_digits(text + 5, 2, &t->month) || text[7] != '-' ||
            !ma_read_digits(text + 8, 2, &t->day))
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid date \"%.64s\": expected "
                                    "YYYY-MM-DD",
                                    shown);
        if (t->month < 1 || t->month > 12)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid date \"%.64s\": month %02d is "
                                    "not between 01 and 12",
                                    shown, t->month);
        int max_day = ma_days_in_month(t->year, t->month);
        if (t->day < 1 || t->day > max_day)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid date \"%.64s\": day %02d does "
                                    "not exist in %04d-%02d, which has %d "
                                    "days",
                                    shown, t->day, t->year, t->month, max_day);
        return MA_OK;
}

/*
 * Parses "HH:MM:SS[.fraction]" at text; *end is set past it.  The fraction
 * has 1 to 9 digits and is truncated to milliseconds.
 */
static ma_status_t ma_time_fields_parse(const char *text, const char *shown,
                                        ma_civil_time_t *t, const char **end,
                                        ma_error_t *err)
{
        if (!ma_read_digits(text, 2, &t->hour) || text[2] != ':' ||
            !ma_read_digits(text + 3, 2, &t->minute) || text[5] != ':' ||
            !ma_read_digits(text + 6, 2, &t->second))
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid time in \"%.64s\": expected "
                                    "HH:MM:SS after the date",
                                    shown);
        if (t->hour > 23 || t->minute > 59 || t->second > 59)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid time in \"%.64s\": %02d:%02d:%02d "
                                    "is out of range; hours are 00-23, "
                                    "minutes and seconds 00-59 (leap seconds "
                                    "are not supported)",
                                    shown, t->hour, t->minute, t->second);
        const char *p = text + 8;
        t->millis = 0;
        if (*p == '.') {
                p++;
                size_t digits = 0;
                while (p[digits] >= '0' && p[digits] <= '9')
                        digits++;
                if (digits == 0 || digits > 9)
                        return ma_error_set(err, MA_ERR_PARSE, NULL,
                                            "invalid fraction of a second in "
                                            "\"%.64s\": expected 1 to 9 "
                                            "digits after the decimal point",
                                            shown);
                for (size_t i = 0; i < 3; i++)
                        t->millis =
                                t->millis * 10 + (i < digits ? p[i] - '0' : 0);
                p += digits;
        }
        *end = p;
        return MA_OK;
}

static bool ma_is_date_time_separator(char c, bool allow_space)
{
        return c == 'T' || c == 't' || (allow_space && c == ' ');
}

/* ---- RFC 3339 ---- */

static ma_status_t ma_offset_parse(const char *p, const char *text,
                                   int32_t *offset_min, ma_error_t *err)
{
        if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
                *offset_min = 0;
                return MA_OK;
        }
        int hours, minutes;
        if ((p[0] != '+' && p[0] != '-') || !ma_read_digits(p + 1, 2, &hours) ||
            p[3] != ':' || !ma_read_digits(p + 4, 2, &minutes) || p[6] != '\0')
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid UTC offset in \"%.64s\": expected "
                                    "Z or +HH:MM or -HH:MM at the end",
                                    text);
        int32_t offset = hours * 60 + minutes;
        if (minutes > 59 || offset > MA_OFFSET_MAX_MIN)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid UTC offset in \"%.64s\": %.6s is "
                                    "out of range; offsets are -18:00 to "
                                    "+18:00 with minutes 00-59",
                                    text, p);
        /* "-00:00" (unknown local offset, RFC 3339 section 4.3) reads as 0. */
        *offset_min = p[0] == '-' ? -offset : offset;
        return MA_OK;
}

ma_status_t ma_instant_parse_rfc3339(const char *text, ma_instant_t *out,
                                     ma_error_t *err)
{
        ma_civil_time_t t;
        const char *p;
        int32_t offset = 0;
        ma_status_t st;

        if (text == NULL)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "missing time: expected RFC 3339, for "
                                    "example 2026-03-29T03:30:00+02:00");
        if (strnlen(text, 11) < 11)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid time \"%.64s\": expected RFC "
                                    "3339, for example "
                                    "2026-03-29T03:30:00+02:00",
                                    text);
        st = ma_date_fields_parse(text, text, &t, err);
        if (st != MA_OK)
                return st;
        /* RFC 3339 section 5.6 lets applications use a space for T. */
        if (!ma_is_date_time_separator(text[10], true))
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid time \"%.64s\": expected T "
                                    "between date and time, for example "
                                    "2026-03-29T03:30:00+02:00",
                                    text);
        st = ma_time_fields_parse(text + 11, text, &t, &p, err);
        if (st != MA_OK)
                return st;
        st = ma_offset_parse(p, text, &offset, err);
        if (st != MA_OK)
                return st;
        out->utc_ms = ma_civil_to_ms(&t) - offset * MA_MS_PER_MINUTE;
        out->offset_min = offset;
        return MA_OK;
}

/* ---- Europe/Stockholm local time ---- */

ma_status_t ma_instant_parse_stockholm(const char *text, ma_instant_t *out,
                                       ma_error_t *err)
{
        ma_civil_time_t t;
        const char *p;
        ma_status_t st;

        if (text == NULL || strnlen(text, 11) < 11)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid local time \"%.64s\": expected "
                                    "YYYY-MM-DD HH:MM:SS in Swedish time",
                                    text == NULL ? "" : text);
        st = ma_date_fields_parse(text, text, &t, err);
        if (st != MA_OK)
                return st;
        if (!ma_is_date_time_separator(text[10], true))
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid local time \"%.64s\": expected "
                                    "a space or T between date and time",
                                    text);
        st = ma_time_fields_parse(text + 11, text, &t, &p, err);
        if (st != MA_OK)
                return st;
        if (*p != '\0')
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid local time \"%.64s\": unexpected "
                                    "text after the seconds; give an offset "
                                    "as Z or +HH:MM, or nothing for Swedish "
                                    "time",
                                    text);

        /*
         * A local time maps to UTC by subtracting one hour (winter time) or
         * two (summer time).  Each reading is valid when the rule gives that
         * offset at the result.  When neither is valid, the time is in the
         * skipped spring hour, and when both are, in the repeated autumn
         * hour.
         */
        int64_t local_ms = ma_civil_to_ms(&t);
        int64_t winter = local_ms - 60 * MA_MS_PER_MINUTE;
        int64_t summer = local_ms - 120 * MA_MS_PER_MINUTE;
        bool winter_ok = ma_stockholm_offset_min(winter) == 60;
        bool summer_ok = ma_stockholm_offset_min(summer) == 120;
        if (!winter_ok && !summer_ok)
                return ma_error_set(
                        err, MA_ERR_PARSE, NULL,
                        "local time \"%.64s\" does not exist in Swedish time: "
                        "clocks moved from 02:00 to 03:00 that day; give the "
                        "time in RFC 3339 with an explicit UTC offset, for "
                        "example %04d-%02d-%02dT%02d:%02d:%02d+01:00",
                        text, t.year, t.month, t.day, t.hour, t.minute,
                        t.second);
        if (winter_ok && summer_ok)
                return ma_error_set(
                        err, MA_ERR_PARSE, NULL,
                        "local time \"%.64s\" is ambiguous in Swedish time: "
                        "clocks moved from 03:00 back to 02:00 that day, so "
                        "it occurs twice; give an explicit UTC offset, "
                        "%04d-%02d-%02dT%02d:%02d:%02d+02:00 for the first "
                        "(summer time) or +01:00 for the second",
                        text, t.year, t.month, t.day, t.hour, t.minute,
                        t.second);
        out->utc_ms = summer_ok ? summer : winter;
        out->offset_min = summer_ok ? 120 : 60;
        return MA_OK;
}

ma_status_t ma_instant_parse(const char *text, ma_instant_t *out,
                             ma_error_t *err)
{
        if (text == NULL)
                return ma_instant_parse_rfc3339(text, out, err);
        /* The offset, if any, follows "YYYY-MM-DDTHH:MM:SS[.fraction]". */
        size_t len = strlen(text);
        size_t pos = 19;
        if (len > pos && text[pos] == '.') {
                pos++;
                while (pos < len && text[pos] >= '0' && text[pos] <= '9')
                        pos++;
        }
        if (len > pos)
                return ma_instant_parse_rfc3339(text, out, err);
        return ma_instant_parse_stockholm(text, out, err);
}

/* ---- Formatting ---- */

/* Writes value as exactly width digits (value >= 0, below 10^width). */
static char *ma_put_digits(char *at, int value, int width)
{
        for (int i = width - 1; i >= 0; i--) {
                at[i] = (char)('0' + value % 10);
                value /= 10;
        }
        return at + width;
}

/* Copies the n characters of text to buf as snprintf() would: truncated
 * to size - 1, NUL-terminated when size > 0; returns n. */
static size_t ma_put_result(char *buf, size_t size, const char *text, size_t n)
{
        if (size > 0) {
                size_t copied = n < size - 1 ? n : size - 1;

                memcpy(buf, text, copied);
                buf[copied] = '\0';
        }
        return n;
}

/* Writes YYYY-MM-DD for a year from 0 to 9999.  The processor formats two
 * dates and an instant per event, and snprintf() was a noticeable share of
 * its CPU time. */
static char *ma_put_date(char *at, int year, int month, int day)
{
        at = ma_put_digits(at, year, 4);
        *at++ = '-';
        at = ma_put_digits(at, month, 2);
        *at++ = '-';
        return ma_put_digits(at, day, 2);
}

size_t ma_instant_format(const ma_instant_t *instant, char *buf, size_t size)
{
        /*
         * Decoded input can carry any int64_t.  An instant or offset that
         * cannot be written as RFC 3339 is shown as its raw numbers.
         */
        if (instant->utc_ms < MA_INSTANT_MIN_MS ||
            instant->utc_ms > MA_INSTANT_MAX_MS ||
            instant->offset_min < -MA_OFFSET_MAX_MIN ||
            instant->offset_min > MA_OFFSET_MAX_MIN) {
                int n = snprintf(
                        buf, size, "(invalid instant %lld ms %+ld min)",
                        (long long)instant->utc_ms, (long)instant->offset_min);
                return n < 0 ? 0 : (size_t)n;
        }
        int64_t local_ms =
                instant->utc_ms + instant->offset_min * MA_MS_PER_MINUTE;
        int64_t days = ma_floor_div(local_ms, MA_MS_PER_DAY);
        int64_t ms_of_day = local_ms - days * MA_MS_PER_DAY;
        int year, month, day;
        ma_civil_from_days(days, &year, &month, &day);

        int hour = (int)(ms_of_day / MA_MS_PER_HOUR);
        int minute = (int)(ms_of_day / MA_MS_PER_MINUTE % 60);
        int second = (int)(ms_of_day / 1000 % 60);
        int millis = (int)(ms_of_day % 1000);

        char text[40], *at = text;

        if (year < 0 || year > 9999) {
                int n = snprintf(text, sizeof(text), "%04d", year);

                at = text + (n < 0 ? 0 : n);
                *at++ = '-';
                at = ma_put_digits(at, month, 2);
                *at++ = '-';
                at = ma_put_digits(at, day, 2);
        } else {
                at = ma_put_date(at, year, month, day);
        }
        *at++ = 'T';
        at = ma_put_digits(at, hour, 2);
        *at++ = ':';
        at = ma_put_digits(at, minute, 2);
        *at++ = ':';
        at = ma_put_digits(at, second, 2);
        if (millis != 0) {
                *at++ = '.';
                at = ma_put_digits(at, millis, 3);
        }
        if (instant->offset_min == 0) {
                *at++ = 'Z';
        } else {
                int32_t abs_offset = instant->offset_min < 0
                                             ? -instant->offset_min
                                             : instant->offset_min;

                *at++ = instant->offset_min < 0 ? '-' : '+';
                at = ma_put_digits(at, (int)(abs_offset / 60 % 100), 2);
                *at++ = ':';
                at = ma_put_digits(at, (int)(abs_offset % 60), 2);
        }
        return ma_put_result(buf, size, text, (size_t)(at - text));
}

/* ---- Dates ---- */

ma_status_t ma_date_parse(const char *text, int32_t *days_out, ma_error_t *err)
{
        ma_civil_time_t t;
        if (text == NULL || strlen(text) != 10)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid date \"%.64s\": expected "
                                    "YYYY-MM-DD",
                                    text == NULL ? "" : text);
        ma_status_t st = ma_date_fields_parse(text, text, &t, err);
        if (st != MA_OK)
                return st;
        *days_out = (int32_t)ma_days_from_civil(t.year, t.month, t.day);
        return MA_OK;
}

size_t ma_date_format(int32_t days, char *buf, size_t size)
{
        int year, month, day;
        ma_civil_from_days(days, &year, &month, &day);
        if (year < 0 || year > 9999) {
                int n = snprintf(buf, size, "%04d-%02d-%02d", year, month, day);
                return n < 0 ? 0 : (size_t)n;
        }
        char text[10];
        ma_put_date(text, year, month, day);
        return ma_put_result(buf, size, text, sizeof(text));
}

int64_t ma_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
