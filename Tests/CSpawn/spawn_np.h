#ifndef PACA_CSPAWN_H
#define PACA_CSPAWN_H

// glibc's posix_spawn extensions and pipe2(2), which Swift's Glibc module does not import
// (they need _GNU_SOURCE). For the tests' child processes, spawned without Foundation's
// `Process`: its emulation of close-on-exec-by-default reads /proc/self/fd entries past their
// end and can crash a process with many descriptors open. Static inline (nothing to link).

#include <spawn.h>

extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
extern int pipe2(int descriptors[2], int flags);

/// Makes the child change to `path` before it executes.
static inline int paca_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

/// Makes the child close every descriptor from `from` up (after the earlier actions).
static inline int paca_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/// A pipe whose two ends are closed on exec; 0, or -1 with errno set.
static inline int paca_pipe_cloexec(int descriptors[2]) {
    return pipe2(descriptors, 02000000 /* O_CLOEXEC */);
}

#endif
