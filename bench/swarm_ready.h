/*
 * bench/swarm_ready.h — the ready file of a `cordon-peer swarm` ("INDEX ADDR:PORT NODEID"
 * per instance, indexes from 0 in order), read by the load tools that talk to its
 * instances' control sockets.
 */
#ifndef CORDON_BENCH_SWARM_READY_H
#define CORDON_BENCH_SWARM_READY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/file.h"

struct swarm_instance {
    char id[65];                /* node ID, hex */
    char sock[CORDON_PATH_MAX]; /* DIR/<index>/control.sock */
};

/* Reads path into inst[0..*n) (at most max), the sockets under dir. false when the file
 * cannot be read, a line is malformed or out of order, there are more than max, or fewer
 * than two instances (a load needs an origin and a target). */
bool swarm_read_ready(const char *dir, const char *path, struct swarm_instance *inst, size_t max,
                      size_t *n);

#endif
