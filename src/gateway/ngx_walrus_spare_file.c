/*
 * Spare temporary files, the most recently used first: its pages are the
 * likeliest to be cached still.
 */

#include <ngx_walrus_spare_file.h>


#define NGX_WALRUS_SPARE_FILES  8
#define NGX_WALRUS_SPARE_MIN    (1024 * 1024)


typedef struct {
    ngx_str_t   dir;        /* the configuration's, lives as long */
    ngx_fd_t    fd;
    off_t       size;
} ngx_walrus_spare_file_t;


static ngx_fd_t ngx_walrus_spare_file_create(ngx_str_t *dir,
    ngx_log_t *log);


static off_t                    ngx_walrus_spare_max;
static off_t                    ngx_walrus_spare_size;
static ngx_uint_t               ngx_walrus_spare_count;
static ngx_walrus_spare_file_t
    ngx_walrus_spare_files[NGX_WALRUS_SPARE_FILES];


void
ngx_walrus_spare_file_init(off_t max)
{
    ngx_walrus_spare_max = max;
    ngx_walrus_spare_size = 0;
    ngx_walrus_spare_count = 0;
}


ngx_fd_t
ngx_walrus_spare_file_open(ngx_str_t *dir, ngx_log_t *log)
{
    ngx_fd_t                  fd;
    ngx_uint_t                i;
    ngx_walrus_spare_file_t  *sf;

    for (i = ngx_walrus_spare_count; i > 0; i--) {
        sf = &ngx_walrus_spare_files[i - 1];

        if (sf->dir.len != dir->len
            || ngx_memcmp(sf->dir.data, dir->data, dir->len) != 0)
        {
            continue;
        }

        fd = sf->fd;
        ngx_walrus_spare_size -= sf->size;
        ngx_walrus_spare_count--;

        ngx_memmove(sf, sf + 1, (ngx_walrus_spare_count - (i - 1))
                                * sizeof(ngx_walrus_spare_file_t));

        return fd;
    }

    return ngx_walrus_spare_file_create(dir, log);
}


void
ngx_walrus_spare_file_close(ngx_str_t *dir, ngx_fd_t fd, ngx_log_t *log)
{
    off_t                     room;
    ngx_file_info_t           fi;
    ngx_walrus_spare_file_t  *sf;

    room = ngx_walrus_spare_max - ngx_walrus_spare_size;

    if (ngx_walrus_spare_count == NGX_WALRUS_SPARE_FILES
        || room < NGX_WALRUS_SPARE_MIN
        || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR)
    {
        goto close;
    }

    if (ngx_file_size(&fi) > room) {
        if (ftruncate(fd, room) == -1) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "walrus: ftruncate() of a spare file in \"%V\" "
                          "failed", dir);
            goto close;
        }
    }

    sf = &ngx_walrus_spare_files[ngx_walrus_spare_count++];
    sf->dir = *dir;
    sf->fd = fd;
    sf->size = ngx_min(ngx_file_size(&fi), room);
    ngx_walrus_spare_size += sf->size;

    return;

close:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "walrus: close() of a temp file in \"%V\" failed",
                      dir);
    }
}


void
ngx_walrus_spare_file_drain(void)
{
    while (ngx_walrus_spare_count > 0) {
        (void) ngx_close_file(
                   ngx_walrus_spare_files[--ngx_walrus_spare_count].fd);
    }

    ngx_walrus_spare_size = 0;
}


/* unlinked at once: nothing is left behind whatever happens */

static ngx_fd_t
ngx_walrus_spare_file_create(ngx_str_t *dir, ngx_log_t *log)
{
    char      path[NGX_MAX_PATH];
    ngx_fd_t  fd;

    if (dir->len + sizeof("/walrus.XXXXXX") > sizeof(path)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "walrus: the temp path \"%V\" is too long", dir);
        return NGX_INVALID_FILE;
    }

    ngx_memcpy(path, dir->data, dir->len);
    ngx_memcpy(path + dir->len, "/walrus.XXXXXX",
               sizeof("/walrus.XXXXXX"));

    fd = mkostemp(path, O_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "walrus: cannot create a temp file in \"%V\"", dir);
        return NGX_INVALID_FILE;
    }

    if (unlink(path) == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "walrus: unlink() \"%s\" failed", path);
        (void) ngx_close_file(fd);
        return NGX_INVALID_FILE;
    }

    return fd;
}
