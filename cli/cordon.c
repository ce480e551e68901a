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
#include <sys/stat.h>
#include <sys/un.h>

#include "common/buf.h"
#include "common/cli.h"
#include "common/hex.h"
#include "common/limits.h"

#define PROG "cordon"
#define DEFAULT_CONTROL "./control.sock"
/* A lookup may take CORDON_CONTROL_LOOKUP_TIMEOUT_MS on the peer's side; wait a bit longer. */
#define REQUEST_TIMEOUT_MS (CORDON_CONTROL_LOOKUP_TIMEOUT_MS + 5000L)
#define CONNECT_TIMEOUT_MS 3000L

enum exit_code {
    EXIT_OK = 0,
    EXIT_PEER = 1,    /* the peer answered with an error, or with something unreadable */
    EXIT_USAGE = 2,   /* bad command line */
    EXIT_CONNECT = 3, /* no peer to talk to */
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
    "\n"
    "options:\n"
    "  --control PATH  the peer's control socket (default: $CORDON_CONTROL, else\n"
    "                  ./control.sock; `cordon-peer run` uses DIR/control.sock)\n"
    "  --json          print the peer's JSON answer as it is\n"
    "  -h, --help      this text\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  the peer answered with an error (shown), or with something unreadable\n"
    "  2  usage error (bad command, option or node ID)\n"
    "  3  cannot connect to the control socket\n";

struct options {
    const char *control;
    bool json;
    const char *command;
    const char *node_id;
};

static int parse_args(int argc, char **argv, struct options *o)
{
    const char *env = getenv("CORDON_CONTROL");
    o->control = env != NULL && env[0] != '\0' ? env : DEFAULT_CONTROL;
    const char *positional[3];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--control") == 0) {
            if (i + 1 >= argc)
                return cordon_cli_fail(PROG, "--control needs a path");
            o->control = argv[++i];
        } else if (strncmp(a, "--control=", 10) == 0) {
            o->control = a + 10;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cordon_cli_fail(PROG, "unknown option %s", a);
        } else {
            if (n == sizeof(positional) / sizeof(positional[0]))
                return cordon_cli_fail(PROG, "too many arguments");
            positional[n++] = a;
        }
    }
    if (n == 0)
        return cordon_cli_fail(PROG, "missing command (status, peers or lookup NODEID)");
    o->command = positional[0];
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
        return cordon_cli_fail(PROG, "unknown command \"%.40s\"", o->command);
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

/* GETs path; on success *status is the HTTP status and body holds the answer. */
static int fetch(const char *control, const char *path, long *status, cordon_buf *body)
{
    struct stat st;
    if (stat(control, &st) != 0)
        return not_running(control, errno == ENOENT ? "no such file" : strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return not_running(control, "not a socket");

    char url[160];
    snprintf(url, sizeof(url), "http://peer%s", path);
    CURL *h = curl_easy_init();
    if (h == NULL) {
        fprintf(stderr, "cordon: cannot initialise libcurl\n");
        return EXIT_CONNECT;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, control);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
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
    if (cordon_buf_terminate(body) != CORDON_OK) {
        fprintf(stderr, "cordon: out of memory\n");
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

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;

    char path[128];
    if (strcmp(o.command, "lookup") == 0)
        snprintf(path, sizeof(path), "/v1/lookup/%s", o.node_id);
    else
        snprintf(path, sizeof(path), "/v1/%s", o.command);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cordon: cannot initialise libcurl\n");
        return EXIT_CONNECT;
    }
    cordon_buf body;
    cordon_buf_init(&body, CORDON_CONTROL_RESPONSE_MAX, false);
    long status = 0;
    json_t *answer = NULL;
    rc = fetch(o.control, path, &status, &body);
    if (rc != EXIT_OK)
        goto out;
    answer = json_loadb((const char *)body.data, body.len, 0, NULL);
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(answer, "error"));
        fprintf(stderr, "cordon: the peer refused (HTTP %ld): ", status);
        if (msg != NULL) {
            fflush(stdout);
            for (const char *p = msg; *p != '\0'; p++)
                fputc((unsigned char)*p < 0x20 ? '?' : *p, stderr);
            fputc('\n', stderr);
        } else {
            fprintf(stderr, "(no error message)\n");
        }
        rc = EXIT_PEER;
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
    curl_global_cleanup();
    return rc;
}
