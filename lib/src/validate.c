/*
 * validate.c - rules a kundhändelse must meet beyond its Avro schema.
 *
 * Each check reports the first problem with the field in err->field and a
 * message that names the value and what would be valid.  Identity numbers
 * are never put into a message: only which check failed.
 */
#include "ma/validate.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ma/datetime.h"

/* ---- Identity numbers ---- */

static bool ma_all_digits(const char *text, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (text[i] < '0' || text[i] > '9')
                        return false;
        }
        return true;
}

bool ma_luhn_valid(const char *digits, size_t len)
{
        if ((len != 10 && len != 12) || !ma_all_digits(digits, len))
                return false;
        const char *p = digits + len - 10;
        int sum = 0;
        for (int i = 0; i < 10; i++) {
                int d = p[i] - '0';
                /* Weights 2,1,2,1,... from the left of the ten digits. */
                if (i % 2 == 0) {
                        d *= 2;
                        if (d > 9)
                                d -= 9;
                }
                sum += d;
        }
        return sum % 10 == 0;
}

static int ma_two_digits(const char *p)
{
        return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool ma_is_leap(int year)
{
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static bool ma_civil_date_valid(int year, int month, int day)
{
        static const int days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
        if (month < 1 || month > 12 || day < 1)
                return false;
        int max = days[month - 1] + (month == 2 && ma_is_leap(year));
        return day <= max;
}

/* Prefix "<field>: " for messages, or nothing when field is NULL. */
#define MA_FIELD_FMT         "%s%s"
#define MA_FIELD_ARGS(field) (field) ? (field) : "", (field) ? ": " : ""

/*
 * Shared check of personnummer and samordningsnummer: day_offset is 0 or
 * 60.  what names the kind in messages.
 */
static ma_status_t ma_validate_person_id(const char *id, const char *field,
                                         int day_offset, const char *what,
                                         ma_error_t *err)
{
        if (id == NULL)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "%s is missing; expected 12 "
                                                 "digits YYYYMMDDNNNC",
                                    MA_FIELD_ARGS(field), what);
        size_t len = strlen(id);
        if (len != 12)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "%s has %zu characters; "
                                                 "expected 12 digits "
                                                 "YYYYMMDDNNNC without "
                                                 "hyphen",
                                    MA_FIELD_ARGS(field), what, len);
        if (!ma_all_digits(id, len))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "%s contains a character "
                                                 "other than a digit; "
                                                 "expected 12 digits "
                                                 "YYYYMMDDNNNC without "
                                                 "hyphen",
                                    MA_FIELD_ARGS(field), what);
        int year = ma_two_digits(id) * 100 + ma_two_digits(id + 2);
        int month = ma_two_digits(id + 4);
        int day = ma_two_digits(id + 6) - day_offset;
        if (!ma_civil_date_valid(year, month, day)) {
                if (day_offset == 0 &&
                    ma_civil_date_valid(year, month, day - 60))
                        return ma_error_set(err, MA_ERR_INVALID, field,
                                            MA_FIELD_FMT
                                            "%s has a day above 60, which "
                                            "marks a samordningsnummer; set "
                                            "typ to Samordningsnummer",
                                            MA_FIELD_ARGS(field), what);
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "%s has an invalid date of "
                                                 "birth; expected YYYYMMDD "
                                                 "of a real date%s followed "
                                                 "by four digits",
                                    MA_FIELD_ARGS(field), what,
                                    day_offset ? " with 60 added to the day"
                                               : "");
        }
        if (!ma_luhn_valid(id, len))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "%s has an invalid check "
                                                 "digit; expected 12 digits "
                                                 "YYYYMMDDNNNC with a valid "
                                                 "Luhn check digit",
                                    MA_FIELD_ARGS(field), what);
        return MA_OK;
}

/* Accepted lengths of an organisationsnummer. */
typedef enum ma_orgnr_form {
        MA_ORGNR_10_OR_12 = 0,
        MA_ORGNR_10_ONLY = 1, /* a producer's own number */
        MA_ORGNR_12_ONLY = 2, /* part.kund: 16 and the ten digits */
} ma_orgnr_form_t;

