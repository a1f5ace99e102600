/*
 * customers.c - customer assignment and per-case row counting for the
 * process-log adapters (see customers.h for the contract).
 */
#include "customers.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/pseudonym.h"
#include "ma/validate.h"
#include "mapping.h"

/* State of one case: its rows so far and its customer (NULL: none). */
typedef struct ma_case_entry {
        char *case_id;
        long rows;
        const ma_customer_t *customer;
} ma_case_entry_t;

struct ma_customers {
        bool generate;
        char *seed;
        ma_kund_typ_t generated_typ;
        unsigned cases_per_customer;

        /* Open-addressing hash table of cases, capacity a power of two. */
        ma_case_entry_t *cases;
        size_t case_capacity;
        size_t case_count;

        /* Every customer, owned here; entries point into it. */
        ma_customer_t **customers;
        size_t customer_count;
        size_t customer_capacity;
        /* Generated customer the next new case joins, NULL: start one. */
        const ma_customer_t *open_group;
        unsigned open_group_size;
};

/* ---- identity numbers ---------------------------------------------------- */

int ma_luhn_check_digit(const char *digits, size_t len)
{
        /* Weights 2,1,2,... from the leftmost digit of the ten-digit form. */
        int sum = 0;
        for (size_t i = 0; i < len; i++) {
                int d = (digits[i] - '0') * ((i % 2 == 0) ? 2 : 1);
                sum += d > 9 ? d - 9 : d;
        }
        return (10 - sum % 10) % 10;
}

static uint32_t ma_read_u32(const unsigned char *bytes)
{
        return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
               (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3];
}

void ma_customer_generate(const char *seed, const char *key, ma_kund_typ_t typ,
                          char out[13])
{
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        const char *label = typ == MA_KUND_ORGANISATIONSNUMMER
                                    ? "organisationsnummer:"
                                    : "personnummer:";
        size_t label_len = strlen(label);
        size_t key_len = strlen(key);
        unsigned char message[512];
        char key_hash[65];
        /* Long case ids are hashed first so the message stays bounded. */
        if (label_len + key_len > sizeof(message)) {
                ma_sha256_hex(key, key_len, key_hash);
                key = key_hash;
                key_len = 64;
        }
        memcpy(message, label, label_len);
        memcpy(message + label_len, key, key_len);
        HMAC(EVP_sha256(), seed, (int)strlen(seed), message,
             label_len + key_len, digest, &digest_len);

        char ten[11];
        if (typ == MA_KUND_ORGANISATIONSNUMMER) {
                /* 5 = aktiebolag; the third digit is at least 2. */
                ten[0] = '5';
                ten[1] = (char)('0' + digest[0] % 10);
                ten[2] = (char)('2' + digest[1] % 8);
                uint32_t rest = ma_read_u32(digest + 2) % 1000000u;
                snprintf(ten + 3, 7, "%06u", (unsigned)rest);
                ten[9] = (char)('0' + ma_luhn_check_digit(ten, 9));
                memcpy(out, "16", 2);
                memcpy(out + 2, ten, 10);
                out[12] = '\0';
                return;
        }
        int64_t first = ma_days_from_civil(MA_CUSTOMERS_BIRTH_YEAR_MIN, 1, 1);
        int64_t last = ma_days_from_civil(MA_CUSTOMERS_BIRTH_YEAR_MAX, 12, 31);
        int64_t days = first + (int64_t)(ma_read_u32(digest) %
                                         (uint32_t)(last - first + 1));
        int year, month, day;
        ma_civil_from_days(days, &year, &month, &day);
        unsigned serial = ma_read_u32(digest + 4) % 1000u;
        snprintf(ten, sizeof(ten), "%02d%02d%02d%03u", year % 100, month, day,
                 serial);
        ten[9] = (char)('0' + ma_luhn_check_digit(ten, 9));
        out[0] = (char)('0' + year / 1000);
        out[1] = (char)('0' + year / 100 % 10);
        memcpy(out + 2, ten, 10);
        out[12] = '\0';
}

/* ---- the case table ------------------------------------------------------ */

/* FNV-1a, 64 bit. */
static uint64_t ma_case_hash(const char *text)
{
        uint64_t hash = UINT64_C(14695981039346656037);
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                hash ^= *p;
                hash *= UINT64_C(1099511628211);
        }
        return hash;
}

static ma_case_entry_t *ma_case_slot(ma_case_entry_t *table, size_t capacity,
                                     const char *case_id)
{
        size_t i = (size_t)ma_case_hash(case_id) & (capacity - 1);
        while (table[i].case_id != NULL && strcmp(table[i].case_id, case_id))
                i = (i + 1) & (capacity - 1);
        return &table[i];
}

