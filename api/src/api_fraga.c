/*
 * api_fraga.c - parsing and validating the kundhandelseFragaSynkron body.
 *
 * Every problem is reported with its JSON path ("fraga.parter[3].kund.typ")
 * so a client can fix it.  Identity numbers are checked (digits, date and
 * Luhn digit) but never copied into a message.  Unknown attributes are
 * rejected, so a misspelt filter cannot silently widen a question.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ma/datetime.h"
#include "ma/validate.h"

#define API_TEXT_MAX 255 /* bytes of an identifierare, tillagg or type */
#define API_TAG_MAX  100

static const char *const api_sort_names[] = {
        "RUBRIK",
        "BESKRIVNING",
        "PRODUCENT",
        "TIDPUNKT",
        "KUNDHANDELSETYP",
        "PRODUCENTARENDETKRAVERKUNDATGARD",
        "PRODUCENTARENDETKLART",
};

/* Column expressions for each attribute, in api_sort_attribute_t order.
 * Text sorts case-insensitively in Swedish alphabetical order. */
static const char *const api_sort_columns[] = {
        "lower(rubrik COLLATE \"sv-x-icu\")",
        "lower(beskrivning COLLATE \"sv-x-icu\")",
        "lower(producent COLLATE \"sv-x-icu\")",
        "tidpunkt",
        "kundhandelse_typ",
        "producentarendet_kraver_kundatgard",
        "producentarendet_klart",
};

const char *api_sort_attribute_name(api_sort_attribute_t attribute)
{
        return api_sort_names[attribute];
}

static bool api_fail(char *message, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static bool api_fail(char *message, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, size, fmt, ap);
        va_end(ap);
        return false;
}

static bool api_check_keys(json_t *object, const char *path,
                           const char *const *allowed, char *message,
                           size_t size)
{
        const char *key;
        json_t *value;

        json_object_foreach(object, key, value)
        {
                bool known = false;

                for (size_t i = 0; allowed[i] != NULL; i++)
                        if (strcmp(key, allowed[i]) == 0)
                                known = true;
                if (!known)
                        return api_fail(message, size,
                                        "unknown attribute \"%.64s\" in %s",
                                        key, path);
        }
        return true;
}

/* A string of 1..max bytes of UTF-8 without NUL or control characters. */
static bool api_string_value(json_t *value, const char *path, size_t max,
                             const char **out, char *message, size_t size)
{
        size_t len;

        if (!json_is_string(value))
                return api_fail(message, size, "%s must be a string", path);
        len = json_string_length(value);
        if (len == 0 || len > max)
                return api_fail(message, size,
                                "%s must have 1 to %zu bytes, not %zu", path,
                                max, len);
        if (strlen(json_string_value(value)) != len ||
            !ma_utf8_valid(json_string_value(value), len))
                return api_fail(message, size,
                                "%s contains a NUL or control character", path);
        *out = json_string_value(value);
        return true;
}

static bool api_get_string(json_t *object, const char *key, const char *path,
                           bool required, size_t max, const char **out,
                           char *message, size_t size)
{
        json_t *value = json_object_get(object, key);
        char full[96];

        *out = NULL;
        snprintf(full, sizeof(full), "%s.%s", path, key);
        if (value == NULL || json_is_null(value)) {
                if (required)
                        return api_fail(message, size, "%s is missing", full);
                return true;
        }
        return api_string_value(value, full, max, out, message, size);
}

