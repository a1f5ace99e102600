/*
 * config.c - loads a program's configuration table from file, environment
 * and flags (see config.h for precedence and formats).
 */
#include "ma/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"

#define MA_CONFIG_WHERE_MAX 300
#define MA_CONFIG_LINE_MAX  8192

typedef struct ma_config_value {
        char *text; /* NULL: required and unset (only before validation) */
        int64_t number;
        bool flag;
        ma_config_source_t source;
        char where[MA_CONFIG_WHERE_MAX];
} ma_config_value_t;

struct ma_config {
        const ma_config_entry_t *table;
        size_t count;
        ma_config_value_t *values;
        char **positional;
        size_t positional_count;
};

static const char *const ma_config_type_names[] = {
        "string", "int", "bool", "duration", "size", "secret",
};

/* ---- Value parsing ---- */

typedef struct ma_config_suffix {
        const char *suffix;
        int64_t factor;
} ma_config_suffix_t;

static const ma_config_suffix_t ma_duration_suffixes[] = {
        {"", 1},        {"ms", 1},       {"s", 1000}, {"min", 60000},
        {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

static const ma_config_suffix_t ma_size_suffixes[] = {
        {"", 1},
        {"B", 1},
        {"k", 1024},
        {"K", 1024},
        {"KiB", 1024},
        {"M", 1024 * 1024},
        {"MiB", 1024 * 1024},
        {"G", INT64_C(1024) * 1024 * 1024},
        {"GiB", INT64_C(1024) * 1024 * 1024},
        {NULL, 0},
};

/* Parses a decimal integer followed by one of suffixes (may be NULL). */
static bool ma_config_parse_number(const char *text,
                                   const ma_config_suffix_t *suffixes,
                                   int64_t *out)
{
        char *end;
        if (text[0] == '\0' || isspace((unsigned char)text[0]))
                return false;
        errno = 0;
        long long value = strtoll(text, &end, 10);
        if (errno == ERANGE || end == text)
                return false;
        if (suffixes == NULL) {
                *out = value;
                return *end == '\0';
        }
        for (size_t i = 0; suffixes[i].suffix != NULL; i++) {
                if (strcmp(end, suffixes[i].suffix) != 0)
                        continue;
                int64_t factor = suffixes[i].factor;
                if (value > INT64_MAX / factor || value < INT64_MIN / factor)
                        return false;
                *out = value * factor;
                return true;
        }
        return false;
}

static bool ma_config_parse_bool(const char *text, bool *out)
{
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
                if (strcmp(text, yes[i]) == 0) {
                        *out = true;
                        return true;
                }
                if (strcmp(text, no[i]) == 0) {
                        *out = false;
                        return true;
                }
        }
        return false;
}

static const char *ma_config_expected(ma_config_type_t type)
{
        switch (type) {
        case MA_CONFIG_INT:
                return "an integer";
        case MA_CONFIG_BOOL:
                return "true or false (also yes/no, on/off, 1/0)";
        case MA_CONFIG_DURATION_MS:
                return "a duration such as 250ms, 30s, 5min, 2h or 1d";
        case MA_CONFIG_SIZE_BYTES:
                return "a size such as 512, 64KiB, 16MiB or 1GiB";
        case MA_CONFIG_STRING:
        case MA_CONFIG_SECRET:
                break;
        }
        return "a string";
}

/* Describes the allowed range of entry for messages and --help. */
static void ma_config_range(const ma_config_entry_t *entry, char *buf,
                            size_t size)
{
        const char *unit = entry->type == MA_CONFIG_DURATION_MS  ? " ms"
                           : entry->type == MA_CONFIG_SIZE_BYTES ? " bytes"
                                                                 : "";
        buf[0] = '\0';
        switch (entry->type) {
        case MA_CONFIG_INT:
        case MA_CONFIG_DURATION_MS:
        case MA_CONFIG_SIZE_BYTES:
                snprintf(buf, size, "%" PRId64 " to %" PRId64 "%s", entry->min,
                         entry->max, unit);
                break;
        case MA_CONFIG_STRING:
        case MA_CONFIG_SECRET:
                if (entry->max > 0)
                        snprintf(buf, size, "%" PRId64 " to %" PRId64 " bytes",
                                 entry->min, entry->max);
                else if (entry->min > 0)
                        snprintf(buf, size, "at least %" PRId64 " byte%s",
                                 entry->min, entry->min == 1 ? "" : "s");
                break;
        case MA_CONFIG_BOOL:
                break;
        }
}

/*
 * Parses text as entry's type into value.  where names the source for
 * messages.  The text itself is kept by the caller.
 */
static ma_status_t ma_config_parse_value(const ma_config_entry_t *entry,
                                         const char *text, const char *where,
                                         ma_config_value_t *value,
                                         ma_error_t *err)
{
        bool secret = entry->type == MA_CONFIG_SECRET;
        bool ok = true;
        int64_t checked = 0;
        char range[128];
        ma_config_range(entry, range, sizeof(range));
        switch (entry->type) {
        case MA_CONFIG_BOOL:
                ok = ma_config_parse_bool(text, &value->flag);
                break;
        case MA_CONFIG_INT:
                ok = ma_config_parse_number(text, NULL, &value->number);
                checked = value->number;
                break;
        case MA_CONFIG_DURATION_MS:
                ok = ma_config_parse_number(text, ma_duration_suffixes,
                                            &value->number);
                checked = value->number;
                break;
        case MA_CONFIG_SIZE_BYTES:
                ok = ma_config_parse_number(text, ma_size_suffixes,
                                            &value->number);
                checked = value->number;
                break;
        case MA_CONFIG_STRING:
        case MA_CONFIG_SECRET:
                checked = (int64_t)strlen(text);
                break;
        }
        if (!ok)
                return ma_error_set(err, MA_ERR_CONFIG, entry->name,
                                    "invalid value \"%.100s\" for %s (from "
                                    "%s): expected %s%s%s",
                                    text, entry->name, where,
                                    ma_config_expected(entry->type),
                                    range[0] ? " from " : "", range);
        bool text_type = entry->type == MA_CONFIG_STRING || secret;
        bool below = checked < entry->min;
        bool above = text_type ? (entry->max > 0 && checked > entry->max)
                               : checked > entry->max;
        if (entry->type != MA_CONFIG_BOOL && (below || above)) {
                if (secret)
                        return ma_error_set(err, MA_ERR_CONFIG, entry->name,
                                            "invalid value for secret %s "
                                            "(from %s): it is %" PRId64
                                            " bytes long; expected a length "
                                            "of %s",
                                            entry->name, where, checked, range);
                if (text_type)
                        return ma_error_set(err, MA_ERR_CONFIG, entry->name,
                                            "value \"%.100s\" for %s (from "
                                            "%s) is %" PRId64 " bytes long; "
                                            "expected a length of %s",
                                            text, entry->name, where, checked,
                                            range);
                return ma_error_set(err, MA_ERR_CONFIG, entry->name,
                                    "value \"%.100s\" for %s (from %s) is out "
                                    "of range: expected %s",
                                    text, entry->name, where, range);
        }
        return MA_OK;
}

/* ---- The table ---- */

static ma_status_t ma_config_check_table(const ma_config_entry_t *table,
                                         size_t count, ma_error_t *err)
{
        for (size_t i = 0; i < count; i++) {
                const ma_config_entry_t *e = &table[i];
                bool text = e->type == MA_CONFIG_STRING ||
                            e->type == MA_CONFIG_SECRET;
                const char *problem = NULL;
                if (e->name == NULL || e->name[0] == '\0')
                        problem = "has no name";
                else if ((unsigned)e->type > MA_CONFIG_SECRET)
                        problem = "has an unknown type";
                else if (e->type != MA_CONFIG_BOOL && e->min > e->max &&
                         !(text && e->max == 0))
                        problem = "has min above max";
                else if (strcmp(e->name, "config") == 0 ||
                         strcmp(e->name, "help") == 0)
                        problem = "uses a reserved name (config or help)";
                if (problem != NULL)
                        return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                            "configuration table entry %zu "
                                            "(%s) %s",
                                            i, e->name ? e->name : "NULL",
                                            problem);
                for (size_t j = 0; j < i; j++) {
                        if (strcmp(table[j].name, e->name) == 0)
                                return ma_error_set(
                                        err, MA_ERR_INTERNAL, e->name,
                                        "configuration table names %s "
                                        "twice",
                                        e->name);
                }
                if (e->default_value != NULL) {
                        ma_config_value_t probe;
                        memset(&probe, 0, sizeof(probe));
                        if (ma_config_parse_value(e, e->default_value,
                                                  "the default", &probe,
                                                  err) != MA_OK) {
                                /* A bad default is the program's bug. */
                                if (err != NULL)
                                        err->status = MA_ERR_INTERNAL;
                                return MA_ERR_INTERNAL;
                        }
                }
        }
        return MA_OK;
}

