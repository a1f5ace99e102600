/*
 * input_jsonl.c - the JSON Lines input adapter and the JSON event parser it
 * shares with the HTTP gateway.
 *
 * One line contains one JSON object: a kundhändelse, or a retraction when it
 * has "aterkalla": true.  docs/producers.md shows the shape.  Parsing is
 * strict: an unknown field, a wrong JSON type or a malformed time rejects
 * the record, and the error names the field, the value and what would be
 * valid.  Shown values have every run of ten or more digits masked, because
 * such a run may be an identity number; part.kund values are never shown.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/input.h"

/* Maximum line length the adapter accepts, in bytes without the newline. */
#define MA_JSONL_LINE_MAX (1024 * 1024)
/* Maximum length of a value excerpt shown in an error message, in bytes. */
#define MA_JSONL_SHOWN_MAX 60

/* ------------------------------------------------------------------------
 * Values in messages
 */

/* Declared in ma/input.h for the programs' messages. */
void ma_input_mask_numbers(char *text)
{
        char *run = NULL;
        int digits = 0;

        for (char *c = text;; c++) {
                bool in_run =
                        (*c >= '0' && *c <= '9') || *c == '-' || *c == '+';
                if (in_run) {
                        if (run == NULL) {
                                run = c;
                                digits = 0;
                        }
                        if (*c >= '0' && *c <= '9')
                                digits++;
                        continue;
                }
                if (run != NULL && digits >= 10) {
                        for (char *d = run; d < c; d++) {
                                if (*d >= '0' && *d <= '9')
                                        *d = '*';
                        }
                }
                run = NULL;
                if (*c == '\0')
                        break;
        }
}

/* Writes value as compact JSON, shortened and masked, for a message. */
static void ma_jsonl_value_show(const json_t *value, char *buf, size_t size)
{
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);

        if (text == NULL) {
                snprintf(buf, size, "(unprintable)");
                return;
        }
        if (strlen(text) > MA_JSONL_SHOWN_MAX) {
                /* Cut at a UTF-8 character boundary. */
                size_t cut = MA_JSONL_SHOWN_MAX;
                while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                        cut--;
                snprintf(buf, size, "%.*s...", (int)cut, text);
        } else {
                snprintf(buf, size, "%s", text);
        }
        free(text); /* allocated by jansson with free() */
        ma_input_mask_numbers(buf);
}

