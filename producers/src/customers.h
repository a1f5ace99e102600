/*
 * customers.h - which customer (part.kund) each case of a process log
 * belongs to, and how many rows of each case have been read.
 *
 * Customers come from a customers file (CSV with the header
 * case_id,typ,identifierare and an optional tillagg column) or are
 * generated.  A generated personnummer or organisationsnummer is derived
 * from HMAC-SHA-256(seed, case id), so the same seed and case give the same
 * customer in every run and every log format.  Generated numbers have a
 * real date and a valid Luhn digit but are synthetic, for tests and
 * demonstrations only.
 *
 * Internal to ma_producer.  Threads: one thread at a time.
 */
#ifndef MA_PRODUCER_CUSTOMERS_H
#define MA_PRODUCER_CUSTOMERS_H

#include <stddef.h>

#include "ma/event.h"
#include "ma/status.h"

/* Default seed when the caller gives none. */
#define MA_CUSTOMERS_DEFAULT_SEED "demo"

/* Birth years of generated personnummer, inclusive. */
#define MA_CUSTOMERS_BIRTH_YEAR_MIN 1940
#define MA_CUSTOMERS_BIRTH_YEAR_MAX 2005

typedef struct ma_customer {
        ma_kund_typ_t typ;
        char identifierare[13]; /* 12 digits */
        char *tillagg;          /* NULL when absent */
} ma_customer_t;

typedef struct ma_customers_options {
        const char *path;            /* customers file; NULL: generate */
        const char *seed;            /* NULL: MA_CUSTOMERS_DEFAULT_SEED */
        ma_kund_typ_t generated_typ; /* Personnummer or Organisationsnummer */
        unsigned cases_per_customer; /* generated customers only; 0 means 1 */
} ma_customers_options_t;

typedef struct ma_customers ma_customers_t;

/*
 * Opens the customer source; a customers file is read and checked in
 * full (every identity number validated; messages give the line, never
 * the number).  Errors: MA_ERR_IO, MA_ERR_PARSE, MA_ERR_INVALID,
 * MA_ERR_NOMEM.
 */
ma_status_t ma_customers_open(const ma_customers_options_t *options,
                              ma_customers_t **customers_out, ma_error_t *err);

/*
 * Counts one more row of case_id and returns its 1-based ordinal within the
 * case and the case's customer.  *customer is NULL when a customers file is
 * used and does not list the case.
 *
 * With cases_per_customer N above 1, generated customers are shared by N
 * cases in the order in which the cases first appear: the first N cases
 * get the customer derived from the first of them, and so on.  The result
 * then depends on that order as well as on the seed.
 */
ma_status_t ma_customers_next_row(ma_customers_t *customers,
                                  const char *case_id, long *ordinal,
                                  const ma_customer_t **customer,
                                  ma_error_t *err);

void ma_customers_free(ma_customers_t *customers);

/*
 * Generates the customer identity number for key (a case id) into out.
 * A Personnummer is YYYYMMDDNNNC with a birth year between the bounds
 * above.  An Organisationsnummer is "16" and the ten digits of an
 * aktiebolag (first digit 5, third digit 2-9).  The last digit is the Luhn
 * check digit.
 */
void ma_customer_generate(const char *seed, const char *key, ma_kund_typ_t typ,
                          char out[13]);

/* Luhn check digit for the digits given (the number without its check). */
int ma_luhn_check_digit(const char *digits, size_t len);

#endif /* MA_PRODUCER_CUSTOMERS_H */
