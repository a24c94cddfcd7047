/*
 * GET /v1/audit/status: what the files under <store>/audit say, as JSON
 * for operators and the gateway: the newest beacon (round, leader, seed,
 * when it was taken) and, for the newest NGX_WALRUS_AUDIT_KEEP_ROUNDS
 * rounds kept, newest first, whether this node holds the round's beacon
 * and its own audit certificate, the nodes it attested, the blobs each
 * node said it lacks, the nodes it holds fraud proofs against and
 * whether it keeps a second beacon (an equivocating leader).  Reading
 * the directories is disk work: the JSON is written in the thread pool.
 */

#include <ngx_walrus_node_audit_serve.h>
#include <dirent.h>


/* a missing.<X> file is read up to this many bytes */
#define NGX_WALRUS_AUDIT_MISSING_MAX  16384

/* what may separate the blob IDs of a missing.<X> file */
#define NGX_WALRUS_AUDIT_SEPARATORS   " \t\r\n,"

#define NGX_WALRUS_AUDIT_FILE_BEACON       0x01
#define NGX_WALRUS_AUDIT_FILE_OTHER        0x02
#define NGX_WALRUS_AUDIT_FILE_CERTIFICATE  0x04


/* the JSON text, grown with realloc() in the thread */
typedef struct {
    char                      *data;
    size_t                     len;
    size_t                     size;
    ngx_uint_t                 failed;
} ngx_walrus_audit_text_t;


/* what one round's directory holds */
typedef struct {
    ngx_uint_t                 files;       /* NGX_WALRUS_AUDIT_FILE_* */
    uint8_t                    attest[WALRUS_MAX_SHARDS];
    uint8_t                    missing[WALRUS_MAX_SHARDS];
    uint8_t                    fraud[WALRUS_MAX_SHARDS];
} ngx_walrus_audit_round_t;


typedef struct {
    walrus_committee_t        *committee;
    unsigned                   node;
    ngx_msec_t                 interval;
    char                       dir[WALRUS_PATH_MAX];    /* <store>/audit */
    char                       latest[WALRUS_PATH_MAX];
    int                        beacon_rc;   /* of a latest not valid */
    walrus_audit_beacon_t      beacon;
    ngx_walrus_audit_text_t    text;
    ngx_walrus_audit_round_t   round;
    ngx_walrus_node_result_t   res;
    ngx_event_t                guard;
} ngx_walrus_audit_status_t;


static void ngx_walrus_audit_status_thread(void *data, ngx_log_t *log);
static unsigned ngx_walrus_audit_rounds(ngx_walrus_audit_status_t *t,
    uint32_t *rounds);
static void ngx_walrus_audit_round(ngx_walrus_audit_status_t *t,
    uint32_t round);
static void ngx_walrus_audit_nodes(ngx_walrus_audit_status_t *t,
    const char *key, uint8_t *set);
static void ngx_walrus_audit_missing(ngx_walrus_audit_status_t *t,
    uint32_t round, unsigned node);
static int ngx_walrus_audit_number(const char *s, uint64_t max,
    uint64_t *value);
static void ngx_walrus_audit_add(ngx_walrus_audit_text_t *text,
    const char *fmt, ...);
static void ngx_walrus_audit_status_cleanup(void *data);
static void ngx_walrus_audit_status_done(ngx_http_request_t *r);


ngx_int_t
ngx_walrus_audit_status(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_walrus_audit_status_t   *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_audit_status_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (t == NULL || cln == NULL
        || ngx_walrus_audit_path(t->dir, &wlcf->store, "%s", "") != 0
        || ngx_walrus_audit_path(t->latest, &wlcf->store, "%s",
                                 NGX_WALRUS_AUDIT_LATEST)
           != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_audit_status_cleanup;
    cln->data = t;

    t->committee = wmcf->committee;
    t->node = wlcf->node_index;
    t->interval = wlcf->audit_interval;

    ngx_walrus_node_ctx(r)->audit = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_audit_status_thread,
                                ngx_walrus_audit_status_done, &t->guard);
}


/* runs in a thread pool: system calls and the core library only */

