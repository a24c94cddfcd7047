/*
 * A file written batch by batch, with direct I/O when it can be.
 *
 * The memory: up to a block of slack to align base, a block before base
 * whose last byte is the one before a batch that carries nothing, then
 * base: the carried bytes (less than a block), the batch (room bytes),
 * and a block of padding for the last write.
 */

/* O_DIRECT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <walrus_file.h>
#include <walrus_spool.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>


#define walrus_spool_down(x)  ((x) & ~((uint64_t) WALRUS_SPOOL_BLOCK - 1))
#define walrus_spool_up(x)    walrus_spool_down((x) + WALRUS_SPOOL_BLOCK - 1)


static int walrus_spool_pwrite(walrus_spool_t *sp, size_t len);


size_t
walrus_spool_size(size_t room)
{
    return room + 4 * WALRUS_SPOOL_BLOCK;
}


void
walrus_spool_init(walrus_spool_t *sp, uint8_t *mem, size_t room, int fd,
    int direct)
{
    uintptr_t  p;

    p = (uintptr_t) mem + 2 * WALRUS_SPOOL_BLOCK - 1;
    p &= ~((uintptr_t) WALRUS_SPOOL_BLOCK - 1);

    sp->base = (uint8_t *) p;
    sp->carry = 0;
    sp->room = room;
    sp->offset = 0;
    sp->fd = fd;
    sp->direct = direct;
}


uint8_t *
walrus_spool_batch(walrus_spool_t *sp)
{
    return sp->base + sp->carry;
}


int
walrus_spool_write(walrus_spool_t *sp, size_t len, int last)
{
    size_t  total, out;

    if (len > sp->room) {
        errno = EINVAL;
        return -1;
    }

    total = sp->carry + len;

    if (!sp->direct) {
        out = total;

    } else if (last) {
        out = walrus_spool_up(total);
        memset(sp->base + total, 0, out - total);

    } else {
        out = walrus_spool_down(total);
    }

    if (out > 0 && walrus_spool_pwrite(sp, out) != 0) {
        return -1;
    }

    if (last) {
        if (out != total
            && ftruncate(sp->fd, (off_t) (sp->offset + total)) == -1)
        {
            return -1;
        }

        sp->offset += total;
        sp->carry = 0;
        return 0;
    }

    /* the partial block goes in front of the next batch */

    sp->carry = total - out;
    memmove(sp->base, sp->base + out, sp->carry);
    sp->offset += out;

    return 0;
}


/* writes base[0..len) at offset: whole blocks when direct */

static int
walrus_spool_pwrite(walrus_spool_t *sp, size_t len)
{
    size_t    done;
    ssize_t   n;

    for (done = 0; done < len; done += (size_t) n) {
        n = pwrite(sp->fd, sp->base + done, len - done,
                   (off_t) (sp->offset + done));

        if (n > 0) {
            continue;
        }

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        /*
         * a file system may take O_DIRECT at open and refuse the write
         * itself: the rest goes through the page cache
         */

        if (n == -1 && errno == EINVAL && sp->direct
            && walrus_file_direct(sp->fd, 0) == 0)
        {
            sp->direct = 0;
            n = 0;
            continue;
        }

        if (n == 0) {
            errno = EIO;
        }

        return -1;
    }

    return 0;
}
