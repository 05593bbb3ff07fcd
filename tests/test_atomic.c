/* Atomic writes, capped reads, mkdir -p and the write path: the old file survives every
 * failure (injected ENOSPC, RLIMIT_FSIZE, bad paths), no temp file is left, and the write
 * loop copes with EINTR and short writes. */
#include "test.h"
#include "io/file_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char tmpdir[64];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void path_in(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", tmpdir, name); }

static int count_temp_files(void) {
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* True when the file holds exactly these bytes. */
static bool file_is(const char *path, const void *want, size_t n) {
    uint8_t *d;
    size_t got;
    if (ft_read_file(path, 1 << 26, &d, &got) != FT_OK) return false;
    bool same = got == n && memcmp(d, want, n) == 0;
    ft_free(d);
    return same;
}

static void test_basic(void) {
    char path[256];
    path_in(path, sizeof path, "a.bin");
    CHECK_OK(ft_write_file_atomic(path, "hello", 5));
    CHECK(file_is(path, "hello", 5));
    CHECK_OK(ft_write_file_atomic(path, "replaced!", 9)); /* replaces */
    CHECK(file_is(path, "replaced!", 9));
    CHECK_OK(ft_write_file_atomic(path, "", 0));
    CHECK(file_is(path, "", 0));
    CHECK(count_temp_files() == 0);

    /* several writes through one atomic file; nothing visible before commit */
    ft_atomic_file *f = NULL;
    CHECK_OK(ft_atomic_open(path, &f));
    CHECK(count_temp_files() == 1);
    CHECK_OK(ft_atomic_write(f, "ab", 2));
    CHECK_OK(ft_atomic_write(f, "cd", 2));
    CHECK(file_is(path, "", 0));
    CHECK_OK(ft_atomic_commit(f));
    CHECK(file_is(path, "abcd", 4));
    CHECK(count_temp_files() == 0);

    /* abort keeps the old file */
    CHECK_OK(ft_atomic_open(path, &f));
    CHECK_OK(ft_atomic_write(f, "zzzzzz", 6));
    ft_atomic_abort(f);
    CHECK(file_is(path, "abcd", 4));
    CHECK(count_temp_files() == 0);

    CHECK_ERR(ft_write_file_atomic("", "x", 1), FT_EINVAL);
}

static void test_read(void) {
    char path[256];
    path_in(path, sizeof path, "r.txt");
    CHECK_OK(ft_write_file_atomic(path, "0123456789", 10));
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_OK(ft_read_file(path, 10, &d, &n));
    CHECK(n == 10 && d && memcmp(d, "0123456789", 10) == 0 && d[10] == 0);
    ft_free(d);
    CHECK_ERR(ft_read_file(path, 9, &d, &n), FT_EFORMAT);
    CHECK(d == NULL && strstr(ft_errmsg(), path) && strstr(ft_errmsg(), "limit"));
    path_in(path, sizeof path, "missing.txt");
    CHECK_ERR(ft_read_file(path, 100, &d, &n), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "missing.txt") != NULL);
    CHECK_ERR(ft_read_file(tmpdir, 100, &d, &n), FT_EIO);
    CHECK(strstr(ft_errmsg(), "directory") != NULL);
    path_in(path, sizeof path, "empty.txt");
    CHECK_OK(ft_write_file_atomic(path, "", 0));
    CHECK_OK(ft_read_file(path, 0, &d, &n));
    CHECK(n == 0 && d && d[0] == 0);
    ft_free(d);
    /* a file with no size in stat (procfs) is read to EOF, and still capped */
    CHECK_OK(ft_read_file("/proc/self/status", 1 << 20, &d, &n));
    CHECK(n > 0 && d && strstr((char *)d, "Name:") != NULL);
    ft_free(d);
    CHECK_ERR(ft_read_file("/proc/self/status", 16, &d, &n), FT_EFORMAT);
    /* larger than one growth step */
    size_t big = 3 << 20;
    uint8_t *buf = malloc(big);
    for (size_t i = 0; i < big; i++) buf[i] = (uint8_t)(i * 7);
    path_in(path, sizeof path, "big.bin");
    CHECK_OK(ft_write_file_atomic(path, buf, big));
    CHECK(file_is(path, buf, big));
    free(buf);
}

