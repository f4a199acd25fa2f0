#!/usr/bin/env python3
"""Capture WireGuard datagrams on a veth and send them again, as-is or tampered.

Runs inside the "internet" namespace of a netns test, on the link towards a site:

  pkt.py capture --iface to-hq --port 51820 --out FILE [--count N] [--timeout S]
                 [--type 4] [--min-payload 33] [--ready FILE]
      Records every frame leaving IFACE (towards the site) that carries a UDP datagram
      to PORT whose first byte is the message type (4 = transport data). Each record is
      a 4-byte big-endian length and the Ethernet frame. Stops after N frames, after S
      seconds, or on SIGTERM; prints the number recorded.

  pkt.py replay --iface to-hq --in FILE [--tamper] [--bump-counter N] [--gap MS]
      Sends the recorded frames again on IFACE, so they reach the site with their
      original source address and port. --tamper flips one bit of the ciphertext;
      --bump-counter adds N to the 64-bit counter (so the packet is not an old one).
      The UDP checksum is always recomputed (veth frames may carry a partial one).
      Prints the number sent.

Python 3 standard library only.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ETH_HLEN = 14


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def locate_udp(frame):
    """(ip_version, ip_offset, udp_offset) of a UDP frame, or None."""
    if len(frame) < ETH_HLEN:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    off = ETH_HLEN
    if ethertype == 0x0800:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != 17:
            return None
        frag = struct.unpack("!H", frame[off + 6:off + 8])[0]
        if frag & 0x3FFF:  # a fragment: not a whole datagram
            return None
        return 4, off, off + ihl
    if ethertype == 0x86DD:
        if len(frame) < off + 40 or frame[off + 6] != 17:  # no extension headers here
            return None
        return 6, off, off + 40
    return None


def fix_udp_checksum(frame, ver, ip_off, udp_off):
    frame = bytearray(frame)
    udp_len = struct.unpack("!H", frame[udp_off + 4:udp_off + 6])[0]
    frame[udp_off + 6:udp_off + 8] = b"\0\0"
    udp = bytes(frame[udp_off:udp_off + udp_len])
    if ver == 4:
        pseudo = frame[ip_off + 12:ip_off + 20] + struct.pack("!BBH", 0, 17, udp_len)
    else:
        pseudo = frame[ip_off + 8:ip_off + 40] + struct.pack("!IxxxB", udp_len, 17)
    c = checksum(bytes(pseudo) + udp)
    if c == 0:
        c = 0xFFFF
    frame[udp_off + 6:udp_off + 8] = struct.pack("!H", c)
    return bytes(frame)


def capture(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    n = 0
    deadline = time.monotonic() + a.timeout
    with open(a.out, "wb") as out:
        while not stop and n < a.count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, 0.5))
            try:
                frame, addr = s.recvfrom(70000)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            if addr[2] != PACKET_OUTGOING:
                continue
            loc = locate_udp(frame)
            if not loc:
                continue
            ver, ip_off, udp_off = loc
            dport = struct.unpack("!H", frame[udp_off + 2:udp_off + 4])[0]
            payload = frame[udp_off + 8:]
            if dport != a.port or len(payload) < a.min_payload:
                continue
            if a.type and payload[0] != a.type:
                continue
            if len(frame) > 1514 + 4:  # a GSO super-frame: cannot be resent as one datagram
                print("skipping a %d-byte GSO frame" % len(frame), file=sys.stderr)
                continue
            out.write(struct.pack("!I", len(frame)) + frame)
            out.flush()
            n += 1
    print(n)


def read_frames(path):
    frames = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i + 4 <= len(data):
        (n,) = struct.unpack("!I", data[i:i + 4])
        frames.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return frames


def replay(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    n = 0
    for frame in read_frames(a.infile):
        loc = locate_udp(frame)
        if not loc:
            continue
        ver, ip_off, udp_off = loc
        frame = bytearray(frame)
        p = udp_off + 8  # the WireGuard message
        if a.bump_counter and frame[p] == 4:
            (ctr,) = struct.unpack("<Q", frame[p + 8:p + 16])
            frame[p + 8:p + 16] = struct.pack("<Q", ctr + a.bump_counter)
        if a.tamper:
            # transport data: type(4) receiver(4) counter(8) then the ciphertext
            frame[p + 16 if len(frame) > p + 16 else len(frame) - 1] ^= 0x01
        s.send(fix_udp_checksum(bytes(frame), ver, ip_off, udp_off))
        n += 1
        if a.gap:
            time.sleep(a.gap / 1000.0)
    print(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--iface", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--type", type=int, default=4, help="message type, 0 = any")
    c.add_argument("--min-payload", type=int, default=33,
                   help="smallest UDP payload kept (33 skips keepalives)")
    c.add_argument("--ready", help="file written once the socket listens")
    r = sub.add_parser("replay")
    r.add_argument("--iface", required=True)
    r.add_argument("--in", dest="infile", required=True)
    r.add_argument("--tamper", action="store_true")
    r.add_argument("--bump-counter", type=int, default=0)
    r.add_argument("--gap", type=float, default=2, help="milliseconds between frames")
    a = ap.parse_args()
    if a.cmd == "capture":
        capture(a)
    else:
        replay(a)


if __name__ == "__main__":
    sys.exit(main())
