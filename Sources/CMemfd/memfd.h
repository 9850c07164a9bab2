#ifndef PACA_CMEMFD_H
#define PACA_CMEMFD_H

// memfd_create(2), which Swift's Glibc module does not import: an anonymous file in memory
// (shmem), closed on exec. Static inline only (nothing to link). Returns the descriptor, or -1
// with errno set (ENOSYS on a kernel older than 3.17).

#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif

static inline int paca_memfd_create(const char *name) {
#ifdef SYS_memfd_create
    return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
#else
    return -1;
#endif
}

#endif