static ma_status_t ma_validate_orgnr_field(const char *id, const char *field,
                                           ma_orgnr_form_t form,
                                           ma_error_t *err)
{
        static const char *const expected_by_form[] = {
                "expected 10 digits (or 12 starting with 16)",
                "expected exactly 10 digits",
                ("expected 12 digits: 16 followed by the 10-digit "
                 "organisationsnummer"),
        };
        const char *expected = expected_by_form[form];
        if (id == NULL)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer is "
                                                 "missing; %s",
                                    MA_FIELD_ARGS(field), expected);
        size_t len = strlen(id);
        bool digits = ma_all_digits(id, len);
        if (!(len == 10 || len == 12) ||
            (form == MA_ORGNR_10_ONLY && len != 10) ||
            (form == MA_ORGNR_12_ONLY && len != 12))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer has %zu "
                                                 "characters; %s without "
                                                 "hyphen",
                                    MA_FIELD_ARGS(field), len, expected);
        if (!digits)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer "
                                                 "contains a character other "
                                                 "than a digit; %s without "
                                                 "hyphen",
                                    MA_FIELD_ARGS(field), expected);
        if (len == 12 && (id[0] != '1' || id[1] != '6'))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer has 12 "
                                                 "digits but does not start "
                                                 "with 16; %s (a sole "
                                                 "proprietorship uses the "
                                                 "owner's personnummer with "
                                                 "typ Personnummer)",
                                    MA_FIELD_ARGS(field), expected);
        const char *ten = id + len - 10;
        if (ten[2] < '2')
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer has a "
                                                 "third digit below 2, which "
                                                 "marks a personnummer; an "
                                                 "organisationsnummer has 2 "
                                                 "or more there (a sole "
                                                 "proprietorship uses typ "
                                                 "Personnummer)",
                                    MA_FIELD_ARGS(field));
        if (!ma_luhn_valid(id, len))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    MA_FIELD_FMT "organisationsnummer has an "
                                                 "invalid check digit; %s "
                                                 "with a valid Luhn check "
                                                 "digit",
                                    MA_FIELD_ARGS(field), expected);
        return MA_OK;
}

ma_status_t ma_validate_personnummer(const char *id, ma_error_t *err)
{
        return ma_validate_person_id(id, NULL, 0, "personnummer", err);
}

ma_status_t ma_validate_samordningsnummer(const char *id, ma_error_t *err)
{
        return ma_validate_person_id(id, NULL, 60, "samordningsnummer", err);
}

ma_status_t ma_validate_organisationsnummer(const char *id, ma_error_t *err)
{
        return ma_validate_orgnr_field(id, NULL, MA_ORGNR_10_OR_12, err);
}

static ma_status_t ma_validate_kund_field(ma_kund_typ_t typ, const char *id,
                                          const char *field, ma_error_t *err)
{
        switch (typ) {
        case MA_KUND_PERSONNUMMER:
                return ma_validate_person_id(id, field, 0, "personnummer", err);
        case MA_KUND_SAMORDNINGSNUMMER:
                return ma_validate_person_id(id, field, 60, "samordningsnummer",
                                             err);
        case MA_KUND_ORGANISATIONSNUMMER:
                /* 12 digits so one organisation has one pseudonym. */
                return ma_validate_orgnr_field(id, field, MA_ORGNR_12_ONLY,
                                               err);
        }
        return ma_error_set(err, MA_ERR_INVALID, "part.kund.typ",
                            "part.kund.typ %d is unknown; expected "
                            "Personnummer, Organisationsnummer or "
                            "Samordningsnummer",
                            (int)typ);
}

ma_status_t ma_validate_kund(ma_kund_typ_t typ, const char *id, ma_error_t *err)
{
        return ma_validate_kund_field(typ, id, NULL, err);
}

/* ---- Event-type names ---- */

#define MA_EVENT_TYPE_NAME_MAX 255

