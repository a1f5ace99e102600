/*
 * pseudonym.h - keyed pseudonyms of customers.
 *
 * An identity number never leaves a producer in clear text outside the Avro
 * body: Kafka keys, database lookups and logs use
 * HMAC-SHA-256(secret, typ ":" identifierare [":" tillagg]) instead, as
 * lower-case hex of the first 16 bytes (32 characters).  The secret comes
 * from configuration; see docs/operations.md for rotating it.
 *
 * Threads: a key is immutable after creation and may be shared.
 */
#ifndef MA_PSEUDONYM_H
#define MA_PSEUDONYM_H

#include <stddef.h>

#include "ma/event.h"
#include "ma/status.h"

#define MA_PSEUDONYM_HEX_LEN 32

typedef struct ma_pseudonym_key ma_pseudonym_key_t;

/*
 * Creates a key from secret bytes (at least 16).  Errors: MA_ERR_CONFIG when
 * the secret is shorter, MA_ERR_NOMEM.
 */
ma_status_t ma_pseudonym_key_new(const void *secret, size_t len,
                                 ma_pseudonym_key_t **key_out, ma_error_t *err);
void ma_pseudonym_key_free(ma_pseudonym_key_t *key);

/* Writes the pseudonym of a customer into out (33 bytes with NUL). */
ma_status_t ma_pseudonym_customer(const ma_pseudonym_key_t *key,
                                  ma_kund_typ_t typ, const char *identifierare,
                                  const char *tillagg,
                                  char out[MA_PSEUDONYM_HEX_LEN + 1]);

/*
 * The record key of an event: the customer's pseudonym when part.kund is
 * present, else a pseudonym of the producer's case reference
 * ("arende:" typ ":" identifierare), so one case's events still share a
 * partition.
 */
ma_status_t ma_pseudonym_event_key(const ma_pseudonym_key_t *key,
                                   const ma_event_t *event,
                                   char out[MA_PSEUDONYM_HEX_LEN + 1]);

/* Constant-time comparison of two byte strings of equal length. */
int ma_secure_equal(const void *a, const void *b, size_t len);

/* SHA-256 as lower-case hex (65 bytes with NUL), for hashing API keys. */
void ma_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* MA_PSEUDONYM_H */
