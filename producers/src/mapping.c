/*
 * mapping.c - the mapping file of a process log and the conversion of one
 * log record into one kundhändelse (docs/process-logs.md describes the
 * format; mapping.h the contract).
 *
 * The whole mapping is checked when it is loaded.  Unknown keys, wrong
 * types, malformed placeholders, and event types that are missing from the
 * catalog or belong to another producer are errors of the form
 * "<file>: <JSON path>: <problem>; <fix>".  Conversion then meets only
 * problems of the data (an empty case id, a time that does not parse),
 * and each of those rejects one record.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "customers.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/validate.h"
#include "mapping.h"

#define MA_MAPPING_PATH_MAX               200
#define MA_MAPPING_CASES_PER_CUSTOMER_MAX 1000
#define MA_MAPPING_DAYS_AFTER_MAX         3650
#define MA_MAPPING_TAGGAR_MAX             100
/* Distinct skip reasons stored per log; more share one generic text. */
#define MA_MAPPING_SKIP_REASONS_MAX 1000
#define MA_MS_PER_DAY               INT64_C(86400000)

enum { MA_LANG_SV = 0, MA_LANG_EN = 1, MA_LANG_COUNT = 2 };

/* ---- types --------------------------------------------------------------- */

typedef enum ma_filter {
        MA_FILTER_NONE = 0,
        MA_FILTER_DIGITS, /* keep only the digits: "case-10011" -> "10011" */
        MA_FILTER_YEAR,   /* the first 4 characters of a time */
        MA_FILTER_DATE,   /* the first 10 characters of a time */
} ma_filter_t;

/* Literal text (key NULL) or the value of the attribute key. */
typedef struct ma_segment {
        char *text;
        char *key;
        ma_filter_t filter;
} ma_segment_t;

typedef struct ma_template {
        ma_segment_t *segments;
        size_t count;
} ma_template_t;

typedef enum ma_date_rule_kind {
        MA_DATE_RULE_NONE = 0,
        MA_DATE_RULE_ATTRIBUTE,  /* the date of an attribute's value */
        MA_DATE_RULE_DAYS_AFTER, /* the event's local date plus days */
} ma_date_rule_kind_t;

typedef struct ma_date_rule {
        ma_date_rule_kind_t kind;
        char *attribute;
        int days;
} ma_date_rule_t;

/* A template for each value of a JSON object (utokadInformation). */
typedef struct ma_object_template {
        char **keys;
        ma_template_t *values;
        size_t count;
} ma_object_template_t;

typedef struct ma_activity_map {
        char *activity;
        const ma_event_type_t *type;
        ma_template_t rubrik[MA_LANG_COUNT]; /* count 0 with NULL: absent */
        ma_template_t beskrivning[MA_LANG_COUNT];
        bool has_english;
        bool customer_has_ball;
        bool case_finished;
        ma_date_rule_t deadline;
        ma_date_rule_t expiry;
        ma_template_t *taggar;
        size_t taggar_count;
        ma_object_template_t utokad_information;
        ma_object_template_t referenser;
} ma_activity_map_t;

/* An attribute the mapping reads and the JSON path that reads it. */
typedef struct ma_attribute_use {
        char *key;
        char *json_path;
        bool required; /* a CSV header must have it */
} ma_attribute_use_t;

typedef struct ma_mapping {
        char *path;
        ma_catalog_t *catalog;
        const ma_producer_t *producer;
        char *col_case;
        char *col_activity;
        char *col_timestamp;
        char *col_resource;
        char *col_instance;
        char *col_lifecycle;
        ma_kund_typ_t customer_typ;
        unsigned cases_per_customer;
        ma_arende_typ_t arende_typ;
        ma_template_t arende_identifierare;
        ma_activity_map_t *activities; /* sorted by activity */
        size_t activity_count;
        ma_attribute_use_t *uses;
        size_t use_count;
} ma_mapping_t;

struct ma_log_converter {
        ma_mapping_t mapping;
        ma_customers_t *customers;
        int language;
        char *producent;
        char *producent_organisationsnummer;
        char *version;
        /* Distinct skip reasons, kept until the converter is freed. */
        char **skip_reasons;
        size_t skip_reason_count;
};

/* ---- string building ----------------------------------------------------- */

typedef struct ma_text {
        char *data;
        size_t len;
        size_t cap;
        bool failed; /* an allocation failed; data is incomplete */
} ma_text_t;

static void ma_text_append(ma_text_t *text, const char *s, size_t len)
{
        if (text->failed)
                return;
        if (text->len + len + 1 > text->cap) {
                size_t cap = text->cap ? text->cap : 64;
                while (cap < text->len + len + 1)
                        cap *= 2;
                char *grown = ma_realloc(text->data, cap);
                if (grown == NULL) {
                        text->failed = true;
                        return;
                }
                text->data = grown;
                text->cap = cap;
        }
        memcpy(text->data + text->len, s, len);
        text->len += len;
        text->data[text->len] = '\0';
}

/* Hands the built string to the caller, or NULL after a failed allocation. */
static char *ma_text_take(ma_text_t *text)
{
        char *data = text->data;
        if (text->failed || data == NULL) {
                ma_free(data);
                data = text->failed ? NULL : ma_strdup("");
        }
        memset(text, 0, sizeof(*text));
        return data;
}

/* ---- load errors --------------------------------------------------------- */

typedef struct ma_loader {
        const char *file;
        ma_error_t *err;
        ma_mapping_t *mapping;
} ma_loader_t;

static ma_status_t ma_loader_fail(const ma_loader_t *loader, ma_status_t status,
                                  const char *path, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

static ma_status_t ma_loader_fail(const ma_loader_t *loader, ma_status_t status,
                                  const char *path, const char *fmt, ...)
{
        char detail[400];
        va_list args;
        va_start(args, fmt);
        vsnprintf(detail, sizeof(detail), fmt, args);
        va_end(args);
        return ma_error_set(loader->err, status, path, "%s: %s: %s",
                            loader->file, path, detail);
}

/* Writes parent.key into out; a path too long for messages is cut short. */
static void ma_json_path(char *out, const char *parent, const char *key)
{
        int len = snprintf(out, MA_MAPPING_PATH_MAX, "%s.%s", parent, key);

        if (len < 0)
                out[0] = '\0';
}

static void ma_json_path_member(char *out, const char *parent, const char *name)
{
        snprintf(out, MA_MAPPING_PATH_MAX, "%s[\"%s\"]", parent, name);
}

static const char *ma_json_type_name(const json_t *value)
{
        switch (json_typeof(value)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "a value";
}

/* Rejects keys of obj that are not in allowed (NULL-terminated). */
static ma_status_t ma_check_keys(const ma_loader_t *loader, json_t *obj,
                                 const char *path, const char *const *allowed)
{
        const char *key;
        json_t *value;
        json_object_foreach(obj, key, value)
        {
                bool known = false;
                for (size_t i = 0; allowed[i] != NULL && !known; i++)
                        known = strcmp(key, allowed[i]) == 0;
                if (known)
                        continue;
                char list[256] = "";
                for (size_t i = 0; allowed[i] != NULL; i++) {
                        strncat(list, i ? ", " : "",
                                sizeof(list) - strlen(list) - 1);
                        strncat(list, allowed[i],
                                sizeof(list) - strlen(list) - 1);
                }
                char member[MA_MAPPING_PATH_MAX];
                ma_json_path(member, path, key);
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "unknown key \"%.60s\"; the keys "
                                      "allowed here are %s",
                                      key, list);
        }
        return MA_OK;
}

static ma_status_t ma_get_string(const ma_loader_t *loader, json_t *obj,
                                 const char *key, const char *path,
                                 bool required, const char **out)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, key);
        json_t *value = json_object_get(obj, key);
        *out = NULL;
        if (value == NULL) {
                if (required)
                        return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                              "missing; add it as a "
                                              "non-empty string");
                return MA_OK;
        }
        if (!json_is_string(value) || json_string_length(value) == 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "is %s; expected a non-empty string",
                                      json_is_string(value)
                                              ? "empty"
                                              : ma_json_type_name(value));
        *out = json_string_value(value);
        return MA_OK;
}

