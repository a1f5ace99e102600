/*
 * catalog.c - loads and validates the event-type catalog (catalog.json).
 *
 * The whole file is checked before anything is returned, and the first
 * problem is reported as "<file>: <JSON path>: <what is wrong>; <fix>".
 * Unknown keys are errors so that a misspelt key cannot silently fall back
 * to a default.  docs/catalog.md describes the format and every rule.
 */
#include "ma/catalog.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/validate.h"

#define MA_CATALOG_FORMAT_VERSION 1
/* Upper bounds that catch unit mistakes (for example hours for days). */
#define MA_CATALOG_RETENTION_MAX_DAYS 36500
#define MA_CATALOG_REMINDER_MAX_DAYS  3650
#define MA_CATALOG_PREFIX_MAX         10
#define MA_CATALOG_PATH_MAX           128

struct ma_catalog {
        ma_producer_t *producers;
        size_t producer_count;
        /* Lookup indexes sorted by organisationsnummer, prefix and name. */
        const ma_producer_t **by_orgnr;
        const ma_producer_t **by_prefix;
        const ma_event_type_t **types;
        size_t type_count;
};

/* State of one load: where messages go and what they are about. */
typedef struct ma_catalog_loader {
        const char *name;
        ma_error_t *err;
} ma_catalog_loader_t;

static const char *const ma_notification_names[] = {
        "none", "decision", "action_required", "expiring", "service",
};
static const char *const ma_producer_kind_names[] = {
        "agency",
        "municipality",
        "region",
};

#define MA_COUNT(array) (sizeof(array) / sizeof((array)[0]))

const char *ma_notification_kind_name(ma_notification_kind_t kind)
{
        if ((size_t)kind >= MA_COUNT(ma_notification_names))
                return "unknown";
        return ma_notification_names[kind];
}

const char *ma_producer_kind_name(ma_producer_kind_t kind)
{
        if ((size_t)kind >= MA_COUNT(ma_producer_kind_names))
                return "unknown";
        return ma_producer_kind_names[kind];
}

/* ---- Error reporting and JSON access ---- */

/* Formats a JSON path; a path longer than the buffer is cut, not lost. */
static void ma_catalog_path(char *out, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

static void ma_catalog_path(char *out, size_t size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out, size, fmt, ap);
        va_end(ap);
}

static ma_status_t ma_catalog_fail(const ma_catalog_loader_t *loader,
                                   ma_status_t status, const char *path,
                                   const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

static ma_status_t ma_catalog_fail(const ma_catalog_loader_t *loader,
                                   ma_status_t status, const char *path,
                                   const char *fmt, ...)
{
        char detail[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        return ma_error_set(loader->err, status, path, "%s: %s: %s",
                            loader->name, path, detail);
}

/* Rejects keys of obj that are not in allowed (NULL-terminated). */
static ma_status_t ma_catalog_check_keys(const ma_catalog_loader_t *loader,
                                         json_t *obj, const char *path,
                                         const char *const *allowed)
{
        const char *key;
        json_t *value;
        json_object_foreach(obj, key, value)
        {
                bool known = false;
                for (size_t i = 0; allowed[i] != NULL && !known; i++)
                        known = strcmp(key, allowed[i]) == 0;
                if (!known) {
                        char list[256] = "";
                        for (size_t i = 0; allowed[i] != NULL; i++) {
                                strncat(list, i ? ", " : "",
                                        sizeof(list) - strlen(list) - 1);
                                strncat(list, allowed[i],
                                        sizeof(list) - strlen(list) - 1);
                        }
                        return ma_catalog_fail(
                                loader, MA_ERR_INVALID, path,
                                "unknown key \"%.60s\"; the keys allowed "
                                "here are %s",
                                key, list);
                }
        }
        return MA_OK;
}

/*
 * Copies the string member key of obj into *out.  A missing member is an
 * error when required, else *out stays NULL.  Empty strings are rejected.
 */
static ma_status_t ma_catalog_get_string(const ma_catalog_loader_t *loader,
                                         json_t *obj, const char *key,
                                         const char *path, bool required,
                                         char **out)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.%s", path, key);
        json_t *value = json_object_get(obj, key);
        *out = NULL;
        if (value == NULL) {
                if (!required)
                        return MA_OK;
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "missing; add a non-empty string");
        }
        if (!json_is_string(value) || json_string_length(value) == 0)
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "expected a non-empty string");
        if (strlen(json_string_value(value)) != json_string_length(value))
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "contains a NUL character; remove it");
        *out = ma_strdup(json_string_value(value));
        return *out == NULL ? MA_ERR_NOMEM : MA_OK;
}

