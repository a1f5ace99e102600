/*
 * gateway_keys.c - the API key store of ma-gateway, kept in a file.
 *
 * A key is "<key_id>.<secret>".  key_id is 16 hex digits from 8 random
 * bytes and names the key in lists, logs and revocations.  secret is 32
 * random bytes from OpenSSL RAND_bytes in base64url without padding (43
 * characters).  The file stores only a salted hash of the whole key,
 * SHA-256 over salt hex, ":" and the key, as lower-case hex.  The key itself
 * is returned once by gw_keys_add() and cannot be recovered from the file.
 *
 * The file has one JSON object per line:
 *   {"key_id":"3f0c9a1b2c3d4e5f","prefix":"SKV","salt":"<32 hex>",
 *    "sha256":"<64 hex>","created":"2026-12-04T15:49:26Z","revoked":null}
 * "revoked" holds the time of revocation instead of null once revoked.
 * Writers (add, revoke) take an exclusive flock on "<file>.lock", write the
 * whole new content to "<file>.tmp", fsync it and rename it over the file,
 * so a reader never sees half a file.  A running gateway notices the new
 * file through gw_keys_refresh().
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "ma/alloc.h"
#include "ma/pseudonym.h"

#define GW_KEY_ID_BYTES     8
#define GW_KEY_SALT_BYTES   16
#define GW_KEY_SECRET_BYTES 32
/* Lines longer than this cannot be a record written by gw_keys_add(). */
#define GW_KEY_LINE_MAX 1024

struct gw_keys {
        char *path;
        pthread_mutex_t lock; /* guards everything below */
        gw_key_record_t *records;
        size_t count;
        /* Identity of the file last read, to notice a replacement. */
        bool loaded;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        int64_t checked_ms; /* monotonic time of the last stat */
};

/* ---- Helpers ---- */

static int64_t gw_keys_monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gw_keys_utc_now(char out[GW_KEY_TIME_MAX])
{
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(out, GW_KEY_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void gw_keys_hex(const unsigned char *bytes, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 0x0f];
        }
        out[2 * len] = '\0';
}

static bool gw_keys_is_hex(const char *text, size_t len)
{
        if (strlen(text) != len)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
        }
        return true;
}

bool gw_keys_prefix_valid(const char *prefix)
{
        size_t len = strlen(prefix);

        if (len == 0 || len > GW_KEY_PREFIX_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (prefix[i] < 'A' || prefix[i] > 'Z')
                        return false;
        }
        return true;
}

/* SHA-256 hex of salt ":" key, the stored form of a key. */
static void gw_keys_hash(const char *salt, const char *key, char out[65])
{
        char material[GW_KEY_SALT_BYTES * 2 + 1 + GW_KEY_MAX + 1];
        int len = snprintf(material, sizeof(material), "%s:%s", salt, key);

        ma_sha256_hex(material, (size_t)len, out);
        OPENSSL_cleanse(material, sizeof(material));
}

/* ---- Reading and writing the file ---- */

static ma_status_t gw_keys_copy_field(json_t *object, const char *name,
                                      char *out, size_t size, bool nullable,
                                      const char *path, long line,
                                      ma_error_t *err)
{
        json_t *value = json_object_get(object, name);

        if (nullable && (value == NULL || json_is_null(value))) {
                out[0] = '\0';
                return MA_OK;
        }
        if (!json_is_string(value) || json_string_length(value) == 0 ||
            json_string_length(value) >= size)
                return ma_error_set(err, MA_ERR_PARSE, name,
                                    "invalid key file \"%s\", line %ld: "
                                    "\"%s\" is missing or not a string of at "
                                    "most %zu characters; restore the file or "
                                    "create keys again",
                                    path, line, name, size - 1);
        memcpy(out, json_string_value(value), json_string_length(value) + 1);
        return MA_OK;
}

