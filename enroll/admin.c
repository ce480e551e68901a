/* enroll/admin.c — see admin.h. */
#include "enroll/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/mem.h"
#include "crypto/crypto.h"
#include "enroll/audit.h"
#include "enroll/db.h"
#include "enroll/files.h"
#include "enroll/request.h"
#include "wire/overlay_doc.h"

#define SERVER_CERT_DAYS 825

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void audit_event(const struct cordon_enroll_paths *paths,
                        const struct cordon_audit_event *ev)
{
    cordon_audit *a;
    if (cordon_audit_open(paths->audit, &a) != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: warning: cannot open the audit log %s\n", paths->audit);
        return;
    }
    if (cordon_audit_write(a, now_s(), ev) != CORDON_OK || cordon_audit_sync(a) != CORDON_OK)
        fprintf(stderr, "cordon-enroll: warning: cannot write the audit log %s\n", paths->audit);
    cordon_audit_close(a);
}

/* Labels and reasons end up in JSON, logs and terminals: printable ASCII only. */
static bool printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n == max || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return false;
    return true;
}

static cordon_err save_cert(const cordon_cert *cert, const char *path)
{
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CERT_MAX, false);
    cordon_err err = cordon_cert_pem(cert, &pem);
    if (err == CORDON_OK)
        err = cordon_write_file(path, pem.data, pem.len, 0644);
    cordon_buf_free(&pem);
    return err;
}

static cordon_err random_serial(uint8_t serial[CORDON_SERIAL_LEN])
{
    cordon_err err = cordon_random(serial, CORDON_SERIAL_LEN);
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x01);
    return err;
}

