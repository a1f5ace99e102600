/*
 * One pseudonym key shared by several threads (pseudonym.h allows it): the
 * key passes HMAC contexts between calls, and every thread must still get
 * the pseudonyms a key used by one thread alone gives.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ma/pseudonym.h"

#define TEST_THREADS 4
#define TEST_IDS     2000

static const char secret[] = "threads-test-secret-0123456789ab";

typedef struct test_job {
        const ma_pseudonym_key_t *key;
        int first; /* the thread starts at this id, so threads interleave */
        char (*out)[MA_PSEUDONYM_HEX_LEN + 1];
        int failures;
} test_job_t;

/* Writes the identifierare of id: 12 digits, not a real number. */
static void test_id(int id, char out[13])
{
        snprintf(out, 13, "19%010d", id);
}

static void *test_worker(void *arg)
{
        test_job_t *job = arg;

        for (int n = 0; n < TEST_IDS; n++) {
                int id = (job->first + n) % TEST_IDS;
                char text[13];

                test_id(id, text);
                if (ma_pseudonym_customer(job->key, MA_KUND_PERSONNUMMER, text,
                                          id % 3 == 0 ? "firma" : NULL,
                                          job->out[id]) != MA_OK)
                        job->failures++;
        }
        return NULL;
}

static void test_pseudonym_shared_key_threads(void **state)
{
        static char expected[TEST_IDS][MA_PSEUDONYM_HEX_LEN + 1];
        static char got[TEST_THREADS][TEST_IDS][MA_PSEUDONYM_HEX_LEN + 1];
        ma_pseudonym_key_t *alone = NULL;
        ma_pseudonym_key_t *shared = NULL;
        pthread_t threads[TEST_THREADS];
        test_job_t jobs[TEST_THREADS];

        (void)state;
        assert_int_equal(
                ma_pseudonym_key_new(secret, strlen(secret), &alone, NULL),
                MA_OK);
        assert_int_equal(
                ma_pseudonym_key_new(secret, strlen(secret), &shared, NULL),
                MA_OK);
        for (int id = 0; id < TEST_IDS; id++) {
                char text[13];

                test_id(id, text);
                assert_int_equal(
                        ma_pseudonym_customer(alone, MA_KUND_PERSONNUMMER, text,
                                              id % 3 == 0 ? "firma" : NULL,
                                              expected[id]),
                        MA_OK);
        }
        for (int t = 0; t < TEST_THREADS; t++) {
                jobs[t] = (test_job_t){shared, t * TEST_IDS / TEST_THREADS,
                                       got[t], 0};
                assert_int_equal(pthread_create(&threads[t], NULL, test_worker,
                                                &jobs[t]),
                                 0);
        }
        for (int t = 0; t < TEST_THREADS; t++) {
                assert_int_equal(pthread_join(threads[t], NULL), 0);
                assert_int_equal(jobs[t].failures, 0);
                for (int id = 0; id < TEST_IDS; id++)
                        assert_string_equal(got[t][id], expected[id]);
        }
        /* Two different ids must not share a pseudonym. */
        assert_string_not_equal(expected[0], expected[1]);
        ma_pseudonym_key_free(alone);
        ma_pseudonym_key_free(shared);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pseudonym_shared_key_threads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