static ma_status_t ma_copy_string(const ma_loader_t *loader, const char *text,
                                  char **out)
{
        *out = ma_strdup(text);
        if (*out == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        return MA_OK;
}

/* ---- templates ----------------------------------------------------------- */

static void ma_template_clear(ma_template_t *tpl)
{
        for (size_t i = 0; i < tpl->count; i++) {
                ma_free(tpl->segments[i].text);
                ma_free(tpl->segments[i].key);
        }
        ma_free(tpl->segments);
        tpl->segments = NULL;
        tpl->count = 0;
}

static ma_status_t ma_template_push(const ma_loader_t *loader,
                                    ma_template_t *tpl, const char *text,
                                    size_t len, const char *key,
                                    ma_filter_t filter)
{
        ma_segment_t *grown =
                ma_realloc(tpl->segments, (tpl->count + 1) * sizeof(*grown));
        if (grown == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        tpl->segments = grown;
        ma_segment_t *segment = &tpl->segments[tpl->count];
        memset(segment, 0, sizeof(*segment));
        segment->filter = filter;
        if (text != NULL)
                segment->text = ma_strndup(text, len);
        if (key != NULL)
                segment->key = ma_strdup(key);
        if ((text != NULL && segment->text == NULL) ||
            (key != NULL && segment->key == NULL)) {
                ma_free(segment->text);
                ma_free(segment->key);
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        }
        tpl->count++;
        return MA_OK;
}

/* Records that the mapping reads key, so CSV headers can be checked. */
static ma_status_t ma_mapping_note_use(const ma_loader_t *loader,
                                       const char *key, const char *path,
                                       bool required)
{
        ma_mapping_t *mapping = loader->mapping;
        for (size_t i = 0; i < mapping->use_count; i++) {
                if (strcmp(mapping->uses[i].key, key) == 0) {
                        mapping->uses[i].required |= required;
                        return MA_OK;
                }
        }
        ma_attribute_use_t *grown = ma_realloc(
                mapping->uses, (mapping->use_count + 1) * sizeof(*grown));
        if (grown == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        mapping->uses = grown;
        ma_attribute_use_t *use = &mapping->uses[mapping->use_count];
        use->key = ma_strdup(key);
        use->json_path = ma_strdup(path);
        use->required = required;
        if (use->key == NULL || use->json_path == NULL) {
                ma_free(use->key);
                ma_free(use->json_path);
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        }
        mapping->use_count++;
        return MA_OK;
}

static const char ma_placeholder_help[] =
        "placeholders are {case}, {activity}, {resource}, {timestamp}, "
        "{case:ATTRIBUTE} and {event:ATTRIBUTE}, optionally with |digits, "
        "|year or |date; write {{ and }} for literal braces";

/* Resolves the name inside braces to the attribute key it reads. */
static ma_status_t ma_placeholder_key(const ma_loader_t *loader,
                                      const char *name, const char *path,
                                      const char *text, char *key,
                                      size_t key_size)
{
        const ma_mapping_t *mapping = loader->mapping;
        const char *column = NULL;
        if (strcmp(name, "case") == 0)
                column = mapping->col_case;
        else if (strcmp(name, "activity") == 0)
                column = mapping->col_activity;
        else if (strcmp(name, "resource") == 0)
                column = mapping->col_resource;
        else if (strcmp(name, "timestamp") == 0)
                column = mapping->col_timestamp;
        if (column != NULL) {
                snprintf(key, key_size, "%s", column);
                return MA_OK;
        }
        if (strncmp(name, "case:", 5) == 0 && name[5] != '\0') {
                snprintf(key, key_size, "%s", name);
                return MA_OK;
        }
        if (strncmp(name, "event:", 6) == 0 && name[6] != '\0') {
                snprintf(key, key_size, "%s", name + 6);
                return MA_OK;
        }
        return ma_loader_fail(loader, MA_ERR_INVALID, path,
                              "unknown placeholder {%.60s} in \"%.80s\"; %s",
                              name, text, ma_placeholder_help);
}

static ma_status_t ma_placeholder_parse(const ma_loader_t *loader,
                                        ma_template_t *tpl, const char *inner,
                                        size_t len, const char *path,
                                        const char *text)
{
        char name[160];
        if (len == 0 || len >= sizeof(name))
                return ma_loader_fail(loader, MA_ERR_INVALID, path,
                                      "empty or overlong placeholder in "
                                      "\"%.80s\"; %s",
                                      text, ma_placeholder_help);
        memcpy(name, inner, len);
        name[len] = '\0';
        ma_filter_t filter = MA_FILTER_NONE;
        char *bar = strchr(name, '|');
        if (bar != NULL) {
                *bar = '\0';
                const char *filter_name = bar + 1;
                if (strcmp(filter_name, "digits") == 0)
                        filter = MA_FILTER_DIGITS;
                else if (strcmp(filter_name, "year") == 0)
                        filter = MA_FILTER_YEAR;
                else if (strcmp(filter_name, "date") == 0)
                        filter = MA_FILTER_DATE;
                else
                        return ma_loader_fail(loader, MA_ERR_INVALID, path,
                                              "unknown filter |%.40s in "
                                              "\"%.80s\"; filters are "
                                              "|digits, |year and |date",
                                              filter_name, text);
        }
        char key[160];
        ma_status_t st =
                ma_placeholder_key(loader, name, path, text, key, sizeof(key));
        if (st == MA_OK)
                st = ma_mapping_note_use(loader, key, path, true);
        if (st == MA_OK)
                st = ma_template_push(loader, tpl, NULL, 0, key, filter);
        return st;
}

/* Compiles text with placeholders into tpl. */
static ma_status_t ma_template_compile(const ma_loader_t *loader,
                                       const char *text, const char *path,
                                       ma_template_t *tpl)
{
        ma_text_t literal = {0};
        ma_status_t st = MA_OK;
        const char *p = text;
        while (*p != '\0' && st == MA_OK) {
                if ((p[0] == '{' && p[1] == '{') ||
                    (p[0] == '}' && p[1] == '}')) {
                        ma_text_append(&literal, p, 1);
                        p += 2;
                        continue;
                }
                if (*p == '}') {
                        st = ma_loader_fail(loader, MA_ERR_INVALID, path,
                                            "unmatched } in \"%.80s\"; %s",
                                            text, ma_placeholder_help);
                        break;
                }
                if (*p != '{') {
                        ma_text_append(&literal, p, 1);
                        p++;
                        continue;
                }
                const char *close = strchr(p, '}');
                if (close == NULL) {
                        st = ma_loader_fail(loader, MA_ERR_INVALID, path,
                                            "unclosed { in \"%.80s\"; %s", text,
                                            ma_placeholder_help);
                        break;
                }
                if (literal.len > 0) {
                        st = ma_template_push(loader, tpl, literal.data,
                                              literal.len, NULL,
                                              MA_FILTER_NONE);
                        literal.len = 0;
                }
                if (st == MA_OK)
                        st = ma_placeholder_parse(loader, tpl, p + 1,
                                                  (size_t)(close - p - 1), path,
                                                  text);
                p = close + 1;
        }
        if (st == MA_OK && literal.failed)
                st = ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                  "out of memory loading %s", loader->file);
        if (st == MA_OK && literal.len > 0)
                st = ma_template_push(loader, tpl, literal.data, literal.len,
                                      NULL, MA_FILTER_NONE);
        ma_free(literal.data);
        return st;
}

static void ma_filter_append(ma_text_t *out, const char *value,
                             ma_filter_t filter)
{
        size_t len = strlen(value);
        switch (filter) {
        case MA_FILTER_NONE:
                ma_text_append(out, value, len);
                break;
        case MA_FILTER_DIGITS:
                for (size_t i = 0; i < len; i++)
                        if (value[i] >= '0' && value[i] <= '9')
                                ma_text_append(out, value + i, 1);
                break;
        case MA_FILTER_YEAR:
                ma_text_append(out, value, len < 4 ? len : 4);
                break;
        case MA_FILTER_DATE:
                ma_text_append(out, value, len < 10 ? len : 10);
                break;
        }
}

/* Renders tpl for record; an absent attribute reads as empty text. */
static char *ma_template_render(const ma_template_t *tpl,
                                const ma_log_record_t *record)
{
        ma_text_t out = {0};
        for (size_t i = 0; i < tpl->count; i++) {
                const ma_segment_t *segment = &tpl->segments[i];
                if (segment->key == NULL) {
                        ma_text_append(&out, segment->text,
                                       strlen(segment->text));
                        continue;
                }
                const char *value =
                        record->lookup(record->source, segment->key);
                ma_filter_append(&out, value != NULL ? value : "",
                                 segment->filter);
        }
        return ma_text_take(&out);
}

/* ---- loading: pieces of an activity -------------------------------------- */

/* A text: a Swedish string, or {"sv": ..., "en": ...}. */
static ma_status_t ma_load_text(const ma_loader_t *loader, json_t *obj,
                                const char *key, const char *path,
                                ma_template_t out[MA_LANG_COUNT],
                                bool *has_english)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, key);
        json_t *value = json_object_get(obj, key);
        if (value == NULL)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "missing; give the Swedish text as a "
                                      "string or as {\"sv\": \"...\", "
                                      "\"en\": \"...\"}");
        const char *sv = NULL;
        const char *en = NULL;
        ma_status_t st = MA_OK;
        if (json_is_object(value)) {
                static const char *const keys[] = {"sv", "en", NULL};
                st = ma_check_keys(loader, value, member, keys);
                if (st == MA_OK)
                        st = ma_get_string(loader, value, "sv", member, true,
                                           &sv);
                if (st == MA_OK)
                        st = ma_get_string(loader, value, "en", member, false,
                                           &en);
        } else if (json_is_string(value) && json_string_length(value) > 0) {
                sv = json_string_value(value);
        } else {
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "is %s; expected a non-empty string "
                                      "or {\"sv\": \"...\", \"en\": "
                                      "\"...\"}",
                                      ma_json_type_name(value));
        }
        if (st == MA_OK)
                st = ma_template_compile(loader, sv, member, &out[MA_LANG_SV]);
        if (st == MA_OK && en != NULL) {
                st = ma_template_compile(loader, en, member, &out[MA_LANG_EN]);
                *has_english = true;
        }
        return st;
}

