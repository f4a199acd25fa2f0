#!/usr/bin/env python3
"""The service manager's end of sd_notify(3), for netns tests (standard library only).

  sd_notify.py SOCKET OUT [--timeout S]
      Binds a Unix datagram socket at SOCKET (give it to the daemon as NOTIFY_SOCKET)
      and appends one line to OUT per datagram received: the CLOCK_MONOTONIC time of
      receipt in microseconds, then the datagram's fields (KEY=VALUE), all separated
      by tabs. Flushes each line. Runs until SIGTERM or S seconds (default 300). The
      socket exists once it is bound: the caller polls for it.
"""
import argparse
import os
import signal
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("out")
    p.add_argument("--timeout", type=float, default=300)
    a = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = open(a.out, "a")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    # systemd's own notify socket takes messages from any user; so must this stand-in,
    # for a vpnd that has dropped to its own account.
    os.chmod(a.socket, 0o666)
    s.settimeout(0.2)
    deadline = time.monotonic() + a.timeout
    try:
        while not stop and time.monotonic() < deadline:
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            now_us = time.monotonic_ns() // 1000
            fields = data.decode("utf-8", "replace").split("\n")
            out.write("\t".join([str(now_us)] + fields) + "\n")
            out.flush()
    finally:
        s.close()
        os.unlink(a.socket)


if __name__ == "__main__":
    main()
