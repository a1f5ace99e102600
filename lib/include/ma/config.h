/*
 * config.h - declarative configuration: one table per program.
 *
 * A program describes each setting once (name, type, unit, default, bounds,
 * help) and ma_config_load() reads them, in increasing precedence, from a
 * configuration file of "key = value" lines, from environment variables
 * MA_<NAME> (upper case, dots and dashes as underscores, so
 * "kafka.brokers" is MA_KAFKA_BROKERS), and from command-line flags
 * "--name=value" or "--name value".  Every value is checked against its
 * type and bounds.  An error names the key, the value (except for secrets),
 * where it came from (file:line, environment variable or flag) and the
 * allowed range.
 *
 * Threads: load in main() before starting threads; a loaded ma_config_t is
 * immutable and may be read from any thread.
 */
#ifndef MA_CONFIG_H
#define MA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/status.h"

typedef enum ma_config_type {
        MA_CONFIG_STRING = 0,
        MA_CONFIG_INT = 1,         /* decimal integer in [min, max] */
        MA_CONFIG_BOOL = 2,        /* true/false, yes/no, on/off, 1/0 */
        MA_CONFIG_DURATION_MS = 3, /* 250ms, 30s, 5min, 2h, 1d; bare = ms */
        MA_CONFIG_SIZE_BYTES = 4,  /* 512, 64KiB, 16MiB, 1GiB (also k, M, G) */
        MA_CONFIG_SECRET = 5,      /* a string never printed or echoed */
} ma_config_type_t;

/*
 * One setting.  default_value is text parsed like any input, and NULL makes
 * the setting required.  For INT, DURATION_MS and SIZE_BYTES, min and max
 * bound the value (in ms or bytes for the last two).  For STRING and SECRET
 * they bound the length in bytes, and max 0 means no upper bound.  BOOL
 * ignores them.  unit is shown in --help (for example "ms"), or NULL.
 */
typedef struct ma_config_entry {
        const char *name; /* lower case, dots and dashes: "kafka.brokers" */
        ma_config_type_t type;
        const char *unit;
        const char *default_value;
        int64_t min;
        int64_t max;
        const char *help;
} ma_config_entry_t;

/* Where a value came from. */
typedef enum ma_config_source {
        MA_CONFIG_FROM_DEFAULT = 0,
        MA_CONFIG_FROM_FILE = 1,
        MA_CONFIG_FROM_ENV = 2,
        MA_CONFIG_FROM_FLAG = 3,
} ma_config_source_t;

typedef struct ma_config ma_config_t;

/*
 * Loads the settings of table (count entries).  The file is the one named
 * by the flag --config, else by the environment variable MA_CONFIG, else
 * default_file (may be NULL).  A file named by flag or environment must
 * exist, but a missing default_file is skipped.  In the file, '#' starts a
 * comment line, a key may appear once, and a value may be put in double
 * quotes to keep surrounding spaces.  Arguments that do not start with
 * "--", and all after "--", are kept as positional arguments.  argv[0] is
 * the program name and is skipped.  A bare boolean flag ("--verbose") sets
 * it to true.
 *
 * On success *config_out is owned by the caller (ma_config_free()).
 * Errors: MA_ERR_CONFIG (unknown key or flag, invalid or missing value),
 * MA_ERR_IO (the file cannot be read), MA_ERR_INTERNAL (the table itself is
 * wrong: bad bounds, a default outside them, a duplicate name),
 * MA_ERR_NOMEM.  The program should check ma_config_help_requested() first.
 */
ma_status_t ma_config_load(const ma_config_entry_t *table, size_t count,
                           const char *default_file, int argc,
                           char *const argv[], ma_config_t **config_out,
                           ma_error_t *err);
void ma_config_free(ma_config_t *config);

/* True when argv has --help or -h (before any "--"). */
bool ma_config_help_requested(int argc, char *const argv[]);

/*
 * Returns the --help text for table: a usage line, summary, and per
 * setting its flag, type, unit, default (never a secret's), bounds,
 * environment variable and help.  Owned by the caller (ma_free()); NULL
 * when out of memory.
 */
char *ma_config_help(const ma_config_entry_t *table, size_t count,
                     const char *program, const char *summary);

/*
 * Typed getters.  ma_config_string() reads STRING and SECRET settings, and
 * ma_config_int() reads INT, DURATION_MS and SIZE_BYTES.  For a name not in
 * the table, or of another type, they return NULL, 0 or false.  Strings
 * stay owned by the config.
 */
const char *ma_config_string(const ma_config_t *config, const char *name);
int64_t ma_config_int(const ma_config_t *config, const char *name);
bool ma_config_bool(const ma_config_t *config, const char *name);

/* Where name's value came from, and that place as text ("file.conf:3"). */
ma_config_source_t ma_config_source_of(const ma_config_t *config,
                                       const char *name,
                                       const char **where_out);

/*
 * Writes name's value for a start-up log line into buf: secrets as
 * "(secret)" or "(unset)".  Returns the length that was needed.
 */
size_t ma_config_format(const ma_config_t *config, const char *name, char *buf,
                        size_t size);

size_t ma_config_positional_count(const ma_config_t *config);
const char *ma_config_positional(const ma_config_t *config, size_t index);

/* Environment variable name of a setting: "MA_" + upper-cased name. */
void ma_config_env_name(const char *name, char *buf, size_t size);

#endif /* MA_CONFIG_H */
