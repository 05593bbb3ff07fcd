/* File I/O: atomic replace-by-rename writes, capped whole-file reads, mkdir -p, and the
 * write-failure test hook. Every file write in the library goes through ft_write_all. */
#include "finetune/io.h"
#include "io/file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- write-failure hook ---- */

static atomic_int_fast64_t write_fail_countdown = -1;

void ft_io_fail_write_after(int64_t n) { atomic_store(&write_fail_countdown, n < 0 ? -1 : n); }

/* True when this ft_write_all call is the one chosen to fail. */
static bool write_should_fail(void) {
    int_fast64_t c = atomic_load(&write_fail_countdown);
    while (c >= 0) {
        int_fast64_t next = c == 0 ? -1 : c - 1;
        if (atomic_compare_exchange_weak(&write_fail_countdown, &c, next)) return c == 0;
    }
    return false;
}

ft_status ft_write_all(int fd, const void *p, size_t n, const char *path) {
    if (write_should_fail()) {
        errno = ENOSPC;
        return ft_fail(FT_EIO, "writing '%s': %s (injected by ft_io_fail_write_after)", path, strerror(ENOSPC));
    }
    const unsigned char *b = p;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(fd, b, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ft_fail(FT_EIO, "writing '%s': %s", path, strerror(e));
            errno = e;
            return FT_EIO;
        }
        if (w == 0) { /* no progress and no error: treat as a full device rather than spin */
            errno = ENOSPC;
            return ft_fail(FT_EIO, "writing '%s': write made no progress (%s)", path, strerror(ENOSPC));
        }
        b += w;
        n -= (size_t)w;
    }
    return FT_OK;
}

/* ---- atomic files ---- */

struct ft_atomic_file {
    int fd;
    bool failed;   /* a write failed: commit refuses */
    char *path;
    char *tmp;     /* "<path>.tmp.<pid>" */
};

static void atomic_free(ft_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    ft_free(f->path);
    ft_free(f->tmp);
    ft_free(f);
}

ft_status ft_atomic_open(const char *path, ft_atomic_file **out) {
    *out = NULL;
    if (!path || !*path) return ft_fail(FT_EINVAL, "atomic write: empty output path");
    size_t len = strlen(path);
    ft_atomic_file *f = ft_calloc(1, sizeof *f);
    if (!f) return ft_fail(FT_ENOMEM, "writing '%s': out of memory", path);
    f->fd = -1;
    f->path = ft_strdup(path);
    f->tmp = ft_malloc(len + 32);
    if (!f->path || !f->tmp) {
        atomic_free(f);
        return ft_fail(FT_ENOMEM, "writing '%s': out of memory", path);
    }
    snprintf(f->tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    do f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    while (f->fd < 0 && errno == EINTR);
    if (f->fd < 0) {
        int e = errno;
        ft_fail(FT_EIO, "cannot write '%s': creating temporary file '%s': %s", path, f->tmp, strerror(e));
        atomic_free(f);
        errno = e;
        return FT_EIO;
    }
    *out = f;
    return FT_OK;
}

ft_status ft_atomic_write(ft_atomic_file *f, const void *data, size_t n) {
    if (!f) return ft_fail(FT_EINVAL, "atomic write: no file");
    if (f->failed) return ft_fail(FT_EIO, "writing '%s': an earlier write already failed", f->path);
    ft_status s = ft_write_all(f->fd, data, n, f->tmp);
    if (s != FT_OK) f->failed = true;
    return s;
}

void ft_atomic_abort(ft_atomic_file *f) {
    if (!f) return;
    int e = errno;
    if (f->fd >= 0) { close(f->fd); f->fd = -1; }
    unlink(f->tmp);
    atomic_free(f);
    errno = e;
}

/* fsync the directory holding `path`, so the rename itself is durable. */
static int fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char buf[4096];
    const char *dir = ".";
    if (slash == path) dir = "/";
    else if (slash) {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof buf) return 0; /* absurdly long: skip the (best-effort) dir sync */
        memcpy(buf, path, n);
        buf[n] = 0;
        dir = buf;
    }
    int fd;
    do fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    int r;
    do r = fsync(fd);
    while (r < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    /* Some file systems cannot sync directories; that is not a failure of ours. */
    if (r < 0 && (e == EINVAL || e == EROFS || e == ENOTSUP)) r = 0;
    errno = e;
    return r;
}

ft_status ft_atomic_commit(ft_atomic_file *f) {
    if (!f) return ft_fail(FT_EINVAL, "atomic commit: no file");
    if (f->failed) {
        ft_fail(FT_EIO, "'%s' not written: an earlier write failed", f->path);
        ft_atomic_abort(f);
        return FT_EIO;
    }
    int r;
    do r = fsync(f->fd);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        ft_fail(FT_EIO, "writing '%s': fsync: %s", f->tmp, strerror(errno));
        ft_atomic_abort(f);
        return FT_EIO;
    }
    r = close(f->fd);
    f->fd = -1;
    if (r < 0 && errno != EINTR) { /* Linux closes the fd even on EINTR; data was fsync'd */
        ft_fail(FT_EIO, "writing '%s': close: %s", f->tmp, strerror(errno));
        ft_atomic_abort(f);
        return FT_EIO;
    }
    if (rename(f->tmp, f->path) < 0) {
        ft_fail(FT_EIO, "cannot replace '%s' with '%s': %s", f->path, f->tmp, strerror(errno));
        ft_atomic_abort(f);
        return FT_EIO;
    }
    ft_status s = FT_OK;
    if (fsync_parent_dir(f->path) < 0)
        s = ft_fail(FT_EIO, "wrote '%s' but could not sync its directory: %s", f->path, strerror(errno));
    atomic_free(f);
    return s;
}