#define MA_CONFIG_NONE SIZE_MAX

/* Index of the entry called name (name_len bytes), or MA_CONFIG_NONE. */
static size_t ma_config_find(const ma_config_entry_t *table, size_t count,
                             const char *name, size_t name_len)
{
        for (size_t i = 0; i < count; i++) {
                if (strlen(table[i].name) == name_len &&
                    strncmp(table[i].name, name, name_len) == 0)
                        return i;
        }
        return MA_CONFIG_NONE;
}

void ma_config_env_name(const char *name, char *buf, size_t size)
{
        size_t n = 0;
        const char *prefix = "MA_";
        for (size_t i = 0; prefix[i] != '\0' && n + 1 < size; i++)
                buf[n++] = prefix[i];
        for (size_t i = 0; name[i] != '\0' && n + 1 < size; i++) {
                char c = name[i];
                buf[n++] = (c == '.' || c == '-')
                                   ? '_'
                                   : (char)toupper((unsigned char)c);
        }
        if (size > 0)
                buf[n] = '\0';
}

/* ---- Sources ---- */

/* Parses text for entry index and stores it, replacing a weaker source. */
static ma_status_t ma_config_set(ma_config_t *config, size_t index,
                                 const char *text, ma_config_source_t source,
                                 const char *where, ma_error_t *err)
{
        const ma_config_entry_t *entry = &config->table[index];
        ma_config_value_t *value = &config->values[index];
        ma_config_value_t parsed = *value;
        ma_status_t st =
                ma_config_parse_value(entry, text, where, &parsed, err);
        if (st != MA_OK)
                return st;
        char *copy = ma_strdup(text);
        if (copy == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, entry->name,
                                    "out of memory storing %s", entry->name);
        ma_free(value->text);
        *value = parsed;
        value->text = copy;
        value->source = source;
        snprintf(value->where, sizeof(value->where), "%s", where);
        return MA_OK;
}

