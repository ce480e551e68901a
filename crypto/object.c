/*
 * crypto/object.c — resource IDs, signing and verifying objects. See object.h.
 *
 * Order of work in cordon_object_verify: the comparisons that cost nothing (overlay,
 * resource ID) first; then the writer's certificate, from the cache when its DER was seen
 * before (a hash and a lookup), else parsed and verified against the CA once; the object's
 * signature after that; and for kind crl the CRL's own signature last.
 *
 * The cache is a hash table of the certificates' SHA-256 (uniform already, so its first
 * bytes index the buckets) threaded on a doubly linked LRU list. Only certificates whose
 * chain verified enter it, so its entries are this overlay's nodes and an outsider cannot
 * fill it; it never holds more than cache_max entries.
 */
#include "crypto/object.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "crypto/internal.h"
#include "wire/writer.h"

/* The signature context and the 0x00 after it. */
#define CTX_LEN sizeof(CORDON_OBJECT_SIG_CONTEXT)
#define DER_SEQUENCE 0x30

_Static_assert(sizeof(CORDON_OBJECT_SIG_CONTEXT) == 17, "\"cordon-object-v1\" and its 0x00");

#define TAG_OWNED "cordon-owned-v1"
#define TAG_SHARED "cordon-shared-v1"
#define TAG_CRL "cordon-crl-v1"

/* ---- resource IDs -------------------------------------------------------------------- */

void cordon_object_resource_id(uint8_t kind, const char *overlay,
                               const uint8_t writer[CORDON_NODE_ID_LEN], const uint8_t *name,
                               size_t name_len, uint8_t out[CORDON_NODE_ID_LEN])
{
    /* The longest input: the longest tag and its 0x00, overlay and 0x00, writer, name. */
    uint8_t in[sizeof(TAG_SHARED) + CORDON_OVERLAY_NAME_MAX + 1 + CORDON_NODE_ID_LEN +
               CORDON_OBJECT_NAME_MAX];
    const char *tag;
    size_t n = 0;

    if (out == NULL)
        return;
    /* Out of range gives all zero: no object hashes there, so nothing can match it. */
    memset(out, 0, CORDON_NODE_ID_LEN);
    if (!cordon_crypto_overlay_ok(overlay))
        return;
    switch (kind) {
    case CORDON_KIND_OWNED:
        tag = TAG_OWNED;
        if (writer == NULL)
            return;
        break;
    case CORDON_KIND_SHARED:
        tag = TAG_SHARED;
        break;
    case CORDON_KIND_CRL:
        tag = TAG_CRL;
        break;
    default:
        return;
    }
    if (kind != CORDON_KIND_CRL &&
        (name_len == 0 || name_len > CORDON_OBJECT_NAME_MAX || name == NULL))
        return;

    size_t tag_len = strlen(tag) + 1; /* with its 0x00 */
    memcpy(in, tag, tag_len);
    n = tag_len;
    size_t overlay_len = strlen(overlay); /* <= CORDON_OVERLAY_NAME_MAX, checked above */
    memcpy(in + n, overlay, overlay_len);
    n += overlay_len;
    if (kind != CORDON_KIND_CRL) {
        in[n++] = 0x00;
        if (kind == CORDON_KIND_OWNED) {
            memcpy(in + n, writer, CORDON_NODE_ID_LEN);
            n += CORDON_NODE_ID_LEN;
        }
        memcpy(in + n, name, name_len);
        n += name_len;
    }
    cordon_sha256(in, n, out);
}

/* ---- helpers ------------------------------------------------------------------------- */

/* A second handle on an immutable certificate or CRL: handles are never modified once
 * made (crypto.h), so sharing the OpenSSL object is a copy in all but memory. */
static cordon_err cert_ref(const cordon_cert *c, cordon_cert **out)
{
    cordon_cert *copy = calloc(1, sizeof(*copy));
    if (copy == NULL)
        return CORDON_ERR_NOMEM;
    if (X509_up_ref(c->x509) != 1) {
        free(copy);
        return CORDON_ERR_CRYPTO;
    }
    copy->x509 = c->x509;
    *out = copy;
    return CORDON_OK;
}

