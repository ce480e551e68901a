/*
 * enroll/files.h — the layout of an overlay directory and the state shared by the admin
 * commands and the server.
 *
 *   DIR/ca.key        CA private key (0600) — read only by the signer and `revoke`
 *   DIR/ca.crt        CA certificate
 *   DIR/server.key    HTTPS server key (0600)
 *   DIR/server.crt    HTTPS server certificate, issued by the CA
 *   DIR/params.json   protocol parameters (operator-editable; read by `serve`)
 *   DIR/enroll.db     LMDB: tokens, issued certificates, CRL (+ enroll.db-lock)
 *   DIR/audit.log     audit log, JSON lines (0600)
 */
#ifndef CORDON_ENROLL_FILES_H
#define CORDON_ENROLL_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "enroll/db.h"
#include "enroll/signer.h"
#include "wire/overlay_doc.h"

struct cordon_enroll_paths {
    char dir[CORDON_PATH_MAX];
    char ca_key[CORDON_PATH_MAX];
    char ca_cert[CORDON_PATH_MAX];
    char server_key[CORDON_PATH_MAX];
    char server_cert[CORDON_PATH_MAX];
    char params[CORDON_PATH_MAX];
    char db[CORDON_PATH_MAX];
    char audit[CORDON_PATH_MAX];
};

/* CORDON_ERR_TOO_LARGE when dir is too long for the paths. */
CORDON_MUST_CHECK cordon_err cordon_enroll_paths(const char *dir,
                                                 struct cordon_enroll_paths *paths);

/* The overlay name (from the database), the parameters (params.json, checked) and the CA
 * certificate PEM, as `serve` needs them before anything else starts. The database is
 * closed again before return, so that the process may fork. */
CORDON_MUST_CHECK cordon_err cordon_enroll_load_state(const struct cordon_enroll_paths *paths,
                                                      char overlay[CORDON_OVERLAY_NAME_MAX + 1],
                                                      struct cordon_overlay_params *params,
                                                      cordon_buf *ca_pem);

/* Signs a new CRL listing every revoked certificate that has not expired, with the next
 * CRL number, and stores it in the database in one write transaction. Signs with the
 * signer when given (the server), else with ca_key and ca_cert (the revoke command).
 * If mark is given, it is called inside that same transaction first (revoke uses it to
 * mark the node), so the revocation and the CRL that lists it commit together. */
typedef cordon_err (*cordon_crl_mark_fn)(cordon_db_txn *txn, void *arg);
CORDON_MUST_CHECK cordon_err cordon_enroll_write_crl(cordon_db *db, int64_t now, uint32_t validity,
                                                     const cordon_key *ca_key,
                                                     const cordon_cert *ca_cert,
                                                     cordon_signer *signer, cordon_crl_mark_fn mark,
                                                     void *arg);

#endif
