/*
 * Unit tests of catalog.c: the demo catalog and one broken catalog per
 * validation rule.  Broken catalogs are made by editing a small valid one
 * with jansson, so each case changes exactly one thing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/validate.h"

#define DEMO_CATALOG MA_TEST_SCHEMA_DIR "/catalog.json"

/* ---- The demo catalog ---- */

static void demo_loads(void **state)
{
        (void)state;
        ma_catalog_t *catalog;
        ma_error_t err;
        long live = ma_alloc_live();
        if (ma_catalog_load(DEMO_CATALOG, &catalog, &err) != MA_OK)
                fail_msg("%s", err.message);
        assert_int_equal(ma_catalog_producer_count(catalog), 5);
        assert_null(ma_catalog_producer_at(catalog, 5));
        for (size_t i = 0; i < ma_catalog_producer_count(catalog); i++) {
                const ma_producer_t *p = ma_catalog_producer_at(catalog, i);
                assert_int_equal(ma_validate_organisationsnummer(
                                         p->organisationsnummer, &err),
                                 MA_OK);
                assert_ptr_equal(ma_catalog_find_producer(
                                         catalog, p->organisationsnummer),
                                 p);
                assert_ptr_equal(ma_catalog_find_prefix(catalog, p->prefix), p);
                for (size_t k = 0; k < p->process_count; k++) {
                        const ma_process_t *r = &p->processes[k];
                        assert_ptr_equal(r->producer, p);
                        for (size_t t = 0; t < r->event_type_count; t++) {
                                const ma_event_type_t *type =
                                        &r->event_types[t];
                                assert_ptr_equal(type->process, r);
                                assert_ptr_equal(ma_catalog_find_type(
                                                         catalog, type->name),
                                                 type);
                                assert_non_null(
                                        type->authorisation_object_type);
                        }
                }
        }
        ma_catalog_free(catalog);
        assert_int_equal(ma_alloc_live(), live);
}

static void demo_lookups(void **state)
{
        (void)state;
        ma_catalog_t *catalog;
        ma_error_t err;
        assert_int_equal(ma_catalog_load(DEMO_CATALOG, &catalog, &err), MA_OK);
        const ma_producer_t *skv =
                ma_catalog_find_producer(catalog, "2021005448");
        assert_non_null(skv);
        assert_string_equal(skv->name, "Skatteverket");
        assert_string_equal(skv->prefix, "SKV");
        assert_int_equal(skv->kind, MA_PRODUCER_AGENCY);
        const ma_producer_t *exk = ma_catalog_find_prefix(catalog, "EXK");
        assert_non_null(exk);
        assert_int_equal(exk->kind, MA_PRODUCER_MUNICIPALITY);
        assert_string_equal(exk->name, "Exempelstads kommun");
        assert_non_null(ma_catalog_find_prefix(catalog, "POL"));
        assert_non_null(ma_catalog_find_prefix(catalog, "AF"));
        const ma_producer_t *region = ma_catalog_find_prefix(catalog, "EXR");
        assert_non_null(region);
        assert_int_equal(region->kind, MA_PRODUCER_REGION);

        const ma_event_type_t *lov =
                ma_catalog_find_type(catalog, "EXK.BYGGLOV.LOV_UPPHOR");
        assert_non_null(lov);
        assert_int_equal(lov->notification, MA_NOTIFY_EXPIRING);
        assert_int_equal(lov->reminder_count, 2);
        assert_int_equal(lov->reminder_days[0], 30);
        assert_int_equal(lov->reminder_days[1], 7);
        assert_string_equal(lov->authorisation_object_type, "BYGGLOV");
        assert_ptr_equal(lov->process->producer, exk);

        const ma_event_type_t *bot =
                ma_catalog_find_type(catalog, "POL.TRAFIKBOT.BOT_UTFARDAD");
        assert_non_null(bot);
        assert_true(bot->customer_has_ball);
        assert_false(bot->case_finished);
        assert_int_equal(bot->notification, MA_NOTIFY_ACTION_REQUIRED);
        const ma_event_type_t *decision = ma_catalog_find_type(
                catalog, "SKV.ARBETSGIVARREGISTRERING.BESLUT_FATTAT");
        assert_non_null(decision);
        assert_true(decision->case_finished);
        assert_int_equal(decision->notification, MA_NOTIFY_DECISION);
        assert_string_equal(decision->authorisation_object_type,
                            "SKATT_ARBETSGIVARE");
        const ma_event_type_t *pass =
                ma_catalog_find_type(catalog, "POL.PASS.PASS_UPPHOR");
        assert_non_null(pass);
        assert_int_equal(pass->retention_days, 3650);

        assert_null(ma_catalog_find_type(catalog, "SKV.FSKATT.OKAND"));
        assert_null(ma_catalog_find_type(catalog, NULL));
        assert_null(ma_catalog_find_producer(catalog, "5560001231"));
        assert_null(ma_catalog_find_prefix(catalog, "XYZ"));
        ma_catalog_free(catalog);
}