/* {"attribute": "case:deadline"} or {"days_after": 60}. */
static ma_status_t ma_load_date_rule(const ma_loader_t *loader, json_t *obj,
                                     const char *key, const char *path,
                                     ma_date_rule_t *rule)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, key);
        json_t *value = json_object_get(obj, key);
        if (value == NULL)
                return MA_OK;
        static const char fix[] =
                "expected {\"attribute\": \"case:deadline\"} or "
                "{\"days_after\": 60}";
        if (!json_is_object(value))
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "is %s; %s", ma_json_type_name(value),
                                      fix);
        static const char *const keys[] = {"attribute", "days_after", NULL};
        ma_status_t st = ma_check_keys(loader, value, member, keys);
        if (st != MA_OK)
                return st;
        json_t *attribute = json_object_get(value, "attribute");
        json_t *days = json_object_get(value, "days_after");
        if ((attribute == NULL) == (days == NULL))
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "needs exactly one of attribute and "
                                      "days_after; %s",
                                      fix);
        if (days != NULL) {
                char days_path[MA_MAPPING_PATH_MAX];
                ma_json_path(days_path, member, "days_after");
                if (!json_is_integer(days) || json_integer_value(days) < 0 ||
                    json_integer_value(days) > MA_MAPPING_DAYS_AFTER_MAX)
                        return ma_loader_fail(loader, MA_ERR_INVALID, days_path,
                                              "must be a whole number of "
                                              "days from 0 to %d",
                                              MA_MAPPING_DAYS_AFTER_MAX);
                rule->kind = MA_DATE_RULE_DAYS_AFTER;
                rule->days = (int)json_integer_value(days);
                return MA_OK;
        }
        const char *name;
        st = ma_get_string(loader, value, "attribute", member, true, &name);
        if (st != MA_OK)
                return st;
        rule->kind = MA_DATE_RULE_ATTRIBUTE;
        st = ma_copy_string(loader, name, &rule->attribute);
        if (st == MA_OK)
                st = ma_mapping_note_use(loader, name, member, true);
        return st;
}

