/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Kernel interfaces the C library's headers on the build hosts do not define yet. The values
 * are the kernel's ABI (include/uapi/linux/pidfd.h, nsfs.h, asm-generic/socket.h):
 *  - SO_PEERPIDFD (6.5): a pidfd of the process that called listen() on the peer socket;
 *  - PIDFD_GET_{PID,USER}_NAMESPACE (6.11): a namespace descriptor of a pidfd's process
 *    (ESRCH once it has exited);
 *  - NS_GET_PID_FROM_PIDNS (6.11): pid N of the namespace behind an nsfs descriptor, as our
 *    own pid namespace numbers it (ESRCH when there is none).
 * core_pipe runs on 6.18; an older kernel answers ENOTTY/EINVAL/ENOPROTOOPT, which the callers
 * treat as "cannot be checked", never as "allowed".
 */
#include <linux/ioctl.h>
#include <linux/nsfs.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif
#ifndef PIDFD_GET_PID_NAMESPACE
#define PIDFD_GET_PID_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 5)
#endif
#ifndef PIDFD_GET_USER_NAMESPACE
#define PIDFD_GET_USER_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 9)
#endif

#ifndef NS_GET_PID_FROM_PIDNS
#define NS_GET_PID_FROM_PIDNS _IOR(NSIO, 0x6, int)
#endif