cordon_err cordon_admin_init(const struct cordon_init_options *o, FILE *out)
{
    struct cordon_enroll_paths paths;
    struct cordon_overlay_params params;
    cordon_key *ca_key = NULL, *server_key = NULL;
    cordon_cert *ca = NULL, *server = NULL;
    cordon_crl *crl = NULL;
    cordon_db *db = NULL;
    cordon_db_txn *txn = NULL;
    cordon_buf text, der;
    uint8_t serial[CORDON_SERIAL_LEN], fp[32];
    char fp_hex[65];
    bool created_any = false;
    int64_t now = now_s();
    cordon_buf_init(&text, CORDON_OVERLAY_DOC_MAX, false);
    cordon_buf_init(&der, CORDON_CRL_MAX, false);

    cordon_err err = cordon_overlay_name_check(o->overlay);
    if (err != CORDON_OK) {
        fprintf(stderr,
                "cordon-enroll: overlay name '%s' is invalid: use 1-63 characters "
                "of a-z, 0-9 and '-'\n",
                o->overlay);
        goto out;
    }
    err = cordon_enroll_paths(o->dir, &paths);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: directory path too long\n");
        goto out;
    }
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cordon-enroll: cannot create %s: %s\n", o->dir, strerror(errno));
        err = CORDON_ERR_IO;
        goto out;
    }
    if (cordon_path_exists(paths.ca_key) || cordon_path_exists(paths.db) ||
        cordon_path_exists(paths.ca_cert)) {
        fprintf(stderr, "cordon-enroll: %s already holds an overlay; refusing to overwrite it\n",
                o->dir);
        err = CORDON_ERR_EXISTS;
        goto out;
    }
    created_any = true;
    int64_t ca_until = now + (int64_t)o->ca_validity_days * 86400;
    cordon_overlay_params_default(&params);
    err = cordon_key_generate(CORDON_KEY_P256, &ca_key);
    if (err == CORDON_OK)
        err = cordon_key_save(ca_key, paths.ca_key);
    if (err == CORDON_OK)
        err = cordon_ca_create(ca_key, o->overlay, now - 60, ca_until, &ca);
    if (err == CORDON_OK)
        err = save_cert(ca, paths.ca_cert);
    if (err == CORDON_OK)
        err = cordon_key_generate(CORDON_KEY_P256, &server_key);
    if (err == CORDON_OK)
        err = cordon_key_save(server_key, paths.server_key);
    if (err == CORDON_OK)
        err = random_serial(serial);
    if (err == CORDON_OK) {
        int64_t until = now + (int64_t)SERVER_CERT_DAYS * 86400;
        err = cordon_cert_issue_server(server_key, o->server_names, o->n_server_names, serial,
                                       now - 60, until < ca_until ? until : ca_until, ca_key, ca,
                                       &server);
    }
    if (err == CORDON_OK)
        err = save_cert(server, paths.server_cert);
    if (err == CORDON_OK)
        err = cordon_overlay_params_encode(&params, &text);
    if (err == CORDON_OK)
        err = cordon_write_file(paths.params, text.data, text.len, 0644);
    if (err == CORDON_OK)
        err = cordon_crl_create(ca_key, ca, 1, now, now + params.crl_validity, NULL, 0, &crl);
    if (err == CORDON_OK)
        err = cordon_crl_der(crl, &der);
    if (err == CORDON_OK)
        err = cordon_db_open(paths.db, true, &db);
    if (err == CORDON_OK)
        err = cordon_db_begin(db, true, &txn);
    if (err == CORDON_OK) {
        cordon_err e = cordon_db_meta_put(txn, "overlay", o->overlay, strlen(o->overlay));
        if (e == CORDON_OK)
            e = cordon_db_meta_put(txn, "crl", der.data, der.len);
        if (e == CORDON_OK)
            e = cordon_db_meta_put_u64(txn, "crl_number", 1);
        if (e == CORDON_OK)
            e = cordon_db_meta_put_u64(txn, "crl_next_update",
                                       (uint64_t)(now + params.crl_validity));
        if (e == CORDON_OK)
            e = cordon_db_meta_put_u64(txn, "revocations", 0);
        if (e == CORDON_OK) {
            err = cordon_db_commit(txn);
            txn = NULL;
        } else {
            err = e;
        }
    }
    if (err == CORDON_OK)
        err = cordon_cert_fingerprint(ca, fp);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: init failed: %s\n", cordon_strerror(err));
        goto out;
    }
    cordon_hex_encode(fp, sizeof(fp), fp_hex);
    struct cordon_audit_event ev = {.event = "init", .outcome = "created", .detail = o->overlay};
    audit_event(&paths, &ev);
    fprintf(out,
            "overlay %s created in %s\n"
            "CA fingerprint: sha256:%s\n"
            "next: cordon-enroll token --dir %s, then cordon-enroll serve --dir %s\n",
            o->overlay, o->dir, fp_hex, o->dir, o->dir);
out:
    if (err != CORDON_OK && created_any && err != CORDON_ERR_EXISTS) {
        /* Leave no half-made overlay behind that a retry would refuse. */
        const char *made[] = {paths.ca_key,      paths.ca_cert, paths.server_key,
                              paths.server_cert, paths.params,  paths.db};
        char lock[CORDON_PATH_MAX + 8];
        for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++)
            unlink(made[i]);
        snprintf(lock, sizeof(lock), "%s-lock", paths.db);
        unlink(lock);
    }
    cordon_db_abort(txn);
    cordon_db_close(db);
    cordon_crl_free(crl);
    cordon_cert_free(ca);
    cordon_cert_free(server);
    cordon_key_free(ca_key);
    cordon_key_free(server_key);
    cordon_buf_free(&text);
    cordon_buf_free(&der);
    return err;
}

static cordon_err open_db(const char *dir, struct cordon_enroll_paths *paths, cordon_db **db)
{
    cordon_err err = cordon_enroll_paths(dir, paths);
    if (err == CORDON_OK)
        err = cordon_db_open(paths->db, false, db);
    if (err == CORDON_ERR_NOT_FOUND)
        fprintf(stderr, "cordon-enroll: no overlay in %s (run cordon-enroll init first)\n", dir);
    else if (err != CORDON_OK)
        fprintf(stderr, "cordon-enroll: cannot open %s: %s\n", paths->db, cordon_strerror(err));
    return err;
}

