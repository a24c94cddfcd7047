/*
 * The keeper's state file, <store>/keeper.state: the cursors it keeps in
 * its peers' records and in its own, read at the start of each round and
 * written at its end, in the thread pool.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_record.h>
#include <walrus_store.h>


#define NGX_WALRUS_KEEPER_STATE_MAX  (1024 * 1024)


/* the keeper's state file, read and written in the thread pool */
typedef struct {
    char                       path[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    u_char                    *text;
    size_t                     len;
    u_char                     id[NGX_WALRUS_RECORD_ID_LEN];
    u_char                     loaded_id[NGX_WALRUS_RECORD_ID_LEN];
    unsigned                   has_id:1;      /* the record exists */
    unsigned                   loaded_has_id:1;
    unsigned                   reset:1;       /* saved without cursors */
    int                        err;
} ngx_walrus_state_io_t;


static void ngx_walrus_state_read(void *data, ngx_log_t *log);
static void ngx_walrus_state_loaded(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_state_parse(ngx_walrus_keeper_t *kp, u_char *p,
    u_char *last);
static u_char *ngx_walrus_state_id(u_char *p, const u_char *id);
static void ngx_walrus_state_write(void *data, ngx_log_t *log);
static void ngx_walrus_state_saved(ngx_walrus_round_t *rd, void *data);
static int ngx_walrus_state_record_id(ngx_walrus_state_io_t *io);
static void ngx_walrus_state_forget(ngx_walrus_keeper_t *kp);


/*
 * The state file: text, one fact per line, rewritten whole.
 *
 *     walrus-keeper 1
 *     record <this node's record identity, hex: what the cursors go with>
 *     heal <this node's record identity, hex> <cursor of the heal's pass>
 *     peer <node name> <record identity, hex> <cursor in its record>
 *
 * Losing it costs work, never data: every step it records is repeated
 * harmlessly (entries already held are skipped).
 */

ngx_int_t
ngx_walrus_state_load(ngx_walrus_round_t *rd)
{
    ngx_walrus_state_io_t  *io;

    io = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_state_io_t));
    if (io == NULL) {
        return NGX_ERROR;
    }

    if (ngx_snprintf((u_char *) io->path, sizeof(io->path),
                     "%V/keeper.state%Z", &rd->keeper->conf->store)
        == (u_char *) io->path + sizeof(io->path)
        || walrus_record_path(io->record,
                              (char *) rd->keeper->conf->store.data,
                              rd->keeper->conf->store.len)
           != 0)
    {
        return NGX_ERROR;
    }

    rd->state = io;

    return ngx_walrus_round_task(rd, ngx_walrus_state_read,
                                 ngx_walrus_state_loaded, io);
}


static void
ngx_walrus_state_read(void *data, ngx_log_t *log)
{
    ngx_walrus_state_io_t  *io = data;

    io->err = walrus_read_file(io->path, NGX_WALRUS_KEEPER_STATE_MAX,
                               &io->text, &io->len) == 0 ? 0 : errno;

    io->has_id = ngx_walrus_state_record_id(io);
}


/* the identity of this node's own record, which the cursors go with */

static int
ngx_walrus_state_record_id(ngx_walrus_state_io_t *io)
{
    return walrus_record_identity(io->record, io->id) == 1;
}


static void
ngx_walrus_state_loaded(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_state_io_t  *io = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    /* what the file does not say is unknown: a wiped store starts over */

    ngx_walrus_state_forget(kp);

    if (io->err != 0 && io->err != ENOENT) {
        ngx_log_error(NGX_LOG_ERR, rd->log, io->err,
                      "walrus: cannot read \"%s\": starting over", io->path);
    }

    if (io->text != NULL) {
        ngx_walrus_state_parse(kp, io->text, io->text + io->len);
        free(io->text);
        io->text = NULL;
    }

    /*
     * The cursors hold for the record they were saved with: a store
     * wiped, or its record lost, starts over from every peer's start.
     */

    if (kp->state_has_record != io->has_id
        || (io->has_id
            && ngx_memcmp(kp->state_record, io->id, NGX_WALRUS_RECORD_ID_LEN)
               != 0))
    {
        if (kp->state_has_record || io->has_id) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: node %V: its record changed: cursors "
                           "start over", &kp->conf->node_name);
        }

        ngx_walrus_state_forget(kp);
    }

    io->loaded_has_id = io->has_id;
    ngx_memcpy(io->loaded_id, io->id, NGX_WALRUS_RECORD_ID_LEN);
}