static ma_status_t gw_keys_parse_line(const char *text, const char *path,
                                      long line, gw_key_record_t *record,
                                      ma_error_t *err)
{
        json_error_t jerr;
        json_t *object = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        ma_status_t status;

        if (!json_is_object(object)) {
                json_decref(object);
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid key file \"%s\", line %ld: not a "
                                    "JSON object (%s); restore the file or "
                                    "create keys again",
                                    path, line, jerr.text);
        }
        memset(record, 0, sizeof(*record));
        status = gw_keys_copy_field(object, "key_id", record->key_id,
                                    sizeof(record->key_id), false, path, line,
                                    err);
        if (status == MA_OK)
                status = gw_keys_copy_field(object, "prefix", record->prefix,
                                            sizeof(record->prefix), false, path,
                                            line, err);
        if (status == MA_OK)
                status = gw_keys_copy_field(object, "salt", record->salt,
                                            sizeof(record->salt), false, path,
                                            line, err);
        if (status == MA_OK)
                status = gw_keys_copy_field(object, "sha256", record->sha256,
                                            sizeof(record->sha256), false, path,
                                            line, err);
        if (status == MA_OK)
                status = gw_keys_copy_field(object, "created", record->created,
                                            sizeof(record->created), false,
                                            path, line, err);
        if (status == MA_OK)
                status = gw_keys_copy_field(object, "revoked", record->revoked,
                                            sizeof(record->revoked), true, path,
                                            line, err);
        json_decref(object);
        if (status != MA_OK)
                return status;
        if (!gw_keys_is_hex(record->key_id, GW_KEY_ID_BYTES * 2) ||
            !gw_keys_is_hex(record->salt, GW_KEY_SALT_BYTES * 2) ||
            !gw_keys_is_hex(record->sha256, 64) ||
            !gw_keys_prefix_valid(record->prefix))
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "invalid key file \"%s\", line %ld: "
                                    "key_id, salt, sha256 or prefix has the "
                                    "wrong form; restore the file or create "
                                    "keys again",
                                    path, line);
        return MA_OK;
}

/*
 * Reads every record of path into a new array.  A missing file is an empty
 * store, so the first `keys add` creates it.
 */
static ma_status_t gw_keys_read_file(const char *path,
                                     gw_key_record_t **records_out,
                                     size_t *count_out, struct stat *st_out,
                                     ma_error_t *err)
{
        FILE *file = fopen(path, "re");
        gw_key_record_t *records = NULL;
        size_t count = 0, cap = 0;
        char line[GW_KEY_LINE_MAX + 2];
        long number = 0;
        ma_status_t status = MA_OK;

        *records_out = NULL;
        *count_out = 0;
        if (file == NULL) {
                if (errno == ENOENT) {
                        if (st_out != NULL)
                                memset(st_out, 0, sizeof(*st_out));
                        return MA_OK;
                }
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open key file \"%s\": %s", path,
                                    strerror(errno));
        }
        if (st_out != NULL && fstat(fileno(file), st_out) != 0)
                memset(st_out, 0, sizeof(*st_out));
        while (fgets(line, sizeof(line), file) != NULL) {
                size_t len = strlen(line);

                number++;
                if (len > GW_KEY_LINE_MAX) {
                        status = ma_error_set(
                                err, MA_ERR_PARSE, NULL,
                                "invalid key file \"%s\", line %ld: longer "
                                "than %d bytes; restore the file",
                                path, number, GW_KEY_LINE_MAX);
                        break;
                }
                if (strspn(line, " \t\r\n") == len)
                        continue;
                if (count == cap) {
                        size_t grown = cap ? cap * 2 : 16;
                        gw_key_record_t *bigger =
                                ma_realloc(records, grown * sizeof(*records));
                        if (bigger == NULL) {
                                status = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                                      "out of memory reading "
                                                      "key file \"%s\"",
                                                      path);
                                break;
                        }
                        records = bigger;
                        cap = grown;
                }
                status = gw_keys_parse_line(line, path, number, &records[count],
                                            err);
                if (status != MA_OK)
                        break;
                count++;
        }
        if (status == MA_OK && ferror(file))
                status = ma_error_set(err, MA_ERR_IO, NULL,
                                      "could not read key file \"%s\": %s",
                                      path, strerror(errno));
        fclose(file);
        if (status != MA_OK) {
                ma_free(records);
                return status;
        }
        *records_out = records;
        *count_out = count;
        return MA_OK;
}

static json_t *gw_keys_record_json(const gw_key_record_t *record)
{
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "key_id",
                         record->key_id, "prefix", record->prefix, "salt",
                         record->salt, "sha256", record->sha256, "created",
                         record->created, "revoked",
                         record->revoked[0] ? record->revoked : NULL);
}

