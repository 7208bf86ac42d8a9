#ifndef PIPE_CGIT2_SHIM_H
#define PIPE_CGIT2_SHIM_H

#include <git2.h>

/* git_libgit2_opts is variadic, which Swift cannot call; these wrappers fix one option each. */

/* Turns libgit2's "repository owned by another user" check on (1) or off (0). Returns 0 on success. */
static inline int pipe_git_set_owner_validation(int enabled) {
    return git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, enabled);
}

/* Reads libgit2's owner validation setting into *enabled. Returns 0 on success. */
static inline int pipe_git_get_owner_validation(int *enabled) {
    return git_libgit2_opts(GIT_OPT_GET_OWNER_VALIDATION, enabled);
}

/* The libgit2 version this process linked, as "major.minor.patch". */
static inline void pipe_git_version(int *major, int *minor, int *patch) {
    git_libgit2_version(major, minor, patch);
}

/* GIT_STATUS_OPTIONS_INIT is a struct-initialiser macro Swift cannot import. */
static inline int pipe_git_status_options_init(git_status_options *options) {
    return git_status_options_init(options, GIT_STATUS_OPTIONS_VERSION);
}

#endif