static ma_status_t ma_catalog_get_bool(const ma_catalog_loader_t *loader,
                                       json_t *obj, const char *key,
                                       const char *path, bool *out)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.%s", path, key);
        json_t *value = json_object_get(obj, key);
        if (!json_is_boolean(value))
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "%s; expected true or false",
                                       value == NULL ? "missing"
                                                     : "not a boolean");
        *out = json_is_true(value);
        return MA_OK;
}

/* Reads an optional integer member in [min, max]; absent gives fallback. */
static ma_status_t ma_catalog_get_int(const ma_catalog_loader_t *loader,
                                      json_t *obj, const char *key,
                                      const char *path, int fallback, int min,
                                      int max, int *out)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.%s", path, key);
        json_t *value = json_object_get(obj, key);
        if (value == NULL) {
                *out = fallback;
                return MA_OK;
        }
        if (!json_is_integer(value) || json_integer_value(value) < min ||
            json_integer_value(value) > max) {
                char shown[64];
                if (json_is_integer(value))
                        snprintf(shown, sizeof(shown), "%lld",
                                 (long long)json_integer_value(value));
                else
                        snprintf(shown, sizeof(shown), "a JSON %s",
                                 json_is_string(value)    ? "string"
                                 : json_is_real(value)    ? "real number"
                                 : json_is_boolean(value) ? "boolean"
                                                          : "value");
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "invalid value %s; expected an "
                                       "integer from %d to %d",
                                       shown, min, max);
        }
        *out = (int)json_integer_value(value);
        return MA_OK;
}

/* Returns the non-empty array member key, or NULL after reporting. */
static json_t *ma_catalog_get_array(const ma_catalog_loader_t *loader,
                                    json_t *obj, const char *key,
                                    const char *path, ma_status_t *st)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s%s%s", path,
                        path[0] ? "." : "", key);
        json_t *value = json_object_get(obj, key);
        if (!json_is_array(value) || json_array_size(value) == 0) {
                *st = ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                      "%s; expected a non-empty array",
                                      value == NULL ? "missing"
                                                    : "not a non-empty array");
                return NULL;
        }
        for (size_t i = 0; i < json_array_size(value); i++) {
                if (!json_is_object(json_array_get(value, i))) {
                        char item[MA_CATALOG_PATH_MAX];
                        ma_catalog_path(item, sizeof(item), "%s[%zu]", member,
                                        i);
                        *st = ma_catalog_fail(loader, MA_ERR_INVALID, item,
                                              "not a JSON object; each item "
                                              "must be an object");
                        return NULL;
                }
        }
        *st = MA_OK;
        return value;
}

/* Maps a string member to its index in names; reports the allowed names. */
static ma_status_t ma_catalog_get_enum(const ma_catalog_loader_t *loader,
                                       json_t *obj, const char *key,
                                       const char *path,
                                       const char *const *names, size_t count,
                                       int *out)
{
        char *text;
        ma_status_t st =
                ma_catalog_get_string(loader, obj, key, path, true, &text);
        if (st != MA_OK)
                return st;
        for (size_t i = 0; i < count; i++) {
                if (strcmp(text, names[i]) == 0) {
                        ma_free(text);
                        *out = (int)i;
                        return MA_OK;
                }
        }
        char list[200] = "";
        for (size_t i = 0; i < count; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, names[i], sizeof(list) - strlen(list) - 1);
        }
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.%s", path, key);
        st = ma_catalog_fail(loader, MA_ERR_INVALID, member,
                             "unknown value \"%.60s\"; expected one of %s",
                             text, list);
        ma_free(text);
        return st;
}

/* ---- Event types ---- */

