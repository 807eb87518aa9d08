#!/usr/bin/env python3
"""One libtorrent-rasterbar peer for the loopback interop suite.

Driven by scripts/interop/peers/libtorrent.ts. Seeds or downloads one .torrent with every discovery
mechanism off (DHT, LSD, UPnP, NAT-PMP, PEX, trackers) and the encryption policy given on the
command line. Transports: TCP only by default; --utp turns uTP on (both directions), --no-tcp turns TCP
off (so that every connection, in and out, is uTP). Prints one JSON object per line on stdout:

  {"type":"listening","address":"127.0.0.1","port":40001}
  {"type":"status","progress":0.5,"state":"downloading","seed":false,"peers":[...],...}
  {"type":"complete", ...}       once, when the torrent has all pieces (immediately for a seeder)
  {"type":"peer","ip":...,"port":...,"encryption":"rc4"|"plaintext_encrypted"|"none","flags":[...]}
                                 when a connected peer appears or its encryption state changes
  {"type":"alert","what":"...","message":"..."}   selected alerts (peer errors, disconnects)
  {"type":"error","message":"..."}

Commands on stdin (one per line, with --stdin-commands): "connect IP:PORT" dials another peer.
End of stdin means the driver is gone: the peer exits.

It runs until SIGTERM/SIGINT, or until --max-seconds elapses (a safety bound: the TS side normally
stops it earlier by PID).
"""

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time

import libtorrent as lt

ENC_POLICY = {
    "forced": lt.enc_policy.pe_forced,
    "enabled": lt.enc_policy.pe_enabled,
    "disabled": lt.enc_policy.pe_disabled,
}
ENC_LEVEL = {
    "rc4": lt.enc_level.pe_rc4,
    "plaintext": lt.enc_level.pe_plaintext,
    "both": lt.enc_level.pe_both,
}

# peer_info flag bits we report by name (those missing from a binding version are skipped)
PEER_FLAG_NAMES = [
    "interesting", "choked", "remote_interested", "remote_choked", "supports_extensions",
    "outgoing_connection", "local_connection", "handshake", "connecting", "on_parole", "seed",
    "optimistic_unchoke", "snubbed", "upload_only", "endgame_mode", "holepunched", "i2p_socket",
    "utp_socket", "ssl_socket", "rc4_encrypted", "plaintext_encrypted",
]
PEER_FLAGS = [(n, int(getattr(lt.peer_info, n))) for n in PEER_FLAG_NAMES if hasattr(lt.peer_info, n)]
# The Python bindings of 2.0.8 do not export utp_socket; its value is bit 17 of peer_flags_t
# (include/libtorrent/peer_info.hpp: `static constexpr peer_flags_t utp_socket = 17_bit;`).
UTP_SOCKET = int(getattr(lt.peer_info, "utp_socket", 1 << 17))
if not hasattr(lt.peer_info, "utp_socket"):
    PEER_FLAGS.append(("utp_socket", UTP_SOCKET))

STOP = False


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def on_signal(signum, _frame):
    global STOP
    STOP = True


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def peer_record(p):
    flags = int(p.flags)
    names = [n for (n, bit) in PEER_FLAGS if flags & bit]
    if flags & int(getattr(lt.peer_info, "rc4_encrypted", 0)):
        enc = "rc4"
    elif flags & int(getattr(lt.peer_info, "plaintext_encrypted", 0)):
        enc = "plaintext_encrypted"  # MSE handshake done, payload in the clear
    else:
        enc = "none"
    ip = p.ip
    try:
        client = p.client.decode("utf-8", "replace") if isinstance(p.client, bytes) else str(p.client)
    except Exception:  # pragma: no cover - defensive
        client = ""
    return {
        "ip": ip[0],
        "port": ip[1],
        "client": client,
        "flags": names,
        "flagBits": flags,
        "encryption": enc,
        "outgoing": bool(flags & int(lt.peer_info.outgoing_connection)),
        "transport": "utp" if flags & UTP_SOCKET else "tcp",
        "progress": p.progress,
        "totalDownload": p.total_download,
        "totalUpload": p.total_upload,
    }


COMMANDS = queue.Queue()


