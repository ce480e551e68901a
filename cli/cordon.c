/*
 * cli/cordon.c — the `cordon` command: a thin client of a peer's local control API
 * (peer/control.h; HTTP over the unix socket, docs/protocol.md "Local control API").
 * It only formats what the peer answers; it holds no keys and writes no files.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/buf.h"
#include "common/cli.h"
#include "common/hex.h"
#include "common/limits.h"

#define PROG "cordon"
#define DEFAULT_CONTROL "./control.sock"
/* A lookup may take CORDON_CONTROL_LOOKUP_TIMEOUT_MS on the peer's side, a put or get
 * CORDON_CONTROL_OBJECT_TIMEOUT_MS; wait a bit longer. */
#define REQUEST_TIMEOUT_MS (CORDON_CONTROL_OBJECT_TIMEOUT_MS + 5000L)
#define CONNECT_TIMEOUT_MS 3000L
#define URL_PATH_MAX 1200 /* /v1/objects/ + a percent-encoded name (3 x 255) + query */

enum exit_code {
    EXIT_OK = 0,
    EXIT_PEER = 1,        /* the peer answered with an error, or with something unreadable */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_CONNECT = 3,     /* no peer to talk to */
    EXIT_NOT_FOUND = 4,   /* get: no such object, or it was deleted */
    EXIT_NOT_ALLOWED = 5, /* the replicas refused this writer (policy, certificate) */
    EXIT_QUOTA = 6,       /* the writer's quota or the replicas' capacity is used up */
    EXIT_TOO_LARGE = 7,   /* the value is over the overlay's maximum */
    EXIT_UNREACHABLE = 8, /* no replica answered, or not in time: retry later */
};

static const char usage[] =
    "usage: cordon [--control PATH] [--json] COMMAND\n"
    "\n"
    "Asks a running peer (`cordon-peer run`) through its control socket.\n"
    "\n"
    "commands:\n"
    "  status          node ID, overlay, listen address, routing table size, links, counters\n"
    "  peers           the contacts of the routing table, one per line\n"
    "  lookup NODEID   looks NODEID (64 hex digits) up in the overlay; closest nodes first\n"
    "  put NAME [FILE|-] [--ttl SECONDS] [--shared]\n"
    "                  stores the bytes of FILE (default: standard input) under NAME, signed\n"
    "                  by this node, on the overlay's r replicas; --ttl: its lifetime (default\n"
    "                  one day, at most the overlay's max_lifetime); --shared: this node's\n"
    "                  entry of the dictionary NAME instead of its own object NAME\n"
    "  get NAME [--owner NODEID] [--shared] [-o FILE]\n"
    "                  writes the newest value of NAME to standard output (or FILE): this\n"
    "                  node's object, or NODEID's object (--owner) or dictionary entry\n"
    "                  (--shared, with --owner for another writer's entry)\n"
    "  del NAME [--shared]\n"
    "                  deletes NAME (writes a tombstone that outlives every copy)\n"
    "\n"
    "NAME is 1..255 bytes, any but NUL.\n"
    "\n"
    "options:\n"
    "  --control PATH  the peer's control socket (default: $CORDON_CONTROL, else\n"
    "                  ./control.sock; `cordon-peer run` uses DIR/control.sock)\n"
    "  --json          print the peer's JSON answer as it is (put, del: the replicas' counts)\n"
    "  -h, --help      this text\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  the peer answered with another error (shown), or with something unreadable\n"
    "  2  usage error (bad command, option, node ID, name or ttl)\n"
    "  3  cannot connect to the control socket\n"
    "  4  not found: no replica holds NAME, or it was deleted\n"
    "  5  not allowed: the replicas refused this writer there (another node's object or\n"
    "     entry, a revoked or expired certificate)\n"
    "  6  quota exceeded: this writer's quota (or a replica's capacity) is used up\n"
    "  7  too large: the value is over the overlay's max_object_size\n"
    "  8  the overlay did not answer (no replica reachable, or too slow): retry later\n";

struct options {
    const char *control;
    bool json;
    const char *command;
    const char *node_id;
    const char *name;
    const char *file;  /* put: the value's file ("-": stdin); get: -o */
    const char *ttl;   /* put */
    const char *owner; /* get */
    bool shared;
};

