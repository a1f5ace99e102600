/*
 * log.c - logfmt lines for the programs (see log.h).
 */
#include "ma/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ma/datetime.h"
#include "ma/validate.h"

#define MA_LOG_LINE_MAX 8192

static char ma_log_component[64] = "ma";
static atomic_int ma_log_level = MA_LOG_INFO;
static FILE *ma_log_out; /* NULL: stderr */

static const char *const ma_log_level_names[] = {"debug", "info", "warn",
                                                 "error"};

void ma_log_init(const char *component, ma_log_level_t level, FILE *out)
{
        snprintf(ma_log_component, sizeof(ma_log_component), "%s",
                 component != NULL ? component : "ma");
        atomic_store(&ma_log_level, (int)level);
        ma_log_out = out;
}

void ma_log_set_level(ma_log_level_t level)
{
        atomic_store(&ma_log_level, (int)level);
}

int ma_log_level_parse(const char *name)
{
        for (int i = 0; name != NULL && i <= MA_LOG_ERROR; i++) {
                if (strcmp(name, ma_log_level_names[i]) == 0)
                        return i;
        }
        return -1;
}

const char *ma_log_level_name(ma_log_level_t level)
{
        if ((unsigned)level > MA_LOG_ERROR)
                return "unknown";
        return ma_log_level_names[level];
}

bool ma_log_enabled(ma_log_level_t level)
{
        return (int)level >= atomic_load(&ma_log_level);
}

/* ---- Formatting ---- */

static bool ma_log_needs_quotes(const char *value)
{
        if (value[0] == '\0')
                return true;
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
                    *p >= 0x7F)
                        return true;
        }
        return false;
}

/* Writes into buf at *len up to size; *len counts what the text needs. */
static void ma_log_put(char *buf, size_t size, size_t *len, const char *text,
                       size_t n)
{
        if (*len < size) {
                size_t room = size - *len - 1;
                memcpy(buf + *len, text, n < room ? n : room);
        }
        *len += n;
}

/*
 * Copies the UTF-8 sequence that starts at p, or writes "\xNN" for a byte
 * that does not start a valid one, so a line stays valid UTF-8.  Returns the
 * number of input bytes used.
 */
static size_t ma_log_put_utf8(char *buf, size_t size, size_t *len,
                              const unsigned char *p)
{
        size_t n = 1; /* the sequence length the lead byte announces */
        if (*p >= 0xF0)
                n = 4;
        else if (*p >= 0xE0)
                n = 3;
        else if (*p >= 0xC0)
                n = 2;
        if (n > 1 && strnlen((const char *)p, n) == n &&
            ma_utf8_valid((const char *)p, n)) {
                ma_log_put(buf, size, len, (const char *)p, n);
                return n;
        }
        char esc[8];
        snprintf(esc, sizeof(esc), "\\x%02x", *p);
        ma_log_put(buf, size, len, esc, 4);
        return 1;
}

static void ma_log_put_escaped(char *buf, size_t size, size_t *len,
                               const char *value)
{
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                char esc[8];
                switch (*p) {
                case '"':
                        ma_log_put(buf, size, len, "\\\"", 2);
                        break;
                case '\\':
                        ma_log_put(buf, size, len, "\\\\", 2);
                        break;
                case '\n':
                        ma_log_put(buf, size, len, "\\n", 2);
                        break;
                case '\r':
                        ma_log_put(buf, size, len, "\\r", 2);
                        break;
                case '\t':
                        ma_log_put(buf, size, len, "\\t", 2);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7F) {
                                snprintf(esc, sizeof(esc), "\\u%04x", *p);
                                ma_log_put(buf, size, len, esc, 6);
                        } else if (*p < 0x80) {
                                ma_log_put(buf, size, len, (const char *)p, 1);
                        } else {
                                p += ma_log_put_utf8(buf, size, len, p) - 1;
                        }
                }
        }
}

size_t ma_log_format_pair(char *buf, size_t size, const char *key,
                          const char *value)
{
        size_t len = 0;
        if (key == NULL || key[0] == '\0')
                key = "_";
        for (const char *k = key; *k; k++) {
                char c = *k;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                          c == '-';
                ma_log_put(buf, size, &len, ok ? k : "_", 1);
        }
        ma_log_put(buf, size, &len, "=", 1);
        if (value == NULL)
                value = "";
        if (ma_log_needs_quotes(value)) {
                ma_log_put(buf, size, &len, "\"", 1);
                ma_log_put_escaped(buf, size, &len, value);
                ma_log_put(buf, size, &len, "\"", 1);
        } else {
                ma_log_put(buf, size, &len, value, strlen(value));
        }
        if (size > 0)
                buf[len < size ? len : size - 1] = '\0';
        return len;
}

/* Appends " key=value" to line at *len, stopping at the line limit. */
static void ma_log_append(char *line, size_t *len, const char *key,
                          const char *value)
{
        if (*len + 2 >= MA_LOG_LINE_MAX)
                return;
        if (*len > 0)
                line[(*len)++] = ' ';
        size_t need = ma_log_format_pair(line + *len, MA_LOG_LINE_MAX - *len,
                                         key, value);
        *len += need;
        if (*len >= MA_LOG_LINE_MAX)
                *len = MA_LOG_LINE_MAX - 1;
}

static void ma_log_emit(char *line, size_t len)
{
        FILE *out = ma_log_out != NULL ? ma_log_out : stderr;
        /* A cut line loses its end but stays one line. */
        line[len] = '\n';
        flockfile(out);
        fwrite(line, 1, len + 1, out);
        fflush(out);
        funlockfile(out);
}

static size_t ma_log_begin(char *line, ma_log_level_t level, const char *msg)
{
        char ts[40];
        ma_instant_t now = {ma_now_ms(), 0};
        ma_instant_format(&now, ts, sizeof(ts));
        /* Always print milliseconds so the field has a fixed width. */
        if (now.utc_ms % 1000 == 0 && strlen(ts) == 20)
                memcpy(ts + 19, ".000Z", 6);
        size_t len = 0;
        ma_log_append(line, &len, "ts", ts);
        ma_log_append(line, &len, "level", ma_log_level_name(level));
        ma_log_append(line, &len, "component", ma_log_component);
        ma_log_append(line, &len, "msg", msg);
        return len;
}

void ma_log_fields(ma_log_level_t level, const char *msg,
                   const ma_log_field_t *fields, size_t count)
{
        if (!ma_log_enabled(level))
                return;
        char line[MA_LOG_LINE_MAX + 1];
        size_t len = ma_log_begin(line, level, msg);
        for (size_t i = 0; i < count; i++) {
                char number[24];
                const char *value = fields[i].str;
                if (value == NULL) {
                        snprintf(number, sizeof(number), "%lld",
                                 (long long)fields[i].num);
                        value = number;
                }
                ma_log_append(line, &len, fields[i].key, value);
        }
        ma_log_emit(line, len);
}

void ma_log(ma_log_level_t level, const char *msg, ...)
{
        if (!ma_log_enabled(level))
                return;
        char line[MA_LOG_LINE_MAX + 1];
        size_t len = ma_log_begin(line, level, msg);
        va_list ap;
        va_start(ap, msg);
        for (;;) {
                const char *key = va_arg(ap, const char *);
                if (key == NULL)
                        break;
                const char *value = va_arg(ap, const char *);
                ma_log_append(line, &len, key, value);
        }
        va_end(ap);
        ma_log_emit(line, len);
}