static ma_status_t ma_catalog_parse_reminders(const ma_catalog_loader_t *loader,
                                              json_t *obj, const char *path,
                                              ma_event_type_t *type)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.reminder_days_before",
                        path);
        json_t *list = json_object_get(obj, "reminder_days_before");
        type->reminder_count = 0;
        if (list == NULL)
                return MA_OK;
        if (!json_is_array(list))
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "not an array; expected a list of "
                                       "days such as [30, 7]");
        if (json_array_size(list) > MA_CATALOG_MAX_REMINDERS)
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "has %zu reminders; the maximum is %d",
                                       json_array_size(list),
                                       MA_CATALOG_MAX_REMINDERS);
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *item = json_array_get(list, i);
                char at[MA_CATALOG_PATH_MAX];
                ma_catalog_path(at, sizeof(at), "%s[%zu]", member, i);
                json_int_t days =
                        json_is_integer(item) ? json_integer_value(item) : 0;
                if (days < 1 || days > MA_CATALOG_REMINDER_MAX_DAYS)
                        return ma_catalog_fail(
                                loader, MA_ERR_INVALID, at,
                                "invalid reminder; expected a whole number "
                                "of days from 1 to %d",
                                MA_CATALOG_REMINDER_MAX_DAYS);
                if (i > 0 && days >= type->reminder_days[i - 1])
                        return ma_catalog_fail(
                                loader, MA_ERR_INVALID, at,
                                "%lld days is not below the previous "
                                "reminder (%d); list reminders in strictly "
                                "descending order, for example [30, 7]",
                                (long long)days, type->reminder_days[i - 1]);
                type->reminder_days[i] = (int)days;
                type->reminder_count = i + 1;
        }
        return MA_OK;
}

/* Rules between fields of one event type. */
static ma_status_t
ma_catalog_check_type_rules(const ma_catalog_loader_t *loader, const char *path,
                            const ma_event_type_t *type)
{
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.notification", path);
        if (type->notification == MA_NOTIFY_EXPIRING &&
            type->reminder_count == 0)
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "\"expiring\" needs reminders; add "
                                       "reminder_days_before, for example "
                                       "[30, 7]");
        if (type->reminder_count > 0 &&
            type->notification != MA_NOTIFY_EXPIRING &&
            type->notification != MA_NOTIFY_ACTION_REQUIRED)
                return ma_catalog_fail(
                        loader, MA_ERR_INVALID, member,
                        "\"%s\" cannot have reminders because reminders "
                        "count down to giltigTill (expiring) or atgardSenast "
                        "(action_required); remove reminder_days_before or "
                        "change the notification",
                        ma_notification_kind_name(type->notification));
        if (type->notification == MA_NOTIFY_ACTION_REQUIRED &&
            !type->customer_has_ball)
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "\"action_required\" needs "
                                       "customer_has_ball true; set it or "
                                       "choose another notification");
        return MA_OK;
}

