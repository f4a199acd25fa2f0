#!/usr/bin/env python3
"""UDP sender and counting receiver for netns tests (Python 3 standard library only).

  udp.py sink --port P --out FILE [--bind ADDR] [--timeout S]
      Appends every datagram's payload (as text, one line each) to FILE and flushes,
      until SIGTERM or S seconds. The file is created before the socket is bound,
      so the caller polls for the port (ss) to know it is ready.

  udp.py send --dst ADDR --port P --count N --prefix TEXT [--gap MS]
      Sends N datagrams "TEXT-<i>" (i = 0..N-1), each unique.
"""
import argparse
import signal
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def sink(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = open(a.out, "a")
    s = socket.socket(family(a.bind), socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    deadline = time.monotonic() + a.timeout
    while not stop and time.monotonic() < deadline:
        s.settimeout(0.3)
        try:
            data = s.recv(65535)
        except (socket.timeout, InterruptedError):
            continue
        out.write(data.decode("ascii", "replace").replace("\n", " ") + "\n")
        out.flush()


def send(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    for i in range(a.count):
        s.sendto(("%s-%d" % (a.prefix, i)).encode(), (a.dst, a.port))
        time.sleep(a.gap / 1000.0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("sink")
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--out", required=True)
    k.add_argument("--bind", default="0.0.0.0")
    k.add_argument("--timeout", type=float, default=120)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--prefix", default="vt")
    s.add_argument("--gap", type=float, default=50)
    a = ap.parse_args()
    sink(a) if a.cmd == "sink" else send(a)


if __name__ == "__main__":
    sys.exit(main())
