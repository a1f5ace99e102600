/*
 * api_jwt.c - user tokens of private consumers: compact JWS (RFC 7515)
 * with JWT claims (RFC 7519), signed HS256, EdDSA (Ed25519) or ES256,
 * verified with OpenSSL.  Only the algorithm registered with the
 * identity-provider key is accepted, so "none" or an HS256 token made with
 * a public key never passes.
 */
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ma/alloc.h"

#define API_JWT_MAX 8192 /* bytes of a token */

static bool api_jwt_fail(char *message, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static bool api_jwt_fail(char *message, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, size, fmt, ap);
        va_end(ap);
        return false;
}

static int api_base64url_value(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

long api_base64url_decode(const char *in, size_t len, unsigned char *out,
                          size_t size)
{
        uint32_t acc = 0;
        int bits = 0;
        size_t n = 0;

        if (len % 4 == 1)
                return -1;
        for (size_t i = 0; i < len; i++) {
                int v = api_base64url_value(in[i]);

                if (v < 0)
                        return -1;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n >= size)
                                return -1;
                        out[n++] = (unsigned char)(acc >> bits);
                }
        }
        /* Leftover bits must be zero in a canonical encoding. */
        if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
                return -1;
        return (long)n;
}

static json_t *api_jwt_decode_json(const char *part, size_t len)
{
        unsigned char *buf = ma_malloc(len + 1);
        json_t *value = NULL;
        long n;

        if (buf == NULL)
                return NULL;
        n = api_base64url_decode(part, len, buf, len);
        if (n >= 0)
                value = json_loadb((const char *)buf, (size_t)n,
                                   JSON_REJECT_DUPLICATES, NULL);
        ma_free(buf);
        if (value != NULL && !json_is_object(value)) {
                json_decref(value);
                value = NULL;
        }
        return value;
}

void api_jwt_clear(api_jwt_t *jwt)
{
        json_decref(jwt->header);
        json_decref(jwt->payload);
        ma_free(jwt->signing_input);
        ma_free(jwt->signature);
        memset(jwt, 0, sizeof(*jwt));
}

bool api_jwt_decode(const char *token, api_jwt_t *jwt, char *message,
                    size_t size)
{
        const char *dot1, *dot2, *sig;
        size_t len = strlen(token);
        long n;

        memset(jwt, 0, sizeof(*jwt));
        if (len > API_JWT_MAX)
                return api_jwt_fail(message, size,
                                    "user token is longer than %d bytes",
                                    API_JWT_MAX);
        dot1 = strchr(token, '.');
        dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
        if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
                return api_jwt_fail(message, size,
                                    "user token is not a compact JWS of three "
                                    "dot-separated parts");
        jwt->header = api_jwt_decode_json(token, (size_t)(dot1 - token));
        jwt->payload = api_jwt_decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
        sig = dot2 + 1;
        jwt->signature = ma_malloc(strlen(sig) + 1);
        jwt->signing_input = ma_strndup(token, (size_t)(dot2 - token));
        if (jwt->header == NULL || jwt->payload == NULL ||
            jwt->signature == NULL || jwt->signing_input == NULL) {
                api_jwt_clear(jwt);
                return api_jwt_fail(message, size,
                                    "user token header or claims are not "
                                    "base64url-encoded JSON objects");
        }
        n = api_base64url_decode(sig, strlen(sig), jwt->signature,
                                 strlen(sig) + 1);
        if (n <= 0) {
                api_jwt_clear(jwt);
                return api_jwt_fail(message, size,
                                    "user token signature is not base64url");
        }
        jwt->signature_len = (size_t)n;
        return true;
}

static bool api_jwt_verify_hs256(const api_jwt_t *jwt, const char *key)
{
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;

        if (HMAC(EVP_sha256(), key, (int)strlen(key),
                 (const unsigned char *)jwt->signing_input,
                 strlen(jwt->signing_input), mac, &mac_len) == NULL)
                return false;
        return mac_len == jwt->signature_len &&
               CRYPTO_memcmp(mac, jwt->signature, mac_len) == 0;
}

/* JWS carries an ES256 signature as r || s (32 bytes each); OpenSSL wants
 * DER.  Returns the DER length in *der_len, owned by the caller. */
