/* crypto/key.c — private keys: generation, PEM files, classification. See crypto.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/mem.h"
#include "crypto/crypto.h"
#include "common/file.h"
#include "crypto/internal.h"

/* ---- helpers shared through internal.h ----------------------------------------------- */

cordon_err cordon_crypto_pkey_type(const EVP_PKEY *pkey, cordon_key_type *type)
{
    char name[64];
    char encoding[32];

    *type = CORDON_KEY_NONE;
    if (pkey == NULL)
        return CORDON_ERR_KEY_TYPE;
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *type = CORDON_KEY_ED25519;
        return CORDON_OK;
    }
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return CORDON_ERR_KEY_TYPE;
    if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), NULL) != 1)
        return CORDON_ERR_KEY_TYPE;
    if (strcmp(name, "prime256v1") != 0 && strcmp(name, "P-256") != 0)
        return CORDON_ERR_KEY_TYPE;
    /* OpenSSL recognises explicit curve parameters equal to P-256 as P-256, but TLS peers
     * and RFC 5480 accept only the named-curve form; refuse the other one here too. */
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding,
                                       sizeof(encoding), NULL) != 1 ||
        strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        return CORDON_ERR_KEY_TYPE;
    *type = CORDON_KEY_P256;
    return CORDON_OK;
}

const EVP_MD *cordon_crypto_sign_md(cordon_key_type type)
{
    return type == CORDON_KEY_P256 ? EVP_sha256() : NULL;
}

int cordon_crypto_no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

cordon_err cordon_crypto_check_ca_pair(const cordon_key *ca_key, const cordon_cert *ca_cert)
{
    const EVP_PKEY *pub = X509_get0_pubkey(ca_cert->x509);

    if (pub == NULL || EVP_PKEY_eq(pub, ca_key->pkey) != 1)
        return CORDON_ERR_INVAL;
    /* Issuing under a leaf would only make certificates that never verify. */
    if (X509_check_ca(ca_cert->x509) != 1)
        return CORDON_ERR_INVAL;
    return CORDON_OK;
}

/* ---- keys ---------------------------------------------------------------------------- */

static cordon_err key_wrap(EVP_PKEY *pkey, cordon_key **out)
{
    cordon_key_type type;
    cordon_err err = cordon_crypto_pkey_type(pkey, &type);
    if (err != CORDON_OK)
        return err;
    cordon_key *key = calloc(1, sizeof(*key));
    if (key == NULL)
        return CORDON_ERR_NOMEM;
    key->pkey = pkey;
    key->type = type;
    *out = key;
    return CORDON_OK;
}

cordon_err cordon_key_generate(cordon_key_type type, cordon_key **out)
{
    cordon_err err = CORDON_OK;
    EVP_PKEY *pkey = NULL;

    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (type != CORDON_KEY_P256 && type != CORDON_KEY_ED25519)
        return CORDON_ERR_KEY_TYPE;
    ERR_set_mark();
    if (type == CORDON_KEY_P256)
        pkey = EVP_EC_gen("P-256");
    else
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = key_wrap(pkey, out);
    if (err != CORDON_OK)
        goto out;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_key_load(const char *path, cordon_key **out)
{
    cordon_err err = CORDON_OK;
    cordon_buf file;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;

    if (out == NULL || path == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    cordon_buf_init(&file, CORDON_KEY_FILE_MAX, true);
    ERR_set_mark();
    err = cordon_read_file(path, CORDON_KEY_FILE_MAX, &file);
    if (err != CORDON_OK)
        goto out;
    if (file.len == 0) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    bio = BIO_new_mem_buf(file.data, (int)file.len);
    if (bio == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, cordon_crypto_no_password, NULL, NULL, NULL);
    if (pkey == NULL) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    err = key_wrap(pkey, out);
    if (err != CORDON_OK)
        goto out;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    cordon_buf_free(&file);
    ERR_pop_to_mark();
    return err;
}

static cordon_err write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return CORDON_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return CORDON_OK;
}

cordon_err cordon_key_save(const cordon_key *key, const char *path)
{
    cordon_err err = CORDON_OK;
    cordon_buf pem;
    int fd = -1;

    if (key == NULL || path == NULL)
        return CORDON_ERR_INVAL;
    cordon_buf_init(&pem, CORDON_KEY_FILE_MAX, true);
    err = cordon_key_private_pem(key, &pem);
    if (err != CORDON_OK)
        goto out;
    /* O_EXCL also refuses to follow a symbolic link planted at path. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno == EEXIST ? CORDON_ERR_EXISTS : CORDON_ERR_IO;
        goto out;
    }
    err = write_all(fd, pem.data, pem.len);
    if (err == CORDON_OK && fsync(fd) != 0)
        err = CORDON_ERR_IO;
    if (close(fd) != 0 && err == CORDON_OK)
        err = CORDON_ERR_IO;
    fd = -1;
    /* A partly written key is useless and would make the next attempt fail with EXISTS. */
    if (err != CORDON_OK)
        (void)unlink(path);
out:
    cordon_buf_free(&pem);
    return err;
}

cordon_err cordon_key_private_pem(const cordon_key *key, cordon_buf *out)
{
    cordon_err err = CORDON_OK;
    BIO *bio = NULL;

    if (key == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    /* The bytes are the private key: only a buffer that wipes itself may hold them. */
    if (!out->secret)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    /* A secure-memory BIO cleanses its buffer when it grows and when it is freed. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = cordon_crypto_bio_to_buf(bio, out);
    if (err != CORDON_OK)
        goto out;
    err = cordon_buf_terminate(out);
out:
    BIO_free(bio);
    ERR_pop_to_mark();
    return err;
}

cordon_key_type cordon_key_type_of(const cordon_key *key)
{
    return key != NULL ? key->type : CORDON_KEY_NONE;
}

void cordon_key_free(cordon_key *key)
{
    if (key == NULL)
        return;
    /* EVP_PKEY_free cleanses the key material of the built-in providers. */
    EVP_PKEY_free(key->pkey);
    cordon_wipe(key, sizeof(*key));
    free(key);
}
