/*
 * codec.h - kundhändelser to and from Avro single-object encoding.
 *
 * A message is the two marker bytes C3 01, the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, and
 * the Avro binary body.  The decoder looks the fingerprint up among every
 * schema version loaded from schemas/, checks the body against that writer
 * schema with every length bounded by the remaining input (avro-c 1.11 trusts
 * lengths), and resolves it to this build's reader schema, so a version-1
 * reader reads version-2 data that only adds optional fields.
 *
 * Threads: a codec is immutable after ma_codec_open() and may be shared by
 * threads; each call allocates its own working state.
 */
#ifndef MA_CODEC_H
#define MA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ma/event.h"
#include "ma/status.h"

/* Largest message the decoder accepts unless configured otherwise. */
#define MA_CODEC_MAX_MESSAGE_DEFAULT (256 * 1024)

typedef struct ma_codec ma_codec_t;

/*
 * Loads every *.avsc below schema_dir (schemas/<name>/v<N>.avsc), computes
 * their fingerprints, and picks the newest version of each record name as
 * the reader schema.  max_message is the size cap for decoding (0: default).
 * On success *codec_out is owned by the caller (ma_codec_close()).
 * Errors: MA_ERR_IO, MA_ERR_SCHEMA (names the file), MA_ERR_NOMEM.
 */
ma_status_t ma_codec_open(const char *schema_dir, size_t max_message,
                          ma_codec_t **codec_out, ma_error_t *err);
void ma_codec_close(ma_codec_t *codec);

/* A growable byte buffer, owned by the caller; free with ma_buf_free(). */
typedef struct ma_buf {
        unsigned char *data;
        size_t len;
        size_t cap;
} ma_buf_t;
void ma_buf_free(ma_buf_t *buf);

/*
 * Encodes event with the newest schema of its kind (Kundhandelse or
 * Aterkallelse) into out (replacing its content).  The event is not
 * validated here beyond what the schema requires; call ma_event_validate()
 * first.  Errors: MA_ERR_INVALID (a required field is NULL), MA_ERR_NOMEM.
 */
ma_status_t ma_codec_encode(const ma_codec_t *codec, const ma_event_t *event,
                            ma_buf_t *out, ma_error_t *err);

/*
 * Decodes one message into event (initialised by the caller, cleared on
 * failure).  Errors: MA_ERR_TOO_LARGE, MA_ERR_ENCODING (no C3 01 marker),
 * MA_ERR_FINGERPRINT (unknown writer schema; the message names it in hex),
 * MA_ERR_TRUNCATED or MA_ERR_PARSE (the body does not match the writer
 * schema, with the field), MA_ERR_NOMEM.
 */
ma_status_t ma_codec_decode(const ma_codec_t *codec, const void *data,
                            size_t len, ma_event_t *event, ma_error_t *err);

/* Fingerprint of the schema ma_codec_encode() writes for kind. */
uint64_t ma_codec_writer_fingerprint(const ma_codec_t *codec,
                                     ma_event_kind_t kind);

/* Content type for the Avro body, used in CloudEvents headers. */
#define MA_CODEC_CONTENT_TYPE "application/avro"

#endif /* MA_CODEC_H */