static void kind_names(void **state)
{
        (void)state;
        assert_string_equal(ma_notification_kind_name(MA_NOTIFY_NONE), "none");
        assert_string_equal(ma_notification_kind_name(MA_NOTIFY_SERVICE),
                            "service");
        assert_string_equal(
                ma_notification_kind_name(MA_NOTIFY_ACTION_REQUIRED),
                "action_required");
        assert_string_equal(
                ma_notification_kind_name((ma_notification_kind_t)42),
                "unknown");
        assert_string_equal(ma_producer_kind_name(MA_PRODUCER_REGION),
                            "region");
}

/* ---- Broken catalogs ---- */

static const char *const base_catalog =
        "{\"version\": 1, \"producers\": ["
        " {\"organisationsnummer\": \"2021005448\", \"name\": \"Skatteverket\","
        "  \"prefix\": \"SKV\", \"kind\": \"agency\", \"retention_days\": 730,"
        "  \"processes\": [{\"name\": \"FSKATT\", \"description\": \"F-skatt\","
        "   \"authorisation_object_type\": \"SKATT_FSKATT\","
        "   \"event_types\": ["
        "    {\"name\": \"SKV.FSKATT.ANSOKAN_MOTTAGEN\", \"description\": "
        "\"a\","
        "     \"customer_has_ball\": false, \"case_finished\": false,"
        "     \"notification\": \"none\"},"
        "    {\"name\": \"SKV.FSKATT.KOMPLETTERING\", \"description\": \"b\","
        "     \"customer_has_ball\": true, \"case_finished\": false,"
        "     \"notification\": \"action_required\","
        "     \"reminder_days_before\": [7, 1]}]}]},"
        " {\"organisationsnummer\": \"2021002114\","
        "  \"name\": \"Arbetsförmedlingen\", \"prefix\": \"AF\","
        "  \"kind\": \"agency\", \"retention_days\": 365,"
        "  \"processes\": [{\"name\": \"STOD\", \"description\": \"Stöd\","
        "   \"event_types\": ["
        "    {\"name\": \"AF.STOD.BESLUT\", \"description\": \"c\","
        "     \"customer_has_ball\": false, \"case_finished\": true,"
        "     \"notification\": \"decision\","
        "     \"authorisation_object_type\": \"STOD\"}]}]}]}";

/* Returns the member at a path like "producers/0/processes/0". */
static json_t *at(json_t *root, const char *path)
{
        char copy[200];
        snprintf(copy, sizeof(copy), "%s", path);
        json_t *node = root;
        char *save = NULL;
        for (char *part = strtok_r(copy, "/", &save); part && node;
             part = strtok_r(NULL, "/", &save)) {
                if (json_is_array(node))
                        node = json_array_get(node, strtoul(part, NULL, 10));
                else
                        node = json_object_get(node, part);
        }
        if (node == NULL)
                fail_msg("no JSON node at %s", path);
        return node;
}

/*
 * Sets key of the object at path to value (parsed JSON; NULL deletes the
 * key), loads the result and checks the status, err->field and a message
 * fragment.
 */