ma_status_t ma_validate_event_type_name(const char *name, ma_error_t *err)
{
        static const char *const rule =
                "expected PREFIX.PROCESS.EVENT: a prefix of A-Z, then two or "
                "more segments of A-Z, 0-9 and _, separated by dots";
        if (name == NULL || name[0] == '\0')
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseTyp",
                                    "kundhandelseTyp is missing; %s", rule);
        size_t len = strlen(name);
        if (len > MA_EVENT_TYPE_NAME_MAX)
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseTyp",
                                    "kundhandelseTyp \"%.40s...\" has %zu "
                                    "bytes; the maximum is %d",
                                    name, len, MA_EVENT_TYPE_NAME_MAX);
        size_t segments = 0;
        size_t seg_len = 0;
        for (size_t i = 0; i <= len; i++) {
                char c = name[i];
                if (c == '.' || c == '\0') {
                        if (seg_len == 0)
                                return ma_error_set(
                                        err, MA_ERR_INVALID, "kundhandelseTyp",
                                        "kundhandelseTyp \"%.100s\" has an "
                                        "empty segment at byte %zu; %s",
                                        name, i, rule);
                        segments++;
                        seg_len = 0;
                        continue;
                }
                bool upper = c >= 'A' && c <= 'Z';
                bool other = (c >= '0' && c <= '9') || c == '_';
                if (!upper && !(other && segments > 0)) {
                        const char *where =
                                segments == 0 ? "the prefix" : "a segment";
                        const char *allowed =
                                segments == 0 ? "A-Z" : "A-Z, 0-9 and _";
                        return ma_error_set(
                                err, MA_ERR_INVALID, "kundhandelseTyp",
                                "kundhandelseTyp \"%.100s\" has a character "
                                "not allowed in %s at byte %zu; only %s are "
                                "allowed (no lower case, no å, ä or ö)",
                                name, where, i, allowed);
                }
                seg_len++;
        }
        if (segments < 3)
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseTyp",
                                    "kundhandelseTyp \"%.100s\" has %zu "
                                    "segments; %s",
                                    name, segments, rule);
        return MA_OK;
}

/* ---- UTF-8 ---- */

bool ma_utf8_valid(const char *text, size_t len)
{
        const unsigned char *s = (const unsigned char *)text;
        size_t i = 0;
        while (i < len) {
                unsigned char c = s[i];
                if (c < 0x80) {
                        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                                return false;
                        i++;
                        continue;
                }
                size_t n;
                unsigned int cp;
                unsigned int min;
                if (c >= 0xC2 && c <= 0xDF) {
                        n = 1, cp = c & 0x1F, min = 0x80;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        n = 2, cp = c & 0x0F, min = 0x800;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        n = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        /* 0x80-0xC1 (continuation or overlong), 0xF5+. */
                        return false;
                }
                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += n + 1;
        }
        return true;
}

size_t ma_utf8_length(const char *text, size_t len)
{
        size_t count = 0;
        for (size_t i = 0; i < len; i++) {
                if (((unsigned char)text[i] & 0xC0) != 0x80)
                        count++;
        }
        return count;
}

/* ---- Limits ---- */

void ma_validate_limits_default(ma_validate_limits_t *limits)
{
        limits->rubrik_max_chars = 255;
        limits->beskrivning_max_chars = 4000;
        limits->id_max_chars = 255;
        limits->tag_max_chars = 100;
        limits->taggar_max = 100;
        limits->json_max_bytes = 16384;
        limits->future_max_ms = INT64_C(24) * 60 * 60 * 1000;
        /* 1900-01-01T00:00:00Z */
        limits->past_min_utc_ms = INT64_C(-2208988800000);
}

/* ---- Whole events ---- */

/*
 * Checks a text field: present (unless optional), valid UTF-8, not empty
 * (when required) and at most max_chars code points.
 */
static ma_status_t ma_validate_text(const char *value, const char *field,
                                    bool required, size_t max_chars,
                                    ma_error_t *err)
{
        if (value == NULL) {
                if (!required)
                        return MA_OK;
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s is missing; it is required", field);
        }
        size_t len = strlen(value);
        if (required && len == 0)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s is empty; give a non-empty value",
                                    field);
        if (required && strspn(value, " \t\r\n") == len)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s contains only white space; give a "
                                    "value with visible text",
                                    field);
        if (!ma_utf8_valid(value, len))
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s is not valid UTF-8 or contains a "
                                    "control character; only text without "
                                    "NUL and control characters other than "
                                    "tab, CR and LF is allowed",
                                    field);
        size_t chars = ma_utf8_length(value, len);
        if (chars > max_chars)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s has %zu characters; the maximum is "
                                    "%zu",
                                    field, chars, max_chars);
        return MA_OK;
}

