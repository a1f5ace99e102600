/*
 * pseudonym.c - keyed pseudonyms (HMAC-SHA-256 with OpenSSL's libcrypto).
 *
 * The message hashed is typ ":" identifierare [":" tillagg] with typ in the
 * standard's spelling ("Personnummer"), so the same number under two kinds
 * gives two pseudonyms.  The key copy is wiped with OPENSSL_cleanse() when
 * freed.
 */
#include "ma/pseudonym.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

#include "ma/alloc.h"

#define MA_PSEUDONYM_SECRET_MIN 16

struct ma_pseudonym_key {
        size_t len;
        unsigned char secret[];
};

ma_status_t ma_pseudonym_key_new(const void *secret, size_t len,
                                 ma_pseudonym_key_t **key_out, ma_error_t *err)
{
        *key_out = NULL;
        if (secret == NULL || len < MA_PSEUDONYM_SECRET_MIN)
                return ma_error_set(err, MA_ERR_CONFIG, NULL,
                                    "pseudonym secret has %zu bytes, too "
                                    "short; configure a random secret of at "
                                    "least %d bytes (32 recommended)",
                                    secret == NULL ? (size_t)0 : len,
                                    MA_PSEUDONYM_SECRET_MIN);
        /* HMAC() takes the key length as int. */
        if (len > 4096)
                return ma_error_set(err, MA_ERR_CONFIG, NULL,
                                    "pseudonym secret has %zu bytes; the "
                                    "maximum is 4096",
                                    len);
        ma_pseudonym_key_t *key = ma_malloc(sizeof(*key) + len);
        if (key == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory creating the pseudonym "
                                    "key");
        key->len = len;
        memcpy(key->secret, secret, len);
        *key_out = key;
        return MA_OK;
}

void ma_pseudonym_key_free(ma_pseudonym_key_t *key)
{
        if (key == NULL)
                return;
        OPENSSL_cleanse(key->secret, key->len);
        ma_free(key);
}

static void ma_hex_encode(const unsigned char *bytes, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 0x0F];
        }
        out[2 * len] = '\0';
}

/* HMAC over the parts joined with ':'; NULL parts are left out. */
static ma_status_t ma_pseudonym_compute(const ma_pseudonym_key_t *key,
                                        const char *const *parts, size_t count,
                                        char out[MA_PSEUDONYM_HEX_LEN + 1])
{
        size_t total = 0;
        for (size_t i = 0; i < count; i++)
                total += parts[i] == NULL ? 0 : strlen(parts[i]) + 1;
        char *message = ma_malloc(total + 1);
        if (message == NULL)
                return MA_ERR_NOMEM;
        size_t len = 0;
        for (size_t i = 0; i < count; i++) {
                if (parts[i] == NULL)
                        continue;
                if (len > 0)
                        message[len++] = ':';
                size_t n = strlen(parts[i]);
                memcpy(message + len, parts[i], n);
                len += n;
        }
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        unsigned char *result =
                HMAC(EVP_sha256(), key->secret, (int)key->len,
                     (const unsigned char *)message, len, mac, &mac_len);
        OPENSSL_cleanse(message, len);
        ma_free(message);
        if (result == NULL || mac_len < MA_PSEUDONYM_HEX_LEN / 2)
                return MA_ERR_INTERNAL;
        ma_hex_encode(mac, MA_PSEUDONYM_HEX_LEN / 2, out);
        OPENSSL_cleanse(mac, sizeof(mac));
        return MA_OK;
}

ma_status_t ma_pseudonym_customer(const ma_pseudonym_key_t *key,
                                  ma_kund_typ_t typ, const char *identifierare,
                                  const char *tillagg,
                                  char out[MA_PSEUDONYM_HEX_LEN + 1])
{
        if (identifierare == NULL)
                return MA_ERR_INVALID;
        const char *parts[] = {ma_kund_typ_name(typ), identifierare, tillagg};
        return ma_pseudonym_compute(key, parts, 3, out);
}

ma_status_t ma_pseudonym_event_key(const ma_pseudonym_key_t *key,
                                   const ma_event_t *event,
                                   char out[MA_PSEUDONYM_HEX_LEN + 1])
{
        const ma_part_t *part = &event->part;
        if (part->has_kund)
                return ma_pseudonym_customer(key, part->kund_typ,
                                             part->kund_identifierare,
                                             part->kund_tillagg, out);
        if (!part->has_arende || part->arende_identifierare == NULL)
                return MA_ERR_INVALID;
        const char *parts[] = {"arende", ma_arende_typ_name(part->arende_typ),
                               part->arende_identifierare};
        return ma_pseudonym_compute(key, parts, 3, out);
}

int ma_secure_equal(const void *a, const void *b, size_t len)
{
        return CRYPTO_memcmp(a, b, len) == 0;
}

void ma_sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char digest[SHA256_DIGEST_LENGTH];
        SHA256(data, len, digest);
        ma_hex_encode(digest, sizeof(digest), out);
}
