#include "bench/swarm_ready.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/file.h"

bool swarm_read_ready(const char *dir, const char *path, struct swarm_instance *inst, size_t max,
                      size_t *n)
{
    cordon_buf b;
    cordon_buf_init(&b, max * 128, false);
    bool ok =
        cordon_read_file(path, b.max, &b) == CORDON_OK && cordon_buf_terminate(&b) == CORDON_OK;
    *n = 0;
    for (char *line = ok ? (char *)b.data : NULL, *save = NULL;
         ok && (line = strtok_r(line, "\n", &save)) != NULL; line = NULL) {
        size_t index;
        char addr[80], id[65];
        if (*n == max || sscanf(line, "%zu %79s %64s", &index, addr, id) != 3 || index != *n ||
            strlen(id) != 64) {
            ok = false;
            break;
        }
        snprintf(inst[*n].id, sizeof(inst[*n].id), "%s", id);
        if (snprintf(inst[*n].sock, sizeof(inst[*n].sock), "%s/%zu/control.sock", dir, index) >=
            (int)sizeof(inst[*n].sock))
            ok = false;
        (*n)++;
    }
    cordon_buf_free(&b);
    return ok && *n >= 2;
}