static char *ma_config_trim(char *text)
{
        while (isspace((unsigned char)*text))
                text++;
        size_t len = strlen(text);
        while (len > 0 && isspace((unsigned char)text[len - 1]))
                text[--len] = '\0';
        return text;
}

/* Handles one "key = value" line of the file; line_no counts from 1. */
static ma_status_t ma_config_file_line(ma_config_t *config, char *line,
                                       const char *path, size_t line_no,
                                       bool *seen, ma_error_t *err)
{
        char where[MA_CONFIG_WHERE_MAX];
        snprintf(where, sizeof(where), "%.250s:%zu", path, line_no);
        char *text = ma_config_trim(line);
        if (text[0] == '\0' || text[0] == '#')
                return MA_OK;
        char *eq = strchr(text, '=');
        if (eq == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, NULL,
                                    "%s: invalid line; expected key = value "
                                    "or a # comment",
                                    where);
        *eq = '\0';
        char *key = ma_config_trim(text);
        char *value = ma_config_trim(eq + 1);
        size_t value_len = strlen(value);
        /* A value in double quotes keeps surrounding spaces and '#'. */
        if (value_len >= 2 && value[0] == '"' && value[value_len - 1] == '"') {
                value[value_len - 1] = '\0';
                value++;
        }
        size_t index =
                ma_config_find(config->table, config->count, key, strlen(key));
        if (index == MA_CONFIG_NONE)
                return ma_error_set(err, MA_ERR_CONFIG, NULL,
                                    "%s: unknown setting \"%.100s\"; run with "
                                    "--help to list the settings",
                                    where, key);
        if (seen[index])
                return ma_error_set(err, MA_ERR_CONFIG, key,
                                    "%s: %s is set a second time in the "
                                    "file; keep one line",
                                    where, key);
        seen[index] = true;
        return ma_config_set(config, index, value, MA_CONFIG_FROM_FILE, where,
                             err);
}

