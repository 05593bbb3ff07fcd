/* Internal: the labelled file lists behind the audio datasets (src/audio/dataset.c) and
 * the image datasets (image_folder.c): a growable list of paths with labels, the sorted
 * listing of a folder, the class-per-folder walk, and the manifest helpers (CSV line
 * splitting, class labels). Everything allocates through ft_malloc and fails with
 * ft_fail's message. */
#ifndef FT_DATA_FILE_LIST_H
#define FT_DATA_FILE_LIST_H

#include "finetune/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Folders below a walked one are followed at most this deep. */
#define FL_MAX_DEPTH 16
/* A numeric label is at most this. */
#define FL_MAX_LABEL 1000000

/* ---- paths with labels: one pool of NUL-terminated paths ---- */

typedef struct {
    char *pool;         /* path k is pool + off[k] */
    size_t len, cap;
    int64_t *off;       /* n */
    int32_t *label;     /* n */
    int64_t n, ncap;
} fl_paths;

void fl_paths_free(fl_paths *l);
/* Appends a copy of `path`. Fails only with FT_ENOMEM ("out of memory for file names"). */
ft_status fl_paths_add(fl_paths *l, const char *path, int32_t label);

/* ---- folder listing ---- */

typedef struct {
    char **v;           /* n names, ft_malloc'd each */
    int n, cap;
} fl_names;

void fl_names_free(fl_names *l);
/* The entries of `dir` sorted by strcmp, without "." ".." and hidden (dot) names. Fails
 * with FT_ENOTFOUND "<dir>: no such folder", FT_EINVAL "<dir>: not a folder", FT_EIO
 * "<dir>: cannot list: <why>" or FT_ENOMEM; *out is then empty. */
ft_status fl_list_dir(const char *dir, fl_names *out);

/* ---- class-per-folder walk ---- */

/* What a walk does with what it meets. Only `file` is required. */
typedef struct {
    /* Each entry below a walked folder that is not a folder: `path` (dir/name...), `rel`
     * (the same below the walk's `rel`), its `name`, its stat (NULL when stat failed: a
     * dangling symlink) and the walk's label. A failure stops the walk. */
    ft_status (*file)(void *ctx, const char *path, const char *rel, const char *name, const struct stat *sb,
                      int32_t label);
    /* fl_walk_classes: each entry directly in the root that is not a folder (NULL: ignored). */
    void (*root_file)(void *ctx, const char *name);
    /* fl_walk_classes: before / after the walk of each class folder `path`; class_end may
     * fail the open (say, a class without usable files). NULL: nothing. */
    void (*class_begin)(void *ctx);
    ft_status (*class_end)(void *ctx, const char *path);
    /* Appended to the "<dir>: folders nested more than 16 deep" message ("" or NULL: none). */
    const char *too_deep;
    /* The layout named by "<root>: no class folders (expected <layout>)". */
    const char *layout;
    void *ctx;
} fl_walker;

/* The files below `dir` (sorted), then its subfolders (sorted, recursively, at most
 * FL_MAX_DEPTH deep), each file given to w->file with `label`. `rel` names dir in the
 * rel paths given to w->file. Fails when dir cannot be listed (fl_list_dir's messages),
 * "<dir>/<name>: path too long" (8 KiB), or as w->file does. */
ft_status fl_walk(const char *dir, const char *rel, int32_t label, const fl_walker *w);

/* torchvision's ImageFolder layout: the subfolders of `root` (sorted) are the classes,
 * class c's files are those fl_walk finds below root/<class> with label c (rel paths
 * start with the class name). Entries of root that are not folders go to w->root_file.
 * On success *classes holds the class names (the caller owns them); on failure it is
 * empty. Fails as fl_list_dir / fl_walk / w do, or with FT_EFORMAT
 * "<root>: no class folders (expected <w->layout>)". */
ft_status fl_walk_classes(const char *root, const fl_walker *w, fl_names *classes);

/* ---- manifests ---- */

/* Split one CSV line in place into at most max fields (f[0..max-1]); quoted fields may
 * hold commas and "" for a quote; unquoted fields are trimmed of blanks. Returns the
 * field count (which may exceed max), or -1 on an unterminated quote. */
int fl_csv_split(char *line, char **f, int max);

/* The folder that relative paths in manifest `mpath` start from (its folder; "." for a
 * bare name) into base[cap]. Fails with FT_EINVAL "<mpath>: path too long". */
ft_status fl_base_dir(const char *mpath, char *base, size_t cap);

/* A label written as a class index: 1-7 decimal digits, at most FL_MAX_LABEL. */
bool fl_numeric_label(const char *s);

/* The class names of n text labels: sorted by strcmp, unique, copied. Fails with
 * FT_EFORMAT "<where>: N classes" past max_classes, or FT_ENOMEM "out of memory reading
 * <where>"; *names is then NULL. *n_classes is the unique count either way. */
ft_status fl_class_names(char *const *labels, int64_t n, const char *where, int64_t max_classes, char ***names,
                         int *n_classes);

/* Index of `label` in the sorted `names` (it must be there). */
int32_t fl_class_index(char *const *names, int n_classes, const char *label);

#endif