static ma_status_t ma_load_taggar(const ma_loader_t *loader, json_t *obj,
                                  const char *path, ma_activity_map_t *map)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, "taggar");
        json_t *value = json_object_get(obj, "taggar");
        if (value == NULL)
                return MA_OK;
        if (!json_is_array(value) ||
            json_array_size(value) > MA_MAPPING_TAGGAR_MAX)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "expected an array of at most %d "
                                      "strings",
                                      MA_MAPPING_TAGGAR_MAX);
        size_t count = json_array_size(value);
        map->taggar = ma_calloc(count ? count : 1, sizeof(*map->taggar));
        if (map->taggar == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        for (size_t i = 0; i < count; i++) {
                char item[MA_MAPPING_PATH_MAX + 24];
                snprintf(item, sizeof(item), "%s[%zu]", member, i);
                json_t *tag = json_array_get(value, i);
                if (!json_is_string(tag) || json_string_length(tag) == 0)
                        return ma_loader_fail(loader, MA_ERR_INVALID, item,
                                              "is %s; expected a non-empty "
                                              "string",
                                              ma_json_type_name(tag));
                map->taggar_count++;
                ma_status_t st = ma_template_compile(
                        loader, json_string_value(tag), item, &map->taggar[i]);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

/* An object whose values are templates, sent as a JSON object text. */
static ma_status_t ma_load_object_template(const ma_loader_t *loader,
                                           json_t *obj, const char *key,
                                           const char *path,
                                           ma_object_template_t *out)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, key);
        json_t *value = json_object_get(obj, key);
        if (value == NULL)
                return MA_OK;
        if (!json_is_object(value) || json_object_size(value) == 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "expected a non-empty object whose "
                                      "values are strings");
        size_t count = json_object_size(value);
        out->keys = ma_calloc(count, sizeof(*out->keys));
        out->values = ma_calloc(count, sizeof(*out->values));
        if (out->keys == NULL || out->values == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        const char *name;
        json_t *item;
        json_object_foreach(value, name, item)
        {
                char item_path[MA_MAPPING_PATH_MAX];
                ma_json_path(item_path, member, name);
                if (!json_is_string(item))
                        return ma_loader_fail(loader, MA_ERR_INVALID, item_path,
                                              "is %s; expected a string",
                                              ma_json_type_name(item));
                size_t i = out->count++;
                ma_status_t st = ma_copy_string(loader, name, &out->keys[i]);
                if (st == MA_OK)
                        st = ma_template_compile(loader,
                                                 json_string_value(item),
                                                 item_path, &out->values[i]);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

/* ---- loading: activities ------------------------------------------------- */

/* Lists the producer's event types into list, for messages. */
static void ma_producer_type_list(const ma_producer_t *producer, char *list,
                                  size_t size)
{
        list[0] = '\0';
        for (size_t p = 0; p < producer->process_count; p++) {
                const ma_process_t *process = &producer->processes[p];
                for (size_t t = 0; t < process->event_type_count; t++) {
                        size_t used = strlen(list);
                        snprintf(list + used, size - used, "%s%s",
                                 used ? ", " : "",
                                 process->event_types[t].name);
                }
        }
}

static ma_status_t ma_load_event_type(const ma_loader_t *loader, json_t *obj,
                                      const char *path, ma_activity_map_t *map)
{
        const ma_mapping_t *mapping = loader->mapping;
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, "event_type");
        const char *name;
        ma_status_t st =
                ma_get_string(loader, obj, "event_type", path, true, &name);
        if (st != MA_OK)
                return st;
        map->type = ma_catalog_find_type(mapping->catalog, name);
        char list[300];
        ma_producer_type_list(mapping->producer, list, sizeof(list));
        if (map->type == NULL)
                return ma_loader_fail(loader, MA_ERR_NOT_FOUND, member,
                                      "event type \"%.80s\" is not in the "
                                      "catalog; add it to the catalog or "
                                      "use a type of producer %s: %s",
                                      name, mapping->producer->prefix, list);
        if (map->type->process->producer != mapping->producer)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "event type \"%.80s\" belongs to "
                                      "producer %s, not to %s; use one of: "
                                      "%s",
                                      name,
                                      map->type->process->producer->prefix,
                                      mapping->producer->prefix, list);
        map->customer_has_ball = map->type->customer_has_ball;
        map->case_finished = map->type->case_finished;
        return MA_OK;
}

static ma_status_t ma_load_flag(const ma_loader_t *loader, json_t *obj,
                                const char *key, const char *path, bool *flag)
{
        json_t *value = json_object_get(obj, key);
        if (value == NULL)
                return MA_OK;
        if (!json_is_boolean(value)) {
                char member[MA_MAPPING_PATH_MAX];
                ma_json_path(member, path, key);
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "is %s; expected true or false, or "
                                      "leave it out to use the catalog's "
                                      "value",
                                      ma_json_type_name(value));
        }
        *flag = json_is_true(value);
        return MA_OK;
}

/*
 * The notification kind belongs to the event type in the catalog, and the
 * event does not carry it, so a mapping may only restate it.  A mismatch
 * means the mapping and the catalog disagree about the type.
 */
static ma_status_t ma_check_notification(const ma_loader_t *loader, json_t *obj,
                                         const char *path,
                                         const ma_activity_map_t *map)
{
        char member[MA_MAPPING_PATH_MAX];
        ma_json_path(member, path, "notification");
        const char *name;
        ma_status_t st =
                ma_get_string(loader, obj, "notification", path, false, &name);
        if (st != MA_OK || name == NULL)
                return st;
        const char *expected =
                ma_notification_kind_name(map->type->notification);
        if (strcmp(name, expected) != 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, member,
                                      "\"%.40s\" differs from the catalog, "
                                      "which gives %s the notification "
                                      "\"%s\"; the catalog decides "
                                      "notifications, so change the "
                                      "catalog or remove this key",
                                      name, map->type->name, expected);
        return MA_OK;
}

static ma_status_t ma_load_activity(const ma_loader_t *loader,
                                    const char *activity, json_t *obj,
                                    const char *path, ma_activity_map_t *map)
{
        static const char *const keys[] = {
                "event_type",         "rubrik",        "beskrivning",
                "customer_has_ball",  "case_finished", "notification",
                "deadline",           "expiry",        "taggar",
                "utokad_information", "referenser",    NULL};
        if (!json_is_object(obj))
                return ma_loader_fail(loader, MA_ERR_INVALID, path,
                                      "is %s; expected an object with "
                                      "event_type, rubrik and beskrivning",
                                      ma_json_type_name(obj));
        ma_status_t st = ma_check_keys(loader, obj, path, keys);
        if (st == MA_OK)
                st = ma_copy_string(loader, activity, &map->activity);
        if (st == MA_OK)
                st = ma_load_event_type(loader, obj, path, map);
        if (st == MA_OK)
                st = ma_check_notification(loader, obj, path, map);
        if (st == MA_OK)
                st = ma_load_text(loader, obj, "rubrik", path, map->rubrik,
                                  &map->has_english);
        if (st == MA_OK)
                st = ma_load_text(loader, obj, "beskrivning", path,
                                  map->beskrivning, &map->has_english);
        if (st == MA_OK)
                st = ma_load_flag(loader, obj, "customer_has_ball", path,
                                  &map->customer_has_ball);
        if (st == MA_OK)
                st = ma_load_flag(loader, obj, "case_finished", path,
                                  &map->case_finished);
        if (st == MA_OK)
                st = ma_load_date_rule(loader, obj, "deadline", path,
                                       &map->deadline);
        if (st == MA_OK)
                st = ma_load_date_rule(loader, obj, "expiry", path,
                                       &map->expiry);
        if (st == MA_OK)
                st = ma_load_taggar(loader, obj, path, map);
        if (st == MA_OK)
                st = ma_load_object_template(loader, obj, "utokad_information",
                                             path, &map->utokad_information);
        if (st == MA_OK)
                st = ma_load_object_template(loader, obj, "referenser", path,
                                             &map->referenser);
        return st;
}

static int ma_activity_compare(const void *a, const void *b)
{
        const ma_activity_map_t *x = a;
        const ma_activity_map_t *y = b;
        return strcmp(x->activity, y->activity);
}