static bool api_parse_kund(json_t *kund, const char *path, api_party_t *party,
                           char *message, size_t size)
{
        static const char *const keys[] = {"identifierare", "typ", "tillagg",
                                           NULL};
        const char *typ;
        ma_error_t err;
        int parsed;

        if (!json_is_object(kund))
                return api_fail(message, size, "%s must be an object", path);
        if (!api_check_keys(kund, path, keys, message, size))
                return false;
        if (!api_get_string(kund, "typ", path, true, 64, &typ, message, size))
                return false;
        parsed = ma_kund_typ_parse(typ);
        if (parsed < 0)
                return api_fail(message, size,
                                "%s.typ \"%.64s\" is not a kund typ: use "
                                "Personnummer, Organisationsnummer or "
                                "Samordningsnummer",
                                path, typ);
        if (!api_get_string(kund, "identifierare", path, true, 64,
                            &party->kund_identifierare, message, size))
                return false;
        if (ma_validate_kund((ma_kund_typ_t)parsed, party->kund_identifierare,
                             &err) != MA_OK)
                return api_fail(message, size, "%s.identifierare: %s", path,
                                err.message);
        if (!api_get_string(kund, "tillagg", path, false, API_TEXT_MAX,
                            &party->kund_tillagg, message, size))
                return false;
        party->kund_typ = (ma_kund_typ_t)parsed;
        party->has_kund = true;
        return true;
}

static bool api_parse_arende(json_t *arende, const char *path,
                             api_party_t *party, char *message, size_t size)
{
        static const char *const keys[] = {"identifierare", "typ", NULL};
        const char *typ;
        int parsed;

        if (!json_is_object(arende))
                return api_fail(message, size, "%s must be an object", path);
        if (!api_check_keys(arende, path, keys, message, size))
                return false;
        if (!api_get_string(arende, "typ", path, true, 64, &typ, message, size))
                return false;
        parsed = ma_arende_typ_parse(typ);
        if (parsed < 0)
                return api_fail(message, size,
                                "%s.typ \"%.64s\" is not an arende typ: use "
                                "Konsumentreferens, Producentarendereferens, "
                                "Diarienummer or Kvittensnummer",
                                path, typ);
        if (!api_get_string(arende, "identifierare", path, true, API_TEXT_MAX,
                            &party->arende_identifierare, message, size))
                return false;
        party->arende_typ = (ma_arende_typ_t)parsed;
        party->has_arende = true;
        return true;
}

static bool api_parse_parties(json_t *fraga, api_question_t *q, char *message,
                              size_t size)
{
        static const char *const keys[] = {"kund", "arende", NULL};
        json_t *parter = json_object_get(fraga, "parter");
        char path[64];

        if (parter == NULL)
                return api_fail(message, size, "fraga.parter is missing");
        if (!json_is_array(parter))
                return api_fail(message, size, "fraga.parter must be an array");
        if (json_array_size(parter) == 0 ||
            json_array_size(parter) > API_PARTS_MAX)
                return api_fail(message, size,
                                "fraga.parter must have 1 to %d parties, not "
                                "%zu",
                                API_PARTS_MAX, json_array_size(parter));
        for (size_t i = 0; i < json_array_size(parter); i++) {
                json_t *part = json_array_get(parter, i);
                api_party_t *party = &q->parties[i];
                json_t *kund, *arende;

                snprintf(path, sizeof(path), "fraga.parter[%zu]", i);
                if (!json_is_object(part))
                        return api_fail(message, size, "%s must be an object",
                                        path);
                if (!api_check_keys(part, path, keys, message, size))
                        return false;
                kund = json_object_get(part, "kund");
                arende = json_object_get(part, "arende");
                if (kund == NULL && arende == NULL)
                        return api_fail(message, size,
                                        "%s needs kund, arende or both", path);
                snprintf(path, sizeof(path), "fraga.parter[%zu].kund", i);
                if (kund != NULL &&
                    !api_parse_kund(kund, path, party, message, size))
                        return false;
                snprintf(path, sizeof(path), "fraga.parter[%zu].arende", i);
                if (arende != NULL &&
                    !api_parse_arende(arende, path, party, message, size))
                        return false;
        }
        q->party_count = json_array_size(parter);
        return true;
}