static ma_status_t ma_case_table_grow(ma_customers_t *customers,
                                      ma_error_t *err)
{
        size_t capacity =
                customers->case_capacity ? customers->case_capacity * 2 : 256;
        ma_case_entry_t *table = ma_calloc(capacity, sizeof(*table));
        if (table == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for the case table");
        for (size_t i = 0; i < customers->case_capacity; i++) {
                ma_case_entry_t *old = &customers->cases[i];
                if (old->case_id != NULL)
                        *ma_case_slot(table, capacity, old->case_id) = *old;
        }
        ma_free(customers->cases);
        customers->cases = table;
        customers->case_capacity = capacity;
        return MA_OK;
}

/* Finds case_id or inserts it with no rows and no customer. */
static ma_status_t ma_case_find_or_add(ma_customers_t *customers,
                                       const char *case_id,
                                       ma_case_entry_t **entry_out, bool *added,
                                       ma_error_t *err)
{
        /* Keep the load factor at or below one half. */
        if ((customers->case_count + 1) * 2 > customers->case_capacity) {
                ma_status_t st = ma_case_table_grow(customers, err);
                if (st != MA_OK)
                        return st;
        }
        ma_case_entry_t *entry = ma_case_slot(
                customers->cases, customers->case_capacity, case_id);
        *added = entry->case_id == NULL;
        if (*added) {
                entry->case_id = ma_strdup(case_id);
                if (entry->case_id == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory for a case id");
                entry->rows = 0;
                entry->customer = NULL;
                customers->case_count++;
        }
        *entry_out = entry;
        return MA_OK;
}

static ma_status_t ma_customer_add(ma_customers_t *customers,
                                   ma_customer_t **customer_out,
                                   ma_error_t *err)
{
        if (customers->customer_count == customers->customer_capacity) {
                size_t capacity = customers->customer_capacity
                                          ? customers->customer_capacity * 2
                                          : 64;
                ma_customer_t **grown = ma_realloc(customers->customers,
                                                   capacity * sizeof(*grown));
                if (grown == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory for customers");
                customers->customers = grown;
                customers->customer_capacity = capacity;
        }
        ma_customer_t *customer = ma_calloc(1, sizeof(*customer));
        if (customer == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for a customer");
        customers->customers[customers->customer_count++] = customer;
        *customer_out = customer;
        return MA_OK;
}

/* ---- customers file ------------------------------------------------------ */

/* Reads one data row of the customers file into the case table. */
static ma_status_t ma_customers_file_row(ma_customers_t *customers,
                                         const char *path, long line,
                                         char *const *fields, size_t count,
                                         ma_error_t *err)
{
        if (count != 3 && count != 4)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "%s:%ld: row has %zu fields; expected 3 "
                                    "or 4 (case_id,typ,identifierare"
                                    "[,tillagg])",
                                    path, line, count);
        if (fields[0][0] == '\0')
                return ma_error_set(err, MA_ERR_INVALID, "case_id",
                                    "%s:%ld: case_id is empty; give the case "
                                    "id as it appears in the log",
                                    path, line);
        int typ = ma_kund_typ_parse(fields[1]);
        if (typ < 0)
                return ma_error_set(
                        err, MA_ERR_INVALID, "typ",
                        "%s:%ld: typ \"%.40s\" is unknown; expected "
                        "Personnummer, Organisationsnummer or "
                        "Samordningsnummer",
                        path, line, fields[1]);
        ma_error_t detail;
        if (ma_validate_kund((ma_kund_typ_t)typ, fields[2], &detail) != MA_OK)
                return ma_error_set(err, MA_ERR_INVALID, "identifierare",
                                    "%s:%ld: invalid identifierare: %s", path,
                                    line, detail.message);
        ma_case_entry_t *entry;
        bool added;
        ma_status_t st =
                ma_case_find_or_add(customers, fields[0], &entry, &added, err);
        if (st != MA_OK)
                return st;
        if (!added)
                return ma_error_set(err, MA_ERR_INVALID, "case_id",
                                    "%s:%ld: case \"%.100s\" is listed twice; "
                                    "keep one row per case",
                                    path, line, fields[0]);
        ma_customer_t *customer;
        st = ma_customer_add(customers, &customer, err);
        if (st != MA_OK)
                return st;
        customer->typ = (ma_kund_typ_t)typ;
        snprintf(customer->identifierare, sizeof(customer->identifierare), "%s",
                 fields[2]);
        if (count == 4 && fields[3][0] != '\0') {
                customer->tillagg = ma_strdup(fields[3]);
                if (customer->tillagg == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory for a tillagg");
        }
        entry->customer = customer;
        return MA_OK;
}

static ma_status_t ma_customers_file_header(const char *path,
                                            char *const *fields, size_t count,
                                            ma_error_t *err)
{
        static const char *const names[] = {"case_id", "typ", "identifierare",
                                            "tillagg"};
        bool ok = count == 3 || count == 4;
        for (size_t i = 0; ok && i < count; i++)
                ok = strcmp(fields[i], names[i]) == 0;
        if (!ok)
                return ma_error_set(err, MA_ERR_PARSE, NULL,
                                    "%s:1: invalid header; expected "
                                    "\"case_id,typ,identifierare\" with an "
                                    "optional \",tillagg\"",
                                    path);
        return MA_OK;
}

static ma_status_t ma_customers_file_load(ma_customers_t *customers,
                                          const char *path, ma_error_t *err)
{
        ma_csv_reader_t *reader;
        ma_status_t st = ma_csv_reader_open(path, &reader, err);
        if (st != MA_OK)
                return st;
        bool header = true;
        for (;;) {
                char *const *fields;
                size_t count;
                long line;
                ma_error_t detail;
                ma_csv_result_t result = ma_csv_reader_next(
                        reader, &fields, &count, &line, &detail);
                if (result == MA_CSV_END) {
                        if (header)
                                st = ma_error_set(err, MA_ERR_PARSE, NULL,
                                                  "%s is empty; expected the "
                                                  "header case_id,typ,"
                                                  "identifierare",
                                                  path);
                        break;
                }
                if (result == MA_CSV_FAIL) {
                        st = ma_error_set(err, detail.status, NULL, "%s",
                                          detail.message);
                        break;
                }
                if (result == MA_CSV_MALFORMED) {
                        /* A customers file must be entirely valid. */
                        st = ma_error_set(err, MA_ERR_PARSE, NULL, "%s:%ld: %s",
                                          path, line, detail.message);
                        break;
                }
                if (header)
                        st = ma_customers_file_header(path, fields, count, err);
                else
                        st = ma_customers_file_row(customers, path, line,
                                                   fields, count, err);
                header = false;
                if (st != MA_OK)
                        break;
        }
        ma_csv_reader_close(reader);
        return st;
}

/* ---- public functions ---------------------------------------------------- */

ma_status_t ma_customers_open(const ma_customers_options_t *options,
                              ma_customers_t **customers_out, ma_error_t *err)
{
        *customers_out = NULL;
        ma_customers_t *customers = ma_calloc(1, sizeof(*customers));
        if (customers == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for customers");
        customers->generate = options->path == NULL;
        customers->generated_typ = options->generated_typ;
        customers->cases_per_customer =
                options->cases_per_customer ? options->cases_per_customer : 1;
        customers->seed =
                ma_strdup(options->seed != NULL ? options->seed
                                                : MA_CUSTOMERS_DEFAULT_SEED);
        ma_status_t st = MA_OK;
        if (customers->seed == NULL)
                st = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                  "out of memory for the seed");
        if (st == MA_OK)
                st = ma_case_table_grow(customers, err);
        if (st == MA_OK && !customers->generate)
                st = ma_customers_file_load(customers, options->path, err);
        if (st != MA_OK) {
                ma_customers_free(customers);
                return st;
        }
        *customers_out = customers;
        return MA_OK;
}

/* Gives a new case its generated customer, sharing per cases_per_customer. */
static ma_status_t ma_customers_assign(ma_customers_t *customers,
                                       ma_case_entry_t *entry, ma_error_t *err)
{
        if (customers->open_group == NULL ||
            customers->open_group_size >= customers->cases_per_customer) {
                ma_customer_t *customer;
                ma_status_t st = ma_customer_add(customers, &customer, err);
                if (st != MA_OK)
                        return st;
                customer->typ = customers->generated_typ;
                ma_customer_generate(customers->seed, entry->case_id,
                                     customers->generated_typ,
                                     customer->identifierare);
                customers->open_group = customer;
                customers->open_group_size = 0;
        }
        entry->customer = customers->open_group;
        customers->open_group_size++;
        return MA_OK;
}

ma_status_t ma_customers_next_row(ma_customers_t *customers,
                                  const char *case_id, long *ordinal,
                                  const ma_customer_t **customer,
                                  ma_error_t *err)
{
        ma_case_entry_t *entry;
        bool added;
        ma_status_t st =
                ma_case_find_or_add(customers, case_id, &entry, &added, err);
        if (st != MA_OK)
                return st;
        if (added && customers->generate) {
                st = ma_customers_assign(customers, entry, err);
                if (st != MA_OK)
                        return st;
        }
        entry->rows++;
        *ordinal = entry->rows;
        *customer = entry->customer;
        return MA_OK;
}

void ma_customers_free(ma_customers_t *customers)
{
        if (customers == NULL)
                return;
        for (size_t i = 0; i < customers->case_capacity; i++)
                ma_free(customers->cases[i].case_id);
        ma_free(customers->cases);
        for (size_t i = 0; i < customers->customer_count; i++) {
                ma_free(customers->customers[i]->tillagg);
                ma_free(customers->customers[i]);
        }
        ma_free(customers->customers);
        ma_free(customers->seed);
        ma_free(customers);
}