static ma_status_t ma_load_activities(const ma_loader_t *loader, json_t *root)
{
        ma_mapping_t *mapping = loader->mapping;
        json_t *activities = json_object_get(root, "activities");
        if (!json_is_object(activities) || json_object_size(activities) == 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, "$.activities",
                                      "missing or empty; map at least one "
                                      "activity name to an event type");
        size_t count = json_object_size(activities);
        mapping->activities = ma_calloc(count, sizeof(*mapping->activities));
        if (mapping->activities == NULL)
                return ma_error_set(loader->err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading %s", loader->file);
        const char *activity;
        json_t *obj;
        json_object_foreach(activities, activity, obj)
        {
                char path[MA_MAPPING_PATH_MAX];
                ma_json_path_member(path, "$.activities", activity);
                ma_activity_map_t *map =
                        &mapping->activities[mapping->activity_count++];
                ma_status_t st =
                        ma_load_activity(loader, activity, obj, path, map);
                if (st != MA_OK)
                        return st;
        }
        qsort(mapping->activities, mapping->activity_count,
              sizeof(*mapping->activities), ma_activity_compare);
        return MA_OK;
}

/* ---- loading: the top level ---------------------------------------------- */

static ma_status_t ma_load_column(const ma_loader_t *loader, json_t *columns,
                                  const char *key, const char *fallback,
                                  bool required, char **out)
{
        const char *name = fallback;
        if (columns != NULL) {
                const char *named;
                ma_status_t st = ma_get_string(loader, columns, key,
                                               "$.columns", false, &named);
                if (st != MA_OK)
                        return st;
                if (named != NULL) {
                        name = named;
                        required = true;
                }
        }
        char path[MA_MAPPING_PATH_MAX];
        ma_json_path(path, "$.columns", key);
        ma_status_t st = ma_copy_string(loader, name, out);
        if (st == MA_OK)
                st = ma_mapping_note_use(loader, name, path, required);
        return st;
}

static ma_status_t ma_load_columns(const ma_loader_t *loader, json_t *root)
{
        static const char *const keys[] = {"case_id",  "activity", "timestamp",
                                           "resource", "instance", "lifecycle",
                                           NULL};
        ma_mapping_t *mapping = loader->mapping;
        json_t *columns = json_object_get(root, "columns");
        if (columns != NULL && !json_is_object(columns))
                return ma_loader_fail(loader, MA_ERR_INVALID, "$.columns",
                                      "is %s; expected an object such as "
                                      "{\"case_id\": \"case:concept:name\"}",
                                      ma_json_type_name(columns));
        ma_status_t st = MA_OK;
        if (columns != NULL)
                st = ma_check_keys(loader, columns, "$.columns", keys);
        /* A CSV header needs the first three, the others only when named. */
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "case_id",
                                    "case:concept:name", true,
                                    &mapping->col_case);
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "activity", "concept:name",
                                    true, &mapping->col_activity);
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "timestamp",
                                    "time:timestamp", true,
                                    &mapping->col_timestamp);
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "resource", "org:resource",
                                    false, &mapping->col_resource);
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "instance",
                                    "concept:instance", false,
                                    &mapping->col_instance);
        if (st == MA_OK)
                st = ma_load_column(loader, columns, "lifecycle",
                                    "lifecycle:transition", false,
                                    &mapping->col_lifecycle);
        return st;
}

static ma_status_t ma_load_producer(const ma_loader_t *loader, json_t *root,
                                    const char *catalog_path)
{
        ma_mapping_t *mapping = loader->mapping;
        const char *prefix;
        ma_status_t st =
                ma_get_string(loader, root, "producer", "$", true, &prefix);
        if (st != MA_OK)
                return st;
        if (catalog_path == NULL)
                return ma_error_set(loader->err, MA_ERR_CONFIG, NULL,
                                    "cannot check %s: no catalog given; pass "
                                    "the path of schemas/catalog.json",
                                    loader->file);
        st = ma_catalog_load(catalog_path, &mapping->catalog, loader->err);
        if (st != MA_OK)
                return st;
        mapping->producer = ma_catalog_find_prefix(mapping->catalog, prefix);
        if (mapping->producer != NULL)
                return MA_OK;
        char list[200] = "";
        size_t count = ma_catalog_producer_count(mapping->catalog);
        for (size_t i = 0; i < count; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof(list) - used, "%s%s",
                         i ? ", " : "",
                         ma_catalog_producer_at(mapping->catalog, i)->prefix);
        }
        return ma_loader_fail(loader, MA_ERR_NOT_FOUND, "$.producer",
                              "no producer with prefix \"%.20s\" in %s; the "
                              "catalog has %s",
                              prefix, catalog_path, list);
}

static ma_status_t ma_load_customer_options(const ma_loader_t *loader,
                                            json_t *root)
{
        ma_mapping_t *mapping = loader->mapping;
        const char *kind;
        ma_status_t st =
                ma_get_string(loader, root, "customer_kind", "$", false, &kind);
        if (st != MA_OK)
                return st;
        mapping->customer_typ = MA_KUND_PERSONNUMMER;
        if (kind != NULL && strcmp(kind, "organisation") == 0)
                mapping->customer_typ = MA_KUND_ORGANISATIONSNUMMER;
        else if (kind != NULL && strcmp(kind, "person") != 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, "$.customer_kind",
                                      "\"%.40s\" is unknown; expected "
                                      "\"person\" or \"organisation\"",
                                      kind);
        mapping->cases_per_customer = 1;
        json_t *per = json_object_get(root, "cases_per_customer");
        if (per == NULL)
                return MA_OK;
        if (!json_is_integer(per) || json_integer_value(per) < 1 ||
            json_integer_value(per) > MA_MAPPING_CASES_PER_CUSTOMER_MAX)
                return ma_loader_fail(loader, MA_ERR_INVALID,
                                      "$.cases_per_customer",
                                      "must be a whole number from 1 to %d",
                                      MA_MAPPING_CASES_PER_CUSTOMER_MAX);
        mapping->cases_per_customer = (unsigned)json_integer_value(per);
        return MA_OK;
}

static ma_status_t ma_load_arende(const ma_loader_t *loader, json_t *root)
{
        ma_mapping_t *mapping = loader->mapping;
        json_t *arende = json_object_get(root, "arende");
        mapping->arende_typ = MA_ARENDE_PRODUCENTARENDEREFERENS;
        if (arende == NULL)
                return ma_template_compile(loader, "{case}", "$.arende",
                                           &mapping->arende_identifierare);
        if (!json_is_object(arende))
                return ma_loader_fail(loader, MA_ERR_INVALID, "$.arende",
                                      "is %s; expected {\"typ\": "
                                      "\"Producentarendereferens\", "
                                      "\"identifierare\": \"{case}\"}",
                                      ma_json_type_name(arende));
        static const char *const keys[] = {"typ", "identifierare", NULL};
        ma_status_t st = ma_check_keys(loader, arende, "$.arende", keys);
        const char *typ = NULL;
        const char *identifierare = NULL;
        if (st == MA_OK)
                st = ma_get_string(loader, arende, "typ", "$.arende", true,
                                   &typ);
        if (st == MA_OK)
                st = ma_get_string(loader, arende, "identifierare", "$.arende",
                                   true, &identifierare);
        if (st != MA_OK)
                return st;
        int parsed = ma_arende_typ_parse(typ);
        if (parsed < 0)
                return ma_loader_fail(loader, MA_ERR_INVALID, "$.arende.typ",
                                      "\"%.40s\" is unknown; expected "
                                      "Konsumentreferens, "
                                      "Producentarendereferens, Diarienummer "
                                      "or Kvittensnummer",
                                      typ);
        mapping->arende_typ = (ma_arende_typ_t)parsed;
        return ma_template_compile(loader, identifierare,
                                   "$.arende.identifierare",
                                   &mapping->arende_identifierare);
}

static void ma_object_template_clear(ma_object_template_t *obj)
{
        for (size_t i = 0; i < obj->count; i++) {
                ma_free(obj->keys[i]);
                ma_template_clear(&obj->values[i]);
        }
        ma_free(obj->keys);
        ma_free(obj->values);
}