static unsigned char *api_jwt_es256_der(const api_jwt_t *jwt, int *der_len)
{
        ECDSA_SIG *ecdsa;
        BIGNUM *r, *s;
        unsigned char *der = NULL;

        if (jwt->signature_len != 64)
                return NULL;
        ecdsa = ECDSA_SIG_new();
        r = BN_bin2bn(jwt->signature, 32, NULL);
        s = BN_bin2bn(jwt->signature + 32, 32, NULL);
        if (ecdsa == NULL || r == NULL || s == NULL ||
            ECDSA_SIG_set0(ecdsa, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                ECDSA_SIG_free(ecdsa);
                return NULL;
        }
        *der_len = i2d_ECDSA_SIG(ecdsa, &der);
        ECDSA_SIG_free(ecdsa);
        return *der_len > 0 ? der : NULL;
}

static bool api_jwt_verify_pkey(const api_jwt_t *jwt, const char *alg,
                                const char *pem)
{
        BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *pkey =
                bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool es256 = strcmp(alg, "ES256") == 0;
        const unsigned char *sig = jwt->signature;
        unsigned char *der = NULL;
        size_t sig_len = jwt->signature_len;
        int der_len = 0;
        bool ok = false;

        if (pkey == NULL || ctx == NULL)
                goto done;
        if (es256 ? EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC
                  : EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
                goto done;
        if (es256) {
                der = api_jwt_es256_der(jwt, &der_len);
                if (der == NULL)
                        goto done;
                sig = der;
                sig_len = (size_t)der_len;
        }
        if (EVP_DigestVerifyInit(ctx, NULL, es256 ? EVP_sha256() : NULL, NULL,
                                 pkey) != 1)
                goto done;
        ok = EVP_DigestVerify(ctx, sig, sig_len,
                              (const unsigned char *)jwt->signing_input,
                              strlen(jwt->signing_input)) == 1;
done:
        OPENSSL_free(der);
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(pkey);
        BIO_free(bio);
        return ok;
}

bool api_jwt_verify_signature(const api_jwt_t *jwt, const char *alg,
                              const char *key, char *message, size_t size)
{
        const char *header_alg =
                json_string_value(json_object_get(jwt->header, "alg"));
        bool ok;

        if (header_alg == NULL || strcmp(header_alg, alg) != 0)
                return api_jwt_fail(message, size,
                                    "user token alg \"%.16s\" does not match "
                                    "the identity provider's key (%s)",
                                    header_alg ? header_alg : "", alg);
        if (strcmp(alg, "HS256") == 0)
                ok = api_jwt_verify_hs256(jwt, key);
        else
                ok = api_jwt_verify_pkey(jwt, alg, key);
        if (!ok)
                return api_jwt_fail(message, size,
                                    "user token signature is invalid");
        return true;
}

static bool api_jwt_time(const api_jwt_t *jwt, const char *claim, int64_t *out)
{
        json_t *value = json_object_get(jwt->payload, claim);

        if (!json_is_integer(value))
                return false;
        *out = json_integer_value(value);
        return true;
}

/* Tells whether the aud claim, a string or an array of them, names
 * audience. */
static bool api_jwt_audience_has(const api_jwt_t *jwt, const char *audience)
{
        json_t *aud = json_object_get(jwt->payload, "aud");
        size_t i;
        json_t *item;

        if (json_is_string(aud))
                return strcmp(json_string_value(aud), audience) == 0;
        json_array_foreach(aud, i, item)
        {
                if (json_is_string(item) &&
                    strcmp(json_string_value(item), audience) == 0)
                        return true;
        }
        return false;
}

bool api_jwt_check_claims(const api_jwt_t *jwt, const char *issuer,
                          const char *subject, const char *audience,
                          int64_t now_s, int64_t leeway_s,
                          int64_t max_lifetime_s, char *message, size_t size)
{
        const char *iss =
                json_string_value(json_object_get(jwt->payload, "iss"));
        const char *sub =
                json_string_value(json_object_get(jwt->payload, "sub"));
        int64_t exp, iat, nbf;

        if (iss == NULL || strcmp(iss, issuer) != 0)
                return api_jwt_fail(message, size,
                                    "user token issuer does not match the "
                                    "identity provider of its key");
        if (sub == NULL || strcmp(sub, subject) != 0)
                return api_jwt_fail(message, size,
                                    "user token subject is not the anvandare "
                                    "of the request");
        if (!api_jwt_audience_has(jwt, audience))
                return api_jwt_fail(message, size,
                                    "user token audience (aud) does not name "
                                    "the consumer \"%s\"; the identity "
                                    "provider must issue the token for this "
                                    "consumer",
                                    audience);
        if (!api_jwt_time(jwt, "exp", &exp) || !api_jwt_time(jwt, "iat", &iat))
                return api_jwt_fail(message, size,
                                    "user token needs integer exp and iat "
                                    "claims");
        if (exp <= now_s - leeway_s)
                return api_jwt_fail(message, size, "user token has expired");
        if (iat > now_s + leeway_s ||
            (api_jwt_time(jwt, "nbf", &nbf) && nbf > now_s + leeway_s))
                return api_jwt_fail(message, size,
                                    "user token is not valid yet");
        if (exp - iat > max_lifetime_s)
                return api_jwt_fail(message, size,
                                    "user token lifetime of %lld s exceeds "
                                    "the maximum of %lld s",
                                    (long long)(exp - iat),
                                    (long long)max_lifetime_s);
        return true;
}
