/*
 * event.c - life cycle of ma_event_t: initialise, clear, deep copy, tags,
 * and the standard's names of the kund and arende kinds.
 */
#include "ma/event.h"

#include <string.h>

#include "ma/alloc.h"

static const char *const ma_kund_typ_names[] = {
        "Personnummer",
        "Organisationsnummer",
        "Samordningsnummer",
};

static const char *const ma_arende_typ_names[] = {
        "Konsumentreferens",
        "Producentarendereferens",
        "Diarienummer",
        "Kvittensnummer",
};

#define MA_COUNT(array) (sizeof(array) / sizeof((array)[0]))

void ma_event_init(ma_event_t *event)
{
        memset(event, 0, sizeof(*event));
        event->kind = MA_EVENT_PUBLISH;
        event->giltig_till = MA_DATE_NONE;
        event->atgard_senast = MA_DATE_NONE;
}

void ma_event_clear(ma_event_t *event)
{
        if (event == NULL)
                return;
        ma_free(event->kundhandelse_id);
        ma_free(event->producent_organisationsnummer);
        ma_free(event->part.kund_identifierare);
        ma_free(event->part.kund_tillagg);
        ma_free(event->part.arende_identifierare);
        ma_free(event->producent);
        ma_free(event->rubrik);
        ma_free(event->beskrivning);
        ma_free(event->sprak);
        ma_free(event->kundhandelse_typ);
        ma_free(event->version);
        ma_free(event->utokad_information);
        ma_free(event->referenser);
        for (size_t i = 0; i < event->taggar_count; i++)
                ma_free(event->taggar[i]);
        ma_free(event->taggar);
        ma_free(event->kundhandelsereferens);
        ma_free(event->orsak);
        ma_event_init(event);
}

/* Copies an optional string; returns false only when an allocation failed. */
static bool ma_event_dup(char **dst, const char *src)
{
        if (src == NULL) {
                *dst = NULL;
                return true;
        }
        *dst = ma_strdup(src);
        return *dst != NULL;
}

ma_status_t ma_event_copy(ma_event_t *dst, const ma_event_t *src)
{
        ma_event_t copy;

        /*
         * Scalars first, then every pointer is replaced by its own copy.
         * Every copy runs even after a failure, so no pointer into src
         * remains and ma_event_clear() can free the partial copy.
         */
        copy = *src;
        copy.taggar = NULL;
        copy.taggar_count = 0;
        struct {
                char **dst;
                const char *src;
        } strings[] = {
                {&copy.kundhandelse_id, src->kundhandelse_id},
                {&copy.producent_organisationsnummer,
                 src->producent_organisationsnummer},
                {&copy.part.kund_identifierare, src->part.kund_identifierare},
                {&copy.part.kund_tillagg, src->part.kund_tillagg},
                {&copy.part.arende_identifierare,
                 src->part.arende_identifierare},
                {&copy.producent, src->producent},
                {&copy.rubrik, src->rubrik},
                {&copy.beskrivning, src->beskrivning},
                {&copy.sprak, src->sprak},
                {&copy.kundhandelse_typ, src->kundhandelse_typ},
                {&copy.version, src->version},
                {&copy.utokad_information, src->utokad_information},
                {&copy.referenser, src->referenser},
                {&copy.kundhandelsereferens, src->kundhandelsereferens},
                {&copy.orsak, src->orsak},
        };
        bool ok = true;
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                if (!ma_event_dup(strings[i].dst, strings[i].src))
                        ok = false;
        }
        if (ok && src->taggar_count > 0) {
                copy.taggar =
                        ma_calloc(src->taggar_count, sizeof(*copy.taggar));
                ok = copy.taggar != NULL;
                for (size_t i = 0; ok && i < src->taggar_count; i++) {
                        ok = ma_event_dup(&copy.taggar[i], src->taggar[i]);
                        if (ok)
                                copy.taggar_count = i + 1;
                }
                /* A failed copy leaves its slot NULL; free it with the rest. */
                if (copy.taggar != NULL && !ok)
                        copy.taggar_count = src->taggar_count;
        }
        if (!ok) {
                ma_event_clear(&copy);
                return MA_ERR_NOMEM;
        }
        *dst = copy;
        return MA_OK;
}

ma_status_t ma_event_add_tag(ma_event_t *event, const char *tag)
{
        char *copy = ma_strdup(tag);
        if (copy == NULL)
                return MA_ERR_NOMEM;
        char **grown = ma_realloc(event->taggar,
                                  (event->taggar_count + 1) * sizeof(*grown));
        if (grown == NULL) {
                ma_free(copy);
                return MA_ERR_NOMEM;
        }
        grown[event->taggar_count] = copy;
        event->taggar = grown;
        event->taggar_count++;
        return MA_OK;
}

const char *ma_kund_typ_name(ma_kund_typ_t typ)
{
        if ((size_t)typ >= MA_COUNT(ma_kund_typ_names))
                return "unknown";
        return ma_kund_typ_names[typ];
}

int ma_kund_typ_parse(const char *name)
{
        for (size_t i = 0; name != NULL && i < MA_COUNT(ma_kund_typ_names);
             i++) {
                if (strcmp(name, ma_kund_typ_names[i]) == 0)
                        return (int)i;
        }
        return -1;
}

const char *ma_arende_typ_name(ma_arende_typ_t typ)
{
        if ((size_t)typ >= MA_COUNT(ma_arende_typ_names))
                return "unknown";
        return ma_arende_typ_names[typ];
}

int ma_arende_typ_parse(const char *name)
{
        for (size_t i = 0; name != NULL && i < MA_COUNT(ma_arende_typ_names);
             i++) {
                if (strcmp(name, ma_arende_typ_names[i]) == 0)
                        return (int)i;
        }
        return -1;
}
