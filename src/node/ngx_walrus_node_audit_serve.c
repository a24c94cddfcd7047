/*
 * GET /v1/audit/...: the routes of the node's audit answers, and those
 * that are a file under <store>/audit as the keeper wrote it (the
 * latest beacon, a round's beacon, an attestation given, the node's own
 * audit certificate, a fraud proof), sent as the node sends its other
 * files.
 */

#include <ngx_walrus_node_audit_serve.h>


static ngx_int_t ngx_walrus_audit_file(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);


ngx_int_t
ngx_walrus_node_audit(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    if ((rt->kind == NGX_WALRUS_ROUTE_AUDIT_ATTESTATION
         || rt->kind == NGX_WALRUS_ROUTE_AUDIT_FRAUD)
        && rt->node >= wmcf->committee->nnodes)
    {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE, "NO_SUCH_PATH",
                                     "node %ui is not in the committee",
                                     rt->node);
    }

    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_AUDIT_SIGNATURE:
        return ngx_walrus_audit_signature(r, rt);

    case NGX_WALRUS_ROUTE_AUDIT_ANSWER:
        return ngx_walrus_node_audit_answer(r, rt);

    case NGX_WALRUS_ROUTE_AUDIT_STATUS:
        return ngx_walrus_audit_status(r);

    default:
        return ngx_walrus_audit_file(r, rt);
    }
}


static ngx_int_t
ngx_walrus_audit_file(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    int                          rc;
    char                         path[WALRUS_PATH_MAX];
    ngx_int_t                    sent;
    ngx_uint_t                   round;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);
    round = rt->round;

    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_AUDIT_BEACON:
        rc = ngx_walrus_audit_path(path, &wlcf->store, "%s",
                                   NGX_WALRUS_AUDIT_LATEST);
        break;

    case NGX_WALRUS_ROUTE_AUDIT_ROUND:
        rc = ngx_walrus_audit_path(path, &wlcf->store, "%s/%lu/beacon",
                                   NGX_WALRUS_AUDIT_ROUNDS,
                                   (unsigned long) round);
        break;

    case NGX_WALRUS_ROUTE_AUDIT_ATTESTATION:
        rc = ngx_walrus_audit_path(path, &wlcf->store, "%s/%lu/attest.%lu",
                                   NGX_WALRUS_AUDIT_ROUNDS,
                                   (unsigned long) round,
                                   (unsigned long) rt->node);
        break;

    case NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE:
        rc = ngx_walrus_audit_path(path, &wlcf->store, "%s/%lu/certificate",
                                   NGX_WALRUS_AUDIT_ROUNDS,
                                   (unsigned long) round);
        break;

    default: /* NGX_WALRUS_ROUTE_AUDIT_FRAUD */
        rc = ngx_walrus_audit_path(path, &wlcf->store, "%s/%lu/fraud.%lu",
                                   NGX_WALRUS_AUDIT_ROUNDS,
                                   (unsigned long) round,
                                   (unsigned long) rt->node);
        break;
    }

    if (rc != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sent = ngx_walrus_node_send_path(r, path);

    if (sent != NGX_DECLINED) {
        return sent;
    }

    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_AUDIT_BEACON:
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "AUDIT_NO_BEACON",
                                     "this node holds no audit beacon yet");

    case NGX_WALRUS_ROUTE_AUDIT_ROUND:
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "AUDIT_UNKNOWN_ROUND",
                                     "this node holds no beacon of round "
                                     "%ui", round);

    case NGX_WALRUS_ROUTE_AUDIT_ATTESTATION:
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "AUDIT_NOT_ATTESTED",
                                     "this node has not attested node %ui "
                                     "for round %ui", rt->node, round);

    case NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE:
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "AUDIT_NO_CERTIFICATE",
                                     "this node holds no audit certificate "
                                     "of its own for round %ui", round);

    default: /* NGX_WALRUS_ROUTE_AUDIT_FRAUD */
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "AUDIT_NO_FRAUD",
                                     "this node holds no fraud proof "
                                     "against node %ui for round %ui",
                                     rt->node, round);
    }
}


int
ngx_walrus_audit_path(char *path, ngx_str_t *store, const char *fmt, ...)
{
    int      n, m;
    va_list  args;

    n = snprintf(path, WALRUS_PATH_MAX, "%.*s/%s/", (int) store->len,
                 (char *) store->data, NGX_WALRUS_AUDIT_DIR);

    if (n < 0 || n >= WALRUS_PATH_MAX) {
        return -1;
    }

    va_start(args, fmt);
    m = vsnprintf(path + n, WALRUS_PATH_MAX - n, fmt, args);
    va_end(args);

    return (m < 0 || m >= WALRUS_PATH_MAX - n) ? -1 : 0;
}


/* runs in a thread: system calls and the core library only */

int
ngx_walrus_audit_beacon_read(const walrus_committee_t *c, const char *path,
    walrus_audit_beacon_t *b, time_t *mtime)
{
    int           fd, rc, err;
    size_t        len;
    u_char       *buf;
    struct stat   st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return WALRUS_EIO;
    }

    /* the keeper replaces the file by renaming: fd keeps one version */

    if (fstat(fd, &st) == -1
        || walrus_read_fd(fd, WALRUS_AUDIT_BEACON_MAX, &buf, &len) != 0)
    {
        err = errno;
        close(fd);
        errno = err;
        return errno == EFBIG ? WALRUS_EFORMAT : WALRUS_EIO;
    }

    close(fd);

    rc = walrus_audit_beacon_verify(c, buf, len, b);
    free(buf);

    *mtime = st.st_mtime;

    return rc;
}


/*
 * In the worker once an audit task is done: the request goes on, and a
 * beacon the task found not valid is logged.  NGX_DONE when the task
 * failed and its error was answered, else NGX_OK.
 */

ngx_int_t
ngx_walrus_audit_done(ngx_http_request_t *r, ngx_event_t *guard,
    const char *path, int beacon_rc, ngx_walrus_node_result_t *res)
{
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(guard);

    if (beacon_rc != WALRUS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the audit beacon \"%s\" is not valid for "
                      "the committee: %s", path, walrus_strerror(beacon_rc));
    }

    if (res->status != 0) {
        ngx_http_finalize_request(r, ngx_walrus_node_send_fail(r, res));
        return NGX_DONE;
    }

    return NGX_OK;
}