static void
ngx_walrus_state_forget(ngx_walrus_keeper_t *kp)
{
    ngx_uint_t  i;

    kp->scan_known = 0;
    kp->scan_cursor = 0;
    kp->state_has_record = 0;

    for (i = 0; i < kp->committee->nnodes; i++) {
        kp->peers[i].known = 0;
        kp->peers[i].cursor = 0;
    }
}


static void
ngx_walrus_state_parse(ngx_walrus_keeper_t *kp, u_char *p, u_char *last)
{
    int                 idx;
    u_char             *eol, *end;
    unsigned long long  cursor;
    char                name[WALRUS_MAX_NAME_LEN + 1];
    char                hex[2 * NGX_WALRUS_RECORD_ID_LEN + 1];
    char                line[256];

    for ( /* void */ ; p < last; p = eol + 1) {
        eol = ngx_strlchr(p, last, '\n');
        end = eol != NULL ? eol : last;

        if ((size_t) (end - p) >= sizeof(line)) {
            goto bad;
        }

        ngx_memcpy(line, p, end - p);
        line[end - p] = '\0';

        if (ngx_strncmp(line, "walrus-keeper 1", 15) == 0) {
            /* the version line */

        } else if (sscanf(line, "record %32s", hex) == 1) {
            kp->state_has_record =
                ngx_walrus_record_id_parse((u_char *) hex, ngx_strlen(hex),
                                           kp->state_record)
                == NGX_OK;

        } else if (sscanf(line, "heal %32s %llu", hex, &cursor) == 2) {
            if (ngx_walrus_record_id_parse((u_char *) hex, ngx_strlen(hex),
                                           kp->scan_record)
                == NGX_OK)
            {
                kp->scan_cursor = cursor;
                kp->scan_known = 1;
            }

        } else if (sscanf(line, "peer %64s %32s %llu", name, hex, &cursor)
                   == 3)
        {
            idx = walrus_committee_find(kp->committee, name);

            /* a node that left the committee is forgotten */

            if (idx >= 0
                && ngx_walrus_record_id_parse((u_char *) hex,
                                              ngx_strlen(hex),
                                              kp->peers[idx].record)
                   == NGX_OK)
            {
                kp->peers[idx].cursor = cursor;
                kp->peers[idx].known = 1;
            }

        } else if (line[0] != '\0') {
            goto bad;
        }

        if (eol == NULL) {
            break;
        }
    }

    return;

bad:

    ngx_log_error(NGX_LOG_WARN, &kp->log, 0,
                  "walrus: node %V: a line of keeper.state is not "
                  "understood: ignored", &kp->conf->node_name);
}


ngx_int_t
ngx_walrus_record_id_parse(const u_char *hex, size_t len, u_char *id)
{
    ngx_int_t   b;
    ngx_uint_t  i;

    if (len != 2 * NGX_WALRUS_RECORD_ID_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_WALRUS_RECORD_ID_LEN; i++) {
        b = ngx_hextoi((u_char *) hex + 2 * i, 2);
        if (b == NGX_ERROR) {
            return NGX_ERROR;
        }

        id[i] = (u_char) b;
    }

    return NGX_OK;
}


static u_char *
ngx_walrus_state_id(u_char *p, const u_char *id)
{
    return ngx_hex_dump(p, (u_char *) id, NGX_WALRUS_RECORD_ID_LEN);
}