static ma_status_t ma_catalog_parse_type(const ma_catalog_loader_t *loader,
                                         json_t *obj, const char *path,
                                         const ma_producer_t *producer,
                                         const ma_process_t *process,
                                         const char *process_auth,
                                         ma_event_type_t *type)
{
        static const char *const keys[] = {"name",
                                           "description",
                                           "customer_has_ball",
                                           "case_finished",
                                           "notification",
                                           "reminder_days_before",
                                           "authorisation_object_type",
                                           "retention_days",
                                           NULL};
        ma_status_t st = ma_catalog_check_keys(loader, obj, path, keys);
        char *text;
        int value = 0;
        if (st != MA_OK)
                return st;
        st = ma_catalog_get_string(loader, obj, "name", path, true, &text);
        if (st != MA_OK)
                return st;
        type->name = text;
        char member[MA_CATALOG_PATH_MAX];
        ma_catalog_path(member, sizeof(member), "%s.name", path);
        ma_error_t name_err;
        if (ma_validate_event_type_name(type->name, &name_err) != MA_OK)
                return ma_catalog_fail(loader, MA_ERR_INVALID, member, "%s",
                                       name_err.message);
        size_t prefix_len = strlen(producer->prefix);
        size_t process_len = strlen(process->name);
        if (strncmp(type->name, producer->prefix, prefix_len) != 0 ||
            type->name[prefix_len] != '.' ||
            strncmp(type->name + prefix_len + 1, process->name, process_len) !=
                    0 ||
            type->name[prefix_len + 1 + process_len] != '.')
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "\"%.100s\" does not start with "
                                       "\"%s.%s.\"; an event type's name is "
                                       "its producer's prefix, its process "
                                       "and the event",
                                       type->name, producer->prefix,
                                       process->name);
        st = ma_catalog_get_string(loader, obj, "description", path, true,
                                   &text);
        type->description = text;
        if (st == MA_OK)
                st = ma_catalog_get_bool(loader, obj, "customer_has_ball", path,
                                         &type->customer_has_ball);
        if (st == MA_OK)
                st = ma_catalog_get_bool(loader, obj, "case_finished", path,
                                         &type->case_finished);
        if (st == MA_OK)
                st = ma_catalog_get_enum(loader, obj, "notification", path,
                                         ma_notification_names,
                                         MA_COUNT(ma_notification_names),
                                         &value);
        if (st != MA_OK)
                return st;
        type->notification = (ma_notification_kind_t)value;
        st = ma_catalog_parse_reminders(loader, obj, path, type);
        if (st == MA_OK)
                st = ma_catalog_get_int(loader, obj, "retention_days", path, 0,
                                        0, MA_CATALOG_RETENTION_MAX_DAYS,
                                        &type->retention_days);
        if (st == MA_OK)
                st = ma_catalog_get_string(loader, obj,
                                           "authorisation_object_type", path,
                                           process_auth == NULL, &text);
        if (st != MA_OK)
                return st;
        type->authorisation_object_type =
                text != NULL ? text : ma_strdup(process_auth);
        if (type->authorisation_object_type == NULL)
                return MA_ERR_NOMEM;
        return ma_catalog_check_type_rules(loader, path, type);
}

/* ---- Processes and producers ---- */

/* Checks a prefix or process name: 1 to max_len of A-Z (and 0-9 _ if any). */
static bool ma_catalog_segment_valid(const char *text, size_t max_len,
                                     bool letters_only)
{
        size_t len = strlen(text);
        if (len == 0 || len > max_len)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                bool ok =
                        (c >= 'A' && c <= 'Z') ||
                        (!letters_only && ((c >= '0' && c <= '9') || c == '_'));
                if (!ok)
                        return false;
        }
        return true;
}

static ma_status_t ma_catalog_parse_process(const ma_catalog_loader_t *loader,
                                            json_t *obj, const char *path,
                                            const ma_producer_t *producer,
                                            ma_process_t *process)
{
        static const char *const keys[] = {"name", "description",
                                           "authorisation_object_type",
                                           "event_types", NULL};
        ma_status_t st = ma_catalog_check_keys(loader, obj, path, keys);
        char *text = NULL;
        char *auth = NULL;
        if (st != MA_OK)
                return st;
        st = ma_catalog_get_string(loader, obj, "name", path, true, &text);
        process->name = text;
        if (st != MA_OK)
                return st;
        if (!ma_catalog_segment_valid(process->name, 64, false)) {
                char member[MA_CATALOG_PATH_MAX];
                ma_catalog_path(member, sizeof(member), "%s.name", path);
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "invalid process name \"%.64s\"; "
                                       "expected 1 to 64 of A-Z, 0-9 and _ "
                                       "(no lower case, no å, ä or ö)",
                                       process->name);
        }
        st = ma_catalog_get_string(loader, obj, "description", path, true,
                                   &text);
        process->description = text;
        if (st == MA_OK)
                st = ma_catalog_get_string(loader, obj,
                                           "authorisation_object_type", path,
                                           false, &auth);
        json_t *types = NULL;
        if (st == MA_OK)
                types = ma_catalog_get_array(loader, obj, "event_types", path,
                                             &st);
        ma_event_type_t *array = NULL;
        if (st == MA_OK) {
                array = ma_calloc(json_array_size(types), sizeof(*array));
                st = array == NULL ? MA_ERR_NOMEM : MA_OK;
        }
        process->event_types = array;
        for (size_t i = 0; st == MA_OK && i < json_array_size(types); i++) {
                char item[MA_CATALOG_PATH_MAX];
                ma_catalog_path(item, sizeof(item), "%s.event_types[%zu]", path,
                                i);
                array[i].process = process;
                process->event_type_count = i + 1;
                st = ma_catalog_parse_type(loader, json_array_get(types, i),
                                           item, producer, process, auth,
                                           &array[i]);
        }
        ma_free(auth);
        return st;
}