def read_stdin():
    global STOP
    try:
        for line in sys.stdin:
            COMMANDS.put(line.strip())
    except Exception:
        pass
    # EOF: the driver that started us is gone (it holds our stdin open while it lives).
    STOP = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True, help="save path (for a seeder: holds the data already)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="ip:port, port 0 = any free port")
    ap.add_argument("--mode", choices=["seed", "download"], required=True)
    ap.add_argument("--out-enc", choices=list(ENC_POLICY), default="enabled")
    ap.add_argument("--in-enc", choices=list(ENC_POLICY), default="enabled")
    ap.add_argument("--level", choices=list(ENC_LEVEL), default="both")
    ap.add_argument("--prefer-rc4", action="store_true")
    ap.add_argument("--utp", action="store_true", help="enable incoming and outgoing uTP")
    ap.add_argument("--no-tcp", action="store_true", help="disable incoming and outgoing TCP (uTP only)")
    ap.add_argument("--connect", action="append", default=[], help="ip:port to dial (repeatable)")
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between status lines")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--stdin-commands", action="store_true")
    args = ap.parse_args()

    if args.stdin_commands:
        threading.Thread(target=read_stdin, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    listen_ip = args.listen.rpartition(":")[0]
    settings = {
        "listen_interfaces": args.listen,
        "outgoing_interfaces": listen_ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "enable_incoming_utp": bool(args.utp),
        "enable_outgoing_utp": bool(args.utp),
        "enable_incoming_tcp": not args.no_tcp,
        "enable_outgoing_tcp": not args.no_tcp,
        "dht_bootstrap_nodes": "",
        "out_enc_policy": int(ENC_POLICY[args.out_enc]),
        "in_enc_policy": int(ENC_POLICY[args.in_enc]),
        "allowed_enc_level": int(ENC_LEVEL[args.level]),
        "prefer_rc4": bool(args.prefer_rc4),
        "allow_multiple_connections_per_ip": True,
        "min_reconnect_time": 1,
        "connection_speed": 50,
        "peer_connect_timeout": 5,
        "user_agent": "interop-lt",
        "alert_mask": int(lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification
                          | lt.alert.category_t.peer_notification
                          | lt.alert.category_t.connect_notification),
    }
    ses = lt.session(settings)

    info = lt.torrent_info(args.torrent)
    atp = lt.add_torrent_params()
    atp.ti = info
    atp.save_path = args.save
    flags = (atp.flags | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
             | lt.torrent_flags.disable_pex)
    flags &= ~lt.torrent_flags.auto_managed
    flags &= ~lt.torrent_flags.paused
    atp.flags = flags
    atp.trackers = []
    handle = ses.add_torrent(atp)

    start = time.monotonic()
    listening_reported = False
    complete_reported = False
    connects = [parse_endpoint(c) for c in args.connect]
    connected_once = False
    had_peer = False
    reported_peers = {}
    last_status = 0.0

    while not STOP and time.monotonic() - start < args.max_seconds:
        for a in ses.pop_alerts():
            kind = type(a).__name__
            if kind == "listen_succeeded_alert":
                if not listening_reported and getattr(a, "socket_type", None) in (None, lt.socket_type_t.tcp):
                    emit({"type": "listening", "address": str(a.address), "port": int(a.port)})
                    listening_reported = True
            elif kind == "listen_failed_alert":
                emit({"type": "error", "message": "listen failed: " + a.message()})
            elif kind in ("peer_disconnected_alert", "peer_error_alert", "peer_connect_alert",
                          "incoming_connection_alert", "torrent_error_alert", "file_error_alert",
                          "hash_failed_alert", "torrent_checked_alert", "torrent_finished_alert",
                          "peer_blocked_alert", "peer_ban_alert"):
                emit({"type": "alert", "what": kind, "message": a.message()})

        while not COMMANDS.empty():
            cmd = COMMANDS.get_nowait()
            if cmd.startswith("connect "):
                ep = parse_endpoint(cmd[len("connect "):])
                connects.append(ep)
                if connected_once:
                    handle.connect_peer(ep)
                    had_peer = False
                emit({"type": "command", "command": cmd})

        st = handle.status()
        checking = st.state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        # Dial only once the torrent is ready (a check in progress would drop the connection).
        if connects and not connected_once and not checking:
            for ep in connects:
                handle.connect_peer(ep)
            connected_once = True

        if not complete_reported and st.is_seeding and not checking:
            complete_reported = True
            emit({"type": "complete", "elapsed": time.monotonic() - start,
                  "totalDownload": st.total_payload_download})

        now = time.monotonic()
        peers = [peer_record(p) for p in handle.get_peer_info()]
        # A "peer" line whenever a connected peer appears or its encryption/handshake state changes,
        # so that short transfers between two status lines are not missed. (The "handshake" flag
        # means the BitTorrent handshake is still in progress; encryption flags are final once it
        # is gone.)
        for rec in peers:
            if "connecting" in rec["flags"]:
                continue
            key = (rec["ip"], rec["port"])
            sig = (rec["encryption"], "handshake" in rec["flags"], rec["client"])
            if reported_peers.get(key) != sig:
                reported_peers[key] = sig
                emit(dict(rec, type="peer"))
        if now - last_status >= args.interval:
            last_status = now
            emit({
                "type": "status",
                "elapsed": now - start,
                "progress": st.progress,
                "state": str(st.state),
                "seed": bool(st.is_seeding),
                "numPeers": st.num_peers,
                "totalPayloadDownload": st.total_payload_download,
                "totalPayloadUpload": st.total_payload_upload,
                "errc": st.errc.message() if st.errc and st.errc.value() else "",
                "peers": peers,
            })
            if any("connecting" not in p["flags"] for p in peers):
                had_peer = True
            # Keep re-dialing our explicit peers until one has connected (libtorrent may drop
            # an endpoint after a failed attempt; min_reconnect_time is 1 s).
            if connects and connected_once and not checking and not peers and not had_peer:
                for ep in connects:
                    handle.connect_peer(ep)
        ses.wait_for_alert(int(min(args.interval, 0.05) * 1000))

    emit({"type": "exit"})
    # Do not wait for a graceful session teardown (there are no trackers to notify).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as exc:  # report, then fail
        emit({"type": "error", "message": repr(exc)})
        sys.exit(2)