/* A type pattern: segments of A-Z, 0-9 and '_' separated by single dots. */
static bool api_type_pattern_valid(const char *text)
{
        size_t segment = 0;

        for (const char *p = text; *p != '\0'; p++) {
                if (*p == '.') {
                        if (segment == 0)
                                return false;
                        segment = 0;
                } else if ((*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '_') {
                        segment++;
                } else {
                        return false;
                }
        }
        return segment > 0;
}

static bool api_parse_string_list(json_t *fraga, const char *key, size_t max,
                                  size_t max_len, const char **out,
                                  size_t *count, char *message, size_t size)
{
        json_t *list = json_object_get(fraga, key);
        char path[64];

        *count = 0;
        if (list == NULL || json_is_null(list))
                return true;
        if (!json_is_array(list))
                return api_fail(message, size, "fraga.%s must be an array",
                                key);
        if (json_array_size(list) > max)
                return api_fail(message, size,
                                "fraga.%s has %zu entries; at most %zu are "
                                "allowed",
                                key, json_array_size(list), max);
        for (size_t i = 0; i < json_array_size(list); i++) {
                snprintf(path, sizeof(path), "fraga.%s[%zu]", key, i);
                if (!api_string_value(json_array_get(list, i), path, max_len,
                                      &out[i], message, size))
                        return false;
        }
        *count = json_array_size(list);
        return true;
}

int64_t api_stockholm_day_start_ms(int64_t days)
{
        /* Local midnight is 22:00 or 23:00 UTC the day before, hours away
         * from the 01:00 UTC change, so the offset two hours before UTC
         * midnight is the offset of local midnight. */
        int64_t utc_midnight = days * 86400000LL;
        int32_t offset = ma_stockholm_offset_min(utc_midnight - 7200000LL);

        return utc_midnight - (int64_t)offset * 60000LL;
}

static bool api_parse_date(json_t *fraga, const char *key, int32_t *days,
                           bool *present, char *message, size_t size)
{
        const char *text;
        ma_error_t err;

        *present = false;
        if (!api_get_string(fraga, key, "fraga", false, 10, &text, message,
                            size))
                return false;
        if (text == NULL)
                return true;
        if (ma_date_parse(text, days, &err) != MA_OK)
                return api_fail(message, size, "fraga.%s: %s", key,
                                err.message);
        *present = true;
        return true;
}

static bool api_parse_dates(json_t *fraga, api_question_t *q, char *message,
                            size_t size)
{
        int32_t start = 0, end = 0;

        if (!api_parse_date(fraga, "startDatum", &start, &q->has_start, message,
                            size) ||
            !api_parse_date(fraga, "slutDatum", &end, &q->has_end, message,
                            size))
                return false;
        if (q->has_start && q->has_end && start > end)
                return api_fail(message, size,
                                "fraga.startDatum is after fraga.slutDatum");
        if (q->has_start)
                q->start_utc_ms = api_stockholm_day_start_ms(start);
        if (q->has_end)
                q->end_utc_ms = api_stockholm_day_start_ms((int64_t)end + 1);
        return true;
}

static bool api_parse_sort(json_t *sortering, api_question_t *q, char *message,
                           size_t size)
{
        static const char *const keys[] = {"attribut", "stigande", NULL};
        char path[64];

        if (!json_is_array(sortering))
                return api_fail(message, size,
                                "fraga.behandling.sortering must be an array");
        if (json_array_size(sortering) > API_SORT_MAX)
                return api_fail(message, size,
                                "fraga.behandling.sortering has %zu entries; "
                                "at most %d are allowed",
                                json_array_size(sortering), API_SORT_MAX);
        for (size_t i = 0; i < json_array_size(sortering); i++) {
                json_t *entry = json_array_get(sortering, i);
                json_t *stigande;
                const char *name;
                size_t a;

                snprintf(path, sizeof(path), "fraga.behandling.sortering[%zu]",
                         i);
                if (!json_is_object(entry))
                        return api_fail(message, size, "%s must be an object",
                                        path);
                if (!api_check_keys(entry, path, keys, message, size) ||
                    !api_get_string(entry, "attribut", path, true, 64, &name,
                                    message, size))
                        return false;
                for (a = 0; a < API_SORT_MAX; a++)
                        if (strcmp(name, api_sort_names[a]) == 0)
                                break;
                if (a == API_SORT_MAX)
                        return api_fail(message, size,
                                        "%s.attribut \"%.64s\" cannot be "
                                        "sorted on: use RUBRIK, BESKRIVNING, "
                                        "PRODUCENT, TIDPUNKT, KUNDHANDELSETYP, "
                                        "PRODUCENTARENDETKRAVERKUNDATGARD or "
                                        "PRODUCENTARENDETKLART",
                                        path, name);
                for (size_t j = 0; j < i; j++)
                        if (q->sort[j].attribute == (api_sort_attribute_t)a)
                                return api_fail(message, size,
                                                "%s.attribut %s is given "
                                                "twice",
                                                path, name);
                stigande = json_object_get(entry, "stigande");
                if (stigande != NULL && !json_is_boolean(stigande))
                        return api_fail(message, size,
                                        "%s.stigande must be true or false",
                                        path);
                q->sort[i].attribute = (api_sort_attribute_t)a;
                q->sort[i].ascending =
                        stigande != NULL && json_is_true(stigande);
        }
        q->sort_count = json_array_size(sortering);
        return true;
}

static bool api_get_integer(json_t *object, const char *key, const char *path,
                            int64_t min, int64_t max, int64_t *out,
                            char *message, size_t size)
{
        json_t *value = json_object_get(object, key);

        if (value == NULL)
                return api_fail(message, size, "%s.%s is missing", path, key);
        if (!json_is_integer(value))
                return api_fail(message, size, "%s.%s must be an integer", path,
                                key);
        if (json_integer_value(value) < min || json_integer_value(value) > max)
                return api_fail(message, size,
                                "%s.%s must be between %lld and %lld", path,
                                key, (long long)min, (long long)max);
        *out = json_integer_value(value);
        return true;
}

static bool api_parse_behandling(json_t *fraga, api_question_t *q,
                                 char *message, size_t size)
{
        static const char *const keys[] = {"sortering", "paginering", NULL};
        static const char *const paging_keys[] = {"offset", "limit", NULL};
        json_t *behandling = json_object_get(fraga, "behandling");
        json_t *sortering, *paginering;
        const char *path = "fraga.behandling.paginering";

        q->offset = 0;
        q->limit = API_LIMIT_MAX;
        if (behandling == NULL || json_is_null(behandling))
                return true;
        if (!json_is_object(behandling))
                return api_fail(message, size,
                                "fraga.behandling must be an object");
        if (!api_check_keys(behandling, "fraga.behandling", keys, message,
                            size))
                return false;
        sortering = json_object_get(behandling, "sortering");
        if (sortering != NULL && !api_parse_sort(sortering, q, message, size))
                return false;
        paginering = json_object_get(behandling, "paginering");
        if (paginering == NULL || json_is_null(paginering))
                return true;
        if (!json_is_object(paginering))
                return api_fail(message, size, "%s must be an object", path);
        if (!api_check_keys(paginering, path, paging_keys, message, size) ||
            !api_get_integer(paginering, "offset", path, 0, INT32_MAX,
                             &q->offset, message, size) ||
            !api_get_integer(paginering, "limit", path, 1, API_LIMIT_MAX,
                             &q->limit, message, size))
                return false;
        if (q->sort_count == 0)
                return api_fail(message, size,
                                "fraga.behandling.paginering requires "
                                "fraga.behandling.sortering, so that pages "
                                "have a defined order");
        q->has_paging = true;
        return true;
}

static bool api_parse_anvandare(json_t *root, api_question_t *q, char *message,
                                size_t size)
{
        ma_error_t err;

        if (!api_get_string(root, "anvandare", "request", true, 12,
                            &q->anvandare, message, size))
                return false;
        /* A samordningsnummer has 60 added to the day of birth. */
        if (strlen(q->anvandare) == 12 && q->anvandare[6] >= '6') {
                q->anvandare_typ = MA_KUND_SAMORDNINGSNUMMER;
                if (ma_validate_samordningsnummer(q->anvandare, &err) != MA_OK)
                        return api_fail(message, size, "anvandare: %s",
                                        err.message);
                return true;
        }
        q->anvandare_typ = MA_KUND_PERSONNUMMER;
        if (ma_validate_personnummer(q->anvandare, &err) != MA_OK)
                return api_fail(message, size,
                                "anvandare must be a personnummer or "
                                "samordningsnummer of 12 digits: %s",
                                err.message);
        return true;
}

bool api_question_parse(json_t *root, api_question_t *q, char *message,
                        size_t size)
{
        static const char *const keys[] = {"fraga", "anvandare", NULL};
        static const char *const fraga_keys[] = {
                "parter",    "kundhandelseTyper", "taggar", "startDatum",
                "slutDatum", "behandling",        NULL};
        json_t *fraga;

        memset(q, 0, sizeof(*q));
        if (!json_is_object(root))
                return api_fail(message, size,
                                "request body must be a JSON object");
        if (!api_check_keys(root, "request", keys, message, size))
                return false;
        fraga = json_object_get(root, "fraga");
        if (fraga == NULL)
                return api_fail(message, size, "fraga is missing");
        if (!json_is_object(fraga))
                return api_fail(message, size, "fraga must be an object");
        if (!api_check_keys(fraga, "fraga", fraga_keys, message, size) ||
            !api_parse_anvandare(root, q, message, size) ||
            !api_parse_parties(fraga, q, message, size) ||
            !api_parse_string_list(fraga, "kundhandelseTyper", API_TYPES_MAX,
                                   API_TEXT_MAX, q->types, &q->type_count,
                                   message, size) ||
            !api_parse_string_list(fraga, "taggar", API_TAGS_MAX, API_TAG_MAX,
                                   q->tags, &q->tag_count, message, size) ||
            !api_parse_dates(fraga, q, message, size) ||
            !api_parse_behandling(fraga, q, message, size))
                return false;
        for (size_t i = 0; i < q->type_count; i++)
                if (!api_type_pattern_valid(q->types[i]))
                        return api_fail(message, size,
                                        "fraga.kundhandelseTyper[%zu] "
                                        "\"%.64s\" is not a type or type "
                                        "prefix: use segments of A-Z, 0-9 and "
                                        "_ separated by dots",
                                        i, q->types[i]);
        return true;
}

bool api_type_matches(const char *pattern, const char *type)
{
        size_t len = strlen(pattern);

        return strncmp(pattern, type, len) == 0 &&
               (type[len] == '\0' || type[len] == '.');
}

void api_order_by(const api_question_t *q, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < q->sort_count && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s %s, ",
                                         api_sort_columns[q->sort[i].attribute],
                                         q->sort[i].ascending ? "ASC" : "DESC");
        if (used < size)
                snprintf(buf + used, size - used,
                         "tidpunkt DESC, producent_organisationsnummer, "
                         "kundhandelse_id");
}

bool api_subject_parse(json_t *root, api_subject_t *subject, char *message,
                       size_t size)
{
        static const char *const keys[] = {"anvandare", "kund", "arende",
                                           "kundhandelsereferens", NULL};
        api_question_t *q = &subject->question;
        json_t *kund, *arende;

        memset(subject, 0, sizeof(*subject));
        if (!json_is_object(root))
                return api_fail(message, size,
                                "request body must be a JSON object");
        if (!api_check_keys(root, "request", keys, message, size) ||
            !api_parse_anvandare(root, q, message, size))
                return false;
        if (!api_get_string(root, "kundhandelsereferens", "request", false,
                            API_TEXT_MAX, &q->referens, message, size))
                return false;
        arende = json_object_get(root, "arende");
        if (arende != NULL &&
            !api_parse_arende(arende, "arende", &subject->party, message, size))
                return false;
        kund = json_object_get(root, "kund");
        if (kund != NULL)
                return api_parse_kund(kund, "kund", &subject->party, message,
                                      size);
        /* Without kund the user asks about themself. */
        subject->party.has_kund = true;
        subject->party.kund_typ = q->anvandare_typ;
        subject->party.kund_identifierare = q->anvandare;
        return true;
}
