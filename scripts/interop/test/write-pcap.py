"""Writes the synthetic captures of the capture tests with scapy (Debian python3-scapy).

Reads a JSON list of captures on stdin and writes each; the tests decide what each packet holds (sequence
numbers, flags, payload, order), scapy encodes the link, IP, TCP and UDP headers. One capture:

  {"file": "out.pcap", "format": "pcap" | "pcapng", "link": "EN10MB" | "LINUX_SLL" | "LINUX_SLL2" | "NULL" | "RAW",
   "nanos": false, "bigEndian": false,
   "packets": [{"ts": 1700000000.5, "src": "127.0.0.1", "dst": "::1", "sport": 1, "dport": 2,
                "proto": "tcp" | "udp", "seq": 0, "ack": 0, "flags": "SA", "payload": "<hex>"}]}
"""
import json
import sys

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Ether, Loopback
from scapy.packet import Raw
from scapy.utils import PcapNgWriter, PcapWriter

# pcap link-layer header types (https://www.tcpdump.org/linktypes.html)
LINK_TYPES = {"EN10MB": 1, "NULL": 0, "RAW": 101, "LINUX_SLL": 113, "LINUX_SLL2": 276}


def packet(link, p):
    v6 = ":" in p["src"]
    ip = IPv6(src=p["src"], dst=p["dst"]) if v6 else IP(src=p["src"], dst=p["dst"])
    if p["proto"] == "tcp":
        l4 = TCP(sport=p["sport"], dport=p["dport"], seq=p["seq"] % 2**32, ack=p["ack"] % 2**32, flags=p["flags"], window=65535)
    else:
        l4 = UDP(sport=p["sport"], dport=p["dport"])
    ethertype = 0x86DD if v6 else 0x0800
    frame = ip / l4 / Raw(bytes.fromhex(p["payload"]))
    if link == "EN10MB":
        frame = Ether(type=ethertype) / frame
    elif link == "LINUX_SLL":
        frame = CookedLinux(proto=ethertype) / frame
    elif link == "LINUX_SLL2":
        frame = CookedLinuxV2(proto=ethertype) / frame
    elif link == "NULL":
        frame = Loopback(type=24 if v6 else 2) / frame
    frame.time = p["ts"]
    return frame


def write(spec):
    link = spec.get("link", "EN10MB")
    frames = [packet(link, p) for p in spec["packets"]]
    if spec.get("format", "pcap") == "pcapng":
        writer = PcapNgWriter(spec["file"])
        writer.linktype = LINK_TYPES[link]  # scapy 2.5's pcapng writer has no linktype argument (Ethernet)
    else:
        writer = PcapWriter(spec["file"], linktype=LINK_TYPES[link], nano=spec.get("nanos", False),
                            endianness=">" if spec.get("bigEndian") else "<", sync=True)
    for f in frames:
        writer.write(f)
    writer.close()


for capture in json.load(sys.stdin):
    write(capture)
