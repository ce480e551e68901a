/*
 * wire/overlay_doc.c — see overlay_doc.h. JSON through jansson: every decoder checks the
 * input length against its cap before jansson sees a byte, parses with duplicate keys
 * refused, then walks the tree by key (never by searching the text) and checks each
 * member's type and range into a local copy that reaches the caller only when all of it
 * is valid. One table of parameter ranges serves the check, the decoders and the encoders.
 */
#include "wire/overlay_doc.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

#define ALG_P256 "ecdsa-p256-sha256"
#define ALG_ED25519 "ed25519"
#define CA_PEM_PREFIX "-----BEGIN CERTIFICATE-----"
#define ISSUED_AT_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define PARSE_FLAGS JSON_REJECT_DUPLICATES
#define COMPACT_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)

/* ---- the parameter table ------------------------------------------------------------- */

struct param_rule {
    const char *name;
    size_t offset;
    size_t size; /* 4 or 8 */
    uint64_t min;
    uint64_t max;
    uint64_t def;
};

#define FIELD_SIZE(field) sizeof(((struct cordon_overlay_params *)0)->field)
#define RULE(field, lo, hi, dflt)                                                                  \
    {                                                                                              \
        .name = #field, .offset = offsetof(struct cordon_overlay_params, field),                   \
        .size = FIELD_SIZE(field), .min = (lo), .max = (hi), .def = (dflt)                         \
    }

/* Upper bounds are not policy: they keep products and sums of parameters far from
 * overflow in the code that uses them, and catch an operator's extra zeros. */
static const struct param_rule param_rules[] = {
    RULE(k, 1, 64, 20),
    RULE(alpha, 1, 16, 3),
    RULE(disjoint_paths, 1, 16, 4),
    RULE(replicas, 1, 16, 3),
    RULE(max_object_size, 1, 1 * MIB, 65536),
    RULE(max_lifetime, 60, 31536000, 604800),
    RULE(writer_quota_objects, 1, 1000000, 1024),
    RULE(writer_quota_bytes, 1, 1 * TIB, 16 * MIB),
    RULE(node_capacity_bytes, 1 * MIB, 16 * TIB, 1 * GIB),
    RULE(clock_skew, 0, 3600, 300),
    RULE(cert_validity, 300, CORDON_CERT_VALIDITY_MAX, 259200),
    RULE(crl_validity, 600, 30 * 86400, 172800),
    RULE(prefix_limit_v4, 8, 32, 24),
    RULE(prefix_limit_v6, 16, 128, 64),
    RULE(per_prefix_contacts, 1, 64, 2),
    RULE(request_rate, 1, 100000, 50),
    RULE(request_burst, 1, 1000000, 100),
    RULE(routing_rate, 1, 100000, 20),
    RULE(routing_burst, 1, 1000000, 40),
    RULE(inbound_rate, 1, 10000000, 20000),
    RULE(churn_max_rejoins, 1, 1000, 4),
    RULE(churn_window, 60, 86400, 3600),
};
#define N_PARAM_RULES (sizeof(param_rules) / sizeof(param_rules[0]))

static uint64_t rule_get(const struct cordon_overlay_params *p, const struct param_rule *r)
{
    const unsigned char *at = (const unsigned char *)p + r->offset;
    if (r->size == sizeof(uint32_t)) {
        uint32_t v;
        memcpy(&v, at, sizeof(v));
        return v;
    }
    uint64_t v;
    memcpy(&v, at, sizeof(v));
    return v;
}

/* v is within r's range, which fits the field. */
static void rule_set(struct cordon_overlay_params *p, const struct param_rule *r, uint64_t v)
{
    unsigned char *at = (unsigned char *)p + r->offset;
    if (r->size == sizeof(uint32_t)) {
        uint32_t v32 = (uint32_t)v;
        memcpy(at, &v32, sizeof(v32));
    } else {
        memcpy(at, &v, sizeof(v));
    }
}

static const struct param_rule *rule_find(const char *name)
{
    for (size_t i = 0; i < N_PARAM_RULES; i++)
        if (strcmp(param_rules[i].name, name) == 0)
            return &param_rules[i];
    return NULL;
}

