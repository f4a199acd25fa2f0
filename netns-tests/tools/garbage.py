#!/usr/bin/env python3
"""Send malformed and forged WireGuard datagrams to one address and port.

  garbage.py --dst ADDR --port P [--seed N] [--rate PER_SECOND]

For every length 0..1500: random bytes; the type byte 1..4 then random bytes; the
type 1..4 with zero reserved bytes then random bytes. Then, at the exact sizes of the
four message types (148, 92, 64, 32.. bytes), well-framed messages with random
contents (bad MACs, unknown receiver indices), and a few datagrams of 1501..65000
bytes. Paced at --rate datagrams per second so that the receiver's socket buffer is not
the thing under test. Prints the number sent. Python 3 standard library only.
"""
import argparse
import random
import socket
import sys
import time


def datagrams(rng):
    rb = lambda n: rng.randbytes(n) if n > 0 else b""
    for n in range(0, 1501):
        yield rb(n)
        if n >= 1:
            for t in (1, 2, 3, 4):
                yield bytes([t]) + rb(n - 1)
        if n >= 4:
            for t in (1, 2, 3, 4):
                yield bytes([t, 0, 0, 0]) + rb(n - 4)
    exact = {1: [148], 2: [92], 3: [64], 4: [32, 48, 96, 1200]}
    for _ in range(25):
        for t, sizes in exact.items():
            for n in sizes:
                yield bytes([t, 0, 0, 0]) + rb(n - 4)
    for n in (1501, 1600, 2048, 4096, 9000, 16384, 32768, 65000):
        yield bytes([4, 0, 0, 0]) + rb(n - 4)
        yield rb(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=2000)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    rng = random.Random(a.seed)
    start = time.monotonic()
    n = 0
    for d in datagrams(rng):
        try:
            s.sendto(d, (a.dst, a.port))
        except OSError as e:  # e.g. ECONNREFUSED from an earlier ICMP error: keep going
            print("send %d bytes: %s" % (len(d), e), file=sys.stderr)
        n += 1
        if n % 20 == 0:
            ahead = start + n / a.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(n)


if __name__ == "__main__":
    sys.exit(main())