static const char *ma_jsonl_type_name(const json_t *value)
{
        switch (json_typeof(value)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "unknown";
}

/* Fails for a value of the wrong JSON type.  shown is false for values that
 * must not be printed (identity numbers). */
static ma_status_t ma_jsonl_type_error(const json_t *value, const char *path,
                                       const char *expected, bool shown,
                                       ma_error_t *err)
{
        char text[MA_JSONL_SHOWN_MAX + 8];

        if (!shown)
                return ma_error_set(err, MA_ERR_INVALID, path,
                                    "invalid %s: got %s, expected %s", path,
                                    ma_jsonl_type_name(value), expected);
        ma_jsonl_value_show(value, text, sizeof(text));
        return ma_error_set(err, MA_ERR_INVALID, path,
                            "invalid %s %s: got %s, expected %s", path, text,
                            ma_jsonl_type_name(value), expected);
}

/* Puts "invalid <path>: " before the message a library parser wrote. */
static ma_status_t ma_jsonl_wrap_error(ma_status_t status, const char *path,
                                       ma_error_t *err)
{
        char inner[sizeof(err->message)];

        if (err == NULL)
                return status;
        snprintf(inner, sizeof(inner), "%s", err->message);
        return ma_error_set(err, status, path, "invalid %s: %s", path, inner);
}

/* ------------------------------------------------------------------------
 * Field parsers
 */

static ma_status_t ma_jsonl_string(const json_t *value, const char *path,
                                   bool shown, char **out, ma_error_t *err)
{
        if (!json_is_string(value))
                return ma_jsonl_type_error(value, path, "a string", shown, err);
        ma_free(*out); /* NULL: the loader rejects duplicate keys */
        *out = ma_strdup(json_string_value(value));
        if (*out == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, path,
                                    "out of memory reading %s", path);
        return MA_OK;
}

static ma_status_t ma_jsonl_bool(const json_t *value, const char *path,
                                 bool *out, ma_error_t *err)
{
        if (!json_is_boolean(value))
                return ma_jsonl_type_error(value, path, "true or false", true,
                                           err);
        *out = json_is_true(value);
        return MA_OK;
}

/* A JSON object stored as compact JSON text. */
static ma_status_t ma_jsonl_object_text(const json_t *value, const char *path,
                                        char **out, ma_error_t *err)
{
        char *text;

        if (!json_is_object(value))
                return ma_jsonl_type_error(value, path, "a JSON object", true,
                                           err);
        text = json_dumps(value, JSON_COMPACT);
        if (text == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, path,
                                    "out of memory reading %s", path);
        ma_free(*out);
        *out = ma_strdup(text);
        free(text); /* allocated by jansson with free() */
        if (*out == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, path,
                                    "out of memory reading %s", path);
        return MA_OK;
}

static ma_status_t ma_jsonl_date(const json_t *value, const char *path,
                                 int32_t *out, ma_error_t *err)
{
        ma_status_t status;

        if (!json_is_string(value))
                return ma_jsonl_type_error(
                        value, path, "a date string \"YYYY-MM-DD\"", true, err);
        status = ma_date_parse(json_string_value(value), out, err);
        return status == MA_OK ? MA_OK : ma_jsonl_wrap_error(status, path, err);
}

static ma_status_t ma_jsonl_instant(const json_t *value, const char *path,
                                    ma_instant_t *out, ma_error_t *err)
{
        ma_status_t status;

        if (!json_is_string(value))
                return ma_jsonl_type_error(
                        value, path,
                        "RFC 3339 (\"2026-03-29T10:00:00+02:00\") or local "
                        "Swedish time (\"2026-03-29 10:00:00\")",
                        true, err);
        status = ma_instant_parse(json_string_value(value), out, err);
        return status == MA_OK ? MA_OK : ma_jsonl_wrap_error(status, path, err);
}

static ma_status_t ma_jsonl_taggar(const json_t *value, ma_event_t *event,
                                   ma_error_t *err)
{
        size_t index;
        json_t *tag;

        if (!json_is_array(value))
                return ma_jsonl_type_error(value, "taggar",
                                           "an array of strings", true, err);
        json_array_foreach(value, index, tag)
        {
                char path[32];

                snprintf(path, sizeof(path), "taggar[%zu]", index);
                if (!json_is_string(tag))
                        return ma_jsonl_type_error(tag, path, "a string", true,
                                                   err);
                if (ma_event_add_tag(event, json_string_value(tag)) != MA_OK)
                        return ma_error_set(err, MA_ERR_NOMEM, path,
                                            "out of memory reading %s", path);
        }
        return MA_OK;
}

/* ------------------------------------------------------------------------
 * Objects with a fixed set of fields
 */

/* Fails on the first key of object not in names (NULL-terminated). */
static ma_status_t ma_jsonl_known_fields(const json_t *object, const char *path,
                                         const char *const *names,
                                         ma_error_t *err)
{
        const char *key;
        json_t *value;

        json_object_foreach((json_t *)object, key, value)
        {
                bool known = false;
                char list[300] = "";
                size_t used = 0;

                for (size_t i = 0; names[i] != NULL && !known; i++)
                        known = strcmp(key, names[i]) == 0;
                if (known)
                        continue;
                for (size_t i = 0; names[i] != NULL; i++) {
                        int n = snprintf(list + used, sizeof(list) - used,
                                         "%s%s", i > 0 ? ", " : "", names[i]);
                        if (n < 0 || (size_t)n >= sizeof(list) - used)
                                break;
                        used += (size_t)n;
                }
                char full[128];
                char shown[MA_JSONL_SHOWN_MAX + 8];
                snprintf(full, sizeof(full), "%s%s%s", path,
                         path[0] != '\0' ? "." : "", key);
                json_t *name = json_string(full);
                if (name != NULL)
                        ma_jsonl_value_show(name, shown, sizeof(shown));
                else
                        snprintf(shown, sizeof(shown), "(unprintable)");
                json_decref(name);
                return ma_error_set(err, MA_ERR_INVALID, full,
                                    "unknown field %s: valid fields are %s",
                                    shown, list);
        }
        return MA_OK;
}

static ma_status_t ma_jsonl_missing(const char *path, ma_error_t *err)
{
        return ma_error_set(err, MA_ERR_INVALID, path,
                            "missing required field %s", path);
}

static ma_status_t ma_jsonl_kund(const json_t *kund, ma_part_t *part,
                                 ma_error_t *err)
{
        static const char *const names[] = {"identifierare", "typ", "tillagg",
                                            NULL};
        json_t *value;
        ma_status_t status;

        if (!json_is_object(kund))
                return ma_jsonl_type_error(kund, "part.kund", "an object",
                                           false, err);
        status = ma_jsonl_known_fields(kund, "part.kund", names, err);
        if (status != MA_OK)
                return status;

        value = json_object_get(kund, "identifierare");
        if (value == NULL)
                return ma_jsonl_missing("part.kund.identifierare", err);
        status = ma_jsonl_string(value, "part.kund.identifierare", false,
                                 &part->kund_identifierare, err);
        if (status != MA_OK)
                return status;

        value = json_object_get(kund, "typ");
        if (value == NULL)
                return ma_jsonl_missing("part.kund.typ", err);
        int typ = json_is_string(value)
                          ? ma_kund_typ_parse(json_string_value(value))
                          : -1;
        if (typ < 0)
                return ma_jsonl_type_error(
                        value, "part.kund.typ",
                        "\"Personnummer\", \"Organisationsnummer\" or "
                        "\"Samordningsnummer\"",
                        true, err);
        part->kund_typ = (ma_kund_typ_t)typ;

        value = json_object_get(kund, "tillagg");
        if (value != NULL && !json_is_null(value)) {
                status = ma_jsonl_string(value, "part.kund.tillagg", false,
                                         &part->kund_tillagg, err);
                if (status != MA_OK)
                        return status;
        }
        part->has_kund = true;
        return MA_OK;
}

static ma_status_t ma_jsonl_arende(const json_t *arende, ma_part_t *part,
                                   ma_error_t *err)
{
        static const char *const names[] = {"identifierare", "typ", NULL};
        json_t *value;
        ma_status_t status;

        if (!json_is_object(arende))
                return ma_jsonl_type_error(arende, "part.arende", "an object",
                                           true, err);
        status = ma_jsonl_known_fields(arende, "part.arende", names, err);
        if (status != MA_OK)
                return status;

        value = json_object_get(arende, "identifierare");
        if (value == NULL)
                return ma_jsonl_missing("part.arende.identifierare", err);
        status = ma_jsonl_string(value, "part.arende.identifierare", true,
                                 &part->arende_identifierare, err);
        if (status != MA_OK)
                return status;

        value = json_object_get(arende, "typ");
        if (value == NULL)
                return ma_jsonl_missing("part.arende.typ", err);
        int typ = json_is_string(value)
                          ? ma_arende_typ_parse(json_string_value(value))
                          : -1;
        if (typ < 0)
                return ma_jsonl_type_error(
                        value, "part.arende.typ",
                        "\"Konsumentreferens\", \"Producentarendereferens\", "
                        "\"Diarienummer\" or \"Kvittensnummer\"",
                        true, err);
        part->arende_typ = (ma_arende_typ_t)typ;
        part->has_arende = true;
        return MA_OK;
}

static ma_status_t ma_jsonl_part(const json_t *part, ma_event_t *event,
                                 ma_error_t *err)
{
        static const char *const names[] = {"kund", "arende", NULL};
        json_t *value;
        ma_status_t status;

        if (!json_is_object(part))
                return ma_jsonl_type_error(part, "part",
                                           "an object with kund and/or arende",
                                           false, err);
        status = ma_jsonl_known_fields(part, "part", names, err);
        if (status != MA_OK)
                return status;
        value = json_object_get(part, "kund");
        if (value != NULL && !json_is_null(value)) {
                status = ma_jsonl_kund(value, &event->part, err);
                if (status != MA_OK)
                        return status;
        }
        value = json_object_get(part, "arende");
        if (value != NULL && !json_is_null(value)) {
                status = ma_jsonl_arende(value, &event->part, err);
                if (status != MA_OK)
                        return status;
        }
        if (!event->part.has_kund && !event->part.has_arende)
                return ma_error_set(err, MA_ERR_INVALID, "part",
                                    "invalid part: it needs kund, arende or "
                                    "both");
        return MA_OK;
}

/* ------------------------------------------------------------------------
 * The event and the retraction
 */

/* What was seen while parsing, for defaults and required fields. */
typedef struct ma_jsonl_state {
        bool has_tidpunkt;
        bool has_sekvens;
        bool has_part;
} ma_jsonl_state_t;

static ma_status_t ma_jsonl_sekvens(const json_t *value, ma_event_t *event,
                                    ma_jsonl_state_t *state, ma_error_t *err)
{
        if (!json_is_integer(value))
                return ma_jsonl_type_error(value, "sekvens",
                                           "an integer (64-bit)", true, err);
        event->sekvens = json_integer_value(value);
        state->has_sekvens = true;
        return MA_OK;
}

/* Parses the fields both forms have; *handled is false when key is not one of
 * them. */
static ma_status_t ma_jsonl_common_field(const char *key, const json_t *value,
                                         ma_event_t *event,
                                         ma_jsonl_state_t *state, bool *handled,
                                         ma_error_t *err)
{
        *handled = true;
        if (strcmp(key, "kundhandelseId") == 0)
                return ma_jsonl_string(value, key, true,
                                       &event->kundhandelse_id, err);
        if (strcmp(key, "producentOrganisationsnummer") == 0)
                return ma_jsonl_string(value, key, true,
                                       &event->producent_organisationsnummer,
                                       err);
        if (strcmp(key, "part") == 0) {
                state->has_part = true;
                return ma_jsonl_part(value, event, err);
        }
        if (strcmp(key, "tidpunkt") == 0) {
                state->has_tidpunkt = true;
                return ma_jsonl_instant(value, key, &event->tidpunkt, err);
        }
        if (strcmp(key, "sekvens") == 0)
                return ma_jsonl_sekvens(value, event, state, err);
        *handled = false;
        return MA_OK;
}

static ma_status_t ma_jsonl_event_field(const char *key, const json_t *value,
                                        ma_event_t *event, ma_error_t *err)
{
        if (strcmp(key, "rubrik") == 0)
                return ma_jsonl_string(value, key, true, &event->rubrik, err);
        if (strcmp(key, "beskrivning") == 0)
                return ma_jsonl_string(value, key, true, &event->beskrivning,
                                       err);
        if (strcmp(key, "kundhandelseTyp") == 0)
                return ma_jsonl_string(value, key, true,
                                       &event->kundhandelse_typ, err);
        if (strcmp(key, "producentarendetKraverKundatgard") == 0)
                return ma_jsonl_bool(value, key,
                                     &event->producentarendet_kraver_kundatgard,
                                     err);
        if (strcmp(key, "producentarendetKlart") == 0)
                return ma_jsonl_bool(value, key, &event->producentarendet_klart,
                                     err);
        if (strcmp(key, "sprak") == 0)
                return ma_jsonl_string(value, key, true, &event->sprak, err);
        if (strcmp(key, "version") == 0)
                return ma_jsonl_string(value, key, true, &event->version, err);
        if (strcmp(key, "producent") == 0)
                return ma_jsonl_string(value, key, true, &event->producent,
                                       err);
        if (strcmp(key, "taggar") == 0)
                return ma_jsonl_taggar(value, event, err);
        if (strcmp(key, "referenser") == 0)
                return ma_jsonl_object_text(value, key, &event->referenser,
                                            err);
        if (strcmp(key, "utokadInformation") == 0)
                return ma_jsonl_object_text(value, key,
                                            &event->utokad_information, err);
        if (strcmp(key, "giltigTill") == 0)
                return ma_jsonl_date(value, key, &event->giltig_till, err);
        if (strcmp(key, "atgardSenast") == 0)
                return ma_jsonl_date(value, key, &event->atgard_senast, err);
        if (strcmp(key, "kundhandelsereferens") == 0)
                return ma_jsonl_string(value, key, true,
                                       &event->kundhandelsereferens, err);
        return ma_error_set(err, MA_ERR_INTERNAL, key,
                            "field %s passed the name check but has no parser",
                            key);
}

/* Copies s into *out unless the record set it. */
static ma_status_t ma_jsonl_default(char **out, const char *s, const char *path,
                                    ma_error_t *err)
{
        if (*out != NULL || s == NULL)
                return MA_OK;
        *out = ma_strdup(s);
        if (*out == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, path,
                                    "out of memory setting %s", path);
        return MA_OK;
}

static const char *const ma_jsonl_event_fields[] = {
        "kundhandelseId",
        "part",
        "rubrik",
        "beskrivning",
        "tidpunkt",
        "kundhandelseTyp",
        "producentarendetKraverKundatgard",
        "producentarendetKlart",
        "sekvens",
        "sprak",
        "version",
        "producent",
        "producentOrganisationsnummer",
        "taggar",
        "referenser",
        "utokadInformation",
        "giltigTill",
        "atgardSenast",
        "kundhandelsereferens",
        NULL,
};

static ma_status_t ma_jsonl_event(const json_t *root,
                                  const ma_input_defaults_t *defaults,
                                  ma_event_t *event, ma_error_t *err)
{
        static const char *const required[] = {
                "kundhandelseId",
                "part",
                "rubrik",
                "beskrivning",
                "tidpunkt",
                "kundhandelseTyp",
                "producentarendetKraverKundatgard",
                "producentarendetKlart",
                NULL,
        };
        ma_jsonl_state_t state = {0};
        const char *key;
        json_t *value;
        ma_status_t status;

        status = ma_jsonl_known_fields(root, "", ma_jsonl_event_fields, err);
        if (status != MA_OK)
                return status;
        for (size_t i = 0; required[i] != NULL; i++) {
                if (json_object_get(root, required[i]) == NULL)
                        return ma_jsonl_missing(required[i], err);
        }
        event->kind = MA_EVENT_PUBLISH;
        json_object_foreach((json_t *)root, key, value)
        {
                bool handled;

                status = ma_jsonl_common_field(key, value, event, &state,
                                               &handled, err);
                if (status == MA_OK && !handled)
                        status = ma_jsonl_event_field(key, value, event, err);
                if (status != MA_OK)
                        return status;
        }
        if (!state.has_sekvens)
                event->sekvens = event->tidpunkt.utc_ms;
        if (defaults == NULL)
                return MA_OK;
        status = ma_jsonl_default(&event->producent, defaults->producent,
                                  "producent", err);
        if (status == MA_OK)
                status = ma_jsonl_default(
                        &event->producent_organisationsnummer,
                        defaults->producent_organisationsnummer,
                        "producentOrganisationsnummer", err);
        if (status == MA_OK)
                status = ma_jsonl_default(&event->sprak, defaults->sprak,
                                          "sprak", err);
        if (status == MA_OK)
                status = ma_jsonl_default(&event->version, defaults->version,
                                          "version", err);
        return status;
}

static ma_status_t ma_jsonl_retraction(const json_t *root,
                                       const ma_input_defaults_t *defaults,
                                       ma_event_t *event, ma_error_t *err)
{
        static const char *const names[] = {
                "aterkalla",
                "kundhandelseId",
                "part",
                "tidpunkt",
                "sekvens",
                "orsak",
                "producentOrganisationsnummer",
                NULL,
        };
        ma_jsonl_state_t state = {0};
        const char *key;
        json_t *value;
        ma_status_t status;

        status = ma_jsonl_known_fields(root, "", names, err);
        if (status != MA_OK)
                return status;
        if (!json_is_true(json_object_get(root, "aterkalla")))
                return ma_jsonl_type_error(
                        json_object_get(root, "aterkalla"), "aterkalla",
                        "true (leave the field out for a kundhändelse)", true,
                        err);
        if (json_object_get(root, "kundhandelseId") == NULL)
                return ma_jsonl_missing("kundhandelseId", err);
        if (json_object_get(root, "part") == NULL)
                return ma_jsonl_missing("part", err);
        event->kind = MA_EVENT_RETRACT;
        json_object_foreach((json_t *)root, key, value)
        {
                bool handled;

                if (strcmp(key, "aterkalla") == 0)
                        continue;
                if (strcmp(key, "orsak") == 0) {
                        status = ma_jsonl_string(value, key, true,
                                                 &event->orsak, err);
                } else {
                        status = ma_jsonl_common_field(key, value, event,
                                                       &state, &handled, err);
                }
                if (status != MA_OK)
                        return status;
        }
        /* The Aterkallelse schema has no offset: keep only the instant. */
        if (!state.has_tidpunkt)
                event->tidpunkt.utc_ms = ma_now_ms();
        event->tidpunkt.offset_min = 0;
        if (!state.has_sekvens)
                event->sekvens = event->tidpunkt.utc_ms;
        if (defaults == NULL)
                return MA_OK;
        return ma_jsonl_default(&event->producent_organisationsnummer,
                                defaults->producent_organisationsnummer,
                                "producentOrganisationsnummer", err);
}

ma_status_t ma_input_json_event(const char *json_text, size_t len,
                                const ma_input_defaults_t *defaults,
                                ma_event_t *event, ma_error_t *err)
{
        json_error_t jerr;
        json_t *root;
        ma_status_t status;

        root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (root == NULL) {
                char reason[sizeof(jerr.text)];

                snprintf(reason, sizeof(reason), "%s", jerr.text);
                ma_input_mask_numbers(reason);
                return ma_error_set(err, MA_ERR_PARSE, "",
                                    "invalid JSON at column %d: %s; expected "
                                    "one JSON object per line",
                                    jerr.column, reason);
        }
        if (!json_is_object(root)) {
                status = ma_jsonl_type_error(root, "record", "a JSON object",
                                             true, err);
                json_decref(root);
                return status;
        }
        if (json_object_get(root, "aterkalla") != NULL)
                status = ma_jsonl_retraction(root, defaults, event, err);
        else
                status = ma_jsonl_event(root, defaults, event, err);
        json_decref(root);
        if (status != MA_OK)
                ma_event_clear(event);
        return status;
}

/* ------------------------------------------------------------------------
 * The adapter: lines from a file or standard input
 */

typedef struct ma_input_jsonl {
        ma_input_t base;
        FILE *file;
        bool owns_file; /* false for standard input */
        char *path;
        long line;
        char *buf;
        size_t cap;
        uint64_t done;
        uint64_t total;
        const ma_input_defaults_t *defaults;
} ma_input_jsonl_t;

typedef enum ma_jsonl_read {
        MA_JSONL_LINE,
        MA_JSONL_TOO_LONG,
        MA_JSONL_EOF,
        MA_JSONL_ERROR,
} ma_jsonl_read_t;

/* Discards the rest of an over-long line. */
static void ma_jsonl_skip_line(ma_input_jsonl_t *jsonl)
{
        int c;

        while ((c = getc_unlocked(jsonl->file)) != EOF) {
                jsonl->done++;
                if (c == '\n')
                        break;
        }
}

/*
 * Reads one line into jsonl->buf without its line ending.  Reads byte by
 * byte (not fgets) so that a NUL byte inside a line cannot hide where the
 * line ends.
 */
static ma_jsonl_read_t ma_jsonl_read_line(ma_input_jsonl_t *jsonl,
                                          size_t *len_out)
{
        size_t len = 0;
        int c = EOF;

        while ((c = getc_unlocked(jsonl->file)) != EOF) {
                jsonl->done++;
                if (c == '\n')
                        break;
                if (len == MA_JSONL_LINE_MAX) {
                        ma_jsonl_skip_line(jsonl);
                        return MA_JSONL_TOO_LONG;
                }
                jsonl->buf[len++] = (char)c;
        }
        if (c == EOF && ferror(jsonl->file))
                return MA_JSONL_ERROR;
        if (c == EOF && len == 0)
                return MA_JSONL_EOF;
        if (len > 0 && jsonl->buf[len - 1] == '\r')
                len--;
        jsonl->buf[len] = '\0';
        *len_out = len;
        return MA_JSONL_LINE;
}

static bool ma_jsonl_blank(const char *text, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (text[i] != ' ' && text[i] != '\t')
                        return false;
        }
        return true;
}

