/*
 * catalog.h - the kundhändelsetypskatalog (event type catalog).
 *
 * Loaded from a JSON file (schemas/catalog.json): producers with their
 * organisationsnummer, name, event-type prefix and kind; their producer
 * processes (ärendetyper); and per event type the flags and notification
 * rules every component uses.  The loader validates everything and reports
 * the first problem with the file, the JSON path, the value and the fix.
 *
 * Threads: immutable after loading; may be shared.
 */
#ifndef MA_CATALOG_H
#define MA_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "ma/status.h"

typedef enum ma_producer_kind {
        MA_PRODUCER_AGENCY = 0,       /* "agency": a state agency */
        MA_PRODUCER_MUNICIPALITY = 1, /* "municipality" */
        MA_PRODUCER_REGION = 2,       /* "region" */
} ma_producer_kind_t;

typedef enum ma_notification_kind {
        MA_NOTIFY_NONE = 0,            /* "none" */
        MA_NOTIFY_DECISION = 1,        /* "decision" */
        MA_NOTIFY_ACTION_REQUIRED = 2, /* "action_required" */
        MA_NOTIFY_EXPIRING = 3,        /* "expiring" */
        MA_NOTIFY_SERVICE = 4,         /* "service" */
} ma_notification_kind_t;

#define MA_CATALOG_MAX_REMINDERS 8

typedef struct ma_event_type {
        const char *name; /* PREFIX.PROCESS.EVENT */
        const char *description;
        bool customer_has_ball; /* producentarendetKraverKundatgard */
        bool case_finished;     /* producentarendetKlart */
        ma_notification_kind_t notification;
        int reminder_days[MA_CATALOG_MAX_REMINDERS]; /* days before, descending
                                                      */
        size_t reminder_count;
        const char *authorisation_object_type; /* behörighetsobjektstyp */
        int retention_days;                    /* 0: the producer's default */
        const struct ma_process *process;
} ma_event_type_t;

typedef struct ma_process {
        const char *name; /* the ärendetyp segment, e.g. BYGGLOV */
        const char *description;
        const ma_event_type_t *event_types;
        size_t event_type_count;
        const struct ma_producer *producer;
} ma_process_t;

typedef struct ma_producer {
        const char *organisationsnummer; /* 10 digits */
        const char *name;
        const char *prefix; /* A-Z */
        ma_producer_kind_t kind;
        int retention_days; /* default for its event types */
        const ma_process_t *processes;
        size_t process_count;
} ma_producer_t;

typedef struct ma_catalog ma_catalog_t;

/* Loads and validates path.  Errors: MA_ERR_IO, MA_ERR_PARSE, MA_ERR_INVALID.
 */
ma_status_t ma_catalog_load(const char *path, ma_catalog_t **catalog_out,
                            ma_error_t *err);
/* Same from JSON text in memory; name is used in messages. */
ma_status_t ma_catalog_load_string(const char *json, const char *name,
                                   ma_catalog_t **catalog_out, ma_error_t *err);
void ma_catalog_free(ma_catalog_t *catalog);

size_t ma_catalog_producer_count(const ma_catalog_t *catalog);
const ma_producer_t *ma_catalog_producer_at(const ma_catalog_t *catalog,
                                            size_t index);
/* Lookups return NULL when nothing matches. */
const ma_producer_t *ma_catalog_find_producer(const ma_catalog_t *catalog,
                                              const char *organisationsnummer);
const ma_producer_t *ma_catalog_find_prefix(const ma_catalog_t *catalog,
                                            const char *prefix);
const ma_event_type_t *ma_catalog_find_type(const ma_catalog_t *catalog,
                                            const char *name);

const char *ma_notification_kind_name(ma_notification_kind_t kind);
const char *ma_producer_kind_name(ma_producer_kind_t kind);

#endif /* MA_CATALOG_H */