static bool is_command(const char *c)
{
    static const char *const known[] = {"status", "peers", "lookup", "put", "get", "del"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(c, known[i]) == 0)
            return true;
    return false;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    const char *env = getenv("CORDON_CONTROL");
    o->control = env != NULL && env[0] != '\0' ? env : DEFAULT_CONTROL;
    const char *positional[3];
    size_t n = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--shared") == 0) {
            o->shared = true;
        } else if (strcmp(a, "--control") == 0 || strcmp(a, "--ttl") == 0 ||
                   strcmp(a, "--owner") == 0 || strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return cordon_cli_fail(PROG, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c')
                o->control = v;
            else if (a[2] == 't')
                o->ttl = v;
            else if (a[1] == 'o')
                out = v;
            else
                o->owner = v;
        } else if (strncmp(a, "--control=", 10) == 0) {
            o->control = a + 10;
        } else if (strcmp(a, "-") != 0 && a[0] == '-' && a[1] != '\0') {
            return cordon_cli_fail(PROG, "unknown option %s", a);
        } else {
            if (n == sizeof(positional) / sizeof(positional[0]))
                return cordon_cli_fail(PROG, "too many arguments");
            positional[n++] = a;
        }
    }
    if (n == 0)
        return cordon_cli_fail(PROG, "missing command (status, peers, lookup, put, get or del)");
    o->command = positional[0];
    if (!is_command(o->command))
        return cordon_cli_fail(PROG, "unknown command \"%.40s\"", o->command);
    bool put = strcmp(o->command, "put") == 0, get = strcmp(o->command, "get") == 0;
    bool del = strcmp(o->command, "del") == 0;
    if (o->ttl != NULL && !put)
        return cordon_cli_fail(PROG, "--ttl is for put only");
    if (o->owner != NULL && !get)
        return cordon_cli_fail(PROG, "--owner is for get only");
    if (out != NULL && !get)
        return cordon_cli_fail(PROG, "-o is for get only");
    if (o->shared && !(put || get || del))
        return cordon_cli_fail(PROG, "--shared is for put, get and del");
    if (strcmp(o->command, "status") == 0 || strcmp(o->command, "peers") == 0) {
        if (n != 1)
            return cordon_cli_fail(PROG, "%s takes no argument", o->command);
    } else if (strcmp(o->command, "lookup") == 0) {
        if (n != 2)
            return cordon_cli_fail(PROG, "lookup needs exactly one NODEID");
        o->node_id = positional[1];
        uint8_t id[CORDON_NODE_ID_LEN];
        if (cordon_hex_decode(o->node_id, strlen(o->node_id), id, sizeof(id)) != CORDON_OK)
            return cordon_cli_fail(PROG, "bad node ID \"%.80s\": expected 64 hex digits",
                                   o->node_id);
    } else {
        if (n < 2 || n > (put ? 3u : 2u))
            return cordon_cli_fail(
                PROG, put ? "put needs NAME and at most one FILE" : "%s needs exactly one NAME",
                o->command);
        o->name = positional[1];
        size_t len = strlen(o->name);
        if (len == 0 || len > CORDON_OBJECT_NAME_MAX)
            return cordon_cli_fail(PROG, "bad name: 1..%d bytes", CORDON_OBJECT_NAME_MAX);
        o->file = put ? (n == 3 ? positional[2] : "-") : out;
        if (o->owner != NULL) {
            uint8_t id[CORDON_NODE_ID_LEN];
            if (cordon_hex_decode(o->owner, strlen(o->owner), id, sizeof(id)) != CORDON_OK)
                return cordon_cli_fail(PROG, "bad --owner \"%.80s\": expected 64 hex digits",
                                       o->owner);
        }
        if (o->ttl != NULL) {
            size_t tl = strlen(o->ttl);
            bool ok = tl > 0 && tl <= 10 && strspn(o->ttl, "0123456789") == tl;
            if (!ok || strtoull(o->ttl, NULL, 10) == 0 || strtoull(o->ttl, NULL, 10) > UINT32_MAX)
                return cordon_cli_fail(PROG, "bad --ttl \"%.40s\": whole seconds, at least 1",
                                       o->ttl);
        }
    }
    if (o->control[0] == '\0' || strlen(o->control) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return cordon_cli_fail(PROG, "--control: path empty or too long for a unix socket");
    return EXIT_OK;
}

/* ---- HTTP over the unix socket ---------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    cordon_buf *b = arg;
    return cordon_buf_append(b, p, size * n) == CORDON_OK ? size * n : 0;
}

static int not_running(const char *path, const char *why)
{
    fprintf(stderr,
            "cordon: cannot connect to the control socket %s: %s\n"
            "Is `cordon-peer run` running? Point to its socket with --control PATH "
            "(or $CORDON_CONTROL).\n",
            path, why);
    return EXIT_CONNECT;
}

/* Headers of an object answer that the CLI reports. */
struct answer_headers {
    char seq[24];
    char writer[2 * CORDON_NODE_ID_LEN + 1];
};

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return;
    line += k;
    n -= k;
    while (n > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, line, n);
    out[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct answer_headers *h = arg;
    header_value(p, size * n, "X-Cordon-Seq:", h->seq, sizeof(h->seq));
    header_value(p, size * n, "X-Cordon-Writer:", h->writer, sizeof(h->writer));
    return size * n;
}