static ma_input_outcome_t ma_jsonl_next(ma_input_t *input, ma_event_t *event,
                                        ma_input_location_t *loc,
                                        const char **skip_reason,
                                        ma_error_t *err)
{
        ma_input_jsonl_t *jsonl = (ma_input_jsonl_t *)input;
        size_t len;

        for (;;) {
                ma_jsonl_read_t got = ma_jsonl_read_line(jsonl, &len);

                loc->file = jsonl->path;
                loc->line = ++jsonl->line;
                if (got == MA_JSONL_EOF) {
                        jsonl->line--;
                        return MA_INPUT_END;
                }
                if (got == MA_JSONL_ERROR) {
                        ma_error_set(err, MA_ERR_IO, NULL,
                                     "could not read \"%s\" at line %ld: %s",
                                     jsonl->path, jsonl->line, strerror(errno));
                        return MA_INPUT_FAIL;
                }
                if (got == MA_JSONL_TOO_LONG) {
                        ma_error_set(err, MA_ERR_TOO_LARGE, "",
                                     "line is longer than %d bytes: put one "
                                     "event of at most that size per line",
                                     MA_JSONL_LINE_MAX);
                        return MA_INPUT_REJECT;
                }
                const char *text = jsonl->buf;
                /* A UTF-8 byte order mark may start the file. */
                if (jsonl->line == 1 && len >= 3 &&
                    memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
                        text += 3;
                        len -= 3;
                }
                /* Blank lines separate nothing and are not records. */
                if (ma_jsonl_blank(text, len))
                        continue;
                if (ma_input_json_event(text, len, jsonl->defaults, event,
                                        err) != MA_OK)
                        return MA_INPUT_REJECT;
                (void)skip_reason;
                return MA_INPUT_EVENT;
        }
}