static void expect_broken(const char *path, const char *key, const char *value,
                          ma_status_t status, const char *field,
                          const char *part)
{
        json_t *root = json_loads(base_catalog, 0, NULL);
        assert_non_null(root);
        json_t *target = path[0] ? at(root, path) : root;
        if (value == NULL)
                json_object_del(target, key);
        else
                json_object_set_new(target, key,
                                    json_loads(value, JSON_DECODE_ANY, NULL));
        char *text = json_dumps(root, 0);
        json_decref(root);
        ma_catalog_t *catalog = NULL;
        ma_error_t err;
        long live = ma_alloc_live();
        ma_status_t st =
                ma_catalog_load_string(text, "test.json", &catalog, &err);
        free(text);
        if (st != status)
                fail_msg("%s.%s=%s: status %d, expected %d (%s)", path, key,
                         value ? value : "(deleted)", st, status,
                         st == MA_OK ? "" : err.message);
        assert_null(catalog);
        assert_int_equal(ma_alloc_live(), live);
        /* err.field has room for 63 bytes; the message has the whole path. */
        if (strncmp(err.field, field, sizeof(err.field) - 1) != 0)
                fail_msg("field \"%s\", expected \"%s\" (%s)", err.field, field,
                         err.message);
        if (strstr(err.message, field) == NULL)
                fail_msg("message \"%s\" lacks the path \"%s\"", err.message,
                         field);
        if (strstr(err.message, part) == NULL)
                fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
        if (strncmp(err.message, "test.json: ", 11) != 0)
                fail_msg("message \"%s\" does not start with the file name",
                         err.message);
}

#define P0 "producers/0"
#define T0 "producers/0/processes/0/event_types/0"
#define T1 "producers/0/processes/0/event_types/1"

static void base_catalog_is_valid(void **state)
{
        (void)state;
        ma_catalog_t *catalog;
        ma_error_t err;
        if (ma_catalog_load_string(base_catalog, "base", &catalog, &err) !=
            MA_OK)
                fail_msg("%s", err.message);
        const ma_event_type_t *type =
                ma_catalog_find_type(catalog, "AF.STOD.BESLUT");
        assert_non_null(type);
        assert_string_equal(type->authorisation_object_type, "STOD");
        assert_int_equal(type->retention_days, 0);
        ma_catalog_free(catalog);
}

static void broken_root(void **state)
{
        (void)state;
        expect_broken("", "version", "2", MA_ERR_INVALID, "version",
                      "catalog format version 1");
        expect_broken("", "version", NULL, MA_ERR_INVALID, "version",
                      "missing");
        expect_broken("", "producer", "[]", MA_ERR_INVALID, "$",
                      "unknown key \"producer\"");
        expect_broken("", "producers", "[]", MA_ERR_INVALID, "producers",
                      "non-empty array");
        expect_broken("", "producers", "[1]", MA_ERR_INVALID, "producers[0]",
                      "not a JSON object");
}

static void broken_producer(void **state)
{
        (void)state;
        expect_broken(P0, "organisationsnummer", "\"2021005449\"",
                      MA_ERR_INVALID, "producers[0].organisationsnummer",
                      "\"2021005449\"; expected 10 digits");
        expect_broken(P0, "organisationsnummer", "\"162021005448\"",
                      MA_ERR_INVALID, "producers[0].organisationsnummer",
                      "expected 10 digits");
        expect_broken(P0, "organisationsnummer", "2021005448", MA_ERR_INVALID,
                      "producers[0].organisationsnummer", "non-empty string");
        expect_broken(P0, "organisationsnummer", "\"2021002114\"",
                      MA_ERR_INVALID, "producers[1].organisationsnummer",
                      "already used by producers[0]");
        expect_broken(P0, "prefix", "\"Skv\"", MA_ERR_INVALID,
                      "producers[0].prefix", "upper-case letters");
        expect_broken(P0, "prefix", "\"SK1\"", MA_ERR_INVALID,
                      "producers[0].prefix", "upper-case letters");
        expect_broken(P0, "prefix", "\"\"", MA_ERR_INVALID,
                      "producers[0].prefix", "non-empty string");
        expect_broken(P0, "kind", "\"state\"", MA_ERR_INVALID,
                      "producers[0].kind",
                      "\"state\"; expected one of agency, municipality, "
                      "region");
        expect_broken(P0, "name", NULL, MA_ERR_INVALID, "producers[0].name",
                      "missing");
        expect_broken(P0, "retention_days", "-1", MA_ERR_INVALID,
                      "producers[0].retention_days",
                      "invalid value -1; expected an integer from 1");
        expect_broken(P0, "retention_days", "\"730\"", MA_ERR_INVALID,
                      "producers[0].retention_days", "a JSON string");
        expect_broken(P0, "retention_days", NULL, MA_ERR_INVALID,
                      "producers[0].retention_days", "missing");
        expect_broken(P0, "processes", "[]", MA_ERR_INVALID,
                      "producers[0].processes", "non-empty array");
        expect_broken(P0, "prefx", "\"SKV\"", MA_ERR_INVALID, "producers[0]",
                      "unknown key \"prefx\"");
}

