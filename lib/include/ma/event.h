/*
 * event.h - the kundhändelse (customer event) and its retraction, in memory.
 *
 * Field names follow the attributes of the Mina ärenden standard 6.1 so that
 * the mapping to the Avro schema (schemas/kundhandelse) and to the national
 * API stays one-to-one.  Every string is owned by the event, allocated with
 * ma_malloc, and released by ma_event_clear().  NULL means "absent" for the
 * optional fields.
 */
#ifndef MA_EVENT_H
#define MA_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/status.h"

/* Kind of identity number in part.kund; values match the Avro enum order. */
typedef enum ma_kund_typ {
        MA_KUND_PERSONNUMMER = 0,
        MA_KUND_ORGANISATIONSNUMMER = 1,
        MA_KUND_SAMORDNINGSNUMMER = 2,
} ma_kund_typ_t;

/* Kind of case reference in part.arende; values match the Avro enum order. */
typedef enum ma_arende_typ {
        MA_ARENDE_KONSUMENTREFERENS = 0,
        MA_ARENDE_PRODUCENTARENDEREFERENS = 1,
        MA_ARENDE_DIARIENUMMER = 2,
        MA_ARENDE_KVITTENSNUMMER = 3,
} ma_arende_typ_t;

/* What a message on a producer topic does to the event it names. */
typedef enum ma_event_kind {
        MA_EVENT_PUBLISH = 0, /* a Kundhandelse: insert or replace */
        MA_EVENT_RETRACT = 1, /* an Aterkallelse: delete */
} ma_event_kind_t;

/* An instant plus the UTC offset the producer stated for it. */
typedef struct ma_instant {
        int64_t utc_ms;     /* milliseconds since 1970-01-01T00:00:00Z */
        int32_t offset_min; /* the producer's UTC offset in minutes */
} ma_instant_t;

/* Sentinel for an absent date (giltig_till, atgard_senast). */
#define MA_DATE_NONE INT32_MIN

typedef struct ma_part {
        bool has_kund;
        char *kund_identifierare; /* 12 digits */
        ma_kund_typ_t kund_typ;
        char *kund_tillagg; /* optional */
        bool has_arende;
        char *arende_identifierare;
        ma_arende_typ_t arende_typ;
} ma_part_t;

typedef struct ma_event {
        ma_event_kind_t kind;

        /* Present in both kinds. */
        char *kundhandelse_id;
        char *producent_organisationsnummer; /* 10 digits */
        ma_part_t part;
        ma_instant_t tidpunkt; /* retraction: offset_min is 0 */
        int64_t sekvens;       /* ordering key per kundhandelse_id */

        /* MA_EVENT_PUBLISH only. */
        char *producent; /* display name */
        char *rubrik;
        char *beskrivning;
        char *sprak; /* ISO 639-1 */
        char *kundhandelse_typ;
        bool producentarendet_kraver_kundatgard;
        bool producentarendet_klart;
        char *version;            /* "6.1" */
        char *utokad_information; /* JSON object text, optional */
        char *referenser;         /* JSON object text, optional */
        char **taggar;
        size_t taggar_count;
        int32_t giltig_till;        /* days since 1970-01-01 or MA_DATE_NONE */
        int32_t atgard_senast;      /* days since 1970-01-01 or MA_DATE_NONE */
        char *kundhandelsereferens; /* Digital post message reference */

        /* MA_EVENT_RETRACT only. */
        char *orsak;
} ma_event_t;

/* Sets every field to absent/zero and both dates to MA_DATE_NONE. */
void ma_event_init(ma_event_t *event);

/* Frees every string the event owns and re-initialises it. */
void ma_event_clear(ma_event_t *event);

/* Deep copy; dst must be initialised or cleared.  MA_ERR_NOMEM on failure. */
ma_status_t ma_event_copy(ma_event_t *dst, const ma_event_t *src);

/* Appends a copy of tag to event->taggar. */
ma_status_t ma_event_add_tag(ma_event_t *event, const char *tag);

/* Returns the standard's name of a kund typ ("Personnummer", ...). */
const char *ma_kund_typ_name(ma_kund_typ_t typ);
/* Parses a kund typ name (exact standard spelling); -1 if unknown. */
int ma_kund_typ_parse(const char *name);
const char *ma_arende_typ_name(ma_arende_typ_t typ);
int ma_arende_typ_parse(const char *name);

#endif /* MA_EVENT_H */
