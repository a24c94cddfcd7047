/*
 * walrusctl: GET requests to storage nodes (libcurl), with timeouts and a
 * bound on the answer's size; over https with the CA and client
 * certificate the environment names.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include <walrusctl.h>


#define WALRUS_CLI_CONNECT_TIMEOUT  5L      /* seconds */
#define WALRUS_CLI_TOTAL_TIMEOUT    60L
#define WALRUS_CLI_NEXT_HEADER      "X-Walrus-Next:"
#define WALRUS_CLI_RECORD_HEADER    "X-Walrus-Record:"


typedef struct {
    walrus_cli_http_t  *res;
    size_t              max;
    size_t              cap;
    int                 too_large;
} walrus_cli_sink_t;


static size_t walrus_cli_http_body(char *data, size_t size, size_t n,
    void *arg);
static size_t walrus_cli_http_header(char *data, size_t size, size_t n,
    void *arg);
static void walrus_cli_http_tls(CURL *curl);
static void walrus_cli_http_value(const char *data, size_t len,
    const char *name, char *out, size_t outlen);


static int  walrus_cli_curl_ready;


int
walrus_cli_http_get(const char *url, size_t max, walrus_cli_http_t *res)
{
    return walrus_cli_http_request("GET", url, NULL, 0, max, res);
}


int
walrus_cli_http_request(const char *method, const char *url,
    const uint8_t *body, size_t len, size_t max, walrus_cli_http_t *res)
{
    CURL               *curl;
    CURLcode            rc;
    walrus_cli_sink_t   sink;
    char                err[CURL_ERROR_SIZE];

    memset(res, 0, sizeof(walrus_cli_http_t));

    if (!walrus_cli_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            walrus_cli_error("libcurl cannot be initialized");
            return WALRUS_CLI_IO;
        }

        walrus_cli_curl_ready = 1;
    }

    curl = curl_easy_init();
    if (curl == NULL) {
        walrus_cli_error("libcurl cannot be initialized");
        return WALRUS_CLI_IO;
    }

    sink.res = res;
    sink.max = max;
    sink.cap = 0;
    sink.too_large = 0;
    err[0] = '\0';

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, WALRUS_CLI_CONNECT_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, WALRUS_CLI_TOTAL_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, walrus_cli_http_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, walrus_cli_http_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);

    walrus_cli_http_tls(curl);

    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }

    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) len);
    }

    rc = curl_easy_perform(curl);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    }

    curl_easy_cleanup(curl);

    if (rc == CURLE_FILESIZE_EXCEEDED || sink.too_large) {
        walrus_cli_error("%s %s: the answer is larger than the %zu bytes "
                         "it can be", method, url, max);
        walrus_cli_http_free(res);
        return WALRUS_CLI_INVALID;
    }

    if (rc != CURLE_OK) {
        walrus_cli_error("%s %s: %s", method, url,
                         err[0] ? err : curl_easy_strerror(rc));
        walrus_cli_http_free(res);
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


void
walrus_cli_http_free(walrus_cli_http_t *res)
{
    free(res->body);
    res->body = NULL;
    res->len = 0;
}


/*
 * Nodes of a private CA, and nodes that take writes and peer requests
 * only from clients with a certificate (walrus_node_client_cert): the
 * files come from the environment, as the committee file does.
 */

static void
walrus_cli_http_tls(CURL *curl)
{
    const char  *ca, *cert, *key;

    ca = getenv(WALRUS_CLI_TLS_CA_ENV);
    cert = getenv(WALRUS_CLI_TLS_CERT_ENV);
    key = getenv(WALRUS_CLI_TLS_KEY_ENV);

    if (ca != NULL && ca[0] != '\0') {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    }

    if (cert != NULL && cert[0] != '\0') {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(curl, CURLOPT_SSLKEY,
                         key != NULL && key[0] != '\0' ? key : cert);
    }
}


/* the body in memory, never more than max bytes */

static size_t
walrus_cli_http_body(char *data, size_t size, size_t n, void *arg)
{
    size_t              len, cap;
    uint8_t            *p;
    walrus_cli_sink_t  *sink;

    sink = arg;
    len = size * n;

    if (len > sink->max - sink->res->len) {
        sink->too_large = 1;
        return 0;
    }

    if (sink->res->len + len > sink->cap) {
        cap = sink->cap ? sink->cap : 65536;

        while (cap < sink->res->len + len) {
            cap *= 2;
        }

        if (cap > sink->max) {
            cap = sink->max;
        }

        p = realloc(sink->res->body, cap);
        if (p == NULL) {
            return 0;
        }

        sink->res->body = p;
        sink->cap = cap;
    }

    memcpy(sink->res->body + sink->res->len, data, len);
    sink->res->len += len;

    return len;
}


static size_t
walrus_cli_http_header(char *data, size_t size, size_t n, void *arg)
{
    walrus_cli_http_t  *res;

    res = arg;

    walrus_cli_http_value(data, size * n, WALRUS_CLI_NEXT_HEADER, res->next,
                          sizeof(res->next));
    walrus_cli_http_value(data, size * n, WALRUS_CLI_RECORD_HEADER,
                          res->record, sizeof(res->record));

    return size * n;
}


/* the value of header `name` (with its colon) if data is that header */

static void
walrus_cli_http_value(const char *data, size_t len, const char *name,
    char *out, size_t outlen)
{
    size_t  nlen, i;

    nlen = strlen(name);

    if (len < nlen || strncasecmp(data, name, nlen) != 0) {
        return;
    }

    data += nlen;
    len -= nlen;

    while (len > 0 && (*data == ' ' || *data == '\t')) {
        data++;
        len--;
    }

    while (len > 0 && isspace((unsigned char) data[len - 1])) {
        len--;
    }

    for (i = 0; i < len && i + 1 < outlen; i++) {
        out[i] = data[i];
    }

    out[i] = '\0';
}


/*
 * What a node said when it did not answer 200: the message of its JSON
 * error, else the first line of the body.
 */

void
walrus_cli_http_refused(const char *what, const walrus_cli_http_t *res)
{
    size_t        i;
    json_t       *root, *msg;
    json_error_t  jerr;
    char          line[256];

    root = json_loadb((const char *) res->body, res->len, 0, &jerr);
    msg = json_object_get(json_object_get(root, "error"), "message");

    if (json_is_string(msg)) {
        walrus_cli_error("%s: the node answered %ld: %s", what, res->status,
                         json_string_value(msg));
        json_decref(root);
        return;
    }

    json_decref(root);

    for (i = 0; i < res->len && i + 1 < sizeof(line); i++) {
        if (res->body[i] == '\n' || res->body[i] == '\r') {
            break;
        }

        line[i] = isprint(res->body[i]) ? (char) res->body[i] : '?';
    }

    line[i] = '\0';

    walrus_cli_error("%s: the node answered %ld%s%s", what, res->status,
                     i ? ": " : "", line);
}