static void test_mkdirs(void) {
    char path[256];
    path_in(path, sizeof path, "x/y//z/");
    CHECK_OK(ft_mkdirs(path));
    CHECK_OK(ft_mkdirs(path)); /* idempotent */
    struct stat st;
    path_in(path, sizeof path, "x/y/z");
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_ERR(ft_mkdirs(""), FT_EINVAL);
    CHECK_OK(ft_mkdirs(tmpdir));

    /* a regular file in the way: ENOTDIR, message names it */
    path_in(path, sizeof path, "x/file");
    CHECK_OK(ft_write_file_atomic(path, "f", 1));
    path_in(path, sizeof path, "x/file/deeper/still");
    errno = 0;
    CHECK_ERR(ft_mkdirs(path), FT_EIO);
    CHECK(errno == ENOTDIR);
    CHECKF(strstr(ft_errmsg(), "x/file'") && strstr(ft_errmsg(), "not a directory"), "%s", ft_errmsg());
    path_in(path, sizeof path, "x/file");
    CHECK_ERR(ft_mkdirs(path), FT_EIO);
    CHECK(errno == ENOTDIR);

    /* and writing under it fails cleanly (tests run as root, so chmod would prove nothing) */
    path_in(path, sizeof path, "x/file/out.bin");
    CHECK_ERR(ft_write_file_atomic(path, "data", 4), FT_EIO);
    CHECKF(strstr(ft_errmsg(), "Not a directory") && strstr(ft_errmsg(), path), "%s", ft_errmsg());
    path_in(path, sizeof path, "no/such/dir/out.bin");
    CHECK_ERR(ft_write_file_atomic(path, "data", 4), FT_EIO);
    CHECK(strstr(ft_errmsg(), "No such file") != NULL);
    /* the target is a directory: the rename fails, the temp file goes */
    path_in(path, sizeof path, "x/y");
    CHECK_ERR(ft_write_file_atomic(path, "data", 4), FT_EIO);
    path_in(path, sizeof path, "x");
    DIR *d = opendir(path);
    int left = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) if (strstr(e->d_name, ".tmp.")) left++;
    if (d) closedir(d);
    CHECK(left == 0);
}

static void test_injected_failures(void) {
    char path[256];
    path_in(path, sizeof path, "inj.bin");
    const char *old = "the previous contents";
    CHECK_OK(ft_write_file_atomic(path, old, strlen(old)));
    /* three writes; the (n+1)th fails for n = 0, 1, 2 */
    for (int k = 0; k <= 3; k++) {
        ft_io_fail_write_after(k);
        ft_atomic_file *f = NULL;
        ft_status s = ft_atomic_open(path, &f);
        for (int w = 0; w < 3 && s == FT_OK; w++) s = ft_atomic_write(f, "0123456789", 10);
        if (s == FT_OK) s = ft_atomic_commit(f);
        else ft_atomic_abort(f);
        ft_io_fail_write_after(-1);
        if (k < 3) {
            CHECKF(s == FT_EIO && strstr(ft_errmsg(), "No space left"), "n=%d: %s %s", k, ft_status_name(s), ft_errmsg());
            CHECKF(file_is(path, old, strlen(old)), "n=%d: old file changed", k);
        } else {
            CHECK_OK(s);
            CHECK(file_is(path, "012345678901234567890123456789", 30));
            CHECK_OK(ft_write_file_atomic(path, old, strlen(old)));
        }
        CHECKF(count_temp_files() == 0, "n=%d: temp file left", k);
    }
    /* commit after a failed write refuses and cleans up; later writes are refused too */
    ft_atomic_file *f = NULL;
    CHECK_OK(ft_atomic_open(path, &f));
    ft_io_fail_write_after(0);
    CHECK_ERR(ft_atomic_write(f, "xx", 2), FT_EIO);
    ft_io_fail_write_after(-1);
    CHECK_ERR(ft_atomic_write(f, "yy", 2), FT_EIO);
    CHECK_ERR(ft_atomic_commit(f), FT_EIO);
    CHECK(file_is(path, old, strlen(old)));
    CHECK(count_temp_files() == 0);
    /* ft_write_file_atomic: one write */
    ft_io_fail_write_after(0);
    CHECK_ERR(ft_write_file_atomic(path, "new", 3), FT_EIO);
    ft_io_fail_write_after(-1);
    CHECK(file_is(path, old, strlen(old)));
    CHECK(count_temp_files() == 0);
    /* the hook is one-shot: the write after the failing one succeeds */
    ft_io_fail_write_after(0);
    CHECK_ERR(ft_write_file_atomic(path, "new", 3), FT_EIO);
    CHECK_OK(ft_write_file_atomic(path, "new", 3));
    CHECK(file_is(path, "new", 3));
}