static ma_status_t ma_catalog_parse_producer(const ma_catalog_loader_t *loader,
                                             json_t *obj, const char *path,
                                             ma_producer_t *producer)
{
        static const char *const keys[] = {
                "organisationsnummer", "name",      "prefix", "kind",
                "retention_days",      "processes", NULL};
        ma_status_t st = ma_catalog_check_keys(loader, obj, path, keys);
        char member[MA_CATALOG_PATH_MAX];
        char *text;
        int kind = 0;
        if (st != MA_OK)
                return st;
        st = ma_catalog_get_string(loader, obj, "organisationsnummer", path,
                                   true, &text);
        producer->organisationsnummer = text;
        if (st != MA_OK)
                return st;
        ma_catalog_path(member, sizeof(member), "%s.organisationsnummer", path);
        ma_error_t orgnr_err;
        if (strlen(text) != 10 ||
            ma_validate_organisationsnummer(text, &orgnr_err) != MA_OK)
                return ma_catalog_fail(
                        loader, MA_ERR_INVALID, member,
                        "invalid organisationsnummer \"%.20s\"; expected 10 "
                        "digits without hyphen, third digit 2 or more, and a "
                        "valid Luhn check digit",
                        text);
        st = ma_catalog_get_string(loader, obj, "name", path, true, &text);
        producer->name = text;
        if (st == MA_OK)
                st = ma_catalog_get_string(loader, obj, "prefix", path, true,
                                           &text);
        if (st != MA_OK)
                return st;
        producer->prefix = text;
        if (!ma_catalog_segment_valid(text, MA_CATALOG_PREFIX_MAX, true)) {
                ma_catalog_path(member, sizeof(member), "%s.prefix", path);
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "invalid prefix \"%.20s\"; expected "
                                       "1 to %d upper-case letters A-Z",
                                       text, MA_CATALOG_PREFIX_MAX);
        }
        st = ma_catalog_get_enum(loader, obj, "kind", path,
                                 ma_producer_kind_names,
                                 MA_COUNT(ma_producer_kind_names), &kind);
        if (st != MA_OK)
                return st;
        producer->kind = (ma_producer_kind_t)kind;
        st = ma_catalog_get_int(loader, obj, "retention_days", path, -1, 1,
                                MA_CATALOG_RETENTION_MAX_DAYS,
                                &producer->retention_days);
        if (st == MA_OK && producer->retention_days < 0) {
                ma_catalog_path(member, sizeof(member), "%s.retention_days",
                                path);
                return ma_catalog_fail(loader, MA_ERR_INVALID, member,
                                       "missing; add the number of days the "
                                       "producer's events are kept, 1 to %d",
                                       MA_CATALOG_RETENTION_MAX_DAYS);
        }
        json_t *processes = NULL;
        if (st == MA_OK)
                processes = ma_catalog_get_array(loader, obj, "processes", path,
                                                 &st);
        if (st != MA_OK)
                return st;
        ma_process_t *array =
                ma_calloc(json_array_size(processes), sizeof(*array));
        if (array == NULL)
                return MA_ERR_NOMEM;
        producer->processes = array;
        for (size_t i = 0; st == MA_OK && i < json_array_size(processes); i++) {
                char item[MA_CATALOG_PATH_MAX];
                ma_catalog_path(item, sizeof(item), "%s.processes[%zu]", path,
                                i);
                array[i].producer = producer;
                producer->process_count = i + 1;
                st = ma_catalog_parse_process(loader,
                                              json_array_get(processes, i),
                                              item, producer, &array[i]);
        }
        return st;
}

/* ---- Rules across producers ---- */