void cordon_overlay_params_default(struct cordon_overlay_params *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < N_PARAM_RULES; i++)
        rule_set(p, &param_rules[i], param_rules[i].def);
}

cordon_err cordon_overlay_params_check(const struct cordon_overlay_params *p)
{
    if (p == NULL)
        return CORDON_ERR_INVAL;
    for (size_t i = 0; i < N_PARAM_RULES; i++) {
        uint64_t v = rule_get(p, &param_rules[i]);
        if (v < param_rules[i].min || v > param_rules[i].max)
            return CORDON_ERR_INVAL;
    }
    /* A lookup returns k nodes: paths, parallelism, replicas and per-prefix room must fit
     * in it; one object must fit in a writer's quota, which must fit in the node. */
    if (p->alpha > p->k || p->disjoint_paths > p->k || p->replicas > p->k ||
        p->per_prefix_contacts > p->k)
        return CORDON_ERR_INVAL;
    if (p->max_object_size > p->writer_quota_bytes ||
        p->writer_quota_bytes > p->node_capacity_bytes)
        return CORDON_ERR_INVAL;
    return CORDON_OK;
}

/* ---- names and addresses -------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

cordon_err cordon_overlay_name_check(const char *name)
{
    if (name == NULL)
        return CORDON_ERR_INVAL;
    size_t n = strnlen(name, CORDON_OVERLAY_NAME_MAX + 1);
    if (n == 0 || n > CORDON_OVERLAY_NAME_MAX || name[0] == '-')
        return CORDON_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-'))
            return CORDON_ERR_INVAL;
    }
    return CORDON_OK;
}

/* Decimal 1..65535, no sign, no leading zero. */
static bool port_ok(const char *s, size_t n)
{
    if (n == 0 || n > 5 || s[0] == '0')
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

/* A DNS name of labels [A-Za-z0-9-] (1..63, no '-' at either end); a name whose last
 * label is all digits must be a dotted-quad IPv4 address (no TLD is numeric). */
static bool host_ok(const char *s, size_t n)
{
    char text[CORDON_ADDR_TEXT_MAX];
    if (n == 0 || n >= sizeof(text))
        return false;
    size_t label = 0;
    bool numeric = true; /* the current label is all digits so far */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            numeric = true;
            continue;
        }
        if (!is_alnum(c) && c != '-')
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
        numeric = numeric && is_digit(c);
    }
    if (label == 0 || s[n - 1] == '-')
        return false;
    if (!numeric)
        return true;
    unsigned char a4[4];
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET, text, a4) == 1;
}

static bool ipv6_ok(const char *s, size_t n)
{
    char text[CORDON_ADDR_TEXT_MAX];
    unsigned char a6[16];
    if (n == 0 || n >= sizeof(text))
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, a6) == 1;
}

cordon_err cordon_overlay_addr_check(const char *addr)
{
    if (addr == NULL)
        return CORDON_ERR_INVAL;
    size_t n = strnlen(addr, CORDON_ADDR_TEXT_MAX);
    if (n == 0 || n >= CORDON_ADDR_TEXT_MAX)
        return CORDON_ERR_INVAL;
    if (addr[0] == '[') {
        size_t close = 1;
        while (close < n && addr[close] != ']')
            close++;
        if (close + 1 >= n || addr[close + 1] != ':')
            return CORDON_ERR_INVAL;
        if (!ipv6_ok(addr + 1, close - 1) || !port_ok(addr + close + 2, n - close - 2))
            return CORDON_ERR_INVAL;
        return CORDON_OK;
    }
    size_t colon = n;
    while (colon > 0 && addr[colon - 1] != ':')
        colon--;
    if (colon == 0) /* no port */
        return CORDON_ERR_INVAL;
    /* host_ok refuses ':' in the host, so an unbracketed IPv6 address fails here. */
    if (!host_ok(addr, colon - 1) || !port_ok(addr + colon, n - colon))
        return CORDON_ERR_INVAL;
    return CORDON_OK;
}

/* PEM is 7-bit text; anything else in the CA field is not a certificate. */
static cordon_err ca_text_check(const char *s, size_t n)
{
    if (n > CORDON_CERT_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (n < sizeof(CA_PEM_PREFIX) - 1 || memcmp(s, CA_PEM_PREFIX, sizeof(CA_PEM_PREFIX) - 1) != 0)
        return CORDON_ERR_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 0x20 && c <= 0x7e) || c == '\n' || c == '\r'))
            return CORDON_ERR_MALFORMED;
    }
    return CORDON_OK;
}

