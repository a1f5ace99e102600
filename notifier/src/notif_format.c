/*
 * notif_format.c - what ma-notifier puts on the wire and what ma-mqtt-users
 * writes for the broker: topics, JSON payloads, CloudEvents attributes and
 * Mosquitto password hashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "notifier.h"

bool notif_name_valid(const char *name)
{
        size_t i;

        if (name == NULL || name[0] == '\0' || name[0] == '_' || name[0] == '-')
                return false;
        for (i = 0; name[i] != '\0'; i++) {
                char c = name[i];

                if (i >= NOTIF_NAME_MAX)
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

ma_status_t notif_topic_format(const char *consumer_id,
                               const char *subscription_id, char *buf,
                               size_t size, ma_error_t *err)
{
        int len;

        if (!notif_name_valid(consumer_id))
                return ma_error_set(err, MA_ERR_INVALID, "consumer_id",
                                    "invalid consumer id: expected 1 to 63 "
                                    "characters of a-z, 0-9, _ and -");
        if (subscription_id == NULL || subscription_id[0] == '\0' ||
            strpbrk(subscription_id, "/+#") != NULL)
                return ma_error_set(err, MA_ERR_INVALID, "subscription_id",
                                    "invalid subscription id: it must be "
                                    "non-empty without '/', '+' or '#'");
        len = snprintf(buf, size, "ma/v1/%s/aviseringar/%s", consumer_id,
                       subscription_id);
        if (len < 0 || (size_t)len >= size)
                return ma_error_set(err, MA_ERR_TOO_LARGE, "topic",
                                    "topic does not fit in %zu bytes", size);
        return MA_OK;
}

/* Replaces each occurrence of key in template; returns a malloc()ed text. */
static char *notif_path_fill(const char *template_text, const char *org,
                             const char *id)
{
        static const char *const keys[] = {"{producent}", "{kundhandelseId}"};
        const char *values[] = {org, id};
        size_t cap = strlen(template_text) + 1, len = 0;
        const char *p = template_text;
        char *out;
        size_t k;

        for (k = 0; k < 2; k++)
                cap += 3 * strlen(values[k]) * 4;
        out = malloc(cap);
        if (out == NULL)
                return NULL;
        while (*p != '\0') {
                for (k = 0; k < 2; k++)
                        if (strncmp(p, keys[k], strlen(keys[k])) == 0)
                                break;
                if (k < 2) {
                        const unsigned char *v =
                                (const unsigned char *)values[k];

                        /* Percent-encode all but RFC 3986 unreserved. */
                        for (; *v != '\0' && len + 4 < cap; v++) {
                                if ((*v >= 'a' && *v <= 'z') ||
                                    (*v >= 'A' && *v <= 'Z') ||
                                    (*v >= '0' && *v <= '9') || *v == '-' ||
                                    *v == '.' || *v == '_' || *v == '~')
                                        out[len++] = (char)*v;
                                else
                                        len += (size_t)snprintf(out + len,
                                                                cap - len,
                                                                "%%%02X", *v);
                        }
                        p += strlen(keys[k]);
                } else if (len + 1 < cap) {
                        out[len++] = *p++;
                } else {
                        p++;
                }
        }
        out[len] = '\0';
        return out;
}

