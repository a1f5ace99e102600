/*
 * Unit tests of event.c: life cycle, deep copy, tags and kind names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ma/alloc.h"
#include "ma/event.h"

static void fill(ma_event_t *event)
{
        ma_event_init(event);
        event->kundhandelse_id = ma_strdup("id-1");
        event->producent_organisationsnummer = ma_strdup("2021005448");
        event->part.has_kund = true;
        event->part.kund_identifierare = ma_strdup("198001011231");
        event->part.kund_tillagg = ma_strdup("firma 2");
        event->part.has_arende = true;
        event->part.arende_identifierare = ma_strdup("D-1");
        event->part.arende_typ = MA_ARENDE_KVITTENSNUMMER;
        event->producent = ma_strdup("Skatteverket");
        event->rubrik = ma_strdup("Rubrik");
        event->beskrivning = ma_strdup("Beskrivning");
        event->sprak = ma_strdup("sv");
        event->kundhandelse_typ = ma_strdup("SKV.A.B");
        event->version = ma_strdup("6.1");
        event->utokad_information = ma_strdup("{}");
        event->referenser = ma_strdup("{\"a\":1}");
        event->kundhandelsereferens = ma_strdup("ref");
        event->orsak = ma_strdup("orsak");
        event->tidpunkt.utc_ms = 1234;
        event->tidpunkt.offset_min = 60;
        event->sekvens = 42;
        event->giltig_till = 20000;
        event->producentarendet_klart = true;
        assert_int_equal(ma_event_add_tag(event, "a"), MA_OK);
        assert_int_equal(ma_event_add_tag(event, "b"), MA_OK);
}

static void init_sets_absent(void **state)
{
        (void)state;
        ma_event_t event;
        memset(&event, 0xAB, sizeof(event));
        ma_event_init(&event);
        assert_int_equal(event.kind, MA_EVENT_PUBLISH);
        assert_null(event.kundhandelse_id);
        assert_null(event.taggar);
        assert_int_equal(event.taggar_count, 0);
        assert_false(event.part.has_kund);
        assert_int_equal(event.giltig_till, MA_DATE_NONE);
        assert_int_equal(event.atgard_senast, MA_DATE_NONE);
        assert_int_equal(event.sekvens, 0);
}

static void clear_frees_everything(void **state)
{
        (void)state;
        long live = ma_alloc_live();
        ma_event_t event;
        fill(&event);
        assert_true(ma_alloc_live() > live);
        ma_event_clear(&event);
        assert_int_equal(ma_alloc_live(), live);
        assert_null(event.rubrik);
        assert_int_equal(event.giltig_till, MA_DATE_NONE);
        ma_event_clear(&event); /* clearing twice is harmless */
        ma_event_clear(NULL);
}

static void copy_is_deep(void **state)
{
        (void)state;
        long live = ma_alloc_live();
        ma_event_t src, dst;
        fill(&src);
        ma_event_init(&dst);
        assert_int_equal(ma_event_copy(&dst, &src), MA_OK);
        assert_string_equal(dst.rubrik, "Rubrik");
        assert_ptr_not_equal(dst.rubrik, src.rubrik);
        assert_string_equal(dst.part.kund_tillagg, "firma 2");
        assert_ptr_not_equal(dst.part.kund_identifierare,
                             src.part.kund_identifierare);
        assert_int_equal(dst.taggar_count, 2);
        assert_ptr_not_equal(dst.taggar, src.taggar);
        assert_string_equal(dst.taggar[1], "b");
        assert_int_equal(dst.sekvens, 42);
        assert_int_equal(dst.giltig_till, 20000);
        assert_int_equal(dst.atgard_senast, MA_DATE_NONE);
        assert_int_equal(dst.part.arende_typ, MA_ARENDE_KVITTENSNUMMER);
        assert_true(dst.producentarendet_klart);
        ma_event_clear(&src);
        assert_string_equal(dst.orsak, "orsak");
        ma_event_clear(&dst);
        assert_int_equal(ma_alloc_live(), live);
}

static void copy_handles_allocation_failure(void **state)
{
        (void)state;
        long live = ma_alloc_live();
        ma_event_t src;
        fill(&src);
        long after_fill = ma_alloc_live();
        bool succeeded = false;
        for (long nth = 1; nth < 100 && !succeeded; nth++) {
                ma_event_t dst;
                ma_event_init(&dst);
                ma_alloc_fail_after(nth, 0);
                ma_status_t st = ma_event_copy(&dst, &src);
                ma_alloc_fail_after(0, 0);
                if (st == MA_OK) {
                        succeeded = true;
                        ma_event_clear(&dst);
                } else {
                        assert_int_equal(st, MA_ERR_NOMEM);
                        assert_null(dst.rubrik);
                }
                assert_int_equal(ma_alloc_live(), after_fill);
        }
        assert_true(succeeded);
        ma_event_clear(&src);
        assert_int_equal(ma_alloc_live(), live);
}

static void add_tag_failure_keeps_tags(void **state)
{
        (void)state;
        ma_event_t event;
        ma_event_init(&event);
        assert_int_equal(ma_event_add_tag(&event, "x"), MA_OK);
        ma_alloc_fail_after(1, 0);
        assert_int_equal(ma_event_add_tag(&event, "y"), MA_ERR_NOMEM);
        assert_int_equal(event.taggar_count, 1);
        ma_alloc_fail_after(2, 0);
        assert_int_equal(ma_event_add_tag(&event, "y"), MA_ERR_NOMEM);
        ma_alloc_fail_after(0, 0);
        assert_int_equal(event.taggar_count, 1);
        assert_string_equal(event.taggar[0], "x");
        ma_event_clear(&event);
}

static void kind_names_round_trip(void **state)
{
        (void)state;
        assert_string_equal(ma_kund_typ_name(MA_KUND_PERSONNUMMER),
                            "Personnummer");
        assert_string_equal(ma_kund_typ_name(MA_KUND_SAMORDNINGSNUMMER),
                            "Samordningsnummer");
        for (int i = 0; i <= MA_KUND_SAMORDNINGSNUMMER; i++)
                assert_int_equal(
                        ma_kund_typ_parse(ma_kund_typ_name((ma_kund_typ_t)i)),
                        i);
        for (int i = 0; i <= MA_ARENDE_KVITTENSNUMMER; i++)
                assert_int_equal(ma_arende_typ_parse(ma_arende_typ_name(
                                         (ma_arende_typ_t)i)),
                                 i);
        assert_string_equal(ma_arende_typ_name(MA_ARENDE_DIARIENUMMER),
                            "Diarienummer");
        assert_int_equal(ma_kund_typ_parse("personnummer"), -1);
        assert_int_equal(ma_kund_typ_parse(NULL), -1);
        assert_int_equal(ma_arende_typ_parse("Diarienr"), -1);
        assert_string_equal(ma_kund_typ_name((ma_kund_typ_t)9), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(init_sets_absent),
                cmocka_unit_test(clear_frees_everything),
                cmocka_unit_test(copy_is_deep),
                cmocka_unit_test(copy_handles_allocation_failure),
                cmocka_unit_test(add_tag_failure_keeps_tags),
                cmocka_unit_test(kind_names_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
