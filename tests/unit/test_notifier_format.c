/* Unit tests of ma-notifier's topics, payloads and Mosquitto password
 * hashes (notifier/src/notif_format.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "notifier.h"

static void test_notifier_name_rules(void **state)
{
        assert_true(notif_name_valid("kommun-1_app"));
        assert_true(notif_name_valid("a"));
        assert_false(notif_name_valid(""));
        assert_false(notif_name_valid("-a"));
        assert_false(notif_name_valid("App"));
        assert_false(notif_name_valid("a/b"));
        assert_false(notif_name_valid("a+"));
        assert_false(notif_name_valid("#"));
        /* 63 characters pass, 64 do not. */
        char name[65];
        memset(name, 'a', 64);
        name[63] = '\0';
        assert_true(notif_name_valid(name));
        name[63] = 'a';
        name[64] = '\0';
        assert_false(notif_name_valid(name));
}

static void test_notifier_topic(void **state)
{
        char buf[128];
        ma_error_t err;

        assert_int_equal(notif_topic_format("kommun-1", "0b6d-11", buf,
                                            sizeof(buf), &err),
                         MA_OK);
        assert_string_equal(buf, "ma/v1/kommun-1/aviseringar/0b6d-11");
        assert_int_equal(notif_topic_format("a/b", "x", buf, sizeof(buf), &err),
                         MA_ERR_INVALID);
        assert_int_equal(notif_topic_format("a", "x/#", buf, sizeof(buf), &err),
                         MA_ERR_INVALID);
        assert_int_equal(notif_topic_format("a", "x", buf, 10, &err),
                         MA_ERR_TOO_LARGE);
}

static notif_message_t notifier_sample(void)
{
        notif_message_t m;

        memset(&m, 0, sizeof(m));
        m.notification_id = "6f0c1b1e-0c5a-4d4e-9b55-1d2f3a4b5c6d";
        m.subscription_id = "1a2b3c4d-0000-4000-8000-000000000001";
        m.consumer_id = "kommun-1";
        m.reason = "reminder";
        m.kind = "expiring";
        m.reminder_days = 7;
        m.producent_organisationsnummer = "2021005489";
        m.producent = "Skatteverket";
        m.kundhandelse_id = "abc/1 ä";
        m.kundhandelse_typ = "skv.pass.giltighet";
        m.rubrik = "Ditt pass går ut";
        m.tidpunkt = "2026-12-01T08:00:00.000Z";
        m.giltig_till = "2027-01-15";
        m.created_at = "2026-12-01T08:00:01.000Z";
        return m;
}

static void test_notifier_payload(void **state)
{
        notif_message_t m = notifier_sample();
        char *text = NULL;
        json_t *root;
        json_error_t jerr;
        ma_error_t err;

        assert_int_equal(notif_payload_build(&m,
                                             "/v1/kundhandelser/{producent}/"
                                             "{kundhandelseId}",
                                             &text, &err),
                         MA_OK);
        root = json_loads(text, 0, &jerr);
        assert_non_null(root);
        assert_string_equal(
                json_string_value(json_object_get(root, "notificationId")),
                m.notification_id);
        assert_string_equal(json_string_value(json_object_get(root, "kind")),
                            "expiring");
        assert_int_equal(
                json_integer_value(json_object_get(root, "reminderDaysBefore")),
                7);
        assert_string_equal(
                json_string_value(json_object_get(root, "giltigTill")),
                "2027-01-15");
        assert_null(json_object_get(root, "atgardSenast"));
        assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(root, "hamta"), "path")),
                            "/v1/kundhandelser/2021005489/abc%2F1%20%C3%A4");
        json_decref(root);
        free(text);

        /* An event notification carries no reminder field. */
        m.reason = "event";
        assert_int_equal(notif_payload_build(&m, "/x", &text, &err), MA_OK);
        root = json_loads(text, 0, &jerr);
        assert_non_null(root);
        assert_null(json_object_get(root, "reminderDaysBefore"));
        json_decref(root);
        free(text);

        m.rubrik = NULL;
        assert_int_equal(notif_payload_build(&m, "/x", &text, &err),
                         MA_ERR_INVALID);
        assert_null(text);
}

static void test_notifier_password_matches_mosquitto_passwd(void **state)
{
        /* Written by mosquitto_passwd -b (Mosquitto 2.0.11) for the
         * password "secret". */
        static const char mosquitto_line[] =
                "$7$101$vnTF/y7qIFTCuTEt$93TXoVZRYrpzDR5ztsTLV43PbbEYocCXHTK8"
                "Es0mZ4vzK9pwe6JGaZHuGxOT8/wPc0Qo4bFP0izLmlddQfx5yg==";

        assert_true(notif_password_verify("secret", mosquitto_line));
        assert_false(notif_password_verify("Secret", mosquitto_line));
        assert_false(notif_password_verify("secret", "$6$abc$def"));
}

static void test_notifier_password_round_trip(void **state)
{
        const unsigned char salt[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        char hash[256];
        ma_error_t err;

        assert_int_equal(notif_password_hash("correct horse", salt,
                                             sizeof(salt), 101, hash,
                                             sizeof(hash), &err),
                         MA_OK);
        assert_memory_equal(hash, "$7$101$AQIDBAUGBwgJCgsM$", 24);
        assert_true(notif_password_verify("correct horse", hash));
        assert_false(notif_password_verify("correct horsf", hash));
        assert_int_equal(notif_password_hash("x", salt, sizeof(salt), 101, hash,
                                             40, &err),
                         MA_ERR_TOO_LARGE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notifier_name_rules),
                cmocka_unit_test(test_notifier_topic),
                cmocka_unit_test(test_notifier_payload),
                cmocka_unit_test(
                        test_notifier_password_matches_mosquitto_passwd),
                cmocka_unit_test(test_notifier_password_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
