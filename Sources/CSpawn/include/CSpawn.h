#ifndef FUSE_CSPAWN_H
#define FUSE_CSPAWN_H
#include <spawn.h>

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+, declared only for _GNU_SOURCE,
/// which Swift's Glibc module does not see): the child closes every descriptor from `from`
/// on with one close_range, however many the parent holds open.
int fuse_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
