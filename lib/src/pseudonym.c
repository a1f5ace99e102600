/*
 * pseudonym.c - keyed pseudonyms (HMAC-SHA-256 with OpenSSL's libcrypto).
 *
 * The message hashed is typ ":" identifierare [":" tillagg] with typ in the
 * standard's spelling ("Personnummer"), so the same number under two kinds
 * gives two pseudonyms.  The key copy is wiped with OPENSSL_cleanse() when
 * freed.  Each key contains an HMAC context keyed once, and a pseudonym is
 * computed on a copy of it, so no call hashes the secret again or looks up
 * the algorithms.  One used copy is kept for the next call (taken and given
 * back atomically), so keys stay shareable between threads.
 */
#include "ma/pseudonym.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <string.h>

#include "ma/alloc.h"

#define MA_PSEUDONYM_SECRET_MIN 16

/*
 * One used context kept for the next call, so most calls allocate none.  It
 * lives apart from the key because calls get the key as const.
 */
typedef struct ma_pseudonym_spare {
        _Atomic(EVP_MAC_CTX *) ctx;
} ma_pseudonym_spare_t;

struct ma_pseudonym_key {
        EVP_MAC_CTX *hmac; /* keyed and initialised; never updated */
        ma_pseudonym_spare_t *spare;
        size_t len;
        unsigned char secret[];
};

/* A context ready for data: HMAC-SHA-256 keyed with the secret. */
static EVP_MAC_CTX *ma_pseudonym_hmac_new(const unsigned char *secret,
                                          size_t len)
{
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest,
                                                 0),
                OSSL_PARAM_construct_end(),
        };
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;

        EVP_MAC_free(mac); /* the context keeps its own reference */
        if (ctx != NULL && EVP_MAC_init(ctx, secret, len, params) != 1) {
                EVP_MAC_CTX_free(ctx);
                ctx = NULL;
        }
        return ctx;
}

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
        /* Limits what configuration can make the key copy.  HMAC hashes
         * keys longer than 64 bytes first, so longer secrets add no
         * strength. */
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
        key->hmac = ma_pseudonym_hmac_new(key->secret, len);
        key->spare = ma_calloc(1, sizeof(*key->spare));
        if (key->spare == NULL) {
                ma_pseudonym_key_free(key);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory creating the pseudonym "
                                    "key");
        }
        atomic_init(&key->spare->ctx, NULL);
        if (key->hmac == NULL) {
                ma_pseudonym_key_free(key);
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not create the pseudonym key: "
                                    "OpenSSL has no usable HMAC-SHA-256; "
                                    "check the OpenSSL installation");
        }
        *key_out = key;
        return MA_OK;
}

void ma_pseudonym_key_free(ma_pseudonym_key_t *key)
{
        if (key == NULL)
                return;
        EVP_MAC_CTX_free(key->hmac);
        if (key->spare != NULL)
                EVP_MAC_CTX_free(atomic_load(&key->spare->ctx));
        ma_free(key->spare);
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

/*
 * Returns a context ready for data: the spare, reset to the keyed state
 * (EVP_MAC_init() without a key keeps the key), or a copy of the template.
 * NULL when out of memory.
 */
static EVP_MAC_CTX *ma_pseudonym_ctx_take(const ma_pseudonym_key_t *key)
{
        EVP_MAC_CTX *ctx = atomic_exchange(&key->spare->ctx, NULL);

        if (ctx == NULL)
                return EVP_MAC_CTX_dup(key->hmac);
        if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) {
                EVP_MAC_CTX_free(ctx);
                return EVP_MAC_CTX_dup(key->hmac);
        }
        return ctx;
}

/* Keeps ctx as the spare unless another thread already left one. */
static void ma_pseudonym_ctx_give(const ma_pseudonym_key_t *key,
                                  EVP_MAC_CTX *ctx)
{
        EVP_MAC_CTX *expected = NULL;

        if (ctx != NULL &&
            !atomic_compare_exchange_strong(&key->spare->ctx, &expected, ctx))
                EVP_MAC_CTX_free(ctx);
}

/* HMAC over the parts joined with ':'; NULL parts are left out. */
static ma_status_t ma_pseudonym_compute(const ma_pseudonym_key_t *key,
                                        const char *const *parts, size_t count,
                                        char out[MA_PSEUDONYM_HEX_LEN + 1])
{
        EVP_MAC_CTX *ctx = ma_pseudonym_ctx_take(key);
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t mac_len = 0;
        size_t fed = 0; /* bytes hashed so far */
        int ok = ctx != NULL;

        /* Fed part by part, so there is no joined copy of the identity
         * number.  A ':' goes only after non-empty output. */
        for (size_t i = 0; ok && i < count; i++) {
                if (parts[i] == NULL)
                        continue;
                size_t n = strlen(parts[i]);

                if (fed > 0) {
                        ok = EVP_MAC_update(ctx, (const unsigned char *)":", 1);
                        fed++;
                }
                if (ok)
                        ok = EVP_MAC_update(ctx,
                                            (const unsigned char *)parts[i], n);
                fed += n;
        }
        if (ok)
                ok = EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac));
        ma_pseudonym_ctx_give(key, ctx);
        if (ctx == NULL)
                return MA_ERR_NOMEM;
        if (!ok || mac_len < MA_PSEUDONYM_HEX_LEN / 2)
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