static cordon_err crl_ref(const cordon_crl *c, cordon_crl **out)
{
    cordon_crl *copy = calloc(1, sizeof(*copy));
    if (copy == NULL)
        return CORDON_ERR_NOMEM;
    if (X509_CRL_up_ref(c->crl) != 1) {
        free(copy);
        return CORDON_ERR_CRYPTO;
    }
    copy->crl = c->crl;
    *out = copy;
    return CORDON_OK;
}

/* CORDON_OK when crl is issued and signed by ca and carries a crlNumber (into *number),
 * whatever its nextUpdate: cordon_crl_verify() at the CRL's own lastUpdate checks the
 * issuer, the signature and that a nextUpdate after lastUpdate is there, and nothing of
 * now. CORDON_ERR_CRL otherwise. */
static cordon_err crl_from_ca(const cordon_crl *crl, const cordon_cert *ca, uint64_t *number)
{
    int64_t last;
    cordon_err err;

    ERR_set_mark();
    err = cordon_crypto_time_get(X509_CRL_get0_lastUpdate(crl->crl), &last);
    ERR_pop_to_mark();
    if (err != CORDON_OK || cordon_crl_verify(crl, ca, last) != CORDON_OK ||
        cordon_crl_number(crl, number) != CORDON_OK)
        return CORDON_ERR_CRL;
    return CORDON_OK;
}

/* The bytes the writer signs: the context, its 0x00 and the tbs encoded from o's fields
 * into buf (CTX_LEN + CORDON_OBJECT_MAX bytes). */
static cordon_err signed_bytes(const struct cordon_object *o, uint8_t *buf, size_t *len)
{
    size_t tbs_len;
    cordon_err err = cordon_object_encode_tbs(o, buf + CTX_LEN, CORDON_OBJECT_MAX, &tbs_len);
    if (err != CORDON_OK)
        return err;
    memcpy(buf, CORDON_OBJECT_SIG_CONTEXT, CTX_LEN);
    *len = CTX_LEN + tbs_len;
    return CORDON_OK;
}

/* ---- signing ------------------------------------------------------------------------- */

/* For kind crl: the value is a DER CRL whose crlNumber is seq (the CA's signature is the
 * verifier's to check). */
static bool crl_value_matches(const struct cordon_object *o)
{
    cordon_crl *crl = NULL;
    uint64_t number;
    bool ok = o->value_len > 0 && o->value[0] == DER_SEQUENCE &&
              cordon_crl_parse(o->value, o->value_len, &crl) == CORDON_OK &&
              cordon_crl_number(crl, &number) == CORDON_OK && number == o->seq;
    cordon_crl_free(crl);
    return ok;
}

cordon_err cordon_object_sign(const cordon_key *key, struct cordon_object *o, uint8_t *out,
                              size_t cap, size_t *len)
{
    cordon_err err = CORDON_OK;
    cordon_cert *cert = NULL;
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t sig[CORDON_SIG_MAX];
    size_t tbs_len, sig_len, total;
    cordon_writer w;

    if (key == NULL || o == NULL || out == NULL || len == NULL)
        return CORDON_ERR_INVAL;
    /* The certificate: DER (as the object carries it), of key, naming o->writer. */
    if (o->cert == NULL || o->cert_len == 0 || o->cert_len > CORDON_OBJECT_CERT_MAX ||
        o->cert[0] != DER_SEQUENCE || memchr(o->overlay, '\0', sizeof(o->overlay)) == NULL ||
        cordon_cert_parse(o->cert, o->cert_len, &cert) != CORDON_OK ||
        !cordon_cert_matches_key(cert, key) ||
        cordon_cert_node_id(cert, o->overlay, id) != CORDON_OK ||
        memcmp(id, o->writer, sizeof(id)) != 0) {
        err = CORDON_ERR_INVAL;
        goto out;
    }
    if (o->kind == CORDON_KIND_CRL && !crl_value_matches(o)) {
        err = CORDON_ERR_INVAL;
        goto out;
    }
    cordon_object_resource_id(o->kind, o->overlay, o->writer, o->name, o->name_len, o->resource);
    /* Signed in place: the context, then the tbs right after it, signed as one run of
     * bytes; then the tbs moves to the front and the signature follows. Whenever the
     * finished object fits in cap, so does this (a signature is longer than the context). */
    if (cap < CTX_LEN) {
        err = CORDON_ERR_TOO_LARGE;
        goto out;
    }
    err = cordon_object_encode_tbs(o, out + CTX_LEN, cap - CTX_LEN, &tbs_len);
    if (err != CORDON_OK)
        goto out;
    memcpy(out, CORDON_OBJECT_SIG_CONTEXT, CTX_LEN);
    err = cordon_sign(key, out, CTX_LEN + tbs_len, sig, &sig_len);
    if (err != CORDON_OK)
        goto out;
    memmove(out, out + CTX_LEN, tbs_len);
    cordon_writer_init(&w, out + tbs_len, cap - tbs_len);
    cordon_write_prefixed(&w, 1, sig, sig_len);
    err = cordon_writer_finish(&w, &total);
    if (err != CORDON_OK)
        goto out;
    o->tbs = out;
    o->tbs_len = tbs_len;
    o->sig = out + tbs_len + 1;
    o->sig_len = sig_len;
    *len = tbs_len + total;
out:
    cordon_cert_free(cert);
    return err;
}