/* ISO 639-1 two-letter language codes, sorted. */
static const char ma_iso639_1[] =
        "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs "
        "ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff "
        "fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id "
        "ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku "
        "kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my "
        "na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu "
        "rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv "
        "sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo "
        "wa wo xh yi yo za zh zu";

static ma_status_t ma_validate_sprak(const char *sprak, ma_error_t *err)
{
        if (sprak == NULL)
                return ma_error_set(err, MA_ERR_INVALID, "sprak",
                                    "sprak is missing; expected a two-letter "
                                    "ISO 639-1 code such as sv or en");
        bool shape = strlen(sprak) == 2 && sprak[0] >= 'a' && sprak[0] <= 'z' &&
                     sprak[1] >= 'a' && sprak[1] <= 'z';
        bool known = false;
        for (size_t i = 0; shape && !known && i < sizeof(ma_iso639_1) - 2;
             i += 3)
                known = memcmp(ma_iso639_1 + i, sprak, 2) == 0;
        if (!known)
                return ma_error_set(err, MA_ERR_INVALID, "sprak",
                                    "sprak \"%.16s\" is not an ISO 639-1 "
                                    "language code; expected two lower-case "
                                    "letters such as sv, en or fi",
                                    sprak);
        return MA_OK;
}

/* Checks that optional text, when present, parses as one JSON object. */
static ma_status_t ma_validate_json_object(const char *text, const char *field,
                                           size_t max_bytes, ma_error_t *err)
{
        if (text == NULL)
                return MA_OK;
        size_t len = strlen(text);
        if (len > max_bytes)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s has %zu bytes; the maximum is %zu",
                                    field, len, max_bytes);
        json_error_t jerr;
        json_t *root = json_loadb(
                text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (root == NULL)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s is not valid JSON: %s at line %d, "
                                    "column %d; expected a JSON object such "
                                    "as {\"key\": \"value\"}",
                                    field, jerr.text, jerr.line, jerr.column);
        bool object = json_is_object(root);
        json_decref(root);
        if (!object)
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s is JSON but not an object; expected a "
                                    "JSON object such as {\"key\": "
                                    "\"value\"}",
                                    field);
        return MA_OK;
}