static bool alg_known(const char *alg)
{
    return strcmp(alg, ALG_P256) == 0 || strcmp(alg, ALG_ED25519) == 0;
}

/* ---- JSON helpers --------------------------------------------------------------------- */

/* Parses json (len already checked against its cap) and requires an object. */
static cordon_err load_object(const void *json, size_t len, json_t **out)
{
    if (len == 0)
        return CORDON_ERR_MALFORMED;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, PARSE_FLAGS, &jerr);
    if (root == NULL)
        return json_error_code(&jerr) == json_error_out_of_memory ? CORDON_ERR_NOMEM
                                                                  : CORDON_ERR_MALFORMED;
    if (!json_is_object(root)) {
        json_decref(root);
        return CORDON_ERR_MALFORMED;
    }
    *out = root;
    return CORDON_OK;
}

/* Every key of obj must be one of names (n of them), and all of them must be present.
 * Duplicates were refused by the parser, so counting suffices. */
static cordon_err keys_exact(json_t *obj, const char *const *names, size_t n)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known)
            return CORDON_ERR_MALFORMED;
    }
    return json_object_size(obj) == n ? CORDON_OK : CORDON_ERR_MALFORMED;
}

static cordon_err get_int(json_t *obj, const char *key, json_int_t min, json_int_t max,
                          json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return CORDON_ERR_MALFORMED;
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return CORDON_ERR_MALFORMED;
    *out = i;
    return CORDON_OK;
}

/* A string member of at most max bytes without NUL: TOO_LARGE over max. */
static cordon_err get_str(json_t *obj, const char *key, size_t max, const char **s, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return CORDON_ERR_MALFORMED;
    size_t len = json_string_length(v);
    if (len > max)
        return CORDON_ERR_TOO_LARGE;
    const char *p = json_string_value(v);
    if (memchr(p, '\0', len) != NULL)
        return CORDON_ERR_MALFORMED;
    *s = p;
    *n = len;
    return CORDON_OK;
}

static cordon_err set_new(json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new takes value (even on failure) and refuses NULL. */
    return json_object_set_new(obj, key, value) == 0 ? CORDON_OK : CORDON_ERR_NOMEM;
}

/* Appends the JSON text of root to out, refusing more than cap bytes. */
static cordon_err dump_append(const json_t *root, size_t flags, size_t cap, bool newline,
                              cordon_buf *out)
{
    size_t n = json_dumpb(root, NULL, 0, flags);
    if (n == 0)
        return CORDON_ERR_NOMEM;
    if (n + (newline ? 1 : 0) > cap)
        return CORDON_ERR_TOO_LARGE;
    char *text = malloc(n);
    if (text == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = CORDON_ERR_NOMEM;
    if (json_dumpb(root, text, n, flags) != n)
        goto out;
    err = cordon_buf_append(out, text, n);
    if (err == CORDON_OK && newline)
        err = cordon_buf_append(out, "\n", 1);
    if (err == CORDON_OK)
        err = cordon_buf_terminate(out);
out:
    free(text);
    return err;
}

/* ---- parameters ----------------------------------------------------------------------- */

/* Reads the members of obj into p (which holds the starting values). Unknown key or a
 * non-integer: MALFORMED; out of range: INVAL; with require_all, a missing key: MALFORMED. */
static cordon_err params_from_json(json_t *obj, bool require_all, struct cordon_overlay_params *p)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        const struct param_rule *r = rule_find(key);
        if (r == NULL || !json_is_integer(value))
            return CORDON_ERR_MALFORMED;
        /* Checked before the store, so 2^32 + 20 cannot wrap into a valid k. */
        json_int_t v = json_integer_value(value);
        if (v < 0 || (uint64_t)v < r->min || (uint64_t)v > r->max)
            return CORDON_ERR_INVAL;
        rule_set(p, r, (uint64_t)v);
    }
    if (require_all && json_object_size(obj) != N_PARAM_RULES)
        return CORDON_ERR_MALFORMED;
    return cordon_overlay_params_check(p);
}