static void ma_jsonl_close(ma_input_t *input)
{
        ma_input_jsonl_t *jsonl = (ma_input_jsonl_t *)input;

        if (jsonl->file != NULL && jsonl->owns_file)
                fclose(jsonl->file);
        ma_free(jsonl->path);
        ma_free(jsonl->buf);
        ma_free(jsonl);
}

static void ma_jsonl_progress(const ma_input_t *input, uint64_t *done,
                              uint64_t *total)
{
        const ma_input_jsonl_t *jsonl = (const ma_input_jsonl_t *)input;

        *done = jsonl->done;
        *total = jsonl->total;
}

static const struct ma_input_ops ma_jsonl_ops = {
        .name = "jsonl",
        .next = ma_jsonl_next,
        .close = ma_jsonl_close,
        .progress = ma_jsonl_progress,
};

ma_status_t ma_input_jsonl_open(const char *path,
                                const ma_input_defaults_t *defaults,
                                ma_input_t **input_out, ma_error_t *err)
{
        ma_input_jsonl_t *jsonl;
        bool is_stdin = strcmp(path, "-") == 0;
        struct stat st;

        *input_out = NULL;
        jsonl = ma_calloc(1, sizeof(*jsonl));
        if (jsonl == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening \"%s\"", path);
        jsonl->base.ops = &ma_jsonl_ops;
        jsonl->defaults = defaults;
        jsonl->cap = MA_JSONL_LINE_MAX + 1;
        jsonl->buf = ma_malloc(jsonl->cap);
        jsonl->path = ma_strdup(is_stdin ? "stdin" : path);
        if (jsonl->buf == NULL || jsonl->path == NULL) {
                ma_jsonl_close(&jsonl->base);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening \"%s\"", path);
        }
        jsonl->file = is_stdin ? stdin : fopen(path, "r");
        jsonl->owns_file = !is_stdin;
        if (jsonl->file == NULL) {
                int saved = errno;

                ma_jsonl_close(&jsonl->base);
                return ma_error_set(
                        err, saved == ENOENT ? MA_ERR_NOT_FOUND : MA_ERR_IO,
                        "input", "could not open \"%s\": %s", path,
                        strerror(saved));
        }
        if (fstat(fileno(jsonl->file), &st) == 0 && S_ISREG(st.st_mode))
                jsonl->total = (uint64_t)st.st_size;
        *input_out = &jsonl->base;
        return MA_OK;
}