static ma_status_t ma_config_read_file(ma_config_t *config, const char *path,
                                       bool must_exist, ma_error_t *err)
{
        FILE *file = fopen(path, "r");
        if (file == NULL) {
                if (!must_exist && errno == ENOENT)
                        return MA_OK;
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open configuration file "
                                    "\"%s\": %s",
                                    path, strerror(errno));
        }
        bool *seen = ma_calloc(config->count + 1, sizeof(*seen));
        char *line = ma_malloc(MA_CONFIG_LINE_MAX);
        ma_status_t st = MA_OK;
        if (seen == NULL || line == NULL)
                st = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                  "out of memory reading \"%s\"", path);
        size_t line_no = 0;
        while (st == MA_OK && fgets(line, MA_CONFIG_LINE_MAX, file) != NULL) {
                line_no++;
                size_t len = strlen(line);
                if (len == MA_CONFIG_LINE_MAX - 1 && line[len - 1] != '\n' &&
                    !feof(file)) {
                        st = ma_error_set(err, MA_ERR_CONFIG, NULL,
                                          "%s:%zu: line is longer than %d "
                                          "bytes",
                                          path, line_no,
                                          MA_CONFIG_LINE_MAX - 2);
                        break;
                }
                st = ma_config_file_line(config, line, path, line_no, seen,
                                         err);
        }
        if (st == MA_OK && ferror(file))
                st = ma_error_set(err, MA_ERR_IO, NULL,
                                  "could not read configuration file \"%s\"",
                                  path);
        fclose(file);
        ma_free(line);
        ma_free(seen);
        return st;
}