ft_status ft_write_file_atomic(const char *path, const void *data, size_t n) {
    ft_atomic_file *f = NULL;
    ft_status s = ft_atomic_open(path, &f);
    if (s != FT_OK) return s;
    s = ft_atomic_write(f, data, n);
    if (s != FT_OK) { ft_atomic_abort(f); return s; }
    return ft_atomic_commit(f);
}

/* ---- reading ---- */

ft_status ft_open_read(const char *path, int *fd, struct stat *st) {
    do *fd = open(path, O_RDONLY | O_CLOEXEC);
    while (*fd < 0 && errno == EINTR);
    if (*fd < 0) {
        int e = errno;
        return ft_fail(e == ENOENT ? FT_ENOTFOUND : FT_EIO, "cannot open '%s': %s", path, strerror(e));
    }
    if (fstat(*fd, st) < 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        return ft_fail(FT_EIO, "cannot stat '%s': %s", path, strerror(e));
    }
    return FT_OK;
}

/* Reads the whole file into a fresh ft_malloc'd buffer (caller ft_frees *data). The buffer
 * has one extra byte set to 0 past *size, so text files can be used as C strings. Files
 * larger than max_bytes fail with FT_EFORMAT; a missing file gives FT_ENOTFOUND. */
ft_status ft_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (!path || !*path) return ft_fail(FT_EINVAL, "read: empty path");
    int fd;
    struct stat st;
    ft_status os = ft_open_read(path, &fd, &st);
    if (os) return os;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ft_fail(FT_EIO, "cannot read '%s': it is a directory", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ft_fail(FT_EFORMAT, "'%s' is %lld bytes, more than the limit of %zu", path,
                       (long long)st.st_size, max_bytes);
    }
    /* Size from fstat is only a hint (pipes, files that grow); read until EOF. */
    size_t lim = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1; /* enough to see "too big" */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
    if (cap > lim) cap = lim;
    uint8_t *buf = ft_malloc(cap);
    if (!buf) { close(fd); return ft_fail(FT_ENOMEM, "reading '%s': out of memory (%zu bytes)", path, cap); }
    size_t len = 0;
    for (;;) {
        if (len == cap) { /* full: grow, but never past lim */
            if (len > max_bytes || cap == SIZE_MAX) break;
            size_t ncap = cap > lim / 2 ? lim : cap * 2;
            uint8_t *nb = ft_realloc(buf, ncap);
            if (!nb) {
                ft_free(buf);
                close(fd);
                return ft_fail(FT_ENOMEM, "reading '%s': out of memory (%zu bytes)", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ft_free(buf);
            close(fd);
            return ft_fail(FT_EIO, "reading '%s': %s", path, strerror(e));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (len > max_bytes) {
        ft_free(buf);
        return ft_fail(FT_EFORMAT, "'%s' is more than the limit of %zu bytes", path, max_bytes);
    }
    if (len == cap) { /* room for the terminating 0 */
        uint8_t *nb = ft_realloc(buf, len + 1);
        if (!nb) { ft_free(buf); return ft_fail(FT_ENOMEM, "reading '%s': out of memory", path); }
        buf = nb;
    }
    buf[len] = 0;
    *data = buf;
    *size = len;
    return FT_OK;
}

/* ---- mkdir -p ---- */

/* Make one directory; fine if it already exists as a directory. `full` is for messages. */
static ft_status mkdir_one(const char *dir, const char *full) {
    if (mkdir(dir, 0777) == 0) return FT_OK;
    int e = errno;
    if (e == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return FT_OK;
        ft_fail(FT_EIO, "cannot create directory '%s': '%s' exists and is not a directory (%s)",
                full, dir, strerror(ENOTDIR));
        errno = ENOTDIR;
        return FT_EIO;
    }
    ft_fail(FT_EIO, "cannot create directory '%s': mkdir '%s': %s", full, dir, strerror(e));
    errno = e;
    return FT_EIO;
}

ft_status ft_mkdirs(const char *path) {
    if (!path || !*path) return ft_fail(FT_EINVAL, "mkdirs: empty path");
    char *buf = ft_strdup(path);
    if (!buf) return ft_fail(FT_ENOMEM, "creating directory '%s': out of memory", path);
    ft_status s = FT_OK;
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len && s == FT_OK; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        if (buf[i - 1] == '/') continue; /* "//" or a trailing slash: nothing new to make */
        char c = buf[i];
        buf[i] = 0;
        s = mkdir_one(buf, path);
        buf[i] = c;
    }
    int e = errno;
    ft_free(buf);
    errno = e;
    return s;
}
