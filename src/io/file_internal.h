/* Internal I/O helpers shared by the library's writers (not part of the public API). */
#ifndef FINETUNE_IO_FILE_INTERNAL_H
#define FINETUNE_IO_FILE_INTERNAL_H

#include <stddef.h>
#include "finetune/core.h"

/* Write all n bytes of p to fd, retrying on EINTR and short writes. Every file write in
 * the library goes through here, so ft_io_fail_write_after() can fail any of them (with
 * ENOSPC). `path` is only used in the message. On failure returns FT_EIO with a message
 * naming path and errno is left set to the cause. */
ft_status ft_write_all(int fd, const void *p, size_t n, const char *path);

/* open(O_RDONLY) retrying on EINTR, then fstat. On failure nothing stays open and the
 * message names path (FT_ENOTFOUND for a missing file, FT_EIO otherwise). */
struct stat;
ft_status ft_open_read(const char *path, int *fd, struct stat *st);

#endif