ngx_int_t
ngx_walrus_state_save(ngx_walrus_round_t *rd)
{
    u_char                 *p;
    size_t                  size;
    ngx_uint_t              i;
    ngx_walrus_keeper_t    *kp;
    ngx_walrus_state_io_t  *io, *loaded;

    kp = rd->keeper;

    io = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_state_io_t));
    if (io == NULL) {
        return NGX_ERROR;
    }

    size = sizeof("heal  \n") + NGX_INT64_LEN
           + 2 * NGX_WALRUS_RECORD_ID_LEN
           + kp->committee->nnodes
             * (sizeof("peer   \n") + WALRUS_MAX_NAME_LEN
                + 2 * NGX_WALRUS_RECORD_ID_LEN + NGX_INT64_LEN);

    io->text = ngx_pnalloc(rd->pool, size);
    if (io->text == NULL) {
        return NGX_ERROR;
    }

    loaded = rd->state;

    if (loaded != NULL) {
        io->loaded_has_id = loaded->loaded_has_id;
        ngx_memcpy(io->loaded_id, loaded->loaded_id,
                   NGX_WALRUS_RECORD_ID_LEN);
    }

    if (walrus_record_path(io->record, (char *) kp->conf->store.data,
                           kp->conf->store.len)
        != 0)
    {
        return NGX_ERROR;
    }

    /* the version and record lines are written by the task */
    p = io->text;

    if (kp->scan_known) {
        p = ngx_walrus_state_id(ngx_cpymem(p, "heal ", 5), kp->scan_record);
        p = ngx_sprintf(p, " %uL\n", kp->scan_cursor);
    }

    for (i = 0; i < kp->committee->nnodes; i++) {
        if (!kp->peers[i].known) {
            continue;
        }

        p = ngx_sprintf(p, "peer %s ", kp->committee->nodes[i].name);
        p = ngx_walrus_state_id(p, kp->peers[i].record);
        p = ngx_sprintf(p, " %uL\n", kp->peers[i].cursor);
    }

    io->len = p - io->text;

    if (ngx_snprintf((u_char *) io->path, sizeof(io->path),
                     "%V/keeper.state%Z", &kp->conf->store)
        == (u_char *) io->path + sizeof(io->path))
    {
        return NGX_ERROR;
    }

    return ngx_walrus_round_task(rd, ngx_walrus_state_write,
                                 ngx_walrus_state_saved, io);
}


static void
ngx_walrus_state_write(void *data, ngx_log_t *log)
{
    ngx_walrus_state_io_t  *io = data;

    u_char         head[sizeof("walrus-keeper 1\nrecord \n")
                        + 2 * NGX_WALRUS_RECORD_ID_LEN];
    u_char        *p;
    walrus_file_t  f;

    io->err = 0;
    io->has_id = ngx_walrus_state_record_id(io);

    /*
     * The record changed while the round ran (the store was wiped): the
     * cursors found before are of the old one, and none are kept.  A
     * record made in the round, where there was none, holds what the
     * round took in.
     */

    io->reset = io->loaded_has_id
                && (!io->has_id
                    || memcmp(io->id, io->loaded_id,
                              NGX_WALRUS_RECORD_ID_LEN) != 0);

    p = ngx_cpymem(head, "walrus-keeper 1\n", 16);

    if (io->has_id && !io->reset) {
        p = ngx_cpymem(p, "record ", 7);
        p = ngx_hex_dump(p, io->id, NGX_WALRUS_RECORD_ID_LEN);
        *p++ = '\n';
    }

    if (walrus_file_open(&f, io->path, 0644) != 0) {
        io->err = errno;
        return;
    }

    if (walrus_file_write(&f, head, p - head) != 0
        || (!io->reset && walrus_file_write(&f, io->text, io->len) != 0)
        || walrus_file_commit(&f) != 0)
    {
        io->err = errno;
        walrus_file_abort(&f);
    }
}


static void
ngx_walrus_state_saved(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_state_io_t  *io = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    if (io->err != 0) {
        ngx_log_error(NGX_LOG_ERR, rd->log, io->err,
                      "walrus: node %V: cannot write keeper.state",
                      &kp->conf->node_name);
        return;
    }

    if (io->reset) {
        ngx_walrus_state_forget(kp);
        return;
    }

    kp->state_has_record = io->has_id;
    ngx_memcpy(kp->state_record, io->id, NGX_WALRUS_RECORD_ID_LEN);
}
