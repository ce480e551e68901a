/*
 * fuzz/object_fuzz.h — what fuzz/fuzz_object.c and fuzz/object_seeds.c must agree on: the
 * CA (the fuzz-only CA of enroll_fuzz_ca.h, whose key signs the seeds' node certificates
 * and CRLs), the time, the node certificates' validity and the serial that the fuzzer's
 * CRL revokes. Regenerating enroll_fuzz_ca.h changes the CA: run object_seeds again then.
 */
#ifndef CORDON_FUZZ_OBJECT_FUZZ_H
#define CORDON_FUZZ_OBJECT_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "fuzz/enroll_fuzz_ca.h"

#define OF_DAY INT64_C(86400)
#define OF_NODE_NB (FUZZ_NOW - OF_DAY)     /* every seed writer's notBefore */
#define OF_NODE_NA (FUZZ_NOW + 7 * OF_DAY) /* and notAfter */
#define OF_CRL_NUMBER 7                    /* the fuzzer's CRL, and the seeds' CRL object */
#define OF_REVOKED_SERIAL_LAST 0xc1        /* the revoked writer's serial: 0x21 0.. 0xc1 */

/* The serial of a seed writer: 0x21, zeros, last. */
static inline void of_serial(uint8_t out[CORDON_SERIAL_LEN], uint8_t last)
{
    for (size_t i = 0; i < CORDON_SERIAL_LEN; i++)
        out[i] = 0;
    out[0] = 0x21;
    out[CORDON_SERIAL_LEN - 1] = last;
}

/* The fuzz CA's key (cordon_key_load() reads only files: through a private temporary
 * one). NULL on failure. */
static inline cordon_key *of_ca_key(void)
{
    char path[] = "/tmp/fuzz-object-ca-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    size_t n = sizeof(FUZZ_CA_KEY_PEM) - 1;
    cordon_key *key = NULL;
    int written = write(fd, FUZZ_CA_KEY_PEM, n) == (ssize_t)n;
    if (close(fd) != 0 || !written || cordon_key_load(path, &key) != CORDON_OK)
        key = NULL;
    unlink(path);
    return key;
}

#endif