static void broken_process(void **state)
{
        (void)state;
        expect_broken(P0 "/processes/0", "name", "\"F-SKATT\"", MA_ERR_INVALID,
                      "producers[0].processes[0].name",
                      "invalid process name \"F-SKATT\"");
        expect_broken(P0 "/processes/0", "name", "\"FÖRSKATT\"", MA_ERR_INVALID,
                      "producers[0].processes[0].name", "no å, ä or ö");
        expect_broken(P0 "/processes/0", "authorisation_object_type", NULL,
                      MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0]."
                      "authorisation_object_type",
                      "missing");
        expect_broken(P0 "/processes/0", "event_types", "{}", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types",
                      "non-empty array");
        expect_broken(P0 "/processes/0", "description", NULL, MA_ERR_INVALID,
                      "producers[0].processes[0].description", "missing");
}

static void broken_event_type(void **state)
{
        (void)state;
        const char *name_field =
                "producers[0].processes[0].event_types[0].name";
        expect_broken(T0, "name", "\"SKV.FSKATT.ansokan\"", MA_ERR_INVALID,
                      name_field, "not allowed in a segment");
        expect_broken(T0, "name", "\"SKV.FSKATT\"", MA_ERR_INVALID, name_field,
                      "2 segments");
        expect_broken(T0, "name", "\"AF.FSKATT.ANSOKAN\"", MA_ERR_INVALID,
                      name_field,
                      "\"AF.FSKATT.ANSOKAN\" does not start with "
                      "\"SKV.FSKATT.\"");
        expect_broken(T0, "name", "\"SKV.FSKATTX.ANSOKAN\"", MA_ERR_INVALID,
                      name_field, "does not start with \"SKV.FSKATT.\"");
        expect_broken(T0, "name", "\"SKV.FSKATT.KOMPLETTERING\"",
                      MA_ERR_INVALID, "producers[0].processes[0].event_types",
                      "\"SKV.FSKATT.KOMPLETTERING\" appears twice");
        expect_broken(T0, "notification", "\"email\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0].notification",
                      "expected one of none, decision, action_required, "
                      "expiring, service");
        expect_broken(T0, "notification", "\"expiring\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0].notification",
                      "needs reminders");
        expect_broken(T0, "notification", "\"action_required\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0].notification",
                      "customer_has_ball true");
        expect_broken(T0, "reminder_days_before", "[3]", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0].notification",
                      "\"none\" cannot have reminders");
        expect_broken(T0, "customer_has_ball", "\"no\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0]."
                      "customer_has_ball",
                      "not a boolean");
        expect_broken(T0, "case_finished", NULL, MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0]."
                      "case_finished",
                      "missing");
        expect_broken(T0, "description", "\"\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0].description",
                      "non-empty string");
        expect_broken(T0, "retention_days", "-5", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0]."
                      "retention_days",
                      "from 0 to 36500");
        expect_broken(T0, "color", "\"red\"", MA_ERR_INVALID,
                      "producers[0].processes[0].event_types[0]",
                      "unknown key \"color\"");
}

