/*
 * fuzz_decode.c - libFuzzer harness for ma_codec_decode().
 *
 * Every input is decoded as a Kafka message value.  Whatever the input, the
 * decoder must return without reading outside the input (AddressSanitizer),
 * without undefined behaviour (UBSan), and without leaking (LeakSanitizer
 * and the ma_alloc live count).  When an input decodes, the event must
 * encode again and the new message must decode to the same event, so the
 * decoder never accepts something the encoder cannot reproduce.
 *
 * The schema directory is MA_FUZZ_SCHEMA_DIR from the environment, else
 * the schemas/ folder of the source tree this harness was built from.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ma_codec_t *fuzz_codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("MA_FUZZ_SCHEMA_DIR");
        ma_error_t err = {0};

        (void)argc;
        (void)argv;
        if (dir == NULL)
                dir = MA_FUZZ_DEFAULT_SCHEMA_DIR;
        if (ma_codec_open(dir, 0, &fuzz_codec, &err) != MA_OK) {
                fprintf(stderr, "fuzz_decode: cannot open codec: %s\n",
                        err.message);
                abort();
        }
        return 0;
}

static int fuzz_str_equal(const char *a, const char *b)
{
        if (a == NULL || b == NULL)
                return a == b;
        return strcmp(a, b) == 0;
}

/* Compares what the encoder writes; a full copy is in the unit tests. */
static int fuzz_events_equal(const ma_event_t *a, const ma_event_t *b)
{
        if (a->kind != b->kind || a->sekvens != b->sekvens ||
            a->tidpunkt.utc_ms != b->tidpunkt.utc_ms ||
            a->tidpunkt.offset_min != b->tidpunkt.offset_min ||
            a->taggar_count != b->taggar_count ||
            a->giltig_till != b->giltig_till ||
            a->atgard_senast != b->atgard_senast ||
            a->part.has_kund != b->part.has_kund ||
            a->part.has_arende != b->part.has_arende)
                return 0;
        for (size_t i = 0; i < a->taggar_count; i++) {
                if (!fuzz_str_equal(a->taggar[i], b->taggar[i]))
                        return 0;
        }
        return fuzz_str_equal(a->kundhandelse_id, b->kundhandelse_id) &&
               fuzz_str_equal(a->rubrik, b->rubrik) &&
               fuzz_str_equal(a->beskrivning, b->beskrivning) &&
               fuzz_str_equal(a->part.kund_identifierare,
                              b->part.kund_identifierare) &&
               fuzz_str_equal(a->orsak, b->orsak);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        long live = ma_alloc_live();
        ma_event_t event, again;
        ma_buf_t buf = {0};
        ma_error_t err = {0};

        ma_event_init(&event);
        ma_event_init(&again);
        if (ma_codec_decode(fuzz_codec, data, size, &event, &err) == MA_OK) {
                if (ma_codec_encode(fuzz_codec, &event, &buf, &err) != MA_OK) {
                        fprintf(stderr, "decoded event does not encode: %s\n",
                                err.message);
                        abort();
                }
                if (ma_codec_decode(fuzz_codec, buf.data, buf.len, &again,
                                    &err) != MA_OK) {
                        fprintf(stderr,
                                "re-encoded event does not decode: "
                                "%s\n",
                                err.message);
                        abort();
                }
                if (!fuzz_events_equal(&event, &again)) {
                        fprintf(stderr, "re-encoded event differs\n");
                        abort();
                }
        } else if (event.kundhandelse_id != NULL || err.message[0] == '\0') {
                fprintf(stderr, "failed decode left state or no message\n");
                abort();
        }
        ma_event_clear(&event);
        ma_event_clear(&again);
        ma_buf_free(&buf);
        if (ma_alloc_live() != live) {
                fprintf(stderr, "decode leaked %ld ma_malloc blocks\n",
                        ma_alloc_live() - live);
                abort();
        }
        return 0;
}