static ma_status_t gw_keys_write_file(const char *path,
                                      const gw_key_record_t *records,
                                      size_t count, ma_error_t *err)
{
        char tmp[4096];
        FILE *file;
        int fd;
        bool ok = true;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
                return ma_error_set(err, MA_ERR_CONFIG, NULL,
                                    "key file path \"%s\" is too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not create \"%s\": %s", tmp,
                                    strerror(errno));
        file = fdopen(fd, "w");
        if (file == NULL) {
                close(fd);
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open \"%s\": %s", tmp,
                                    strerror(errno));
        }
        for (size_t i = 0; i < count && ok; i++) {
                json_t *object = gw_keys_record_json(&records[i]);
                char *text =
                        object ? json_dumps(object,
                                            JSON_COMPACT | JSON_PRESERVE_ORDER)
                               : NULL;

                ok = text != NULL && fprintf(file, "%s\n", text) > 0;
                free(text); /* jansson allocates with malloc */
                json_decref(object);
        }
        ok = ok && fflush(file) == 0 && fsync(fileno(file)) == 0;
        if (fclose(file) != 0)
                ok = false;
        if (!ok || rename(tmp, path) != 0) {
                int saved = errno;
                unlink(tmp);
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not write key file \"%s\": %s", path,
                                    strerror(saved));
        }
        return MA_OK;
}