cordon_err cordon_admin_token(const struct cordon_token_options *o, FILE *out)
{
    struct cordon_enroll_paths paths;
    struct cordon_token_record rec;
    cordon_db *db = NULL;
    cordon_db_txn *txn = NULL;
    uint8_t raw[CORDON_TOKEN_BYTES], hash[32];
    char text[CORDON_TOKEN_TEXT_LEN + 1];
    if (o->max_nodes == 0 || o->max_nodes > CORDON_TOKEN_MAX_NODES || o->ttl == 0 ||
        o->ttl > 10ULL * 365 * 86400 || strlen(o->label) > CORDON_TOKEN_LABEL_MAX) {
        fprintf(stderr,
                "cordon-enroll: --max-nodes must be 1..%d, --ttl 1..315360000 seconds, "
                "--label at most %d bytes\n",
                CORDON_TOKEN_MAX_NODES, CORDON_TOKEN_LABEL_MAX);
        return CORDON_ERR_INVAL;
    }
    cordon_err err = open_db(o->dir, &paths, &db);
    if (err != CORDON_OK)
        return err;
    memset(&rec, 0, sizeof(rec));
    rec.max_nodes = o->max_nodes;
    rec.created_at = now_s();
    rec.expires_at = rec.created_at + (int64_t)o->ttl;
    snprintf(rec.label, sizeof(rec.label), "%s", o->label);
    err = cordon_random(raw, sizeof(raw));
    if (err == CORDON_OK) {
        cordon_token_hash(raw, hash);
        cordon_token_format(raw, text);
        err = cordon_db_begin(db, true, &txn);
    }
    if (err == CORDON_OK) {
        err = cordon_db_token_put(txn, hash, &rec);
        if (err == CORDON_OK)
            err = cordon_db_commit(txn);
        else
            cordon_db_abort(txn);
    }
    if (err == CORDON_OK) {
        struct cordon_audit_event ev = {
            .event = "token", .outcome = "created", .token_label = rec.label};
        audit_event(&paths, &ev);
        /* The only place the token ever appears: stdout, once. */
        fprintf(out, "%s\n", text);
        fflush(out);
    } else {
        fprintf(stderr, "cordon-enroll: cannot store the token: %s\n", cordon_strerror(err));
    }
    cordon_wipe(raw, sizeof(raw));
    cordon_wipe(text, sizeof(text));
    cordon_db_close(db);
    return err;
}

struct revoke_arg {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    const char *reason;
    int64_t now;
    uint8_t serial[CORDON_SERIAL_LEN];
    bool already;
};

static cordon_err mark_revoked(cordon_db_txn *txn, void *arg)
{
    struct revoke_arg *a = arg;
    struct cordon_node_record rec;
    uint64_t count = 0;
    cordon_err err = cordon_db_node_get(txn, a->node_id, &rec);
    if (err != CORDON_OK)
        return err;
    memcpy(a->serial, rec.serial, sizeof(a->serial));
    if (rec.revoked_at != 0) {
        a->already = true;
        cordon_node_record_clear(&rec);
        return CORDON_ERR_EXISTS;
    }
    rec.revoked_at = a->now;
    snprintf(rec.reason, sizeof(rec.reason), "%s", a->reason);
    err = cordon_db_node_update(txn, &rec);
    cordon_node_record_clear(&rec);
    if (err == CORDON_OK && cordon_db_meta_get_u64(txn, "revocations", &count) != CORDON_OK)
        count = 0;
    if (err == CORDON_OK)
        err = cordon_db_meta_put_u64(txn, "revocations", count + 1);
    return err;
}

