/*
 * ma-avro-cat - converts kundhändelser between JSON and Avro single-object
 * messages with the library's codec, for tests, interop checks and
 * debugging.
 *
 * Usage:
 *   ma-avro-cat [--schemas DIR] encode [--kind publish|retract] IN.json OUT
 *   ma-avro-cat [--schemas DIR] decode IN
 *   ma-avro-cat [--schemas DIR] fingerprints
 *
 * The JSON uses the Avro field names of schemas/kundhandelse and
 * schemas/aterkallelse.  Optional fields are plain values or null, without
 * union wrapping.  An enum is its symbol, a timestamp-millis a number of
 * milliseconds and a date a number of days since 1970-01-01.  decode writes
 * that JSON to standard output.  Exit status: 0 done, 1 the input failed, 2
 * usage. It only reads and writes the named files, so a crash leaves at most a
 * partial output file.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/avro.h"
#include "ma/codec.h"

#define CAT_MAX_INPUT (16 * 1024 * 1024)

static int cat_usage(void)
{
        fprintf(stderr,
                "usage: ma-avro-cat [--schemas DIR] encode [--kind "
                "publish|retract] IN.json OUT\n"
                "       ma-avro-cat [--schemas DIR] decode IN\n"
                "       ma-avro-cat [--schemas DIR] fingerprints\n"
                "  --schemas  schema directory (default: $MA_SCHEMA_DIR, "
                "else the source tree's schemas/)\n"
                "  --kind     publish writes a Kundhandelse (default), "
                "retract an Aterkallelse\n");
        return 2;
}

/* ---- JSON to event ---- */

static int cat_string(json_t *obj, const char *key, char **out)
{
        json_t *value = json_object_get(obj, key);

        if (value == NULL || json_is_null(value))
                return 0;
        if (!json_is_string(value)) {
                fprintf(stderr,
                        "ma-avro-cat: field \"%s\" must be a string "
                        "or null\n",
                        key);
                return -1;
        }
        *out = ma_strdup(json_string_value(value));
        return *out ? 0 : -1;
}

static int cat_date(json_t *obj, const char *key, int32_t *out)
{
        json_t *value = json_object_get(obj, key);

        *out = MA_DATE_NONE;
        if (value == NULL || json_is_null(value))
                return 0;
        if (!json_is_integer(value)) {
                fprintf(stderr,
                        "ma-avro-cat: field \"%s\" must be days "
                        "since 1970-01-01 or null\n",
                        key);
                return -1;
        }
        *out = (int32_t)json_integer_value(value);
        return 0;
}

static int cat_part(json_t *part, ma_part_t *out)
{
        json_t *kund = json_object_get(part, "kund");
        json_t *arende = json_object_get(part, "arende");

        if (json_is_object(kund)) {
                int typ = ma_kund_typ_parse(
                        json_string_value(json_object_get(kund, "typ")));

                if (typ < 0) {
                        fprintf(stderr, "ma-avro-cat: part.kund.typ must be "
                                        "Personnummer, Organisationsnummer "
                                        "or Samordningsnummer\n");
                        return -1;
                }
                out->has_kund = true;
                out->kund_typ = (ma_kund_typ_t)typ;
                if (cat_string(kund, "identifierare",
                               &out->kund_identifierare) ||
                    cat_string(kund, "tillagg", &out->kund_tillagg))
                        return -1;
        }
        if (json_is_object(arende)) {
                int typ = ma_arende_typ_parse(
                        json_string_value(json_object_get(arende, "typ")));

                if (typ < 0) {
                        fprintf(stderr, "ma-avro-cat: part.arende.typ is not "
                                        "a known ArendeTyp symbol\n");
                        return -1;
                }
                out->has_arende = true;
                out->arende_typ = (ma_arende_typ_t)typ;
                if (cat_string(arende, "identifierare",
                               &out->arende_identifierare))
                        return -1;
        }
        return 0;
}