static ma_status_t ma_catalog_check_unique(const ma_catalog_loader_t *loader,
                                           const ma_catalog_t *catalog)
{
        char path[MA_CATALOG_PATH_MAX];
        for (size_t i = 0; i < catalog->producer_count; i++) {
                const ma_producer_t *p = &catalog->producers[i];
                for (size_t j = 0; j < i; j++) {
                        const ma_producer_t *q = &catalog->producers[j];
                        if (strcmp(p->organisationsnummer,
                                   q->organisationsnummer) == 0) {
                                ma_catalog_path(
                                        path, sizeof(path),
                                        "producers[%zu].organisationsnummer",
                                        i);
                                return ma_catalog_fail(
                                        loader, MA_ERR_INVALID, path,
                                        "\"%s\" is already used by "
                                        "producers[%zu]; each producer "
                                        "appears once",
                                        p->organisationsnummer, j);
                        }
                        if (strcmp(p->prefix, q->prefix) == 0) {
                                ma_catalog_path(path, sizeof(path),
                                                "producers[%zu].prefix", i);
                                return ma_catalog_fail(
                                        loader, MA_ERR_INVALID, path,
                                        "\"%s\" is already used by "
                                        "producers[%zu]; choose a prefix no "
                                        "other producer has",
                                        p->prefix, j);
                        }
                }
                for (size_t k = 0; k < p->process_count; k++) {
                        for (size_t m = 0; m < k; m++) {
                                if (strcmp(p->processes[k].name,
                                           p->processes[m].name) != 0)
                                        continue;
                                ma_catalog_path(
                                        path, sizeof(path),
                                        "producers[%zu].processes[%zu].name", i,
                                        k);
                                return ma_catalog_fail(
                                        loader, MA_ERR_INVALID, path,
                                        "\"%s\" is already used by "
                                        "processes[%zu]; merge the two "
                                        "processes",
                                        p->processes[k].name, m);
                        }
                }
        }
        return MA_OK;
}

static int ma_catalog_compare_orgnr(const void *a, const void *b)
{
        const ma_producer_t *const *x = a;
        const ma_producer_t *const *y = b;
        return strcmp((*x)->organisationsnummer, (*y)->organisationsnummer);
}

static int ma_catalog_compare_prefix(const void *a, const void *b)
{
        const ma_producer_t *const *x = a;
        const ma_producer_t *const *y = b;
        return strcmp((*x)->prefix, (*y)->prefix);
}

static int ma_catalog_compare_type(const void *a, const void *b)
{
        const ma_event_type_t *const *x = a;
        const ma_event_type_t *const *y = b;
        return strcmp((*x)->name, (*y)->name);
}

/* Builds the sorted indexes; a duplicate type name is reported here. */
static ma_status_t ma_catalog_index(const ma_catalog_loader_t *loader,
                                    ma_catalog_t *catalog)
{
        size_t n = catalog->producer_count;
        catalog->by_orgnr = ma_calloc(n, sizeof(*catalog->by_orgnr));
        catalog->by_prefix = ma_calloc(n, sizeof(*catalog->by_prefix));
        size_t types = 0;
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < catalog->producers[i].process_count; k++)
                        types += catalog->producers[i]
                                         .processes[k]
                                         .event_type_count;
        }
        catalog->types = ma_calloc(types, sizeof(*catalog->types));
        if (catalog->by_orgnr == NULL || catalog->by_prefix == NULL ||
            catalog->types == NULL)
                return MA_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
                const ma_producer_t *p = &catalog->producers[i];
                catalog->by_orgnr[i] = p;
                catalog->by_prefix[i] = p;
                for (size_t k = 0; k < p->process_count; k++) {
                        const ma_process_t *r = &p->processes[k];
                        for (size_t t = 0; t < r->event_type_count; t++)
                                catalog->types[catalog->type_count++] =
                                        &r->event_types[t];
                }
        }
        qsort(catalog->by_orgnr, n, sizeof(*catalog->by_orgnr),
              ma_catalog_compare_orgnr);
        qsort(catalog->by_prefix, n, sizeof(*catalog->by_prefix),
              ma_catalog_compare_prefix);
        qsort(catalog->types, catalog->type_count, sizeof(*catalog->types),
              ma_catalog_compare_type);
        for (size_t i = 1; i < catalog->type_count; i++) {
                if (strcmp(catalog->types[i]->name,
                           catalog->types[i - 1]->name) != 0)
                        continue;
                /* Prefix and process are unique, so both sit in one list. */
                const ma_process_t *r = catalog->types[i]->process;
                char path[MA_CATALOG_PATH_MAX];
                ma_catalog_path(path, sizeof(path),
                                "producers[%zu].processes[%zu].event_types",
                                (size_t)(r->producer - catalog->producers),
                                (size_t)(r - r->producer->processes));
                return ma_catalog_fail(loader, MA_ERR_INVALID, path,
                                       "event type \"%s\" appears twice; "
                                       "each name must be unique",
                                       catalog->types[i]->name);
        }
        return MA_OK;
}