/* Sends method path (with body for PUT); on success *status is the HTTP status and body
 * holds the answer. */
static int fetch(const char *control, const char *method, const char *path, const cordon_buf *in,
                 long *status, cordon_buf *body, struct answer_headers *hdrs)
{
    struct stat st;
    if (stat(control, &st) != 0)
        return not_running(control, errno == ENOENT ? "no such file" : strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return not_running(control, "not a socket");

    char url[sizeof("http://peer") + URL_PATH_MAX];
    int un = snprintf(url, sizeof(url), "http://peer%s", path);
    if (un < 0 || (size_t)un >= sizeof(url)) {
        fprintf(stderr, "cordon: request path too long\n");
        return EXIT_USAGE;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        fprintf(stderr, "cordon: cannot initialise libcurl\n");
        return EXIT_CONNECT;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *extra = NULL;
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, control);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (in != NULL) {
        /* In memory with its length: a Content-Length, never chunked (the peer refuses
         * chunked bodies). Announced with Expect: 100-continue, so that a value the peer
         * refuses on its length (413 over the overlay's max_object_size) is refused before
         * it is sent: a peer that answers and closes while the body is still being written
         * would leave the CLI a send error instead of the answer. */
        extra = curl_slist_append(extra, "Expect: 100-continue");
        extra = curl_slist_append(extra, "Content-Type: application/octet-stream");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, extra);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, in->len > 0 ? (const char *)in->data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)in->len);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    curl_slist_free_all(extra);
    if (rc == CURLE_COULDNT_CONNECT)
        return not_running(control, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    if (rc == CURLE_WRITE_ERROR) {
        fprintf(stderr, "cordon: the peer's answer is larger than %d bytes\n",
                CORDON_CONTROL_RESPONSE_MAX);
        return EXIT_PEER;
    }
    if (rc != CURLE_OK) {
        fprintf(stderr, "cordon: request to %s failed: %s\n", control,
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return EXIT_PEER;
    }
    return EXIT_OK;
}

/* ---- output ----------------------------------------------------------------------------- */

/* Prints a string from the peer with control characters replaced, so an answer cannot
 * drive the terminal. */
static void put_safe(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        putchar(ch < 0x20 || ch == 0x7f ? '?' : ch);
    }
}

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "-";
}

static void put_field(const char *key, int width, const char *value)
{
    printf("%-*s  ", width, key);
    put_safe(value);
    putchar('\n');
}

static void put_number(const char *key, int width, json_t *v, const char *unit)
{
    printf("%-*s  ", width, key);
    if (json_is_integer(v))
        printf("%lld%s\n", (long long)json_integer_value(v), unit);
    else
        printf("-\n");
}

static int print_status(json_t *o)
{
    json_t *counters = json_object_get(o, "counters");
    int width = (int)strlen("table size");
    const char *key;
    json_t *v;
    json_object_foreach(counters, key, v)
    {
        size_t n = strlen(key) + 2;
        if (n > (size_t)width && n < 64)
            width = (int)n;
    }
    put_field("node ID", width, str_of(o, "node_id"));
    put_field("overlay", width, str_of(o, "overlay"));
    put_field("listen", width, str_of(o, "listen"));
    put_number("uptime", width, json_object_get(o, "uptime_s"), " s");
    put_number("table size", width, json_object_get(o, "table_size"), "");
    put_number("links", width, json_object_get(o, "links"), "");
    if (json_object_size(counters) > 0) {
        printf("counters\n");
        json_object_foreach(counters, key, v)
        {
            char name[64];
            snprintf(name, sizeof(name), "%s", key);
            for (char *p = name; *p != '\0'; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    *p = '?';
            printf("  %-*s  %lld\n", width - 2, name, (long long)json_integer_value(v));
        }
    }
    return EXIT_OK;
}

static void put_contact_line(json_t *c, size_t rank, bool with_prefix)
{
    char addr[CORDON_ADDR_TEXT_MAX];
    snprintf(addr, sizeof(addr), "%s", str_of(c, "addr"));
    if (rank > 0)
        printf("%2zu  ", rank);
    put_safe(str_of(c, "node_id"));
    printf("  ");
    put_safe(addr);
    int pad = 22 - (int)strlen(addr);
    printf("%*s", pad > 0 ? pad : 0, "");
    json_int_t seen = json_integer_value(json_object_get(c, "last_seen_ms"));
    if (seen < 0)
        printf("  seen never");
    else
        printf("  seen %lld ms ago", (long long)seen);
    printf("  failures %lld", (long long)json_integer_value(json_object_get(c, "failures")));
    if (with_prefix)
        printf("  prefix %lld bits",
               (long long)json_integer_value(json_object_get(c, "common_prefix_bits")));
    putchar('\n');
}

static int print_peers(json_t *o)
{
    json_t *list = json_object_get(o, "peers");
    if (!json_is_array(list))
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        put_contact_line(c, 0, false);
    }
    printf("%zu peer%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
           json_is_true(json_object_get(o, "truncated")) ? " (list truncated by the peer)" : "");
    return EXIT_OK;
}

