"""Confine this process, and every process it starts later, to a network of its own.

TensorFlow's tf.data service servers take a port but no address: they listen on every interface,
and the service has no authentication. Started inside a private network namespace, whose only
interface is loopback, they are out of reach of every other machine and of this machine's other
network namespaces, while the processes inside talk to each other over localhost as before.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
from pathlib import Path

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq on Linux: the name, then the flags in a 24-byte union


class IsolationUnavailable(Exception):
    """This system lets this process make no network namespace of its own; the message says why."""


def enter_private_network() -> None:
    """Move this process into a new network namespace with loopback up and no other interface.

    Call it before any thread starts (a new user namespace, needed without privileges, requires a
    single-threaded caller) and before anything opens a socket that should stay outside.
    """
    if not os.path.exists("/proc/self/ns/net"):
        raise IsolationUnavailable("this system has no network namespaces")
    threads = running_threads()
    if threads != 1:  # refused here, whatever the privileges, so a wrong order shows in every test
        raise IsolationUnavailable(
            f"called with {threads} threads running; it must come before any thread starts"
        )
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        first = ctypes.get_errno()
        if first != errno.EPERM:
            raise IsolationUnavailable(f"unshare(CLONE_NEWNET): {os.strerror(first)}")
        # Without the privilege, a user namespace of our own grants it, with our own ids mapped
        # to themselves so that files keep their owners.
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
            reason = os.strerror(ctypes.get_errno())
            raise IsolationUnavailable(f"unshare(CLONE_NEWUSER | CLONE_NEWNET): {reason}")
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        except OSError as error:
            raise IsolationUnavailable(
                f"mapping ids in a user namespace: {error.strerror}"
            ) from None
    try:
        _loopback_up()
    except OSError as error:
        raise IsolationUnavailable(f"bringing loopback up: {error.strerror}") from None
    others = set(network_interfaces()) - {"lo"}
    if others:  # never happens in a fresh namespace; checked because everything rests on it
        raise IsolationUnavailable(
            f"the new namespace has interfaces besides loopback: {sorted(others)}"
        )


def running_threads() -> int:
    """Threads of this process, those started from C (TensorFlow's) included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def network_interfaces(pid: int | str = "self") -> list[str]:
    """The interfaces in the network namespace of process ``pid``."""
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines]