static void ma_activity_map_clear(ma_activity_map_t *map)
{
        ma_free(map->activity);
        for (int lang = 0; lang < MA_LANG_COUNT; lang++) {
                ma_template_clear(&map->rubrik[lang]);
                ma_template_clear(&map->beskrivning[lang]);
        }
        ma_free(map->deadline.attribute);
        ma_free(map->expiry.attribute);
        for (size_t i = 0; i < map->taggar_count; i++)
                ma_template_clear(&map->taggar[i]);
        ma_free(map->taggar);
        ma_object_template_clear(&map->utokad_information);
        ma_object_template_clear(&map->referenser);
}

static void ma_mapping_clear(ma_mapping_t *mapping)
{
        ma_free(mapping->path);
        ma_catalog_free(mapping->catalog);
        ma_free(mapping->col_case);
        ma_free(mapping->col_activity);
        ma_free(mapping->col_timestamp);
        ma_free(mapping->col_resource);
        ma_free(mapping->col_instance);
        ma_free(mapping->col_lifecycle);
        ma_template_clear(&mapping->arende_identifierare);
        for (size_t i = 0; i < mapping->activity_count; i++)
                ma_activity_map_clear(&mapping->activities[i]);
        ma_free(mapping->activities);
        for (size_t i = 0; i < mapping->use_count; i++) {
                ma_free(mapping->uses[i].key);
                ma_free(mapping->uses[i].json_path);
        }
        ma_free(mapping->uses);
        memset(mapping, 0, sizeof(*mapping));
}

static ma_status_t ma_mapping_load(ma_mapping_t *mapping, const char *path,
                                   const char *catalog_path, ma_error_t *err)
{
        static const char *const keys[] = {
                "description",        "producer", "columns",    "customer_kind",
                "cases_per_customer", "arende",   "activities", NULL};
        ma_loader_t loader = {.file = path, .err = err, .mapping = mapping};
        json_error_t json_error;
        json_t *root =
                json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
        if (root == NULL) {
                bool missing = json_error_code(&json_error) ==
                               json_error_cannot_open_file;
                return ma_error_set(err, missing ? MA_ERR_IO : MA_ERR_PARSE,
                                    NULL,
                                    "could not load mapping %s: line %d, "
                                    "column %d: %s",
                                    path, json_error.line, json_error.column,
                                    json_error.text);
        }
        ma_status_t st = ma_copy_string(&loader, path, &mapping->path);
        if (st == MA_OK && !json_is_object(root))
                st = ma_loader_fail(&loader, MA_ERR_INVALID, "$",
                                    "is %s; a mapping is a JSON object",
                                    ma_json_type_name(root));
        if (st == MA_OK)
                st = ma_check_keys(&loader, root, "$", keys);
        if (st == MA_OK)
                st = ma_load_producer(&loader, root, catalog_path);
        if (st == MA_OK)
                st = ma_load_columns(&loader, root);
        if (st == MA_OK)
                st = ma_load_customer_options(&loader, root);
        if (st == MA_OK)
                st = ma_load_arende(&loader, root);
        if (st == MA_OK)
                st = ma_load_activities(&loader, root);
        json_decref(root);
        return st;
}

/* ---- converter: open, columns, free -------------------------------------- */

void ma_log_converter_free(ma_log_converter_t *converter)
{
        if (converter == NULL)
                return;
        ma_mapping_clear(&converter->mapping);
        ma_customers_free(converter->customers);
        ma_free(converter->producent);
        ma_free(converter->producent_organisationsnummer);
        ma_free(converter->version);
        for (size_t i = 0; i < converter->skip_reason_count; i++)
                ma_free(converter->skip_reasons[i]);
        ma_free(converter->skip_reasons);
        ma_free(converter);
}