/* ---- Loading ---- */

static ma_status_t ma_catalog_parse_root(const ma_catalog_loader_t *loader,
                                         json_t *root, ma_catalog_t *catalog)
{
        static const char *const keys[] = {"version", "producers", NULL};
        if (!json_is_object(root))
                return ma_catalog_fail(loader, MA_ERR_INVALID, "$",
                                       "the top level is not a JSON object; "
                                       "expected {\"version\": 1, "
                                       "\"producers\": [...]}");
        ma_status_t st = ma_catalog_check_keys(loader, root, "$", keys);
        if (st != MA_OK)
                return st;
        json_t *version = json_object_get(root, "version");
        if (!json_is_integer(version) ||
            json_integer_value(version) != MA_CATALOG_FORMAT_VERSION)
                return ma_catalog_fail(loader, MA_ERR_INVALID, "version",
                                       "%s; this build reads catalog format "
                                       "version %d",
                                       version == NULL ? "missing"
                                                       : "unsupported value",
                                       MA_CATALOG_FORMAT_VERSION);
        json_t *producers =
                ma_catalog_get_array(loader, root, "producers", "", &st);
        if (st != MA_OK)
                return st;
        catalog->producers =
                ma_calloc(json_array_size(producers), sizeof(ma_producer_t));
        if (catalog->producers == NULL)
                return MA_ERR_NOMEM;
        for (size_t i = 0; st == MA_OK && i < json_array_size(producers); i++) {
                char path[MA_CATALOG_PATH_MAX];
                ma_catalog_path(path, sizeof(path), "producers[%zu]", i);
                catalog->producer_count = i + 1;
                st = ma_catalog_parse_producer(loader,
                                               json_array_get(producers, i),
                                               path, &catalog->producers[i]);
        }
        if (st == MA_OK)
                st = ma_catalog_check_unique(loader, catalog);
        if (st == MA_OK)
                st = ma_catalog_index(loader, catalog);
        return st;
}

ma_status_t ma_catalog_load_string(const char *json, const char *name,
                                   ma_catalog_t **catalog_out, ma_error_t *err)
{
        ma_catalog_loader_t loader = {name != NULL ? name : "catalog", err};
        json_error_t jerr;
        *catalog_out = NULL;
        json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
        if (root == NULL)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "%s:%d:%d: invalid JSON: %s; fix the "
                                    "syntax at that position",
                                    loader.name, jerr.line, jerr.column,
                                    jerr.text);
        ma_catalog_t *catalog = ma_calloc(1, sizeof(*catalog));
        ma_status_t st = MA_ERR_NOMEM;
        if (catalog != NULL)
                st = ma_catalog_parse_root(&loader, root, catalog);
        json_decref(root);
        if (st == MA_ERR_NOMEM)
                ma_error_set(err, MA_ERR_NOMEM, NULL,
                             "%s: out of memory while loading the catalog",
                             loader.name);
        if (st != MA_OK) {
                ma_catalog_free(catalog);
                return st;
        }
        *catalog_out = catalog;
        return MA_OK;
}