static cordon_err params_to_json(const struct cordon_overlay_params *p, json_t **out)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = CORDON_OK;
    for (size_t i = 0; i < N_PARAM_RULES && err == CORDON_OK; i++)
        err = set_new(obj, param_rules[i].name,
                      json_integer((json_int_t)rule_get(p, &param_rules[i])));
    if (err != CORDON_OK) {
        json_decref(obj);
        return err;
    }
    *out = obj;
    return CORDON_OK;
}

cordon_err cordon_overlay_params_encode(const struct cordon_overlay_params *p, cordon_buf *out)
{
    if (p == NULL || out == NULL || cordon_overlay_params_check(p) != CORDON_OK)
        return CORDON_ERR_INVAL;
    json_t *obj = NULL;
    cordon_err err = params_to_json(p, &obj);
    if (err == CORDON_OK)
        err = dump_append(obj, JSON_INDENT(2) | JSON_SORT_KEYS, CORDON_OVERLAY_DOC_MAX, true, out);
    json_decref(obj);
    return err;
}

cordon_err cordon_overlay_params_decode(const void *json, size_t len,
                                        struct cordon_overlay_params *p)
{
    if (p == NULL || (json == NULL && len > 0))
        return CORDON_ERR_INVAL;
    if (len > CORDON_OVERLAY_DOC_MAX)
        return CORDON_ERR_TOO_LARGE;
    json_t *root = NULL;
    cordon_err err = load_object(json, len, &root);
    if (err != CORDON_OK)
        return err;
    struct cordon_overlay_params tmp;
    cordon_overlay_params_default(&tmp);
    err = params_from_json(root, false, &tmp);
    if (err == CORDON_OK)
        *p = tmp;
    json_decref(root);
    return err;
}

/* ---- document ------------------------------------------------------------------------- */

static const char *const doc_keys[] = {"version", "overlay", "issued_at",
                                       "ca",      "params",  "bootstrap"};