static int cat_event_from_json(json_t *root, ma_event_kind_t kind,
                               ma_event_t *e)
{
        json_t *tidpunkt = json_object_get(root, "tidpunkt");
        json_t *taggar = json_object_get(root, "taggar");

        e->kind = kind;
        e->sekvens = json_integer_value(json_object_get(root, "sekvens"));
        if (json_is_object(tidpunkt)) {
                e->tidpunkt.utc_ms =
                        json_integer_value(json_object_get(tidpunkt, "utc"));
                e->tidpunkt.offset_min = (int32_t)json_integer_value(
                        json_object_get(tidpunkt, "offsetMinuter"));
        } else {
                e->tidpunkt.utc_ms = json_integer_value(tidpunkt);
        }
        if (cat_string(root, "kundhandelseId", &e->kundhandelse_id) ||
            cat_string(root, "producentOrganisationsnummer",
                       &e->producent_organisationsnummer) ||
            cat_part(json_object_get(root, "part"), &e->part) ||
            cat_string(root, "orsak", &e->orsak) ||
            cat_string(root, "producent", &e->producent) ||
            cat_string(root, "rubrik", &e->rubrik) ||
            cat_string(root, "beskrivning", &e->beskrivning) ||
            cat_string(root, "sprak", &e->sprak) ||
            cat_string(root, "kundhandelseTyp", &e->kundhandelse_typ) ||
            cat_string(root, "version", &e->version) ||
            cat_string(root, "utokadInformation", &e->utokad_information) ||
            cat_string(root, "referenser", &e->referenser) ||
            cat_string(root, "kundhandelsereferens",
                       &e->kundhandelsereferens) ||
            cat_date(root, "giltigTill", &e->giltig_till) ||
            cat_date(root, "atgardSenast", &e->atgard_senast))
                return -1;
        e->producentarendet_kraver_kundatgard = json_is_true(
                json_object_get(root, "producentarendetKraverKundatgard"));
        e->producentarendet_klart =
                json_is_true(json_object_get(root, "producentarendetKlart"));
        for (size_t i = 0; i < json_array_size(taggar); i++) {
                const char *tag = json_string_value(json_array_get(taggar, i));

                if (tag == NULL || ma_event_add_tag(e, tag) != MA_OK)
                        return -1;
        }
        return 0;
}

/* ---- Event to JSON ---- */

static json_t *cat_json_string(const char *text)
{
        return text ? json_string(text) : json_null();
}

static json_t *cat_json_date(int32_t days)
{
        return days == MA_DATE_NONE ? json_null() : json_integer(days);
}

static json_t *cat_event_to_json(const ma_event_t *e)
{
        json_t *root = json_object();
        json_t *part = json_object();
        json_t *taggar = json_array();

        json_object_set_new(root, "kundhandelseId",
                            cat_json_string(e->kundhandelse_id));
        json_object_set_new(root, "producentOrganisationsnummer",
                            cat_json_string(e->producent_organisationsnummer));
        json_object_set_new(
                part, "kund",
                e->part.has_kund
                        ? json_pack("{s:o,s:s,s:o}", "identifierare",
                                    cat_json_string(e->part.kund_identifierare),
                                    "typ", ma_kund_typ_name(e->part.kund_typ),
                                    "tillagg",
                                    cat_json_string(e->part.kund_tillagg))
                        : json_null());
        json_object_set_new(
                part, "arende",
                e->part.has_arende
                        ? json_pack(
                                  "{s:o,s:s}", "identifierare",
                                  cat_json_string(e->part.arende_identifierare),
                                  "typ", ma_arende_typ_name(e->part.arende_typ))
                        : json_null());
        json_object_set_new(root, "part", part);
        json_object_set_new(root, "sekvens", json_integer(e->sekvens));
        if (e->kind == MA_EVENT_RETRACT) {
                json_object_set_new(root, "tidpunkt",
                                    json_integer(e->tidpunkt.utc_ms));
                json_object_set_new(root, "orsak", cat_json_string(e->orsak));
                json_decref(taggar);
                return root;
        }
        json_object_set_new(
                root, "tidpunkt",
                json_pack("{s:I,s:i}", "utc", (json_int_t)e->tidpunkt.utc_ms,
                          "offsetMinuter", (int)e->tidpunkt.offset_min));
        json_object_set_new(root, "producent", cat_json_string(e->producent));
        json_object_set_new(root, "rubrik", cat_json_string(e->rubrik));
        json_object_set_new(root, "beskrivning",
                            cat_json_string(e->beskrivning));
        json_object_set_new(root, "sprak", cat_json_string(e->sprak));
        json_object_set_new(root, "kundhandelseTyp",
                            cat_json_string(e->kundhandelse_typ));
        json_object_set_new(
                root, "producentarendetKraverKundatgard",
                json_boolean(e->producentarendet_kraver_kundatgard));
        json_object_set_new(root, "producentarendetKlart",
                            json_boolean(e->producentarendet_klart));
        json_object_set_new(root, "version", cat_json_string(e->version));
        json_object_set_new(root, "utokadInformation",
                            cat_json_string(e->utokad_information));
        json_object_set_new(root, "referenser", cat_json_string(e->referenser));
        for (size_t i = 0; i < e->taggar_count; i++)
                json_array_append_new(taggar, json_string(e->taggar[i]));
        json_object_set_new(root, "taggar", taggar);
        json_object_set_new(root, "giltigTill", cat_json_date(e->giltig_till));
        json_object_set_new(root, "atgardSenast",
                            cat_json_date(e->atgard_senast));
        json_object_set_new(root, "kundhandelsereferens",
                            cat_json_string(e->kundhandelsereferens));
        return root;
}

/* ---- Commands ---- */