static void
ngx_walrus_audit_status_thread(void *data, ngx_log_t *log)
{
    int                         rc;
    time_t                      mtime;
    unsigned                    i, nrounds;
    uint32_t                    rounds[NGX_WALRUS_AUDIT_KEEP_ROUNDS];
    ngx_walrus_audit_status_t  *t;

    t = data;

    ngx_walrus_audit_add(&t->text, "{\"node\":%u,\"epoch\":%lu,"
                         "\"interval\":%lu,", t->node,
                         (unsigned long) t->committee->epoch,
                         (unsigned long) t->interval);

    rc = ngx_walrus_audit_beacon_read(t->committee, t->latest, &t->beacon,
                                      &mtime);

    if (rc != WALRUS_OK && (rc != WALRUS_EIO || errno != ENOENT)) {
        t->beacon_rc = rc;
    }

    if (rc == WALRUS_OK) {
        ngx_walrus_audit_add(&t->text, "\"round\":%lu,\"leader\":%u,"
                             "\"seed\":\"", (unsigned long) t->beacon.round,
                             t->beacon.leader);

        for (i = 0; i < sizeof(t->beacon.seed); i++) {
            ngx_walrus_audit_add(&t->text, "%02x", t->beacon.seed[i]);
        }

        ngx_walrus_audit_add(&t->text, "\",\"taken\":%lld,",
                             (long long) mtime);

    } else {
        ngx_walrus_audit_add(&t->text, "\"round\":0,\"leader\":null,"
                             "\"seed\":null,\"taken\":null,");
    }

    ngx_walrus_audit_add(&t->text, "\"rounds\":[");

    nrounds = ngx_walrus_audit_rounds(t, rounds);

    for (i = 0; i < nrounds; i++) {
        ngx_walrus_audit_add(&t->text, "%s", i ? "," : "");
        ngx_walrus_audit_round(t, rounds[i]);
    }

    ngx_walrus_audit_add(&t->text, "]}");

    if (t->text.failed) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "NO_MEMORY", "out of memory");
    }
}


/* the newest rounds under audit/rounds, newest first: their count */

static unsigned
ngx_walrus_audit_rounds(ngx_walrus_audit_status_t *t, uint32_t *rounds)
{
    DIR            *d;
    char            path[WALRUS_PATH_MAX];
    unsigned        n, i;
    uint64_t        r;
    struct dirent  *de;

    if (snprintf(path, sizeof(path), "%s%s", t->dir, NGX_WALRUS_AUDIT_ROUNDS)
        >= (int) sizeof(path))
    {
        return 0;
    }

    d = opendir(path);
    if (d == NULL) {
        return 0;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (ngx_walrus_audit_number(de->d_name, 0xffffffff, &r) != 0
            || r == 0)
        {
            continue;
        }

        /* an insertion into the descending list of the newest */

        if (n == NGX_WALRUS_AUDIT_KEEP_ROUNDS) {
            if (r <= rounds[n - 1]) {
                continue;
            }

            n--;
        }

        for (i = n; i > 0 && rounds[i - 1] < r; i--) {
            rounds[i] = rounds[i - 1];
        }

        rounds[i] = (uint32_t) r;
        n++;
    }

    closedir(d);

    return n;
}


static void
ngx_walrus_audit_round(ngx_walrus_audit_status_t *t, uint32_t round)
{
    DIR                       *d;
    char                       path[WALRUS_PATH_MAX];
    size_t                     len;
    uint8_t                   *set;
    unsigned                   i, first;
    uint64_t                   x;
    const char                *dot;
    struct dirent             *de;
    ngx_walrus_audit_round_t  *rd;

    rd = &t->round;
    ngx_memzero(rd, sizeof(ngx_walrus_audit_round_t));

    if (snprintf(path, sizeof(path), "%s%s/%lu", t->dir,
                 NGX_WALRUS_AUDIT_ROUNDS, (unsigned long) round)
        < (int) sizeof(path)
        && (d = opendir(path)) != NULL)
    {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, "beacon") == 0) {
                rd->files |= NGX_WALRUS_AUDIT_FILE_BEACON;
                continue;
            }

            if (strcmp(de->d_name, "other") == 0) {
                rd->files |= NGX_WALRUS_AUDIT_FILE_OTHER;
                continue;
            }

            if (strcmp(de->d_name, "certificate") == 0) {
                rd->files |= NGX_WALRUS_AUDIT_FILE_CERTIFICATE;
                continue;
            }

            dot = strchr(de->d_name, '.');

            if (dot == NULL
                || ngx_walrus_audit_number(dot + 1,
                                           t->committee->nnodes - 1, &x)
                   != 0)
            {
                continue;
            }

            len = dot - de->d_name;

            if (len == 6 && ngx_strncmp(de->d_name, "attest", 6) == 0) {
                set = rd->attest;

            } else if (len == 7 && ngx_strncmp(de->d_name, "missing", 7) == 0)
            {
                set = rd->missing;

            } else if (len == 5 && ngx_strncmp(de->d_name, "fraud", 5) == 0) {
                set = rd->fraud;

            } else {
                continue;
            }

            set[x] = 1;
        }

        closedir(d);
    }

    ngx_walrus_audit_add(&t->text, "{\"round\":%lu,\"beacon\":%s,"
                         "\"certificate\":%s,", (unsigned long) round,
                         rd->files & NGX_WALRUS_AUDIT_FILE_BEACON
                         ? "true" : "false",
                         rd->files & NGX_WALRUS_AUDIT_FILE_CERTIFICATE
                         ? "true" : "false");

    ngx_walrus_audit_nodes(t, "attested", rd->attest);
    ngx_walrus_audit_add(&t->text, ",\"missing\":[");

    first = 1;

    for (i = 0; i < t->committee->nnodes; i++) {
        if (rd->missing[i]) {
            ngx_walrus_audit_add(&t->text, "%s", first ? "" : ",");
            ngx_walrus_audit_missing(t, round, i);
            first = 0;
        }
    }

    ngx_walrus_audit_add(&t->text, "],");
    ngx_walrus_audit_nodes(t, "frauds", rd->fraud);
    ngx_walrus_audit_add(&t->text, ",\"equivocation\":%s}",
                         rd->files & NGX_WALRUS_AUDIT_FILE_OTHER
                         ? "true" : "false");
}