static int print_lookup(json_t *o)
{
    json_t *list = json_object_get(o, "closest");
    if (!json_is_array(list))
        return -1;
    printf("target ");
    put_safe(str_of(o, "target"));
    printf(": %s (queried %lld nodes in %lld ms)\n",
           json_is_true(json_object_get(o, "found")) ? "found" : "not found",
           (long long)json_integer_value(json_object_get(o, "queried")),
           (long long)json_integer_value(json_object_get(o, "elapsed_ms")));
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        put_contact_line(c, i + 1, true);
    }
    if (json_array_size(list) == 0)
        printf("no nodes known\n");
    return EXIT_OK;
}

/* The value of a put: FILE or standard input, at most one byte more than a value may hold
 * (so that a larger one is told apart without reading it all). */
static int read_value(const char *file, cordon_buf *out)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "cordon: cannot open %s: %s\n", file, strerror(errno));
        return EXIT_USAGE;
    }
    uint8_t chunk[8192];
    int rc = EXIT_OK;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n > 0 && cordon_buf_append(out, chunk, n) != CORDON_OK) {
            fprintf(stderr,
                    "cordon: too large: a value holds at most %d bytes (the overlay's "
                    "max_object_size may be lower)\n",
                    CORDON_OBJECT_VALUE_MAX);
            rc = EXIT_TOO_LARGE;
            break;
        }
        if (n < sizeof(chunk)) {
            if (ferror(f)) {
                fprintf(stderr, "cordon: cannot read %s: %s\n", file, strerror(errno));
                rc = EXIT_USAGE;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

/* The exit status and the words for an object request's refusal code. */
static int object_exit(const char *code, const char **what)
{
    static const struct {
        const char *code;
        int rc;
        const char *what;
    } map[] = {
        {"not_found", EXIT_NOT_FOUND, "not found"},
        {"deleted", EXIT_NOT_FOUND, "not found: deleted"},
        {"not_allowed", EXIT_NOT_ALLOWED, "not allowed"},
        {"certificate", EXIT_NOT_ALLOWED, "not allowed: certificate refused"},
        {"quota_exceeded", EXIT_QUOTA, "quota exceeded"},
        {"capacity", EXIT_QUOTA, "quota exceeded: the replicas are full"},
        {"too_large", EXIT_TOO_LARGE, "too large"},
        {"network", EXIT_UNREACHABLE, "no replica answered"},
        {"timeout", EXIT_UNREACHABLE, "the overlay did not answer in time"},
        {"busy", EXIT_UNREACHABLE, "the peer is busy"},
    };
    for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(code, map[i].code) == 0) {
            *what = map[i].what;
            return map[i].rc;
        }
    }
    *what = "refused";
    return EXIT_PEER;
}

static void put_safe_err(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, stderr);
}

static int write_value(const char *file, const cordon_buf *v)
{
    FILE *f = file == NULL || strcmp(file, "-") == 0 ? stdout : fopen(file, "wb");
    if (f == NULL) {
        fprintf(stderr, "cordon: cannot create %s: %s\n", file, strerror(errno));
        return EXIT_PEER;
    }
    bool ok = v->len == 0 || fwrite(v->data, 1, v->len, f) == v->len;
    ok = (f == stdout ? fflush(f) : fclose(f)) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "cordon: cannot write %s\n", file != NULL ? file : "standard output");
        return EXIT_PEER;
    }
    return EXIT_OK;
}