static int cat_encode(const ma_codec_t *codec, ma_event_kind_t kind,
                      const char *in, const char *out)
{
        json_error_t jerr;
        json_t *root = json_load_file(in, 0, &jerr);
        ma_event_t event;
        ma_buf_t buf = {0};
        ma_error_t err = {0};
        FILE *file;
        int rc = 1;

        if (root == NULL) {
                fprintf(stderr,
                        "ma-avro-cat: cannot parse \"%s\": line %d: "
                        "%s\n",
                        in, jerr.line, jerr.text);
                return 1;
        }
        ma_event_init(&event);
        if (cat_event_from_json(root, kind, &event) == 0) {
                if (ma_codec_encode(codec, &event, &buf, &err) != MA_OK)
                        fprintf(stderr, "ma-avro-cat: %s\n", err.message);
                else if ((file = fopen(out, "wb")) == NULL)
                        perror(out);
                else {
                        rc = fwrite(buf.data, 1, buf.len, file) != buf.len;
                        rc |= fclose(file) != 0;
                        if (rc)
                                fprintf(stderr,
                                        "ma-avro-cat: could not "
                                        "write \"%s\"\n",
                                        out);
                }
        }
        ma_event_clear(&event);
        ma_buf_free(&buf);
        json_decref(root);
        return rc;
}

static int cat_decode(const ma_codec_t *codec, const char *in)
{
        FILE *file = fopen(in, "rb");
        unsigned char *data;
        size_t len;
        ma_event_t event;
        ma_error_t err = {0};
        int rc = 1;

        if (file == NULL) {
                perror(in);
                return 1;
        }
        data = malloc(CAT_MAX_INPUT);
        len = data ? fread(data, 1, CAT_MAX_INPUT, file) : 0;
        fclose(file);
        ma_event_init(&event);
        if (data != NULL &&
            ma_codec_decode(codec, data, len, &event, &err) == MA_OK) {
                json_t *root = cat_event_to_json(&event);

                rc = json_dumpf(root, stdout, JSON_INDENT(2)) != 0;
                putchar('\n');
                json_decref(root);
        } else {
                fprintf(stderr, "ma-avro-cat: %s: %s\n", in,
                        data ? err.message : "out of memory");
        }
        ma_event_clear(&event);
        free(data);
        return rc;
}

static int cat_fingerprints(const char *dir)
{
        ma_avro_store_t *store = NULL;
        ma_error_t err = {0};

        if (ma_avro_store_load(dir, &store, &err) != MA_OK) {
                fprintf(stderr, "ma-avro-cat: %s\n", err.message);
                return 1;
        }
        for (size_t i = 0; i < ma_avro_store_count(store); i++) {
                const ma_avro_store_entry_t *entry = ma_avro_store_at(store, i);

                printf("%s v%d %s %016llx %s\n", entry->subject, entry->version,
                       entry->fullname, (unsigned long long)entry->fingerprint,
                       ma_avro_schema_canonical(entry->schema));
        }
        ma_avro_store_free(store);
        return 0;
}

int main(int argc, char **argv)
{
        const char *dir = getenv("MA_SCHEMA_DIR");
        ma_event_kind_t kind = MA_EVENT_PUBLISH;
        ma_codec_t *codec = NULL;
        ma_error_t err = {0};
        const char *command;
        int i = 1;
        int rc;

        if (dir == NULL)
                dir = MA_CAT_DEFAULT_SCHEMA_DIR;
        if (i + 1 < argc && strcmp(argv[i], "--schemas") == 0) {
                dir = argv[i + 1];
                i += 2;
        }
        if (i >= argc)
                return cat_usage();
        command = argv[i++];
        if (strcmp(command, "fingerprints") == 0)
                return i == argc ? cat_fingerprints(dir) : cat_usage();
        if (strcmp(command, "encode") == 0 && i + 1 < argc &&
            strcmp(argv[i], "--kind") == 0) {
                if (strcmp(argv[i + 1], "retract") == 0)
                        kind = MA_EVENT_RETRACT;
                else if (strcmp(argv[i + 1], "publish") != 0)
                        return cat_usage();
                i += 2;
        }
        if ((strcmp(command, "encode") == 0 && argc - i != 2) ||
            (strcmp(command, "decode") == 0 && argc - i != 1) ||
            (strcmp(command, "encode") != 0 && strcmp(command, "decode") != 0))
                return cat_usage();
        if (ma_codec_open(dir, 0, &codec, &err) != MA_OK) {
                fprintf(stderr, "ma-avro-cat: %s\n", err.message);
                return 1;
        }
        if (strcmp(command, "encode") == 0)
                rc = cat_encode(codec, kind, argv[i], argv[i + 1]);
        else
                rc = cat_decode(codec, argv[i]);
        ma_codec_close(codec);
        return rc;
}
