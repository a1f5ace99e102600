/*
 * avro_fingerprint.c - CRC-64-AVRO fingerprints and the single-object
 * encoding header.
 *
 * The fingerprint is the Rabin CRC-64 of the Avro specification (section
 * "Schema Fingerprints"): polynomial 0xc15d213aa4d7a795, register initialised
 * with that same value, bytes fed least significant bit first.  The table is
 * built on first use.  Two threads building it at once write the same values,
 * and a flag published with release order makes readers see it complete.
 */
#include <stdatomic.h>
#include <string.h>

#include "ma/avro.h"

#define MA_AVRO_CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t ma_crc64_table[256];
static atomic_int ma_crc64_ready;

static void ma_crc64_build(void)
{
        for (int i = 0; i < 256; i++) {
                uint64_t fp = (uint64_t)i;

                for (int j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (MA_AVRO_CRC64_EMPTY & -(fp & 1));
                ma_crc64_table[i] = fp;
        }
        atomic_store_explicit(&ma_crc64_ready, 1, memory_order_release);
}

uint64_t ma_avro_crc64(const void *data, size_t len)
{
        const unsigned char *bytes = data;
        uint64_t fp = MA_AVRO_CRC64_EMPTY;

        if (!atomic_load_explicit(&ma_crc64_ready, memory_order_acquire))
                ma_crc64_build();
        for (size_t i = 0; i < len; i++)
                fp = (fp >> 8) ^ ma_crc64_table[(fp ^ bytes[i]) & 0xff];
        return fp;
}

void ma_avro_soe_header_write(unsigned char out[MA_AVRO_SOE_HEADER_LEN],
                              uint64_t fingerprint)
{
        out[0] = MA_AVRO_SOE_MARKER0;
        out[1] = MA_AVRO_SOE_MARKER1;
        for (int i = 0; i < 8; i++)
                out[2 + i] = (unsigned char)(fingerprint >> (8 * i));
}

ma_status_t ma_avro_soe_header_read(const void *data, size_t len,
                                    uint64_t *fingerprint, ma_error_t *err)
{
        const unsigned char *bytes = data;
        uint64_t fp = 0;

        if (len >= 1 && bytes[0] != MA_AVRO_SOE_MARKER0)
                return ma_error_set(err, MA_ERR_ENCODING, NULL,
                                    "cannot decode message: first byte is "
                                    "0x%02x, not the Avro single-object "
                                    "marker C3 01; the producer must send "
                                    "single-object encoded Avro",
                                    bytes[0]);
        if (len >= 2 && bytes[1] != MA_AVRO_SOE_MARKER1)
                return ma_error_set(err, MA_ERR_ENCODING, NULL,
                                    "cannot decode message: second byte is "
                                    "0x%02x, not the Avro single-object "
                                    "marker C3 01; the producer must send "
                                    "single-object encoded Avro",
                                    bytes[1]);
        if (len < MA_AVRO_SOE_HEADER_LEN)
                return ma_error_set(err, MA_ERR_TRUNCATED, NULL,
                                    "cannot decode message: %zu bytes are too "
                                    "few for the 10-byte single-object header",
                                    len);
        for (int i = 0; i < 8; i++)
                fp |= (uint64_t)bytes[2 + i] << (8 * i);
        *fingerprint = fp;
        return MA_OK;
}