static ma_status_t ma_converter_defaults(ma_log_converter_t *converter,
                                         const ma_process_log_options_t *opt,
                                         const ma_input_defaults_t *defaults,
                                         ma_error_t *err)
{
        const ma_producer_t *producer = converter->mapping.producer;
        const char *language = opt->language;
        if (language == NULL && defaults != NULL)
                language = defaults->sprak;
        if (language == NULL || strcmp(language, "sv") == 0)
                converter->language = MA_LANG_SV;
        else if (strcmp(language, "en") == 0)
                converter->language = MA_LANG_EN;
        else
                return ma_error_set(err, MA_ERR_CONFIG, "language",
                                    "language \"%.20s\" is not supported by "
                                    "process-log mappings; use \"sv\" or "
                                    "\"en\"",
                                    language);
        const char *orgnr = defaults != NULL
                                    ? defaults->producent_organisationsnummer
                                    : NULL;
        if (orgnr != NULL && strcmp(orgnr, producer->organisationsnummer))
                return ma_error_set(err, MA_ERR_CONFIG, "producer",
                                    "mapping %s is for producer %s (%s), but "
                                    "the producer being run is a different "
                                    "organisation; use a mapping of that "
                                    "producer or run producer %s",
                                    converter->mapping.path, producer->prefix,
                                    producer->name, producer->prefix);
        const char *name = defaults != NULL && defaults->producent != NULL
                                   ? defaults->producent
                                   : producer->name;
        const char *version = defaults != NULL && defaults->version != NULL
                                      ? defaults->version
                                      : "6.1";
        converter->producent = ma_strdup(name);
        converter->producent_organisationsnummer =
                ma_strdup(producer->organisationsnummer);
        converter->version = ma_strdup(version);
        if (converter->producent == NULL ||
            converter->producent_organisationsnummer == NULL ||
            converter->version == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening a process log");
        return MA_OK;
}

ma_status_t ma_log_converter_open(const ma_process_log_options_t *options,
                                  const ma_input_defaults_t *defaults,
                                  ma_log_converter_t **converter_out,
                                  ma_error_t *err)
{
        *converter_out = NULL;
        if (options == NULL || options->mapping_path == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "mapping",
                                    "a process log needs a mapping file; "
                                    "pass --mapping with the path of one, "
                                    "see docs/process-logs.md");
        ma_log_converter_t *converter = ma_calloc(1, sizeof(*converter));
        if (converter == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening a process log");
        ma_status_t st =
                ma_mapping_load(&converter->mapping, options->mapping_path,
                                options->catalog_path, err);
        if (st == MA_OK)
                st = ma_converter_defaults(converter, options, defaults, err);
        if (st == MA_OK) {
                ma_customers_options_t customer_options = {
                        .path = options->customers_path,
                        .seed = options->seed,
                        .generated_typ = converter->mapping.customer_typ,
                        .cases_per_customer =
                                converter->mapping.cases_per_customer,
                };
                st = ma_customers_open(&customer_options, &converter->customers,
                                       err);
        }
        if (st != MA_OK) {
                ma_log_converter_free(converter);
                return st;
        }
        *converter_out = converter;
        return MA_OK;
}

ma_status_t ma_log_converter_check_columns(const ma_log_converter_t *converter,
                                           const char *source,
                                           char *const *columns, size_t count,
                                           ma_error_t *err)
{
        for (size_t i = 0; i < count; i++)
                for (size_t j = i + 1; j < count; j++)
                        if (strcmp(columns[i], columns[j]) == 0)
                                return ma_error_set(
                                        err, MA_ERR_INVALID, NULL,
                                        "%s:1: column \"%.80s\" appears "
                                        "twice in the header (columns %zu "
                                        "and %zu); column names must be "
                                        "unique",
                                        source, columns[i], i + 1, j + 1);
        const ma_mapping_t *mapping = &converter->mapping;
        for (size_t u = 0; u < mapping->use_count; u++) {
                const ma_attribute_use_t *use = &mapping->uses[u];
                bool found = false;
                for (size_t i = 0; i < count && !found; i++)
                        found = strcmp(columns[i], use->key) == 0;
                if (found || !use->required)
                        continue;
                char list[300] = "";
                for (size_t i = 0; i < count; i++) {
                        size_t used = strlen(list);
                        snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", columns[i]);
                }
                return ma_error_set(err, MA_ERR_INVALID, use->json_path,
                                    "%s: %s reads column \"%.80s\", which "
                                    "%s does not have; correct the name in "
                                    "the mapping or add the column to the "
                                    "log.  Its columns are: %s",
                                    mapping->path, use->json_path, use->key,
                                    source, list);
        }
        return MA_OK;
}

/* ---- converter: one record ----------------------------------------------- */

static const ma_activity_map_t *ma_mapping_find(const ma_mapping_t *mapping,
                                                const char *activity)
{
        ma_activity_map_t key = {.activity = (char *)activity};
        return bsearch(&key, mapping->activities, mapping->activity_count,
                       sizeof(key), ma_activity_compare);
}

static ma_input_outcome_t ma_out_of_memory(ma_error_t *err)
{
        ma_error_set(err, MA_ERR_NOMEM, NULL,
                     "out of memory converting a process-log record");
        return MA_INPUT_FAIL;
}

/* Days since 1970-01-01 of the instant's date in its own UTC offset. */
static int32_t ma_local_days(const ma_instant_t *instant)
{
        int64_t local = instant->utc_ms + instant->offset_min * INT64_C(60000);
        int64_t days = local / MA_MS_PER_DAY;
        if (local % MA_MS_PER_DAY < 0)
                days--;
        return (int32_t)days;
}

static ma_input_outcome_t
ma_date_rule_apply(const ma_date_rule_t *rule, const char *field,
                   const ma_log_record_t *record, const ma_instant_t *tidpunkt,
                   const char *case_id, int32_t *out, ma_error_t *err)
{
        if (rule->kind == MA_DATE_RULE_NONE)
                return MA_INPUT_EVENT;
        if (rule->kind == MA_DATE_RULE_DAYS_AFTER) {
                *out = ma_local_days(tidpunkt) + rule->days;
                return MA_INPUT_EVENT;
        }
        const char *value = record->lookup(record->source, rule->attribute);
        if (value == NULL || value[0] == '\0') {
                ma_error_set(err, MA_ERR_INVALID, rule->attribute,
                             "%s is empty in case \"%.80s\", but the mapping "
                             "takes %s from it; fill it in or remove the "
                             "rule from the mapping",
                             rule->attribute, case_id, field);
                return MA_INPUT_REJECT;
        }
        ma_error_t detail;
        if (strlen(value) == 10) {
                if (ma_date_parse(value, out, &detail) == MA_OK)
                        return MA_INPUT_EVENT;
        } else {
                ma_instant_t instant;
                if (ma_instant_parse(value, &instant, &detail) == MA_OK) {
                        *out = ma_local_days(&instant);
                        return MA_INPUT_EVENT;
                }
        }
        ma_error_set(err, MA_ERR_PARSE, rule->attribute,
                     "%s of case \"%.80s\" is not a date or time: %s", field,
                     case_id, detail.message);
        return MA_INPUT_REJECT;
}

/*
 * Renders tpl as a JSON object text into *out.  Errors: MA_ERR_INVALID when
 * a value is not UTF-8 (JSON cannot hold it; err names the key),
 * MA_ERR_NOMEM.
 */
static ma_status_t ma_object_template_render(const ma_object_template_t *tpl,
                                             const char *field,
                                             const ma_log_record_t *record,
                                             char **out, ma_error_t *err)
{
        ma_status_t st = MA_OK;
        json_t *obj = json_object();
        if (obj == NULL)
                st = MA_ERR_NOMEM;
        for (size_t i = 0; i < tpl->count && st == MA_OK; i++) {
                char *value = ma_template_render(&tpl->values[i], record);
                if (value == NULL) {
                        st = MA_ERR_NOMEM;
                } else if (!ma_utf8_valid(value, strlen(value))) {
                        st = ma_error_set(err, MA_ERR_INVALID, field,
                                          "%s.%s is not valid UTF-8; save "
                                          "the log as UTF-8",
                                          field, tpl->keys[i]);
                } else if (json_object_set_new(obj, tpl->keys[i],
                                               json_string(value)) != 0) {
                        st = MA_ERR_NOMEM;
                }
                ma_free(value);
        }
        char *dumped = st == MA_OK
                               ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)
                               : NULL;
        json_decref(obj);
        if (st == MA_OK && dumped == NULL)
                st = MA_ERR_NOMEM;
        if (st == MA_OK) {
                /* jansson allocates with malloc; events own ma_malloc memory.
                 */
                *out = ma_strdup(dumped);
                if (*out == NULL)
                        st = MA_ERR_NOMEM;
        }
        free(dumped);
        return st;
}

static char *ma_event_id(const ma_mapping_t *mapping,
                         const ma_log_record_t *record, const char *case_id,
                         long ordinal)
{
        const char *instance =
                record->lookup(record->source, mapping->col_instance);
        char number[24];
        if (instance == NULL || instance[0] == '\0') {
                snprintf(number, sizeof(number), "%ld", ordinal);
                instance = number;
        }
        ma_text_t id = {0};
        ma_text_append(&id, case_id, strlen(case_id));
        ma_text_append(&id, "-", 1);
        ma_text_append(&id, instance, strlen(instance));
        return ma_text_take(&id);
}

/* Fills the texts, tags and JSON fields; false when memory ran out. */
/* Fills the texts, tags and JSON fields: EVENT, REJECT or FAIL (memory). */
static ma_input_outcome_t
ma_event_fill_texts(const ma_log_converter_t *converter,
                    const ma_activity_map_t *map, const ma_log_record_t *record,
                    ma_event_t *event, ma_error_t *err)
{
        int lang = converter->language;
        if (lang == MA_LANG_EN && !map->has_english)
                lang = MA_LANG_SV;
        if (map->rubrik[lang].count == 0 || map->beskrivning[lang].count == 0)
                lang = MA_LANG_SV;
        event->sprak = ma_strdup(lang == MA_LANG_EN ? "en" : "sv");
        event->rubrik = ma_template_render(&map->rubrik[lang], record);
        event->beskrivning =
                ma_template_render(&map->beskrivning[lang], record);
        if (event->sprak == NULL || event->rubrik == NULL ||
            event->beskrivning == NULL)
                return MA_INPUT_FAIL;
        for (size_t i = 0; i < map->taggar_count; i++) {
                char *tag = ma_template_render(&map->taggar[i], record);
                if (tag == NULL)
                        return MA_INPUT_FAIL;
                /* A tag made only of an empty attribute is left out. */
                ma_status_t st =
                        tag[0] != '\0' ? ma_event_add_tag(event, tag) : MA_OK;
                ma_free(tag);
                if (st != MA_OK)
                        return MA_INPUT_FAIL;
        }
        ma_status_t st = MA_OK;
        if (map->utokad_information.count > 0)
                st = ma_object_template_render(&map->utokad_information,
                                               "utokadInformation", record,
                                               &event->utokad_information, err);
        if (st == MA_OK && map->referenser.count > 0)
                st = ma_object_template_render(&map->referenser, "referenser",
                                               record, &event->referenser, err);
        if (st == MA_ERR_INVALID)
                return MA_INPUT_REJECT;
        return st == MA_OK ? MA_INPUT_EVENT : MA_INPUT_FAIL;
}

static ma_input_outcome_t
ma_event_build(ma_log_converter_t *converter, const ma_activity_map_t *map,
               const ma_log_record_t *record, const char *case_id, long ordinal,
               const ma_customer_t *customer, const ma_instant_t *tidpunkt,
               ma_event_t *event, ma_error_t *err)
{
        const ma_mapping_t *mapping = &converter->mapping;
        event->kind = MA_EVENT_PUBLISH;
        ma_input_outcome_t outcome = ma_date_rule_apply(
                &map->deadline, "atgardSenast", record, tidpunkt, case_id,
                &event->atgard_senast, err);
        if (outcome == MA_INPUT_EVENT)
                outcome = ma_date_rule_apply(&map->expiry, "giltigTill", record,
                                             tidpunkt, case_id,
                                             &event->giltig_till, err);
        if (outcome != MA_INPUT_EVENT)
                return outcome;
        event->kundhandelse_id = ma_event_id(mapping, record, case_id, ordinal);
        event->producent_organisationsnummer =
                ma_strdup(converter->producent_organisationsnummer);
        event->producent = ma_strdup(converter->producent);
        event->version = ma_strdup(converter->version);
        event->kundhandelse_typ = ma_strdup(map->type->name);
        event->part.has_kund = true;
        event->part.kund_typ = customer->typ;
        event->part.kund_identifierare = ma_strdup(customer->identifierare);
        if (customer->tillagg != NULL)
                event->part.kund_tillagg = ma_strdup(customer->tillagg);
        event->part.has_arende = true;
        event->part.arende_typ = mapping->arende_typ;
        event->part.arende_identifierare =
                ma_template_render(&mapping->arende_identifierare, record);
        event->tidpunkt = *tidpunkt;
        /* Milliseconds times 1000 plus the row's ordinal breaks ties. */
        event->sekvens = tidpunkt->utc_ms * 1000 + ordinal % 1000;
        event->producentarendet_kraver_kundatgard = map->customer_has_ball;
        event->producentarendet_klart = map->case_finished;
        if (event->kundhandelse_id == NULL ||
            event->producent_organisationsnummer == NULL ||
            event->producent == NULL || event->version == NULL ||
            event->kundhandelse_typ == NULL ||
            event->part.kund_identifierare == NULL ||
            (customer->tillagg != NULL && event->part.kund_tillagg == NULL) ||
            event->part.arende_identifierare == NULL) {
                ma_event_clear(event);
                return ma_out_of_memory(err);
        }
        outcome = ma_event_fill_texts(converter, map, record, event, err);
        if (outcome != MA_INPUT_EVENT)
                ma_event_clear(event);
        if (outcome == MA_INPUT_FAIL)
                return ma_out_of_memory(err);
        return outcome;
}

/*
 * Returns the one stored copy of text, so callers may keep the pointer
 * until the adapter closes and count reasons by it.  Past
 * MA_MAPPING_SKIP_REASONS_MAX distinct texts, or when memory runs out, a
 * shared static text is returned instead.
 */
static const char *ma_converter_skip(ma_log_converter_t *converter,
                                     const char *text)
{
        static const char overflow[] = "skipped (too many distinct reasons "
                                       "to name each)";
        for (size_t i = 0; i < converter->skip_reason_count; i++)
                if (strcmp(converter->skip_reasons[i], text) == 0)
                        return converter->skip_reasons[i];
        if (converter->skip_reason_count == MA_MAPPING_SKIP_REASONS_MAX)
                return overflow;
        char **grown =
                ma_realloc(converter->skip_reasons,
                           (converter->skip_reason_count + 1) * sizeof(*grown));
        if (grown == NULL)
                return overflow;
        converter->skip_reasons = grown;
        char *copy = ma_strdup(text);
        if (copy == NULL)
                return overflow;
        grown[converter->skip_reason_count++] = copy;
        return copy;
}

ma_input_outcome_t ma_log_converter_apply(ma_log_converter_t *converter,
                                          const ma_log_record_t *record,
                                          ma_event_t *event,
                                          const char **skip_reason,
                                          ma_error_t *err)
{
        const ma_mapping_t *mapping = &converter->mapping;
        const char *case_id = record->lookup(record->source, mapping->col_case);
        if (case_id == NULL || case_id[0] == '\0') {
                ma_error_set(err, MA_ERR_INVALID, mapping->col_case,
                             "%s is empty; every event needs the id of its "
                             "case",
                             mapping->col_case);
                return MA_INPUT_REJECT;
        }
        long ordinal;
        const ma_customer_t *customer;
        if (ma_customers_next_row(converter->customers, case_id, &ordinal,
                                  &customer, err) != MA_OK)
                return MA_INPUT_FAIL;

        const char *time_text =
                record->lookup(record->source, mapping->col_timestamp);
        if (time_text == NULL || time_text[0] == '\0') {
                ma_error_set(err, MA_ERR_INVALID, mapping->col_timestamp,
                             "%s is missing in case \"%.80s\"; every event "
                             "needs the time it happened",
                             mapping->col_timestamp, case_id);
                return MA_INPUT_REJECT;
        }
        ma_instant_t tidpunkt;
        ma_error_t detail;
        if (ma_instant_parse(time_text, &tidpunkt, &detail) != MA_OK) {
                ma_error_set(err, MA_ERR_PARSE, mapping->col_timestamp,
                             "invalid %s in case \"%.80s\": %s; a time with "
                             "an offset is read as RFC 3339, such as "
                             "2011-10-11 13:45:40.276+02:00",
                             mapping->col_timestamp, case_id, detail.message);
                return MA_INPUT_REJECT;
        }

        const char *lifecycle =
                record->lookup(record->source, mapping->col_lifecycle);
        if (lifecycle != NULL && lifecycle[0] != '\0' &&
            strcasecmp(lifecycle, "complete") != 0) {
                char text[160];
                snprintf(text, sizeof(text),
                         "lifecycle transition \"%.60s\": only complete "
                         "events are published",
                         lifecycle);
                *skip_reason = ma_converter_skip(converter, text);
                return MA_INPUT_SKIP;
        }
        const char *activity =
                record->lookup(record->source, mapping->col_activity);
        if (activity == NULL || activity[0] == '\0') {
                ma_error_set(err, MA_ERR_INVALID, mapping->col_activity,
                             "%s is empty in case \"%.80s\"; every event "
                             "needs an activity name",
                             mapping->col_activity, case_id);
                return MA_INPUT_REJECT;
        }
        const ma_activity_map_t *map = ma_mapping_find(mapping, activity);
        if (map == NULL) {
                char text[260];
                snprintf(text, sizeof(text), "unmapped activity \"%.200s\"",
                         activity);
                *skip_reason = ma_converter_skip(converter, text);
                return MA_INPUT_SKIP;
        }
        if (customer == NULL) {
                ma_error_set(err, MA_ERR_NOT_FOUND, mapping->col_case,
                             "case \"%.80s\" has no customer in the "
                             "customers file; add a row for it",
                             case_id);
                return MA_INPUT_REJECT;
        }
        return ma_event_build(converter, map, record, case_id, ordinal,
                              customer, &tidpunkt, event, err);
}