static void
ngx_walrus_audit_nodes(ngx_walrus_audit_status_t *t, const char *key,
    uint8_t *set)
{
    unsigned  i, first;

    ngx_walrus_audit_add(&t->text, "\"%s\":[", key);

    first = 1;

    for (i = 0; i < t->committee->nnodes; i++) {
        if (set[i]) {
            ngx_walrus_audit_add(&t->text, "%s%u", first ? "" : ",", i);
            first = 0;
        }
    }

    ngx_walrus_audit_add(&t->text, "]");
}


/*
 * {"node":X,"blobs":[...]}: the blob IDs in missing.<X> (text, one per
 * line, or separated by commas or blanks), those that parse, from its
 * first NGX_WALRUS_AUDIT_MISSING_MAX bytes
 */

static void
ngx_walrus_audit_missing(ngx_walrus_audit_status_t *t, uint32_t round,
    unsigned node)
{
    int       fd;
    char      path[WALRUS_PATH_MAX];
    char      text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char      buf[NGX_WALRUS_AUDIT_MISSING_MAX + 1];
    char     *p;
    size_t    len, n;
    ssize_t   got;
    uint8_t   id[WALRUS_BLOB_ID_LEN];
    unsigned  first;

    ngx_walrus_audit_add(&t->text, "{\"node\":%u,\"blobs\":[", node);

    len = 0;

    if (snprintf(path, sizeof(path), "%s%s/%lu/missing.%u", t->dir,
                 NGX_WALRUS_AUDIT_ROUNDS, (unsigned long) round, node)
        < (int) sizeof(path)
        && (fd = open(path, O_RDONLY | O_CLOEXEC)) != -1)
    {
        while (len < NGX_WALRUS_AUDIT_MISSING_MAX) {
            got = read(fd, buf + len, NGX_WALRUS_AUDIT_MISSING_MAX - len);

            if (got <= 0) {
                if (got == -1 && errno == EINTR) {
                    continue;
                }

                break;
            }

            len += got;
        }

        close(fd);
    }

    buf[len] = '\0';
    p = buf;
    first = 1;

    for ( ;; ) {
        p += strspn(p, NGX_WALRUS_AUDIT_SEPARATORS);

        if (*p == '\0') {
            break;
        }

        n = strcspn(p, NGX_WALRUS_AUDIT_SEPARATORS);

        if (walrus_blob_id_parse(p, n, id) == WALRUS_OK) {
            walrus_blob_id_format(id, text);
            ngx_walrus_audit_add(&t->text, "%s\"%s\"", first ? "" : ",",
                                 text);
            first = 0;
        }

        p += n;
    }

    ngx_walrus_audit_add(&t->text, "]}");
}


/* a canonical decimal number up to max: 0, or -1 */

static int
ngx_walrus_audit_number(const char *s, uint64_t max, uint64_t *value)
{
    const char  *p;

    *value = 0;

    for (p = s; *p >= '0' && *p <= '9' && p - s < 11; p++) {
        *value = *value * 10 + (*p - '0');
    }

    if (p == s || *p != '\0' || (*s == '0' && p - s > 1) || *value > max) {
        return -1;
    }

    return 0;
}


static void
ngx_walrus_audit_add(ngx_walrus_audit_text_t *text, const char *fmt, ...)
{
    int       n;
    char     *data;
    size_t    size;
    va_list   args;

    if (text->failed) {
        return;
    }

    for ( ;; ) {
        if (text->size - text->len > 1) {
            va_start(args, fmt);
            n = vsnprintf(text->data + text->len, text->size - text->len,
                          fmt, args);
            va_end(args);

            if (n < 0) {
                text->failed = 1;
                return;
            }

            if ((size_t) n < text->size - text->len) {
                text->len += n;
                return;
            }
        }

        size = ngx_max(2 * text->size, 4096);

        data = realloc(text->data, size);
        if (data == NULL) {
            text->failed = 1;
            return;
        }

        text->data = data;
        text->size = size;
    }
}


static void
ngx_walrus_audit_status_cleanup(void *data)
{
    ngx_walrus_audit_status_t  *t = data;

    free(t->text.data);
    t->text.data = NULL;
}


static void
ngx_walrus_audit_status_done(ngx_http_request_t *r)
{
    ngx_str_t                   json;
    ngx_walrus_audit_status_t  *t;

    t = ngx_walrus_node_ctx(r)->audit;

    if (ngx_walrus_audit_done(r, &t->guard, t->latest, t->beacon_rc, &t->res)
        == NGX_DONE)
    {
        return;
    }

    json.data = (u_char *) t->text.data;
    json.len = t->text.len;

    ngx_http_finalize_request(r, ngx_walrus_send_success(r, NGX_HTTP_OK,
                                                         &json));
}