ma_status_t notif_payload_build(const notif_message_t *m,
                                const char *event_path, char **json_out,
                                ma_error_t *err)
{
        json_t *root, *fetch;
        char *path;
        char *text;

        *json_out = NULL;
        if (m->notification_id == NULL || m->subscription_id == NULL ||
            m->kind == NULL || m->reason == NULL ||
            m->producent_organisationsnummer == NULL ||
            m->kundhandelse_id == NULL || m->kundhandelse_typ == NULL ||
            m->rubrik == NULL || m->tidpunkt == NULL || m->producent == NULL)
                return ma_error_set(err, MA_ERR_INVALID, NULL,
                                    "cannot build a notification payload: a "
                                    "required field is missing");
        path = notif_path_fill(event_path, m->producent_organisationsnummer,
                               m->kundhandelse_id);
        if (path == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        root = json_object();
        fetch = json_object();
        if (root == NULL || fetch == NULL) {
                json_decref(root);
                json_decref(fetch);
                free(path);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        json_object_set_new(root, "notificationId",
                            json_string(m->notification_id));
        json_object_set_new(root, "subscriptionId",
                            json_string(m->subscription_id));
        json_object_set_new(root, "kind", json_string(m->kind));
        json_object_set_new(root, "reason", json_string(m->reason));
        if (strcmp(m->reason, "reminder") == 0)
                json_object_set_new(root, "reminderDaysBefore",
                                    json_integer(m->reminder_days));
        json_object_set_new(root, "producentOrganisationsnummer",
                            json_string(m->producent_organisationsnummer));
        json_object_set_new(root, "producent", json_string(m->producent));
        json_object_set_new(root, "kundhandelseId",
                            json_string(m->kundhandelse_id));
        json_object_set_new(root, "kundhandelsetyp",
                            json_string(m->kundhandelse_typ));
        json_object_set_new(root, "rubrik", json_string(m->rubrik));
        json_object_set_new(root, "tidpunkt", json_string(m->tidpunkt));
        if (m->atgard_senast != NULL)
                json_object_set_new(root, "atgardSenast",
                                    json_string(m->atgard_senast));
        if (m->giltig_till != NULL)
                json_object_set_new(root, "giltigTill",
                                    json_string(m->giltig_till));
        json_object_set_new(fetch, "method", json_string("GET"));
        json_object_set_new(fetch, "path", json_string(path));
        json_object_set_new(root, "hamta", fetch);
        free(path);
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (text == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not encode a notification payload: "
                                    "a text is not valid UTF-8 or memory ran "
                                    "out");
        *json_out = text;
        return MA_OK;
}

void notif_cloudevent_type(const char *kind, char *buf, size_t size)
{
        snprintf(buf, size, "se.minaarenden.avisering.%s.v1", kind);
}

ma_status_t notif_password_hash(const char *password, const unsigned char *salt,
                                size_t salt_len, int iterations, char *buf,
                                size_t size, ma_error_t *err)
{
        unsigned char hash[64];
        unsigned char salt64[64], hash64[96];
        int len;

        if (salt_len > 32)
                return ma_error_set(err, MA_ERR_INVALID, "salt",
                                    "salt of %zu bytes is longer than 32",
                                    salt_len);
        if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
                              (int)salt_len, iterations, EVP_sha512(),
                              (int)sizeof(hash), hash) != 1)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not hash a password: OpenSSL "
                                    "PBKDF2 failed");
        EVP_EncodeBlock(salt64, salt, (int)salt_len);
        EVP_EncodeBlock(hash64, hash, (int)sizeof(hash));
        OPENSSL_cleanse(hash, sizeof(hash));
        len = snprintf(buf, size, "$7$%d$%s$%s", iterations, (char *)salt64,
                       (char *)hash64);
        if (len < 0 || (size_t)len >= size)
                return ma_error_set(err, MA_ERR_TOO_LARGE, NULL,
                                    "password hash does not fit in %zu bytes",
                                    size);
        return MA_OK;
}

bool notif_password_verify(const char *password, const char *hash)
{
        char salt64[64], expected[256], computed[256];
        unsigned char salt[64];
        const char *p, *q;
        char *end;
        long iterations;
        int salt_len;
        size_t b64_len;

        if (strncmp(hash, "$7$", 3) != 0)
                return false;
        iterations = strtol(hash + 3, &end, 10);
        p = end;
        if (iterations <= 0 || iterations > 10000000 || *p != '$')
                return false;
        q = strchr(p + 1, '$');
        if (q == NULL || (size_t)(q - p - 1) >= sizeof(salt64))
                return false;
        b64_len = (size_t)(q - p - 1);
        memcpy(salt64, p + 1, b64_len);
        salt64[b64_len] = '\0';
        salt_len = EVP_DecodeBlock(salt, (unsigned char *)salt64, (int)b64_len);
        if (salt_len < 0)
                return false;
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        while (b64_len > 0 && salt64[b64_len - 1] == '=') {
                salt_len--;
                b64_len--;
        }
        snprintf(expected, sizeof(expected), "%s", hash);
        if (notif_password_hash(password, salt, (size_t)salt_len,
                                (int)iterations, computed, sizeof(computed),
                                NULL) != MA_OK)
                return false;
        return strlen(computed) == strlen(expected) &&
               CRYPTO_memcmp(computed, expected, strlen(expected)) == 0;
}