ma_status_t ma_catalog_load(const char *path, ma_catalog_t **catalog_out,
                            ma_error_t *err)
{
        *catalog_out = NULL;
        FILE *file = fopen(path, "rb");
        if (file == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open catalog file \"%s\": %s",
                                    path, strerror(errno));
        char *text = NULL;
        size_t len = 0;
        size_t cap = 0;
        ma_status_t st = MA_OK;
        for (;;) {
                if (cap - len < 4096) {
                        char *grown = ma_realloc(text, cap + 65536);
                        if (grown == NULL) {
                                st = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                                  "out of memory reading "
                                                  "catalog file \"%s\"",
                                                  path);
                                break;
                        }
                        text = grown;
                        cap += 65536;
                }
                size_t n = fread(text + len, 1, cap - len - 1, file);
                len += n;
                if (n == 0)
                        break;
        }
        if (st == MA_OK && ferror(file))
                st = ma_error_set(err, MA_ERR_IO, NULL,
                                  "could not read catalog file \"%s\": %s",
                                  path, strerror(errno));
        fclose(file);
        if (st == MA_OK) {
                text[len] = '\0';
                if (strlen(text) != len)
                        st = ma_error_set(err, MA_ERR_PARSE, NULL,
                                          "%s: contains a NUL byte; a "
                                          "catalog is UTF-8 JSON text",
                                          path);
                else
                        st = ma_catalog_load_string(text, path, catalog_out,
                                                    err);
        }
        ma_free(text);
        return st;
}

/* ---- Freeing and lookups ---- */

static void ma_catalog_free_process(ma_process_t *process)
{
        for (size_t t = 0; t < process->event_type_count; t++) {
                const ma_event_type_t *type = &process->event_types[t];
                ma_free((void *)type->name);
                ma_free((void *)type->description);
                ma_free((void *)type->authorisation_object_type);
        }
        ma_free((void *)process->event_types);
        ma_free((void *)process->name);
        ma_free((void *)process->description);
}

void ma_catalog_free(ma_catalog_t *catalog)
{
        if (catalog == NULL)
                return;
        for (size_t i = 0; i < catalog->producer_count; i++) {
                ma_producer_t *p = &catalog->producers[i];
                for (size_t k = 0; k < p->process_count; k++)
                        ma_catalog_free_process(
                                (ma_process_t *)&p->processes[k]);
                ma_free((void *)p->processes);
                ma_free((void *)p->organisationsnummer);
                ma_free((void *)p->name);
                ma_free((void *)p->prefix);
        }
        ma_free(catalog->producers);
        ma_free(catalog->by_orgnr);
        ma_free(catalog->by_prefix);
        ma_free(catalog->types);
        ma_free(catalog);
}

size_t ma_catalog_producer_count(const ma_catalog_t *catalog)
{
        return catalog->producer_count;
}

const ma_producer_t *ma_catalog_producer_at(const ma_catalog_t *catalog,
                                            size_t index)
{
        if (index >= catalog->producer_count)
                return NULL;
        return &catalog->producers[index];
}

const ma_producer_t *ma_catalog_find_producer(const ma_catalog_t *catalog,
                                              const char *organisationsnummer)
{
        if (organisationsnummer == NULL)
                return NULL;
        ma_producer_t key = {.organisationsnummer = organisationsnummer};
        const ma_producer_t *key_ptr = &key;
        const ma_producer_t **found =
                bsearch(&key_ptr, catalog->by_orgnr, catalog->producer_count,
                        sizeof(*catalog->by_orgnr), ma_catalog_compare_orgnr);
        return found == NULL ? NULL : *found;
}

const ma_producer_t *ma_catalog_find_prefix(const ma_catalog_t *catalog,
                                            const char *prefix)
{
        if (prefix == NULL)
                return NULL;
        ma_producer_t key = {.prefix = prefix};
        const ma_producer_t *key_ptr = &key;
        const ma_producer_t **found =
                bsearch(&key_ptr, catalog->by_prefix, catalog->producer_count,
                        sizeof(*catalog->by_prefix), ma_catalog_compare_prefix);
        return found == NULL ? NULL : *found;
}

const ma_event_type_t *ma_catalog_find_type(const ma_catalog_t *catalog,
                                            const char *name)
{
        if (name == NULL)
                return NULL;
        ma_event_type_t key = {.name = name};
        const ma_event_type_t *key_ptr = &key;
        const ma_event_type_t **found =
                bsearch(&key_ptr, catalog->types, catalog->type_count,
                        sizeof(*catalog->types), ma_catalog_compare_type);
        return found == NULL ? NULL : *found;
}
