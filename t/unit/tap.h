/*
 * A minimal TAP producer for the C unit tests, read by prove.
 */

#ifndef _WALRUS_TAP_H_INCLUDED_
#define _WALRUS_TAP_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;


static int
tap_ok(int cond, const char *file, int line, const char *what)
{
    tap_count++;

    if (cond) {
        printf("ok %d - %s\n", tap_count, what);
        return 1;
    }

    tap_failed++;
    printf("not ok %d - %s\n#   at %s line %d\n", tap_count, what, file,
           line);
    return 0;
}


static int
tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}


#define ok(cond, ...)                                                        \
    do {                                                                     \
        char  tap_what_[256];                                                \
        snprintf(tap_what_, sizeof(tap_what_), __VA_ARGS__);                 \
        tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, tap_what_);               \
    } while (0)

#define is_int(got, want, ...)                                               \
    do {                                                                     \
        long long  tap_g_ = (long long) (got), tap_w_ = (long long) (want);  \
        char       tap_what_[256];                                           \
        snprintf(tap_what_, sizeof(tap_what_), __VA_ARGS__);                 \
        if (!tap_ok(tap_g_ == tap_w_, __FILE__, __LINE__, tap_what_)) {      \
            printf("#   got %lld, want %lld\n", tap_g_, tap_w_);             \
        }                                                                    \
    } while (0)

/* snprintf() of a path into buf, or the test bails out */
#define PATH(buf, ...)                                                       \
    do {                                                                     \
        int  n_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                   \
        if (n_ < 0 || n_ >= (int) sizeof(buf)) {                             \
            printf("Bail out! a path too long\n");                           \
            exit(2);                                                         \
        }                                                                    \
    } while (0)


#endif /* _WALRUS_TAP_H_INCLUDED_ */