/* ---- the verifier and its certificate cache ------------------------------------------ */

struct cert_entry {
    uint8_t fp[32]; /* SHA-256 of the DER */
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t not_before, not_after; /* the certificate's validity within the CA's */
    cordon_cert *cert;
    cordon_verify_ctx *vc;            /* the signature check prepared for cert */
    struct cert_entry *chain;         /* next in its bucket */
    struct cert_entry *newer, *older; /* LRU list */
};

struct cordon_object_verifier {
    cordon_cert *ca;
    int64_t ca_not_before, ca_not_after;
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    cordon_crl *crl; /* NULL: no revocation check */
    uint64_t crl_number;
    struct cert_entry **buckets; /* mask + 1 of them; NULL when cache_max is 0 */
    size_t mask;
    size_t cache_max, cache_len;
    struct cert_entry *newest, *oldest;
    struct cordon_object_verifier_stats stats;
};

cordon_err cordon_object_verifier_new(const cordon_cert *ca, const char *overlay, size_t cache_max,
                                      cordon_object_verifier **out)
{
    cordon_err err;
    cordon_object_verifier *v;

    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (ca == NULL || !cordon_crypto_overlay_ok(overlay) ||
        cache_max > CORDON_OBJECT_CERT_CACHE_MAX)
        return CORDON_ERR_INVAL;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return CORDON_ERR_NOMEM;
    memcpy(v->overlay, overlay, strlen(overlay) + 1);
    v->cache_max = cache_max;
    if ((err = cordon_cert_validity(ca, &v->ca_not_before, &v->ca_not_after)) != CORDON_OK ||
        (err = cert_ref(ca, &v->ca)) != CORDON_OK)
        goto err;
    if (cache_max > 0) {
        size_t n = 1;
        while (n < cache_max)
            n <<= 1;
        v->buckets = calloc(n, sizeof(*v->buckets));
        if (v->buckets == NULL) {
            err = CORDON_ERR_NOMEM;
            goto err;
        }
        v->mask = n - 1;
    }
    *out = v;
    return CORDON_OK;
err:
    cordon_object_verifier_free(v);
    return err;
}

cordon_err cordon_object_verifier_set_crl(cordon_object_verifier *v, const cordon_crl *crl)
{
    cordon_crl *ref = NULL;
    uint64_t number;
    cordon_err err;

    if (v == NULL || crl == NULL)
        return CORDON_ERR_INVAL;
    if (crl_from_ca(crl, v->ca, &number) != CORDON_OK)
        return CORDON_ERR_CRL;
    /* An older CRL could un-revoke a certificate that a newer one lists. */
    if (v->crl != NULL && number < v->crl_number)
        return CORDON_ERR_CRL;
    if ((err = crl_ref(crl, &ref)) != CORDON_OK)
        return err;
    cordon_crl_free(v->crl);
    v->crl = ref;
    v->crl_number = number;
    return CORDON_OK;
}

void cordon_object_verifier_free(cordon_object_verifier *v)
{
    if (v == NULL)
        return;
    struct cert_entry *e = v->newest;
    while (e != NULL) {
        struct cert_entry *older = e->older;
        cordon_verify_ctx_free(e->vc);
        cordon_cert_free(e->cert);
        free(e);
        e = older;
    }
    free(v->buckets);
    cordon_crl_free(v->crl);
    cordon_cert_free(v->ca);
    free(v);
}