/* Everything decode would refuse, for the encoder: TOO_LARGE over a cap, else INVAL. */
static cordon_err doc_check(const struct cordon_overlay_doc *doc)
{
    if (doc->version != 1 || cordon_overlay_name_check(doc->overlay) != CORDON_OK)
        return CORDON_ERR_INVAL;
    if (doc->issued_at < 0 || doc->issued_at > ISSUED_AT_MAX || doc->ca_pem == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = ca_text_check(doc->ca_pem, strnlen(doc->ca_pem, CORDON_CERT_MAX + 1));
    if (err != CORDON_OK)
        return err == CORDON_ERR_TOO_LARGE ? err : CORDON_ERR_INVAL;
    if (doc->n_bootstrap > CORDON_BOOTSTRAP_MAX)
        return CORDON_ERR_TOO_LARGE;
    for (size_t i = 0; i < doc->n_bootstrap; i++)
        if (cordon_overlay_addr_check(doc->bootstrap[i]) != CORDON_OK)
            return CORDON_ERR_INVAL;
    return cordon_overlay_params_check(&doc->params);
}

static cordon_err doc_to_json(const struct cordon_overlay_doc *doc, json_t *root)
{
    json_t *params = NULL;
    cordon_err err = params_to_json(&doc->params, &params);
    if (err != CORDON_OK)
        return err;
    err = set_new(root, "params", params);
    json_t *list = NULL;
    if (err == CORDON_OK) {
        list = json_array();
        err = set_new(root, "bootstrap", list); /* root owns list from here */
    }
    for (size_t i = 0; i < doc->n_bootstrap && err == CORDON_OK; i++)
        if (json_array_append_new(list, json_string(doc->bootstrap[i])) != 0)
            err = CORDON_ERR_NOMEM;
    if (err == CORDON_OK)
        err = set_new(root, "version", json_integer(doc->version));
    if (err == CORDON_OK)
        err = set_new(root, "overlay", json_string(doc->overlay));
    if (err == CORDON_OK)
        err = set_new(root, "issued_at", json_integer(doc->issued_at));
    if (err == CORDON_OK)
        err = set_new(root, "ca", json_string(doc->ca_pem));
    return err;
}

cordon_err cordon_overlay_doc_encode(const struct cordon_overlay_doc *doc, cordon_buf *out)
{
    if (doc == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = doc_check(doc);
    if (err != CORDON_OK)
        return err;
    json_t *root = json_object();
    if (root == NULL)
        return CORDON_ERR_NOMEM;
    err = doc_to_json(doc, root);
    if (err == CORDON_OK)
        err = dump_append(root, COMPACT_FLAGS, CORDON_OVERLAY_DOC_MAX, false, out);
    json_decref(root);
    return err;
}

static cordon_err bootstrap_from_json(json_t *root, struct cordon_overlay_doc *doc)
{
    json_t *list = json_object_get(root, "bootstrap");
    if (!json_is_array(list))
        return CORDON_ERR_MALFORMED;
    if (json_array_size(list) > CORDON_BOOTSTRAP_MAX)
        return CORDON_ERR_TOO_LARGE;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *v = json_array_get(list, i);
        if (!json_is_string(v))
            return CORDON_ERR_MALFORMED;
        size_t n = json_string_length(v);
        if (n >= CORDON_ADDR_TEXT_MAX)
            return CORDON_ERR_TOO_LARGE;
        const char *s = json_string_value(v);
        if (strlen(s) != n || cordon_overlay_addr_check(s) != CORDON_OK)
            return CORDON_ERR_MALFORMED;
        memcpy(doc->bootstrap[i], s, n + 1);
    }
    doc->n_bootstrap = json_array_size(list);
    return CORDON_OK;
}

static cordon_err doc_from_json(json_t *root, struct cordon_overlay_doc *doc)
{
    json_int_t i;
    const char *s;
    size_t n;
    cordon_err err = keys_exact(root, doc_keys, sizeof(doc_keys) / sizeof(doc_keys[0]));
    if (err != CORDON_OK)
        return err;
    if ((err = get_int(root, "version", 1, 1, &i)) != CORDON_OK)
        return err;
    doc->version = 1;
    if ((err = get_str(root, "overlay", CORDON_OVERLAY_NAME_MAX, &s, &n)) != CORDON_OK)
        return err;
    if (cordon_overlay_name_check(s) != CORDON_OK)
        return CORDON_ERR_MALFORMED;
    memcpy(doc->overlay, s, n + 1);
    if ((err = get_int(root, "issued_at", 0, ISSUED_AT_MAX, &i)) != CORDON_OK)
        return err;
    doc->issued_at = i;
    if ((err = get_str(root, "ca", CORDON_CERT_MAX, &s, &n)) != CORDON_OK)
        return err;
    if ((err = ca_text_check(s, n)) != CORDON_OK)
        return err;
    doc->ca_pem = malloc(n + 1);
    if (doc->ca_pem == NULL)
        return CORDON_ERR_NOMEM;
    memcpy(doc->ca_pem, s, n + 1);
    json_t *params = json_object_get(root, "params");
    if (!json_is_object(params))
        return CORDON_ERR_MALFORMED;
    memset(&doc->params, 0, sizeof(doc->params));
    if ((err = params_from_json(params, true, &doc->params)) != CORDON_OK)
        return err;
    return bootstrap_from_json(root, doc);
}

cordon_err cordon_overlay_doc_decode(const void *json, size_t len, struct cordon_overlay_doc *doc)
{
    if (doc == NULL || (json == NULL && len > 0))
        return CORDON_ERR_INVAL;
    if (len > CORDON_OVERLAY_DOC_MAX)
        return CORDON_ERR_TOO_LARGE;
    json_t *root = NULL;
    cordon_err err = load_object(json, len, &root);
    if (err != CORDON_OK)
        return err;
    /* Heap rather than stack: the bootstrap table alone is 4 KiB. */
    struct cordon_overlay_doc *tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    err = doc_from_json(root, tmp);
    if (err == CORDON_OK) {
        *doc = *tmp;
        tmp->ca_pem = NULL; /* moved */
    }
out:
    cordon_overlay_doc_clear(tmp);
    free(tmp);
    json_decref(root);
    return err;
}

void cordon_overlay_doc_clear(struct cordon_overlay_doc *doc)
{
    if (doc == NULL)
        return;
    free(doc->ca_pem);
    memset(doc, 0, sizeof(*doc));
}

/* ---- envelope ------------------------------------------------------------------------- */

static const char *const envelope_keys[] = {"version", "alg", "document", "signature"};

cordon_err cordon_overlay_envelope_encode(const char *alg, const void *document,
                                          size_t document_len, const uint8_t *sig, size_t sig_len,
                                          cordon_buf *out)
{
    if (alg == NULL || !alg_known(alg) || document == NULL || document_len == 0 || sig == NULL ||
        sig_len == 0 || out == NULL)
        return CORDON_ERR_INVAL;
    if (document_len > CORDON_OVERLAY_DOC_MAX || sig_len > CORDON_SIG_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (memchr(document, '\0', document_len) != NULL)
        return CORDON_ERR_INVAL;
    char hex[2 * CORDON_SIG_MAX + 1];
    cordon_hex_encode(sig, sig_len, hex);
    json_t *root = json_object();
    if (root == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = set_new(root, "version", json_integer(1));
    if (err == CORDON_OK)
        err = set_new(root, "alg", json_string(alg));
    if (err == CORDON_OK)
        err = set_new(root, "signature", json_string(hex));
    if (err == CORDON_OK) {
        /* json_stringn refuses bytes that are not UTF-8 (the decoder would too). */
        json_t *text = json_stringn(document, document_len);
        err = text ? set_new(root, "document", text) : CORDON_ERR_INVAL;
    }
    if (err == CORDON_OK)
        err = dump_append(root, COMPACT_FLAGS, CORDON_OVERLAY_ENVELOPE_MAX, false, out);
    json_decref(root);
    return err;
}

static cordon_err envelope_from_json(json_t *root, struct cordon_overlay_envelope *env)
{
    json_int_t i;
    const char *s;
    size_t n;
    cordon_err err =
        keys_exact(root, envelope_keys, sizeof(envelope_keys) / sizeof(envelope_keys[0]));
    if (err != CORDON_OK)
        return err;
    if ((err = get_int(root, "version", 1, 1, &i)) != CORDON_OK)
        return err;
    if ((err = get_str(root, "alg", sizeof(env->alg) - 1, &s, &n)) != CORDON_OK)
        return err == CORDON_ERR_TOO_LARGE ? CORDON_ERR_MALFORMED : err;
    if (!alg_known(s))
        return CORDON_ERR_MALFORMED;
    memcpy(env->alg, s, n + 1);
    if ((err = get_str(root, "signature", 2 * CORDON_SIG_MAX, &s, &n)) != CORDON_OK)
        return err;
    if (n == 0 || n % 2 != 0 || cordon_hex_decode(s, n, env->signature, n / 2) != CORDON_OK)
        return CORDON_ERR_MALFORMED;
    env->signature_len = n / 2;
    if ((err = get_str(root, "document", CORDON_OVERLAY_DOC_MAX, &s, &n)) != CORDON_OK)
        return err;
    if (n == 0)
        return CORDON_ERR_MALFORMED;
    env->document = malloc(n + 1);
    if (env->document == NULL)
        return CORDON_ERR_NOMEM;
    memcpy(env->document, s, n + 1);
    env->document_len = n;
    return CORDON_OK;
}

cordon_err cordon_overlay_envelope_decode(const void *json, size_t len,
                                          struct cordon_overlay_envelope *env)
{
    if (env == NULL || (json == NULL && len > 0))
        return CORDON_ERR_INVAL;
    if (len > CORDON_OVERLAY_ENVELOPE_MAX)
        return CORDON_ERR_TOO_LARGE;
    json_t *root = NULL;
    cordon_err err = load_object(json, len, &root);
    if (err != CORDON_OK)
        return err;
    struct cordon_overlay_envelope tmp;
    memset(&tmp, 0, sizeof(tmp));
    err = envelope_from_json(root, &tmp);
    if (err == CORDON_OK) {
        *env = tmp;
        tmp.document = NULL; /* moved */
    }
    cordon_overlay_envelope_clear(&tmp);
    json_decref(root);
    return err;
}

void cordon_overlay_envelope_clear(struct cordon_overlay_envelope *env)
{
    if (env == NULL)
        return;
    free(env->document);
    memset(env, 0, sizeof(*env));
}