static int build_object_path(const struct options *o, char *path, size_t cap)
{
    CURL *h = curl_easy_init();
    char *esc = h != NULL ? curl_easy_escape(h, o->name, (int)strlen(o->name)) : NULL;
    if (esc == NULL) {
        curl_easy_cleanup(h);
        fprintf(stderr, "cordon: out of memory\n");
        return EXIT_PEER;
    }
    int n = snprintf(path, cap, "/v1/objects/%s", esc);
    char sep = '?';
    if (o->shared) {
        n += snprintf(path + n, cap - (size_t)n, "%ckind=shared", sep);
        sep = '&';
    }
    if (o->ttl != NULL) {
        n += snprintf(path + n, cap - (size_t)n, "%cttl=%s", sep, o->ttl);
        sep = '&';
    }
    if (o->owner != NULL)
        snprintf(path + n, cap - (size_t)n, "%cowner=%s", sep, o->owner);
    curl_free(esc);
    curl_easy_cleanup(h);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    bool object = o.name != NULL;
    bool put = strcmp(o.command, "put") == 0;

    cordon_buf body, value;
    cordon_buf_init(&body, CORDON_CONTROL_RESPONSE_MAX, false);
    cordon_buf_init(&value, CORDON_OBJECT_VALUE_MAX, false);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cordon: cannot initialise libcurl\n");
        return EXIT_CONNECT;
    }
    char path[URL_PATH_MAX];
    const char *method = "GET";
    struct answer_headers hdrs = {{0}, {0}};
    long status = 0;
    json_t *answer = NULL;
    if (strcmp(o.command, "lookup") == 0)
        snprintf(path, sizeof(path), "/v1/lookup/%s", o.node_id);
    else if (!object)
        snprintf(path, sizeof(path), "/v1/%s", o.command);
    else if ((rc = build_object_path(&o, path, sizeof(path))) != EXIT_OK)
        goto out;
    if (put) {
        method = "PUT";
        rc = read_value(o.file, &value);
        if (rc != EXIT_OK)
            goto out;
    } else if (strcmp(o.command, "del") == 0) {
        method = "DELETE";
    }
    rc = fetch(o.control, method, path, put ? &value : NULL, &status, &body, &hdrs);
    if (rc != EXIT_OK)
        goto out;
    if (object && status == 200 && !put && strcmp(method, "GET") == 0) {
        rc = write_value(o.file, &body);
        goto out;
    }
    if (cordon_buf_terminate(&body) != CORDON_OK) {
        fprintf(stderr, "cordon: out of memory\n");
        rc = EXIT_PEER;
        goto out;
    }
    answer = json_loadb((const char *)body.data, body.len, 0, NULL);
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(answer, "error"));
        const char *code = json_string_value(json_object_get(answer, "code"));
        const char *what = NULL;
        rc = EXIT_PEER;
        if (object && code != NULL) {
            rc = object_exit(code, &what);
            fprintf(stderr, "cordon: %s %s: %s (HTTP %ld): ", o.command, o.name, what, status);
        } else {
            fprintf(stderr, "cordon: the peer refused (HTTP %ld): ", status);
        }
        fflush(stdout);
        if (msg != NULL)
            put_safe_err(msg);
        else
            fputs("(no error message)", stderr);
        fputc('\n', stderr);
        goto out;
    }
    if (!json_is_object(answer)) {
        fprintf(stderr, "cordon: the peer's answer is not a JSON object\n");
        rc = EXIT_PEER;
        goto out;
    }
    if (o.json) {
        fwrite(body.data, 1, body.len, stdout);
        rc = EXIT_OK;
    } else if (object) {
        printf("%s ", str_of(answer, "result"));
        put_safe(o.name);
        printf(": seq %lld, %lld of %lld replicas accepted",
               (long long)json_integer_value(json_object_get(answer, "seq")),
               (long long)json_integer_value(json_object_get(answer, "accepted")),
               (long long)json_integer_value(json_object_get(answer, "replicas")));
        long long refused = json_integer_value(json_object_get(answer, "refused"));
        long long failed = json_integer_value(json_object_get(answer, "failed"));
        if (refused > 0 || failed > 0)
            printf(" (%lld refused, %lld did not answer)", refused, failed);
        printf(", expires at %lld\n",
               (long long)json_integer_value(json_object_get(answer, "expires_at")));
        rc = EXIT_OK;
    } else if (strcmp(o.command, "status") == 0) {
        rc = print_status(answer);
    } else if (strcmp(o.command, "peers") == 0) {
        rc = print_peers(answer);
    } else {
        rc = print_lookup(answer);
    }
    if (rc < 0) {
        fprintf(stderr, "cordon: the peer's answer lacks the expected fields\n");
        rc = EXIT_PEER;
    }
out:
    json_decref(answer);
    cordon_buf_free(&body);
    cordon_buf_free(&value);
    curl_global_cleanup();
    return rc;
}