static ma_status_t ma_validate_part(const ma_part_t *part,
                                    const ma_validate_limits_t *limits,
                                    ma_error_t *err)
{
        if (!part->has_kund && !part->has_arende)
                return ma_error_set(err, MA_ERR_INVALID, "part",
                                    "part has neither kund nor arende; give "
                                    "the customer, the case reference or "
                                    "both");
        ma_status_t st;
        if (part->has_kund) {
                st = ma_validate_kund_field(part->kund_typ,
                                            part->kund_identifierare,
                                            "part.kund.identifierare", err);
                if (st != MA_OK)
                        return st;
                st = ma_validate_text(part->kund_tillagg, "part.kund.tillagg",
                                      false, limits->id_max_chars, err);
                if (st != MA_OK)
                        return st;
        }
        if (part->has_arende) {
                if ((unsigned)part->arende_typ > MA_ARENDE_KVITTENSNUMMER)
                        return ma_error_set(
                                err, MA_ERR_INVALID, "part.arende.typ",
                                "part.arende.typ %d is unknown; expected "
                                "Konsumentreferens, Producentarendereferens, "
                                "Diarienummer or Kvittensnummer",
                                (int)part->arende_typ);
                st = ma_validate_text(part->arende_identifierare,
                                      "part.arende.identifierare", true,
                                      limits->id_max_chars, err);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

static ma_status_t ma_validate_tidpunkt(const ma_instant_t *tidpunkt,
                                        const ma_validate_limits_t *limits,
                                        int64_t now_ms, ma_error_t *err)
{
        /* The text form is made only for messages: formatting costs as much
         * as the rest of the validation. */
        char text[40];

        if (tidpunkt->offset_min < -1080 || tidpunkt->offset_min > 1080)
                return ma_error_set(err, MA_ERR_INVALID, "tidpunkt",
                                    "tidpunkt has UTC offset %d minutes; "
                                    "offsets are -1080 to 1080 minutes "
                                    "(-18:00 to +18:00)",
                                    (int)tidpunkt->offset_min);
        if (tidpunkt->utc_ms < limits->past_min_utc_ms) {
                char min[40];
                ma_instant_t bound = {limits->past_min_utc_ms, 0};
                ma_instant_format(tidpunkt, text, sizeof(text));
                ma_instant_format(&bound, min, sizeof(min));
                return ma_error_set(err, MA_ERR_INVALID, "tidpunkt",
                                    "tidpunkt %s is too early; it must not "
                                    "be before %s",
                                    text, min);
        }
        if (tidpunkt->utc_ms > now_ms &&
            tidpunkt->utc_ms - now_ms > limits->future_max_ms) {
                char max[40];
                ma_instant_t bound = {now_ms + limits->future_max_ms, 0};
                ma_instant_format(tidpunkt, text, sizeof(text));
                ma_instant_format(&bound, max, sizeof(max));
                return ma_error_set(err, MA_ERR_INVALID, "tidpunkt",
                                    "tidpunkt %s is in the future; it must "
                                    "not be after %s (%lld ms from now); "
                                    "check the producer's clock and time "
                                    "zone",
                                    text, max,
                                    (long long)limits->future_max_ms);
        }
        return MA_OK;
}

/* Dates the views can hold: 1900-01-01 to 9999-12-31. */
static ma_status_t ma_validate_date(int32_t days, const char *field,
                                    ma_error_t *err)
{
        if (days == MA_DATE_NONE)
                return MA_OK;
        int64_t min = ma_days_from_civil(1900, 1, 1);
        int64_t max = ma_days_from_civil(9999, 12, 31);
        if (days < min || days > max) {
                char text[32];
                ma_date_format(days, text, sizeof(text));
                return ma_error_set(err, MA_ERR_INVALID, field,
                                    "%s %s is outside 1900-01-01 to "
                                    "9999-12-31; give a date in that range",
                                    field, text);
        }
        return MA_OK;
}

static ma_status_t ma_validate_taggar(const ma_event_t *event,
                                      const ma_validate_limits_t *limits,
                                      ma_error_t *err)
{
        if (event->taggar_count > limits->taggar_max)
                return ma_error_set(err, MA_ERR_INVALID, "taggar",
                                    "taggar has %zu tags; the maximum is %zu",
                                    event->taggar_count, limits->taggar_max);
        for (size_t i = 0; i < event->taggar_count; i++) {
                char field[32];
                snprintf(field, sizeof(field), "taggar[%zu]", i);
                ma_status_t st = ma_validate_text(event->taggar[i], field, true,
                                                  limits->tag_max_chars, err);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

/* Fields both kinds of message have. */
static ma_status_t ma_validate_common(const ma_event_t *event,
                                      const ma_validate_limits_t *limits,
                                      int64_t now_ms, ma_error_t *err)
{
        ma_status_t st;
        st = ma_validate_text(event->kundhandelse_id, "kundhandelseId", true,
                              limits->id_max_chars, err);
        if (st != MA_OK)
                return st;
        st = ma_validate_orgnr_field(event->producent_organisationsnummer,
                                     "producentOrganisationsnummer",
                                     MA_ORGNR_10_ONLY, err);
        if (st != MA_OK)
                return st;
        st = ma_validate_part(&event->part, limits, err);
        if (st != MA_OK)
                return st;
        st = ma_validate_tidpunkt(&event->tidpunkt, limits, now_ms, err);
        if (st != MA_OK)
                return st;
        if (event->sekvens < 0)
                return ma_error_set(err, MA_ERR_INVALID, "sekvens",
                                    "sekvens %lld is negative; expected 0 or "
                                    "more, higher for each new version of "
                                    "the event",
                                    (long long)event->sekvens);
        return MA_OK;
}

static ma_status_t
ma_validate_publish_fields(const ma_event_t *event,
                           const ma_validate_limits_t *limits, ma_error_t *err)
{
        ma_status_t st;
        st = ma_validate_text(event->producent, "producent", true,
                              limits->rubrik_max_chars, err);
        if (st == MA_OK)
                st = ma_validate_text(event->rubrik, "rubrik", true,
                                      limits->rubrik_max_chars, err);
        if (st == MA_OK)
                st = ma_validate_text(event->beskrivning, "beskrivning", true,
                                      limits->beskrivning_max_chars, err);
        if (st == MA_OK)
                st = ma_validate_sprak(event->sprak, err);
        if (st == MA_OK)
                st = ma_validate_event_type_name(event->kundhandelse_typ, err);
        if (st == MA_OK)
                st = ma_validate_text(event->version, "version", true, 16, err);
        if (st == MA_OK)
                st = ma_validate_json_object(event->utokad_information,
                                             "utokadInformation",
                                             limits->json_max_bytes, err);
        if (st == MA_OK)
                st = ma_validate_json_object(event->referenser, "referenser",
                                             limits->json_max_bytes, err);
        if (st == MA_OK)
                st = ma_validate_taggar(event, limits, err);
        if (st == MA_OK)
                st = ma_validate_date(event->giltig_till, "giltigTill", err);
        if (st == MA_OK)
                st = ma_validate_date(event->atgard_senast, "atgardSenast",
                                      err);
        if (st == MA_OK)
                st = ma_validate_text(event->kundhandelsereferens,
                                      "kundhandelsereferens", false,
                                      limits->id_max_chars, err);
        return st;
}

/* The producer exists, and the type exists and belongs to that producer. */
static ma_status_t ma_validate_against_catalog(const ma_event_t *event,
                                               const ma_catalog_t *catalog,
                                               ma_error_t *err)
{
        const ma_producer_t *producer = ma_catalog_find_producer(
                catalog, event->producent_organisationsnummer);
        if (producer == NULL)
                return ma_error_set(err, MA_ERR_INVALID,
                                    "producentOrganisationsnummer",
                                    "producer %s is not in the event-type "
                                    "catalog; add it to the catalog before "
                                    "it publishes",
                                    event->producent_organisationsnummer);
        if (event->kind != MA_EVENT_PUBLISH)
                return MA_OK;
        const ma_event_type_t *type =
                ma_catalog_find_type(catalog, event->kundhandelse_typ);
        if (type == NULL)
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseTyp",
                                    "kundhandelseTyp \"%.100s\" is not in the "
                                    "event-type catalog; use a type listed "
                                    "for producer %s (prefix %s) or add it "
                                    "to the catalog",
                                    event->kundhandelse_typ, producer->name,
                                    producer->prefix);
        if (type->process->producer != producer)
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseTyp",
                                    "kundhandelseTyp \"%.100s\" belongs to "
                                    "producer %s (prefix %s), not to %s "
                                    "(prefix %s); a producer may publish "
                                    "only types with its own prefix",
                                    event->kundhandelse_typ,
                                    type->process->producer->name,
                                    type->process->producer->prefix,
                                    producer->name, producer->prefix);
        return MA_OK;
}

static ma_status_t
ma_validate_retract_fields(const ma_event_t *event,
                           const ma_validate_limits_t *limits, ma_error_t *err)
{
        return ma_validate_text(event->orsak, "orsak", false,
                                limits->beskrivning_max_chars, err);
}

ma_status_t ma_event_validate(const ma_event_t *event,
                              const ma_catalog_t *catalog,
                              const ma_validate_limits_t *limits,
                              int64_t now_ms, ma_error_t *err)
{
        ma_validate_limits_t defaults;
        if (limits == NULL) {
                ma_validate_limits_default(&defaults);
                limits = &defaults;
        }
        if (event->kind != MA_EVENT_PUBLISH && event->kind != MA_EVENT_RETRACT)
                return ma_error_set(err, MA_ERR_INVALID, NULL,
                                    "event kind %d is unknown; expected a "
                                    "Kundhandelse or an Aterkallelse",
                                    (int)event->kind);
        ma_status_t st = ma_validate_common(event, limits, now_ms, err);
        if (st != MA_OK)
                return st;
        if (event->kind == MA_EVENT_PUBLISH)
                st = ma_validate_publish_fields(event, limits, err);
        else
                st = ma_validate_retract_fields(event, limits, err);
        if (st != MA_OK)
                return st;
        if (catalog != NULL)
                return ma_validate_against_catalog(event, catalog, err);
        return MA_OK;
}