cordon_err cordon_admin_revoke(const char *dir, const char *node_hex, const char *reason, FILE *out)
{
    struct cordon_enroll_paths paths;
    struct cordon_overlay_params params;
    struct revoke_arg arg = {.reason = reason ? reason : "", .now = now_s()};
    cordon_db *db = NULL;
    cordon_key *ca_key = NULL;
    cordon_cert *ca = NULL;
    cordon_buf text;
    cordon_buf_init(&text, CORDON_OVERLAY_DOC_MAX, false);
    if (node_hex == NULL || cordon_hex_decode(node_hex, strlen(node_hex), arg.node_id,
                                              sizeof(arg.node_id)) != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: --node must be a node ID of 64 hex digits\n");
        return CORDON_ERR_INVAL;
    }
    if (!printable(arg.reason, CORDON_TOKEN_LABEL_MAX)) {
        fprintf(stderr, "cordon-enroll: --reason is at most %d printable ASCII characters\n",
                CORDON_TOKEN_LABEL_MAX);
        return CORDON_ERR_INVAL;
    }
    cordon_err err = open_db(dir, &paths, &db);
    if (err != CORDON_OK)
        goto out;
    err = cordon_read_file(paths.params, CORDON_OVERLAY_DOC_MAX, &text);
    if (err == CORDON_OK)
        err = cordon_overlay_params_decode(text.data, text.len, &params);
    if (err == CORDON_OK)
        err = cordon_key_load(paths.ca_key, &ca_key);
    if (err == CORDON_OK)
        err = cordon_cert_load(paths.ca_cert, &ca);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot load the CA or params.json from %s: %s\n", dir,
                cordon_strerror(err));
        goto out;
    }
    /* The revocation and the CRL that lists it commit in one transaction. */
    err = cordon_enroll_write_crl(db, arg.now, params.crl_validity, ca_key, ca, NULL, mark_revoked,
                                  &arg);
    if (err == CORDON_ERR_NOT_FOUND) {
        fprintf(stderr, "cordon-enroll: no node %s was enrolled in this overlay\n", node_hex);
        goto out;
    }
    if (err == CORDON_ERR_EXISTS && arg.already) {
        fprintf(out, "node %s was already revoked\n", node_hex);
        err = CORDON_OK;
        goto out;
    }
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: revocation failed: %s\n", cordon_strerror(err));
        goto out;
    }
    struct cordon_audit_event ev = {.event = "revoke",
                                    .outcome = "revoked",
                                    .node_id = arg.node_id,
                                    .serial = arg.serial,
                                    .detail = arg.reason[0] ? arg.reason : NULL};
    audit_event(&paths, &ev);
    fprintf(out, "node %s revoked; the CRL now lists it\n", node_hex);
out:
    cordon_key_free(ca_key);
    cordon_cert_free(ca);
    cordon_db_close(db);
    cordon_buf_free(&text);
    return err;
}

static cordon_err print_node(const struct cordon_node_record *rec, void *arg)
{
    FILE *out = arg;
    char node[65], serial[33];
    cordon_hex_encode(rec->node_id, sizeof(rec->node_id), node);
    cordon_hex_encode(rec->serial, sizeof(rec->serial), serial);
    json_t *o = json_object();
    if (o == NULL)
        return CORDON_ERR_NOMEM;
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "serial", json_string(serial));
    json_object_set_new(o, "token", json_string(rec->token_label));
    json_object_set_new(o, "issued_at", json_integer(rec->issued_at));
    json_object_set_new(o, "not_after", json_integer(rec->not_after));
    json_object_set_new(o, "revoked", json_boolean(rec->revoked_at != 0));
    if (rec->revoked_at != 0) {
        json_object_set_new(o, "revoked_at", json_integer(rec->revoked_at));
        json_object_set_new(o, "reason", json_string(rec->reason));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return CORDON_ERR_NOMEM;
    fprintf(out, "%s\n", line);
    free(line);
    return CORDON_OK;
}

cordon_err cordon_admin_list(const char *dir, FILE *out)
{
    struct cordon_enroll_paths paths;
    cordon_db *db = NULL;
    cordon_db_txn *txn = NULL;
    cordon_err err = open_db(dir, &paths, &db);
    if (err == CORDON_OK)
        err = cordon_db_begin(db, false, &txn);
    if (err == CORDON_OK)
        err = cordon_db_node_each(txn, print_node, out);
    if (err != CORDON_OK && db != NULL)
        fprintf(stderr, "cordon-enroll: cannot list: %s\n", cordon_strerror(err));
    cordon_db_abort(txn);
    cordon_db_close(db);
    return err;
}