static void test_rlimit(void) {
    char path[256];
    path_in(path, sizeof path, "lim.bin");
    const char *old = "small previous file";
    CHECK_OK(ft_write_file_atomic(path, old, strlen(old)));
    size_t big = 1 << 16;
    uint8_t *buf = malloc(big);
    memset(buf, 0xAB, big);
    struct rlimit save;
    CHECK(getrlimit(RLIMIT_FSIZE, &save) == 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    rlim_t limits[] = {0, 1, 4096, 65535};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit lim = {limits[i], save.rlim_max};
        CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
        ft_status s = ft_write_file_atomic(path, buf, big);
        CHECK(setrlimit(RLIMIT_FSIZE, &save) == 0);
        CHECKF(s == FT_EIO && strstr(ft_errmsg(), "File too large") && strstr(ft_errmsg(), "lim.bin"),
               "limit %d: %s %s", (int)limits[i], ft_status_name(s), ft_errmsg());
        CHECKF(file_is(path, old, strlen(old)), "limit %d: old file changed", (int)limits[i]);
        CHECKF(count_temp_files() == 0, "limit %d: temp file left", (int)limits[i]);
    }
    signal(SIGXFSZ, oldsig);
    CHECK_OK(ft_write_file_atomic(path, buf, big));
    CHECK(file_is(path, buf, big));
    free(buf);
}

/* ---- EINTR and short writes: a pipe drained slowly while a timer interrupts write() ---- */

typedef struct { int fd; size_t got; bool ok; } drain_arg;

static void *drain(void *p) {
    drain_arg *a = p;
    uint8_t buf[65536];
    a->ok = true;
    for (;;) {
        ssize_t r = read(a->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != (uint8_t)((a->got + (size_t)i) * 31)) a->ok = false;
        a->got += (size_t)r;
        usleep(200);
    }
    return NULL;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void test_eintr(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    size_t n = 8 << 20;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 31);
    /* only this thread gets SIGALRM: block it in the reader */
    sigset_t set, oldset;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, &oldset);
    drain_arg a = {fds[0], 0, false};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, drain, &a) == 0);
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm; /* no SA_RESTART: write() returns EINTR or a short count */
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 500}, {0, 500}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_OK(ft_write_all(fds[1], buf, n, "pipe"));
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    close(fds[1]);
    pthread_join(th, NULL);
    close(fds[0]);
    CHECKF(a.got == n && a.ok, "reader got %zu of %zu bytes, in order: %d", a.got, n, (int)a.ok);
    if (alarms == 0) printf("note: no SIGALRM arrived during the write; EINTR path not exercised\n");
    free(buf);
    /* a bad descriptor gives a message naming the path */
    CHECK_ERR(ft_write_all(-1, "x", 1, "nowhere.bin"), FT_EIO);
    CHECK(strstr(ft_errmsg(), "nowhere.bin") && strstr(ft_errmsg(), "Bad file descriptor"));
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_test_atomic_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_basic();
    test_read();
    test_mkdirs();
    test_injected_failures();
    test_rlimit();
    test_eintr();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_END();
}
