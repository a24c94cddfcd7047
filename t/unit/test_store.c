/*
 * The storage node's durable files (include/walrus_store.h): paths,
 * files that appear only complete, the verification stamp, setting a bad
 * file aside, exact reads, and the sweeps of temporary and body files;
 * and the atomic writer under them (include/walrus_file.h) as walrusctl
 * uses it: the mode the umask leaves, no stamp.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <walrus_store.h>

#include <tap.h>


static char  base[256];


static void
put_file(const char *path, const char *content)
{
    FILE  *fp;

    fp = fopen(path, "w");
    if (fp == NULL || fputs(content, fp) == EOF || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
}


static int
exists(const char *path)
{
    struct stat  st;

    return lstat(path, &st) == 0;
}


/* whether path holds exactly content */
static int
holds(const char *path, const char *content)
{
    size_t          len;
    unsigned char  *buf;
    int             same;

    if (walrus_read_file(path, 1 << 20, &buf, &len) != 0) {
        return 0;
    }

    same = len == strlen(content) && memcmp(buf, content, len) == 0;
    free(buf);

    return same;
}


static void
set_age(const char *path, time_t age)
{
    struct timespec  ts[2];

    ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;

    if (utimensat(AT_FDCWD, path, ts, 0) != 0) {
        perror(path);
        exit(2);
    }
}


/* the number of entries of dir whose name starts with prefix */
static int
count_entries(const char *dir, const char *prefix)
{
    int             n;
    DIR            *d;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    }

    closedir(d);

    return n;
}


/* a pid that no process has: a child that has exited and been reaped */
static pid_t
dead_pid(void)
{
    pid_t  pid;

    pid = fork();
    if (pid == 0) {
        _exit(0);
    }

    waitpid(pid, NULL, 0);

    return pid;
}


static void
test_paths(void)
{
    char  dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    char  name[64], long_name[WALRUS_PATH_MAX];

    is_int(walrus_store_dir(dir, "/srv/storeXXX", 10, "abc"), 0,
           "store_dir fits");
    ok(strcmp(dir, "/srv/store/abc") == 0,
       "store_dir takes store_len bytes of the store");

    is_int(walrus_store_path(path, dir, "metadata"), 0, "store_path");
    ok(strcmp(path, "/srv/store/abc/metadata") == 0, "... <dir>/<name>");

    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    is_int(walrus_store_path(path, "/d", long_name), -1,
           "a path longer than WALRUS_PATH_MAX is refused");
    is_int(walrus_store_dir(dir, "/s", 2, long_name), -1,
           "... and so is such a directory");

    walrus_store_sliver_name(name, sizeof(name), 3, 0);
    ok(strcmp(name, "3.primary") == 0, "sliver name 3.primary");
    walrus_store_sliver_name(name, sizeof(name), 12, 1);
    ok(strcmp(name, "12.secondary") == 0, "sliver name 12.secondary");
}


static void
test_mkdir(void)
{
    char  dir[WALRUS_PATH_MAX], deep[WALRUS_PATH_MAX];

    PATH(dir, "%s/blob", base);
    PATH(deep, "%s/none/blob", base);

    is_int(walrus_store_mkdir(dir), 0, "mkdir creates a blob directory");
    ok(exists(dir), "... which exists");
    is_int(walrus_store_mkdir(dir), 0, "... and again is no error");
    is_int(walrus_store_mkdir(deep), -1,
           "mkdir without the parent fails");
}


static void
test_commit(void)
{
    char           dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    walrus_file_t  f;

    PATH(dir, "%s/blob", base);
    PATH(path, "%s/metadata", dir);

    is_int(walrus_store_open(&f, dir, "metadata"), 0, "store_open");
    ok(!exists(path), "... the file has no name before its commit");
    is_int(walrus_file_write(&f, "hello, ", 7), 0, "file_write");
    is_int(walrus_file_write(&f, "walrus", 6), 0, "... twice");
    ok(!exists(path), "... still no name");
    is_int(walrus_store_commit(&f), 0, "store_commit");
    ok(holds(path, "hello, walrus"), "... the file holds what was written");
    is_int(count_entries(dir, ".tmp."), 0, "... and no temporary file is left");
    is_int(walrus_store_state(path), 1, "... and it is stamped");

    is_int(walrus_store_open(&f, dir, "metadata"), 0,
           "a second version is opened");
    is_int(walrus_file_write(&f, "second", 6), 0, "... written");
    ok(holds(path, "hello, walrus"), "... the first stays until the commit");
    is_int(walrus_store_commit(&f), 0, "... committed");
    ok(holds(path, "second"), "... and replaces the first");

    is_int(walrus_store_open(&f, dir, "metadata"), 0,
           "a third version is opened");
    is_int(walrus_file_write(&f, "aborted", 7), 0, "... written");
    walrus_file_abort(&f);
    ok(holds(path, "second"), "... aborted: the committed one stays");
    is_int(count_entries(dir, ".tmp."), 0,
           "... and its temporary file is gone");
    is_int(f.fd, -1, "... and closed");

    errno = 0;
    is_int(walrus_store_open(&f, "/nonexistent-walrus-dir", "x"), -1,
           "store_open in a missing directory fails");
    is_int(errno, ENOENT, "... with ENOENT");
}


