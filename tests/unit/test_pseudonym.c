/*
 * Unit tests of pseudonym.c: HMAC-SHA-256 pseudonyms, constant-time
 * comparison and SHA-256.  Expected values come from RFC 4231 and
 * FIPS 180-2 test vectors, and from OpenSSL's HMAC() over the documented
 * message so that a change of the message format fails here.  The
 * personnummer 198001011231 is generated with a valid Luhn digit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ma/alloc.h"
#include "ma/pseudonym.h"

static const char secret[] = "0123456789abcdef0123456789abcdef";

/* Hex of the first 16 bytes of HMAC-SHA-256(secret, message). */
static void reference(const char *message, char out[33])
{
        unsigned char mac[32];
        unsigned int len;
        HMAC(EVP_sha256(), secret, (int)strlen(secret),
             (const unsigned char *)message, strlen(message), mac, &len);
        for (int i = 0; i < 16; i++)
                snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void key_needs_16_bytes(void **state)
{
        (void)state;
        ma_pseudonym_key_t *key;
        ma_error_t err;
        assert_int_equal(ma_pseudonym_key_new("tiny!", 5, &key, &err),
                         MA_ERR_CONFIG);
        assert_null(key);
        assert_non_null(strstr(err.message, "at least 16 bytes"));
        assert_null(strstr(err.message, "tiny!"));
        assert_int_equal(ma_pseudonym_key_new(secret, 15, &key, &err),
                         MA_ERR_CONFIG);
        assert_int_equal(ma_pseudonym_key_new(secret, 16, &key, &err), MA_OK);
        ma_pseudonym_key_free(key);
        ma_pseudonym_key_free(NULL);
}

static void customer_matches_reference(void **state)
{
        (void)state;
        ma_pseudonym_key_t *key;
        assert_int_equal(
                ma_pseudonym_key_new(secret, strlen(secret), &key, NULL),
                MA_OK);
        char out[MA_PSEUDONYM_HEX_LEN + 1];
        char expected[33];
        assert_int_equal(ma_pseudonym_customer(key, MA_KUND_PERSONNUMMER,
                                               "198001011231", NULL, out),
                         MA_OK);
        reference("Personnummer:198001011231", expected);
        assert_string_equal(out, expected);
        assert_int_equal(strlen(out), 32);

        assert_int_equal(ma_pseudonym_customer(key, MA_KUND_PERSONNUMMER,
                                               "198001011231", "2", out),
                         MA_OK);
        reference("Personnummer:198001011231:2", expected);
        assert_string_equal(out, expected);

        /* The kind is part of the message. */
        char other[MA_PSEUDONYM_HEX_LEN + 1];
        ma_pseudonym_customer(key, MA_KUND_SAMORDNINGSNUMMER, "198001011231",
                              NULL, other);
        assert_string_not_equal(other, out);
        assert_int_equal(ma_pseudonym_customer(key, MA_KUND_PERSONNUMMER, NULL,
                                               NULL, out),
                         MA_ERR_INVALID);
        ma_pseudonym_key_free(key);
}

static void key_changes_pseudonym(void **state)
{
        (void)state;
        ma_pseudonym_key_t *a, *b;
        ma_pseudonym_key_new(secret, 32, &a, NULL);
        ma_pseudonym_key_new("fedcba9876543210fedcba9876543210", 32, &b, NULL);
        char pa[33], pb[33];
        ma_pseudonym_customer(a, MA_KUND_PERSONNUMMER, "198001011231", NULL,
                              pa);
        ma_pseudonym_customer(b, MA_KUND_PERSONNUMMER, "198001011231", NULL,
                              pb);
        assert_string_not_equal(pa, pb);
        ma_pseudonym_key_free(a);
        ma_pseudonym_key_free(b);
}

static void event_key_by_part(void **state)
{
        (void)state;
        ma_pseudonym_key_t *key;
        ma_pseudonym_key_new(secret, strlen(secret), &key, NULL);
        ma_event_t event;
        ma_event_init(&event);
        event.part.has_arende = true;
        event.part.arende_typ = MA_ARENDE_DIARIENUMMER;
        event.part.arende_identifierare = ma_strdup("BN 2026/17");
        char out[33], expected[33];
        assert_int_equal(ma_pseudonym_event_key(key, &event, out), MA_OK);
        reference("arende:Diarienummer:BN 2026/17", expected);
        assert_string_equal(out, expected);

        event.part.has_kund = true;
        event.part.kund_typ = MA_KUND_ORGANISATIONSNUMMER;
        event.part.kund_identifierare = ma_strdup("162021005448");
        assert_int_equal(ma_pseudonym_event_key(key, &event, out), MA_OK);
        reference("Organisationsnummer:162021005448", expected);
        assert_string_equal(out, expected);

        event.part.has_kund = false;
        event.part.has_arende = false;
        assert_int_equal(ma_pseudonym_event_key(key, &event, out),
                         MA_ERR_INVALID);
        ma_event_clear(&event);
        ma_pseudonym_key_free(key);
}

static void secure_equal_compares(void **state)
{
        (void)state;
        assert_true(ma_secure_equal("abcdef", "abcdef", 6));
        assert_false(ma_secure_equal("abcdef", "abcdeg", 6));
        assert_false(ma_secure_equal("xbcdef", "abcdef", 6));
        assert_true(ma_secure_equal("abc", "abd", 2));
        assert_true(ma_secure_equal("", "", 0));
}

static void sha256_vectors(void **state)
{
        (void)state;
        char out[65];
        ma_sha256_hex("abc", 3, out);
        assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223"
                                 "b00361a396177a9cb410ff61f20015ad");
        ma_sha256_hex("", 0, out);
        assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb924"
                                 "27ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 test case 2 checks that HMAC() is used as specified. */
static void hmac_rfc4231_case_2(void **state)
{
        (void)state;
        unsigned char mac[32];
        unsigned int len;
        const char *data = "what do ya want for nothing?";
        HMAC(EVP_sha256(), "Jefe", 4, (const unsigned char *)data, strlen(data),
             mac, &len);
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
                                 "5a003f089d2739839dec58b964ec3843");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(key_needs_16_bytes),
                cmocka_unit_test(customer_matches_reference),
                cmocka_unit_test(key_changes_pseudonym),
                cmocka_unit_test(event_key_by_part),
                cmocka_unit_test(secure_equal_compares),
                cmocka_unit_test(sha256_vectors),
                cmocka_unit_test(hmac_rfc4231_case_2),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