/* Takes the writers' lock of path; returns the lock's descriptor or -1. */
static int gw_keys_lock_writers(const char *path, ma_error_t *err)
{
        char lock_path[4096];
        int fd;

        if ((size_t)snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >=
            sizeof(lock_path)) {
                ma_error_set(err, MA_ERR_CONFIG, NULL,
                             "key file path \"%s\" is too long", path);
                return -1;
        }
        fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) {
                ma_error_set(err, MA_ERR_IO, NULL, "could not lock \"%s\": %s",
                             lock_path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

static void gw_keys_unlock_writers(int fd)
{
        flock(fd, LOCK_UN);
        close(fd);
}

/* ---- Store used by the server ---- */

ma_status_t gw_keys_open(const char *path, gw_keys_t **keys_out,
                         ma_error_t *err)
{
        gw_keys_t *keys = ma_calloc(1, sizeof(*keys));
        ma_status_t status;

        *keys_out = NULL;
        if (keys == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening key file");
        keys->path = ma_strdup(path);
        if (keys->path == NULL) {
                ma_free(keys);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory opening key file");
        }
        pthread_mutex_init(&keys->lock, NULL);
        status = gw_keys_refresh(keys, true, NULL, err);
        if (status != MA_OK) {
                gw_keys_close(keys);
                return status;
        }
        *keys_out = keys;
        return MA_OK;
}

void gw_keys_close(gw_keys_t *keys)
{
        if (keys == NULL)
                return;
        pthread_mutex_destroy(&keys->lock);
        ma_free(keys->records);
        ma_free(keys->path);
        ma_free(keys);
}

static bool gw_keys_same_file(const gw_keys_t *keys, const struct stat *st)
{
        return keys->loaded && keys->dev == st->st_dev &&
               keys->ino == st->st_ino && keys->size == st->st_size &&
               keys->mtime.tv_sec == st->st_mtim.tv_sec &&
               keys->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void gw_keys_remember_file(gw_keys_t *keys, const struct stat *st)
{
        keys->loaded = true;
        keys->dev = st->st_dev;
        keys->ino = st->st_ino;
        keys->size = st->st_size;
        keys->mtime = st->st_mtim;
}

ma_status_t gw_keys_refresh(gw_keys_t *keys, bool force, bool *reloaded,
                            ma_error_t *err)
{
        struct stat st;
        gw_key_record_t *records;
        size_t count;
        ma_status_t status = MA_OK;
        int64_t now = gw_keys_monotonic_ms();

        if (reloaded != NULL)
                *reloaded = false;
        pthread_mutex_lock(&keys->lock);
        if (!force && now - keys->checked_ms < GW_KEY_REFRESH_MS)
                goto out;
        keys->checked_ms = now;
        if (stat(keys->path, &st) != 0) {
                if (errno != ENOENT) {
                        status = ma_error_set(err, MA_ERR_IO, NULL,
                                              "could not stat key file "
                                              "\"%s\": %s",
                                              keys->path, strerror(errno));
                        goto out;
                }
                memset(&st, 0, sizeof(st));
        }
        if (!force && gw_keys_same_file(keys, &st))
                goto out;
        /*
         * The file is remembered even when it fails to load, so a broken
         * file is reported once and the previous keys stay in force until
         * the file changes again.
         */
        gw_keys_remember_file(keys, &st);
        status = gw_keys_read_file(keys->path, &records, &count, NULL, err);
        if (status != MA_OK)
                goto out;
        ma_free(keys->records);
        keys->records = records;
        keys->count = count;
        if (reloaded != NULL)
                *reloaded = true;
out:
        pthread_mutex_unlock(&keys->lock);
        return status;
}

gw_auth_t gw_keys_authenticate(gw_keys_t *keys, const char *api_key,
                               gw_key_identity_t *identity)
{
        char key_id[GW_KEY_ID_BYTES * 2 + 1];
        const char *dot;
        char hash[65];
        gw_auth_t result = GW_AUTH_UNKNOWN;

        memset(identity, 0, sizeof(*identity));
        if (api_key == NULL || api_key[0] == '\0')
                return GW_AUTH_MISSING;
        dot = strchr(api_key, '.');
        if (dot == NULL || (size_t)(dot - api_key) != GW_KEY_ID_BYTES * 2 ||
            strlen(api_key) > GW_KEY_MAX)
                return GW_AUTH_UNKNOWN;
        memcpy(key_id, api_key, GW_KEY_ID_BYTES * 2);
        key_id[GW_KEY_ID_BYTES * 2] = '\0';

        pthread_mutex_lock(&keys->lock);
        for (size_t i = 0; i < keys->count; i++) {
                const gw_key_record_t *record = &keys->records[i];

                /* key_id is not secret, so this lookup need not be timed. */
                if (strcmp(record->key_id, key_id) != 0)
                        continue;
                gw_keys_hash(record->salt, api_key, hash);
                if (!ma_secure_equal(hash, record->sha256, 64))
                        break;
                memcpy(identity->key_id, record->key_id,
                       sizeof(identity->key_id));
                memcpy(identity->prefix, record->prefix,
                       sizeof(identity->prefix));
                result = record->revoked[0] ? GW_AUTH_REVOKED : GW_AUTH_OK;
                break;
        }
        pthread_mutex_unlock(&keys->lock);
        return result;
}

/* ---- Management used by `ma-gateway keys` ---- */

static void gw_keys_base64url(const unsigned char *bytes, size_t len, char *out,
                              size_t size)
{
        unsigned char encoded[4 * ((GW_KEY_SECRET_BYTES + 2) / 3) + 1];
        int n = EVP_EncodeBlock(encoded, bytes, (int)len);
        size_t j = 0;

        for (int i = 0; i < n && j + 1 < size; i++) {
                unsigned char c = encoded[i];
                if (c == '=')
                        break;
                if (c == '+')
                        c = '-';
                else if (c == '/')
                        c = '_';
                out[j++] = (char)c;
        }
        out[j] = '\0';
        OPENSSL_cleanse(encoded, sizeof(encoded));
}

static bool gw_keys_id_taken(const gw_key_record_t *records, size_t count,
                             const char *key_id)
{
        for (size_t i = 0; i < count; i++) {
                if (strcmp(records[i].key_id, key_id) == 0)
                        return true;
        }
        return false;
}

/* Fills record with a fresh key id and salt, and key with a fresh key. */
static ma_status_t gw_keys_generate(const gw_key_record_t *records,
                                    size_t count, gw_key_record_t *record,
                                    char key[GW_KEY_MAX + 1], ma_error_t *err)
{
        unsigned char id_bytes[GW_KEY_ID_BYTES];
        unsigned char salt[GW_KEY_SALT_BYTES];
        unsigned char secret[GW_KEY_SECRET_BYTES];
        char encoded[4 * ((GW_KEY_SECRET_BYTES + 2) / 3) + 1];

        do {
                if (RAND_bytes(id_bytes, sizeof(id_bytes)) != 1)
                        return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                            "could not create a key: the "
                                            "OpenSSL random generator failed");
                gw_keys_hex(id_bytes, sizeof(id_bytes), record->key_id);
        } while (gw_keys_id_taken(records, count, record->key_id));
        if (RAND_bytes(salt, sizeof(salt)) != 1 ||
            RAND_bytes(secret, sizeof(secret)) != 1)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not create a key: the OpenSSL "
                                    "random generator failed");
        gw_keys_hex(salt, sizeof(salt), record->salt);
        gw_keys_base64url(secret, sizeof(secret), encoded, sizeof(encoded));
        snprintf(key, GW_KEY_MAX + 1, "%s.%s", record->key_id, encoded);
        gw_keys_hash(record->salt, key, record->sha256);
        OPENSSL_cleanse(secret, sizeof(secret));
        OPENSSL_cleanse(encoded, sizeof(encoded));
        return MA_OK;
}

ma_status_t gw_keys_add(const char *path, const char *prefix,
                        char key[GW_KEY_MAX + 1], gw_key_record_t *record_out,
                        ma_error_t *err)
{
        gw_key_record_t *records = NULL, *bigger;
        gw_key_record_t record;
        size_t count = 0;
        ma_status_t status;
        int lock;

        key[0] = '\0';
        if (!gw_keys_prefix_valid(prefix))
                return ma_error_set(err, MA_ERR_INVALID, "producer",
                                    "invalid producer prefix \"%s\": expected "
                                    "1 to %d letters A-Z, as in the catalog",
                                    prefix, GW_KEY_PREFIX_MAX);
        lock = gw_keys_lock_writers(path, err);
        if (lock < 0)
                return err ? err->status : MA_ERR_IO;
        status = gw_keys_read_file(path, &records, &count, NULL, err);
        if (status != MA_OK)
                goto out;
        memset(&record, 0, sizeof(record));
        snprintf(record.prefix, sizeof(record.prefix), "%s", prefix);
        gw_keys_utc_now(record.created);
        status = gw_keys_generate(records, count, &record, key, err);
        if (status != MA_OK)
                goto out;
        bigger = ma_realloc(records, (count + 1) * sizeof(*records));
        if (bigger == NULL) {
                status = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                      "out of memory adding a key");
                goto out;
        }
        records = bigger;
        records[count++] = record;
        status = gw_keys_write_file(path, records, count, err);
        if (status == MA_OK && record_out != NULL)
                *record_out = record;
out:
        if (status != MA_OK)
                OPENSSL_cleanse(key, GW_KEY_MAX + 1);
        ma_free(records);
        gw_keys_unlock_writers(lock);
        return status;
}

ma_status_t gw_keys_revoke(const char *path, const char *key_id,
                           gw_key_record_t *record_out, ma_error_t *err)
{
        gw_key_record_t *records = NULL;
        size_t count = 0, i;
        ma_status_t status;
        int lock = gw_keys_lock_writers(path, err);

        if (lock < 0)
                return err ? err->status : MA_ERR_IO;
        status = gw_keys_read_file(path, &records, &count, NULL, err);
        if (status != MA_OK)
                goto out;
        for (i = 0; i < count; i++) {
                if (strcmp(records[i].key_id, key_id) == 0)
                        break;
        }
        if (i == count) {
                status = ma_error_set(err, MA_ERR_NOT_FOUND, "key_id",
                                      "key \"%s\" not found in \"%s\"; see "
                                      "`ma-gateway keys list`",
                                      key_id, path);
                goto out;
        }
        /* Revoking twice keeps the first time of revocation. */
        if (records[i].revoked[0] == '\0') {
                gw_keys_utc_now(records[i].revoked);
                status = gw_keys_write_file(path, records, count, err);
        }
        if (status == MA_OK && record_out != NULL)
                *record_out = records[i];
out:
        ma_free(records);
        gw_keys_unlock_writers(lock);
        return status;
}

ma_status_t gw_keys_list(const char *path, gw_key_record_t **records_out,
                         size_t *count_out, ma_error_t *err)
{
        return gw_keys_read_file(path, records_out, count_out, NULL, err);
}