static mode_t
mode_of(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}


static void
test_write(void)
{
    char           path[WALRUS_PATH_MAX], tmp[WALRUS_PATH_MAX];
    walrus_file_t  f;

    PATH(path, "%s/blob.bin", base);

    is_int(walrus_file_open(&f, path, 0666), 0, "file_open");
    ok(f.fd != -1, "... opens a file");
    ok(strncmp(f.tmp, base, strlen(base)) == 0
       && strncmp(f.tmp + strlen(base), "/.tmp.blob.bin.", 15) == 0,
       "... named .tmp.<name>.<pid>.<seq> beside the path");
    ok(strcmp(f.dir, base) == 0, "... in the directory of the path");
    PATH(tmp, "%s", f.tmp);
    ok(!exists(path), "... the path has no file before the commit");

    is_int(walrus_file_write(&f, "a whole ", 8), 0, "file_write");
    is_int(walrus_file_write(&f, "file", 4), 0, "... twice");
    is_int(walrus_file_commit(&f), 0, "file_commit");
    ok(holds(path, "a whole file"), "... the file holds what was written");
    ok(!exists(tmp) && count_entries(base, ".tmp.") == 0,
       "... and no temporary file is left");
    is_int(walrus_store_state(path), 0, "... and it is not stamped");
    is_int(f.fd, -1, "... closed");

    walrus_file_abort(&f);
    ok(holds(path, "a whole file"), "abort after a commit leaves the file");

    is_int(walrus_file_open(&f, path, 0666), 0, "a second version is opened");
    is_int(walrus_file_write(&f, "dropped", 7), 0, "... written");
    walrus_file_abort(&f);
    ok(holds(path, "a whole file"), "... aborted: the committed one stays");
    is_int(count_entries(base, ".tmp."), 0,
           "... and its temporary file is gone");
    walrus_file_abort(&f);
    is_int(f.fd, -1, "... a second abort does nothing");

    walrus_file_init(&f);
    walrus_file_abort(&f);
    ok(holds(path, "a whole file"), "abort of a file never opened: nothing");
}


static void
test_modes(void)
{
    char           path[WALRUS_PATH_MAX];
    mode_t         mask;
    walrus_file_t  f;

    PATH(path, "%s/modes", base);

    mask = umask(022);
    ok(walrus_file_open(&f, path, 0666) == 0 && walrus_file_commit(&f) == 0,
       "a file written with umask 022");
    is_int(mode_of(path), 0644, "... is mode 0644");

    (void) umask(002);
    ok(walrus_file_open(&f, path, 0666) == 0 && walrus_file_commit(&f) == 0,
       "a file written with umask 002");
    is_int(mode_of(path), 0664, "... is mode 0664");

    ok(walrus_file_open(&f, path, 0644) == 0 && walrus_file_commit(&f) == 0,
       "a file written with mode 0644");
    is_int(mode_of(path), 0644, "... is mode 0644");

    (void) umask(mask);
}


static void
test_relative(void)
{
    char           cwd[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    walrus_file_t  f;

    if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(base) != 0) {
        printf("Bail out! cannot change to %s\n", base);
        exit(2);
    }

    is_int(walrus_file_open(&f, "bare", 0666), 0,
           "file_open of a bare name");
    ok(strcmp(f.dir, ".") == 0, "... in the current directory");
    ok(strncmp(f.tmp, ".tmp.bare.", 10) == 0, "... its temporary file too");
    ok(walrus_file_write(&f, "here", 4) == 0 && walrus_file_commit(&f) == 0,
       "... written and committed");

    if (chdir(cwd) != 0) {
        printf("Bail out! cannot change back to %s\n", cwd);
        exit(2);
    }

    PATH(path, "%s/bare", base);
    ok(holds(path, "here"), "... under its name");

    is_int(walrus_file_tmp_name(path, "/top"), 0,
           "the temporary name of a file in the root");
    ok(strncmp(path, "/.tmp.top.", 10) == 0, "... is in the root");
}