static ma_status_t ma_config_read_env(ma_config_t *config, ma_error_t *err)
{
        for (size_t i = 0; i < config->count; i++) {
                char name[128];
                ma_config_env_name(config->table[i].name, name, sizeof(name));
                const char *text = getenv(name);
                if (text == NULL)
                        continue;
                char where[MA_CONFIG_WHERE_MAX];
                snprintf(where, sizeof(where), "environment variable %s", name);
                ma_status_t st = ma_config_set(config, i, text,
                                               MA_CONFIG_FROM_ENV, where, err);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

static ma_status_t ma_config_add_positional(ma_config_t *config,
                                            const char *arg, ma_error_t *err)
{
        char **grown =
                ma_realloc(config->positional,
                           (config->positional_count + 1) * sizeof(*grown));
        char *copy = grown == NULL ? NULL : ma_strdup(arg);
        if (grown != NULL)
                config->positional = grown;
        if (copy == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory storing arguments");
        config->positional[config->positional_count++] = copy;
        return MA_OK;
}

/*
 * Applies the flags.  The --config flag was handled before; it is skipped
 * here together with its value.
 */
static ma_status_t ma_config_read_flags(ma_config_t *config, int argc,
                                        char *const argv[], ma_error_t *err)
{
        bool options = true;
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                if (!options || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
                        if (options && strcmp(arg, "--") == 0) {
                                options = false;
                                continue;
                        }
                        ma_status_t st =
                                ma_config_add_positional(config, arg, err);
                        if (st != MA_OK)
                                return st;
                        continue;
                }
                const char *name = arg + 2;
                const char *eq = strchr(name, '=');
                size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
                if (name_len == 6 && strncmp(name, "config", 6) == 0) {
                        if (eq == NULL && i + 1 >= argc)
                                return ma_error_set(
                                        err, MA_ERR_CONFIG, "config",
                                        "option --config needs a file name: "
                                        "give --config=FILE or --config "
                                        "FILE");
                        i += eq == NULL;
                        continue;
                }
                size_t index = ma_config_find(config->table, config->count,
                                              name, name_len);
                if (index == MA_CONFIG_NONE)
                        return ma_error_set(
                                err, MA_ERR_CONFIG, NULL,
                                "unknown option \"--%.*s\"; run "
                                "with --help to list the options",
                                (int)(name_len > 100 ? 100 : name_len), name);
                const ma_config_entry_t *entry = &config->table[index];
                const char *value;
                if (eq != NULL) {
                        value = eq + 1;
                } else if (entry->type == MA_CONFIG_BOOL) {
                        value = "true"; /* a bare boolean flag sets it */
                } else if (i + 1 < argc) {
                        value = argv[++i];
                } else {
                        return ma_error_set(err, MA_ERR_CONFIG, entry->name,
                                            "option --%s needs a value: give "
                                            "--%s=VALUE or --%s VALUE",
                                            entry->name, entry->name,
                                            entry->name);
                }
                char where[MA_CONFIG_WHERE_MAX];
                snprintf(where, sizeof(where), "flag --%s", entry->name);
                ma_status_t st = ma_config_set(config, index, value,
                                               MA_CONFIG_FROM_FLAG, where, err);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

/* The file named by --config, MA_CONFIG or the default, in that order. */
static const char *ma_config_file_path(int argc, char *const argv[],
                                       const char *default_file,
                                       bool *explicit_out)
{
        *explicit_out = true;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        break;
                if (strncmp(argv[i], "--config=", 9) == 0)
                        return argv[i] + 9;
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        return argv[i + 1];
        }
        const char *env = getenv("MA_CONFIG");
        if (env != NULL && env[0] != '\0')
                return env;
        *explicit_out = false;
        return default_file;
}

/* ---- Loading and access ---- */

static ma_status_t ma_config_apply_defaults(ma_config_t *config,
                                            ma_error_t *err)
{
        for (size_t i = 0; i < config->count; i++) {
                const char *def = config->table[i].default_value;
                config->values[i].source = MA_CONFIG_FROM_DEFAULT;
                snprintf(config->values[i].where,
                         sizeof(config->values[i].where), "default");
                if (def == NULL)
                        continue;
                ma_status_t st = ma_config_set(
                        config, i, def, MA_CONFIG_FROM_DEFAULT, "default", err);
                if (st != MA_OK)
                        return st;
        }
        return MA_OK;
}

static ma_status_t ma_config_check_required(const ma_config_t *config,
                                            ma_error_t *err)
{
        for (size_t i = 0; i < config->count; i++) {
                if (config->values[i].text != NULL)
                        continue;
                char env[128];
                const char *name = config->table[i].name;
                ma_config_env_name(name, env, sizeof(env));
                return ma_error_set(err, MA_ERR_CONFIG, name,
                                    "missing required setting %s: set it "
                                    "with --%s, the environment variable %s "
                                    "or \"%s = ...\" in the configuration "
                                    "file",
                                    name, name, env, name);
        }
        return MA_OK;
}

ma_status_t ma_config_load(const ma_config_entry_t *table, size_t count,
                           const char *default_file, int argc,
                           char *const argv[], ma_config_t **config_out,
                           ma_error_t *err)
{
        *config_out = NULL;
        ma_status_t st = ma_config_check_table(table, count, err);
        if (st != MA_OK)
                return st;
        ma_config_t *config = ma_calloc(1, sizeof(*config));
        if (config == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading configuration");
        config->table = table;
        config->count = count;
        config->values = ma_calloc(count + 1, sizeof(*config->values));
        if (config->values == NULL) {
                ma_free(config);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory loading configuration");
        }
        bool explicit_file;
        const char *path =
                ma_config_file_path(argc, argv, default_file, &explicit_file);
        st = ma_config_apply_defaults(config, err);
        if (st == MA_OK && path != NULL)
                st = ma_config_read_file(config, path, explicit_file, err);
        if (st == MA_OK)
                st = ma_config_read_env(config, err);
        if (st == MA_OK)
                st = ma_config_read_flags(config, argc, argv, err);
        if (st == MA_OK)
                st = ma_config_check_required(config, err);
        if (st != MA_OK) {
                ma_config_free(config);
                return st;
        }
        *config_out = config;
        return MA_OK;
}

void ma_config_free(ma_config_t *config)
{
        if (config == NULL)
                return;
        for (size_t i = 0; i < config->count; i++) {
                ma_config_value_t *value = &config->values[i];
                /* Secrets are wiped before their memory is reused. */
                if (value->text != NULL &&
                    config->table[i].type == MA_CONFIG_SECRET)
                        memset(value->text, 0, strlen(value->text));
                ma_free(value->text);
        }
        for (size_t i = 0; i < config->positional_count; i++)
                ma_free(config->positional[i]);
        ma_free(config->positional);
        ma_free(config->values);
        ma_free(config);
}

bool ma_config_help_requested(int argc, char *const argv[])
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return false;
                if (strcmp(argv[i], "--help") == 0 ||
                    strcmp(argv[i], "-h") == 0)
                        return true;
        }
        return false;
}

static const ma_config_value_t *ma_config_lookup(const ma_config_t *config,
                                                 const char *name)
{
        size_t index = ma_config_find(config->table, config->count, name,
                                      strlen(name));
        return index == MA_CONFIG_NONE ? NULL : &config->values[index];
}

static ma_config_type_t ma_config_type_of(const ma_config_t *config,
                                          const ma_config_value_t *value)
{
        return config->table[value - config->values].type;
}

const char *ma_config_string(const ma_config_t *config, const char *name)
{
        const ma_config_value_t *value = ma_config_lookup(config, name);
        if (value == NULL)
                return NULL;
        ma_config_type_t type = ma_config_type_of(config, value);
        if (type != MA_CONFIG_STRING && type != MA_CONFIG_SECRET)
                return NULL;
        return value->text;
}

int64_t ma_config_int(const ma_config_t *config, const char *name)
{
        const ma_config_value_t *value = ma_config_lookup(config, name);
        if (value == NULL)
                return 0;
        ma_config_type_t type = ma_config_type_of(config, value);
        if (type != MA_CONFIG_INT && type != MA_CONFIG_DURATION_MS &&
            type != MA_CONFIG_SIZE_BYTES)
                return 0;
        return value->number;
}

bool ma_config_bool(const ma_config_t *config, const char *name)
{
        const ma_config_value_t *value = ma_config_lookup(config, name);
        if (value == NULL || ma_config_type_of(config, value) != MA_CONFIG_BOOL)
                return false;
        return value->flag;
}

ma_config_source_t ma_config_source_of(const ma_config_t *config,
                                       const char *name, const char **where_out)
{
        const ma_config_value_t *value = ma_config_lookup(config, name);
        if (where_out != NULL)
                *where_out = value == NULL ? "" : value->where;
        return value == NULL ? MA_CONFIG_FROM_DEFAULT : value->source;
}

size_t ma_config_format(const ma_config_t *config, const char *name, char *buf,
                        size_t size)
{
        const ma_config_value_t *value = ma_config_lookup(config, name);
        const char *text;
        if (value == NULL)
                text = "(unknown setting)";
        else if (ma_config_type_of(config, value) == MA_CONFIG_SECRET)
                text = value->text == NULL ? "(unset)" : "(secret)";
        else
                text = value->text == NULL ? "(unset)" : value->text;
        int n = snprintf(buf, size, "%s", text);
        return n < 0 ? 0 : (size_t)n;
}

size_t ma_config_positional_count(const ma_config_t *config)
{
        return config->positional_count;
}

const char *ma_config_positional(const ma_config_t *config, size_t index)
{
        if (index >= config->positional_count)
                return NULL;
        return config->positional[index];
}

/* ---- --help ---- */

/* Appends formatted text to a growing buffer; false when out of memory. */
static bool ma_config_append(char **buf, size_t *len, size_t *cap,
                             const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

static bool ma_config_append(char **buf, size_t *len, size_t *cap,
                             const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (need < 0)
                return false;
        if (*len + (size_t)need + 1 > *cap) {
                size_t grown_cap = (*cap + (size_t)need + 1) * 2;
                char *grown = ma_realloc(*buf, grown_cap);
                if (grown == NULL)
                        return false;
                *buf = grown;
                *cap = grown_cap;
        }
        va_start(ap, fmt);
        vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        *len += (size_t)need;
        return true;
}

/* Appends text indented by 6 spaces, wrapped at word breaks to 78 columns. */
static bool ma_config_append_wrapped(char **buf, size_t *len, size_t *cap,
                                     const char *text)
{
        const size_t width = 72;
        while (*text != '\0') {
                size_t n = strlen(text);
                if (n > width) {
                        n = width;
                        while (n > 0 && text[n] != ' ')
                                n--;
                        /* A word longer than the line is not broken. */
                        if (n == 0)
                                n = strcspn(text, " ");
                }
                if (!ma_config_append(buf, len, cap, "      %.*s\n", (int)n,
                                      text))
                        return false;
                text += n;
                while (*text == ' ')
                        text++;
        }
        return true;
}

char *ma_config_help(const ma_config_entry_t *table, size_t count,
                     const char *program, const char *summary)
{
        char *buf = NULL;
        size_t len = 0, cap = 0;
        bool ok = ma_config_append(&buf, &len, &cap,
                                   "Usage: %s [--config=FILE] [OPTION...]\n",
                                   program);
        if (ok && summary != NULL)
                ok = ma_config_append(&buf, &len, &cap, "\n%s\n", summary);
        if (ok)
                ok = ma_config_append(
                        &buf, &len, &cap,
                        "\nEach option can also be set as NAME = VALUE in the "
                        "configuration file\n(--config or MA_CONFIG) or in the "
                        "environment variable shown; flags\noverride the "
                        "environment, which overrides the file.\n\nOptions:\n");
        for (size_t i = 0; ok && i < count; i++) {
                const ma_config_entry_t *e = &table[i];
                char env[128];
                char range[128];
                ma_config_env_name(e->name, env, sizeof(env));
                ma_config_range(e, range, sizeof(range));
                const char *type = (unsigned)e->type <= MA_CONFIG_SECRET
                                           ? ma_config_type_names[e->type]
                                           : "?";
                ok = ma_config_append(&buf, &len, &cap, "  --%s=<%s>%s%s%s\n",
                                      e->name, type, e->unit ? " (" : "",
                                      e->unit ? e->unit : "",
                                      e->unit ? ")" : "");
                if (ok)
                        ok = ma_config_append_wrapped(&buf, &len, &cap,
                                                      e->help ? e->help : "");
                if (!ok)
                        break;
                if (e->default_value == NULL)
                        ok = ma_config_append(&buf, &len, &cap,
                                              "      required");
                else if (e->type == MA_CONFIG_SECRET)
                        ok = ma_config_append(&buf, &len, &cap,
                                              "      default: (secret)");
                else
                        ok = ma_config_append(&buf, &len, &cap,
                                              "      default: \"%s\"",
                                              e->default_value);
                bool text = e->type == MA_CONFIG_STRING ||
                            e->type == MA_CONFIG_SECRET;
                if (ok && range[0] != '\0')
                        ok = ma_config_append(&buf, &len, &cap, "; %s: %s",
                                              text ? "length" : "range", range);
                if (ok)
                        ok = ma_config_append(&buf, &len, &cap,
                                              "; environment: %s\n", env);
        }
        if (ok)
                ok = ma_config_append(&buf, &len, &cap,
                                      "  --help\n      Print this help and "
                                      "exit.\n");
        if (!ok) {
                ma_free(buf);
                return NULL;
        }
        return buf;
}