static void broken_reminders(void **state)
{
        (void)state;
        const char *field = "producers[0].processes[0].event_types[1]."
                            "reminder_days_before";
        char item[200];
        expect_broken(T1, "reminder_days_before", "[1, 7]", MA_ERR_INVALID,
                      (snprintf(item, sizeof(item), "%s[1]", field), item),
                      "strictly descending");
        expect_broken(T1, "reminder_days_before", "[7, 7]", MA_ERR_INVALID,
                      item, "strictly descending");
        expect_broken(T1, "reminder_days_before", "[7, 0]", MA_ERR_INVALID,
                      item, "from 1 to 3650");
        expect_broken(T1, "reminder_days_before", "[7, \"1\"]", MA_ERR_INVALID,
                      item, "whole number of days");
        expect_broken(T1, "reminder_days_before", "[9, 8, 7, 6, 5, 4, 3, 2, 1]",
                      MA_ERR_INVALID, field, "9 reminders; the maximum is 8");
        expect_broken(T1, "reminder_days_before", "7", MA_ERR_INVALID, field,
                      "not an array");
        /* Eight reminders are allowed. */
        json_t *root = json_loads(base_catalog, 0, NULL);
        json_object_set_new(at(root, T1), "reminder_days_before",
                            json_loads("[8, 7, 6, 5, 4, 3, 2, 1]", 0, NULL));
        char *text = json_dumps(root, 0);
        json_decref(root);
        ma_catalog_t *catalog;
        ma_error_t err;
        assert_int_equal(ma_catalog_load_string(text, "t", &catalog, &err),
                         MA_OK);
        free(text);
        assert_int_equal(
                ma_catalog_find_type(catalog, "SKV.FSKATT.KOMPLETTERING")
                        ->reminder_count,
                8);
        ma_catalog_free(catalog);
}

static void broken_files(void **state)
{
        (void)state;
        ma_catalog_t *catalog;
        ma_error_t err;
        assert_int_equal(ma_catalog_load(MA_TEST_DATA_DIR
                                         "/catalog/bad_syntax.json",
                                         &catalog, &err),
                         MA_ERR_PARSE);
        assert_null(catalog);
        assert_non_null(strstr(err.message, "bad_syntax.json:4:"));
        assert_int_equal(ma_catalog_load(MA_TEST_DATA_DIR
                                         "/catalog/duplicate_prefix.json",
                                         &catalog, &err),
                         MA_ERR_INVALID);
        assert_string_equal(err.field, "producers[1].prefix");
        assert_non_null(strstr(err.message, "duplicate_prefix.json: "
                                            "producers[1].prefix: \"SKV\" is "
                                            "already used by producers[0]"));
        assert_int_equal(ma_catalog_load(MA_TEST_DATA_DIR
                                         "/catalog/"
                                         "expiring_without_reminders.json",
                                         &catalog, &err),
                         MA_ERR_INVALID);
        assert_non_null(strstr(err.message, "reminder_days_before"));
        assert_int_equal(ma_catalog_load(MA_TEST_DATA_DIR "/catalog/none.json",
                                         &catalog, &err),
                         MA_ERR_IO);
        assert_non_null(strstr(err.message, "none.json"));
        assert_int_equal(ma_catalog_load_string("", "empty", &catalog, &err),
                         MA_ERR_PARSE);
        assert_int_equal(ma_catalog_load_string("[]", "array", &catalog, &err),
                         MA_ERR_INVALID);
}

/* Every allocation of a load fails in turn; nothing may leak. */
static void load_survives_allocation_failures(void **state)
{
        (void)state;
        long live = ma_alloc_live();
        bool succeeded = false;
        for (long nth = 1; nth < 5000 && !succeeded; nth++) {
                ma_catalog_t *catalog = NULL;
                ma_error_t err;
                ma_alloc_fail_after(nth, 0);
                ma_status_t st = ma_catalog_load(DEMO_CATALOG, &catalog, &err);
                ma_alloc_fail_after(0, 0);
                if (st == MA_OK) {
                        succeeded = true;
                        ma_catalog_free(catalog);
                } else {
                        assert_int_equal(st, MA_ERR_NOMEM);
                        assert_null(catalog);
                }
                assert_int_equal(ma_alloc_live(), live);
        }
        assert_true(succeeded);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(demo_loads),
                cmocka_unit_test(demo_lookups),
                cmocka_unit_test(kind_names),
                cmocka_unit_test(base_catalog_is_valid),
                cmocka_unit_test(broken_root),
                cmocka_unit_test(broken_producer),
                cmocka_unit_test(broken_process),
                cmocka_unit_test(broken_event_type),
                cmocka_unit_test(broken_reminders),
                cmocka_unit_test(broken_files),
                cmocka_unit_test(load_survives_allocation_failures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