static void
test_failures(void)
{
    char           path[WALRUS_PATH_MAX], long_path[WALRUS_PATH_MAX + 8];
    walrus_file_t  f;

    errno = 0;
    is_int(walrus_file_open(&f, "/nonexistent-walrus-dir/x", 0666), -1,
           "file_open in a missing directory fails");
    is_int(errno, ENOENT, "... with ENOENT");
    ok(f.fd == -1 && f.tmp[0] == '\0', "... and leaves nothing to remove");

    memset(long_path, 'x', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    errno = 0;
    is_int(walrus_file_open(&f, long_path, 0666), -1,
           "a path longer than WALRUS_PATH_MAX is refused");
    is_int(errno, ENAMETOOLONG, "... with ENAMETOOLONG");

    /* a directory cannot be replaced by a file */
    PATH(path, "%s/a-directory", base);
    mkdir(path, 0755);

    is_int(walrus_file_open(&f, path, 0666), 0,
           "a file for the name of a directory is opened");
    is_int(walrus_file_write(&f, "x", 1), 0, "... written");
    errno = 0;
    is_int(walrus_file_commit(&f), -1, "... its commit fails");
    is_int(errno, EISDIR, "... with EISDIR");
    is_int(count_entries(base, ".tmp."), 0,
           "... and removes the temporary file");
}


static void
test_stamp(void)
{
    int          fd;
    char         path[WALRUS_PATH_MAX];
    struct stat  st;

    PATH(path, "%s/blob/metadata", base);

    is_int(walrus_store_state(path), 1, "a committed file is stamped");

    /* a write through the file system sets the time of that write */
    fd = open(path, O_WRONLY | O_APPEND);
    ok(fd != -1 && write(fd, "!", 1) == 1, "one byte appended");
    close(fd);
    is_int(walrus_store_state(path), 0, "... and the stamp is gone");

    fd = open(path, O_RDONLY);
    is_int(walrus_file_stamp(fd), 0, "file_stamp");
    ok(fstat(fd, &st) == 0 && walrus_file_stamped(&st),
       "... marks it verified again");
    ok(st.st_mtim.tv_nsec == WALRUS_STAMP_NSEC,
       "... with WALRUS_STAMP_NSEC nanoseconds");
    close(fd);

    is_int(walrus_store_state(base), -1, "a directory is no stored file");
    PATH(path, "%s/blob/none", base);
    is_int(walrus_store_state(path), -1, "... nor is a missing one");
}


static void
test_sweep_tmp(void)
{
    char           dir[WALRUS_PATH_MAX], dead[WALRUS_PATH_MAX];
    char           live[WALRUS_PATH_MAX], odd[WALRUS_PATH_MAX];
    walrus_file_t  f;

    PATH(dir, "%s/blob", base);
    PATH(dead, "%s/.tmp.0.primary.%ld.7", dir,
             (long) dead_pid());
    PATH(live, "%s/.tmp.0.primary.%ld.99999", dir,
             (long) getpid());
    PATH(odd, "%s/.tmp.notapid", dir);
    put_file(dead, "left by a crashed worker");
    put_file(live, "an upload in progress");
    put_file(odd, "not ours");

    is_int(walrus_store_open(&f, dir, "0.primary"), 0,
           "store_open in a directory with temporary files");
    ok(!exists(dead), "... removes one of a process that is gone");
    ok(exists(live), "... keeps one of a process that runs");
    ok(exists(odd), "... and leaves a name without a pid alone");
    walrus_file_abort(&f);

    unlink(live);
    unlink(odd);
}


static void
test_set_aside(void)
{
    int   fd;
    char  dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    char  bad[WALRUS_PATH_MAX];

    PATH(dir, "%s/blob", base);
    PATH(path, "%s/1.secondary", dir);
    PATH(bad, "%s/1.secondary.bad", dir);

    put_file(path, "rotten");
    fd = open(path, O_RDONLY);
    is_int(walrus_store_set_aside(fd, dir, "1.secondary"), 1,
           "set_aside renames the file still open");
    ok(!exists(path) && holds(bad, "rotten"), "... to <name>.bad");
    close(fd);

    /* a good copy stored since the bad one was opened stays */
    put_file(path, "rotten again");
    fd = open(path, O_RDONLY);
    unlink(path);
    put_file(path, "a good copy");
    is_int(walrus_store_set_aside(fd, dir, "1.secondary"), 0,
           "set_aside of a file replaced since: 0");
    ok(holds(path, "a good copy"), "... the new file keeps its name");
    ok(holds(bad, "rotten"), "... and the older .bad is untouched");
    close(fd);
}


static void
test_reads(void)
{
    int             fd;
    char            buf[16], path[WALRUS_PATH_MAX];
    size_t          len;
    unsigned char  *data;

    PATH(path, "%s/blob/1.secondary", base);
    fd = open(path, O_RDONLY);

    memset(buf, 0, sizeof(buf));
    is_int(walrus_pread(fd, buf, 4, 2), 0, "pread of 4 bytes at 2");
    ok(memcmp(buf, "good", 4) == 0, "... the right bytes");
    errno = 0;
    is_int(walrus_pread(fd, buf, 16, 0), -1,
           "pread past the end of the file fails");
    is_int(errno, EIO, "... with EIO");

    is_int(walrus_read_fd(fd, 11, &data, &len), 0,
           "read_fd of a file of max bytes");
    ok(len == 11 && memcmp(data, "a good copy", 11) == 0, "... all of it");
    free(data);
    errno = 0;
    is_int(walrus_read_fd(fd, 10, &data, &len), -1,
           "read_fd of a file over max fails");
    is_int(errno, EFBIG, "... with EFBIG");
    close(fd);

    PATH(path, "%s/blob/none", base);
    is_int(walrus_read_file(path, 100, &data, &len), -1,
           "read_file of a missing file fails");
}


static void
test_sweep_body_files(void)
{
    int   fd, i;
    char  body[WALRUS_PATH_MAX], p[8][WALRUS_PATH_MAX];

    PATH(body, "%s/body", base);
    mkdir(body, 0755);
    PATH(p[0], "%s/0000000001", body);      /* old */
    PATH(p[1], "%s/0000000002", body);      /* new */
    PATH(p[2], "%s/notdigits", body);       /* old */
    PATH(p[3], "%s/0000000004", body);      /* old, open */
    PATH(p[4], "%s/1", body);
    PATH(p[5], "%s/1/0000000005", body);    /* old */
    PATH(p[6], "%s/1/2/3/4", body);
    PATH(p[7], "%s/1/2/3/4/0000000007", body); /* old */

    put_file(p[0], "old");
    put_file(p[1], "new");
    put_file(p[2], "old");
    put_file(p[3], "old");
    mkdir(p[4], 0755);
    put_file(p[5], "old");
    PATH(p[6], "%s/1/2", body);
    mkdir(p[6], 0755);
    PATH(p[6], "%s/1/2/3", body);
    mkdir(p[6], 0755);
    PATH(p[6], "%s/1/2/3/4", body);
    mkdir(p[6], 0755);
    put_file(p[7], "old");

    for (i = 0; i < 8; i++) {
        if (i != 1 && i != 4 && i != 6) {
            set_age(p[i], 3600);
        }
    }

    fd = open(p[3], O_RDONLY);

    is_int(walrus_sweep_body_files(body, time(NULL) - 60), 2,
           "sweep_body_files removes 2 stale files");
    ok(!exists(p[0]), "... a stale one");
    ok(!exists(p[5]), "... and one in a subdirectory");
    ok(exists(p[1]), "... keeps a recent one");
    ok(exists(p[2]), "... one that is no nginx temporary file");
    ok(exists(p[3]), "... one a process has open");
    ok(exists(p[7]), "... and one deeper than three levels");

    close(fd);
    is_int(walrus_sweep_body_files(body, time(NULL) - 60), 1,
           "once closed, the stale open one goes too");
    ok(!exists(p[3]), "... it is gone");
    is_int(walrus_sweep_body_files("/nonexistent-walrus-dir", time(NULL)),
           0, "a missing directory: nothing removed");
}


int
main(void)
{
    const char  *tmp;
    char         cmd[WALRUS_PATH_MAX + 16];

    tmp = getenv("TMPDIR");
    PATH(base, "%s/walrus-store-XXXXXX",
             tmp != NULL ? tmp : "/tmp");

    if (mkdtemp(base) == NULL) {
        perror(base);
        return 2;
    }

    test_paths();
    test_mkdir();
    test_commit();
    test_write();
    test_modes();
    test_relative();
    test_failures();
    test_stamp();
    test_sweep_tmp();
    test_set_aside();
    test_reads();
    test_sweep_body_files();

    PATH(cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) {
        printf("# cannot remove %s\n", base);
    }

    return tap_done();
}