void cordon_object_verifier_stats(const cordon_object_verifier *v,
                                  struct cordon_object_verifier_stats *out)
{
    if (out == NULL)
        return;
    if (v == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = v->stats;
}

static struct cert_entry **bucket_of(const cordon_object_verifier *v, const uint8_t fp[32])
{
    uint64_t h;
    memcpy(&h, fp, sizeof(h));
    return &v->buckets[(size_t)h & v->mask];
}

static void lru_unlink(cordon_object_verifier *v, struct cert_entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        v->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        v->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(cordon_object_verifier *v, struct cert_entry *e)
{
    e->older = v->newest;
    e->newer = NULL;
    if (v->newest != NULL)
        v->newest->newer = e;
    else
        v->oldest = e;
    v->newest = e;
}

static struct cert_entry *cache_find(cordon_object_verifier *v, const uint8_t fp[32])
{
    if (v->buckets == NULL)
        return NULL;
    for (struct cert_entry *e = *bucket_of(v, fp); e != NULL; e = e->chain) {
        if (memcmp(e->fp, fp, sizeof(e->fp)) == 0) {
            lru_unlink(v, e);
            lru_push(v, e);
            return e;
        }
    }
    return NULL;
}

/* Drops the least recently used entry. */
static void cache_evict(cordon_object_verifier *v)
{
    struct cert_entry *e = v->oldest;
    struct cert_entry **p = bucket_of(v, e->fp);
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    lru_unlink(v, e);
    cordon_verify_ctx_free(e->vc);
    cordon_cert_free(e->cert);
    free(e);
    v->cache_len--;
}

/* Moves a verified certificate (scratch) into the cache; scratch keeps it when there is no
 * cache or no memory for an entry: the object is checked all the same. */
static struct cert_entry *cache_insert(cordon_object_verifier *v, struct cert_entry *scratch)
{
    if (v->cache_max == 0)
        return scratch;
    struct cert_entry *e = malloc(sizeof(*e));
    if (e == NULL)
        return scratch;
    if (v->cache_len == v->cache_max)
        cache_evict(v);
    *e = *scratch;
    scratch->cert = NULL;
    scratch->vc = NULL;
    struct cert_entry **b = bucket_of(v, e->fp);
    e->chain = *b;
    *b = e;
    lru_push(v, e);
    v->cache_len++;
    return e;
}

/* A miss: the certificate is parsed and its chain verified at now without a CRL (the
 * caller checks revocation, see object.h), into scratch. */
static cordon_err cert_admit(cordon_object_verifier *v, const struct cordon_object *o, int64_t now,
                             struct cert_entry *scratch)
{
    cordon_err err;
    int64_t nb, na;

    /* DER only: the object carries one encoding, and the cache is keyed by it. */
    if (o->cert[0] != DER_SEQUENCE)
        return CORDON_ERR_MALFORMED;
    err = cordon_cert_parse(o->cert, o->cert_len, &scratch->cert);
    if (err == CORDON_ERR_TOO_LARGE)
        err = CORDON_ERR_MALFORMED;
    if (err != CORDON_OK)
        return err;
    if ((err = cordon_cert_verify_node(scratch->cert, v->ca, NULL, v->overlay, now,
                                       scratch->node_id)) != CORDON_OK ||
        (err = cordon_cert_serial(scratch->cert, scratch->serial)) != CORDON_OK ||
        (err = cordon_cert_validity(scratch->cert, &nb, &na)) != CORDON_OK ||
        (err = cordon_verify_ctx_new(scratch->cert, &scratch->vc)) != CORDON_OK)
        return err;
    /* The CA's own validity counts too, as it does in cordon_cert_verify_node(). */
    scratch->not_before = nb > v->ca_not_before ? nb : v->ca_not_before;
    scratch->not_after = na < v->ca_not_after ? na : v->ca_not_after;
    return CORDON_OK;
}

/* The writer's certificate: found in the cache or admitted into it, then checked at now
 * against the current CRL and the object's writer. *signer borrows the certificate's
 * prepared signature check (from the cache, or from scratch, which the caller frees). */
static cordon_err check_cert(cordon_object_verifier *v, const struct cordon_object *o, int64_t now,
                             struct cert_entry *scratch, cordon_verify_ctx **signer)
{
    uint8_t fp[32];
    cordon_err err;

    if (o->cert == NULL || o->cert_len == 0 || o->cert_len > CORDON_OBJECT_CERT_MAX)
        return CORDON_ERR_INVAL;
    cordon_sha256(o->cert, o->cert_len, fp);
    struct cert_entry *e = cache_find(v, fp);
    if (e != NULL) {
        v->stats.cert_hits++;
    } else {
        v->stats.cert_misses++;
        memcpy(scratch->fp, fp, sizeof(fp));
        if ((err = cert_admit(v, o, now, scratch)) != CORDON_OK)
            return err;
        e = cache_insert(v, scratch);
    }
    /* What can change between two objects of one writer: the time and the CRL. */
    if (now < e->not_before)
        return CORDON_ERR_CERT_NOT_YET_VALID;
    if (now >= e->not_after)
        return CORDON_ERR_CERT_EXPIRED;
    if (v->crl != NULL && cordon_crl_lists(v->crl, e->serial))
        return CORDON_ERR_CERT_REVOKED;
    if (memcmp(e->node_id, o->writer, sizeof(e->node_id)) != 0)
        return CORDON_ERR_OBJ_NOT_ALLOWED;
    *signer = e->vc;
    return CORDON_OK;
}

/* Kind crl: the value is a DER CRL of the overlay CA numbered seq; stale is fine. */
static cordon_err check_crl_value(const cordon_object_verifier *v, const struct cordon_object *o)
{
    cordon_crl *crl = NULL;
    uint64_t number;
    cordon_err err = CORDON_ERR_CRL;

    if (o->value == NULL || o->value_len == 0 || o->value[0] != DER_SEQUENCE)
        return CORDON_ERR_CRL;
    err = cordon_crl_parse(o->value, o->value_len, &crl);
    if (err == CORDON_ERR_NOMEM)
        return err;
    if (err == CORDON_OK)
        err = crl_from_ca(crl, v->ca, &number);
    else
        err = CORDON_ERR_CRL;
    if (err == CORDON_OK && number != o->seq)
        err = CORDON_ERR_CRL;
    cordon_crl_free(crl);
    return err;
}

static cordon_err verify(cordon_object_verifier *v, const struct cordon_object *o, int64_t now)
{
    uint8_t rid[CORDON_NODE_ID_LEN];
    struct cert_entry scratch;
    cordon_verify_ctx *signer = NULL;
    uint8_t *buf = NULL;
    size_t len;
    cordon_err err;

    if (strncmp(o->overlay, v->overlay, sizeof(o->overlay)) != 0)
        return CORDON_ERR_OBJ_NOT_ALLOWED;
    cordon_object_resource_id(o->kind, o->overlay, o->writer, o->name, o->name_len, rid);
    if (memcmp(rid, o->resource, sizeof(rid)) != 0)
        return CORDON_ERR_OBJ_NOT_ALLOWED;

    memset(&scratch, 0, sizeof(scratch));
    err = check_cert(v, o, now, &scratch, &signer);
    if (err != CORDON_OK)
        goto out;
    /* The signed bytes are encoded again from the fields this function judged, rather
     * than taken from o->tbs: a struct changed after decoding cannot pass on a stale tbs. */
    buf = malloc(CTX_LEN + CORDON_OBJECT_MAX);
    if (buf == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if ((err = signed_bytes(o, buf, &len)) != CORDON_OK)
        goto out;
    if ((err = cordon_verify_with(signer, buf, len, o->sig, o->sig_len)) != CORDON_OK)
        goto out;
    if (o->kind == CORDON_KIND_CRL)
        err = check_crl_value(v, o);
out:
    free(buf);
    cordon_verify_ctx_free(scratch.vc);
    cordon_cert_free(scratch.cert);
    return err;
}

cordon_err cordon_object_verify(cordon_object_verifier *v, const struct cordon_object *o,
                                int64_t now)
{
    if (v == NULL || o == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = verify(v, o, now);
    if (err == CORDON_OK)
        v->stats.verified++;
    else
        v->stats.refused++;
    return err;
}
