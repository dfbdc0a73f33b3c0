#!/usr/bin/python3
"""Benchmarks/fleet/synthetic.py HOSTS [ROUNDS]: a collector under a fleet of HOSTS hosts.

Starts `edgeagent run --collect` on 127.0.0.1 (EDGEAGENT, default .build-emb/release/edgeagent)
with its own state in a temporary directory, makes HOSTS host keys, and posts ROUNDS rounds
(default 2) of signed reports (HostReport's wire form, Sources/EdgeCore/HostReport.swift) as
relays would: batches of 2,000, one POST at a time. Every 10th host reports a failed promise.
Prints, per round, the seconds the collector took to take it, then the collector's peak RSS
(VmHWM), its LMDB size (the data file's allocated blocks) and bytes per host, the seconds of a
GET /fleet, and what /fleet says. Loopback only. Needs python3-nacl (Debian), for Ed25519.
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
import nacl.signing

HOSTS = int(sys.argv[1])
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("EDGEAGENT", os.path.join(HERE, "../../.build-emb/release/edgeagent"))
BATCH = 2000


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def text(s):
    b = s.encode()
    return uvarint(len(b)) + b


def report(key, host, seq, now, serial, failed):
    pk = bytes(key.verify_key)
    body = b"EAR1" + text(host) + uvarint(32) + pk
    body += uvarint(seq) + uvarint(now) + uvarint(300) + text("0.1.0") + text("aarch64-linux-musl (embedded, static)")
    body += uvarint(serial) + uvarint(now - 60) + uvarint(now - 5) + uvarint(3) + uvarint(40) + uvarint(0) + uvarint(failed)
    if failed:
        body += uvarint(1) + text("nginx-conf") + text("write /etc/nginx/nginx.conf: No space left on device")
    else:
        body += uvarint(0)
    body += uvarint(2) + uvarint(0) + text("")
    return body + key.sign(body).signature


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/report", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = r.read().decode()
    if not answer.startswith("accepted"):
        raise SystemExit("collector said: " + answer)
    return answer


def main():
    tmp = tempfile.mkdtemp(prefix="edgecollector.")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    os.makedirs(tmp + "/root")
    log = open(tmp + "/log", "w")
    proc = subprocess.Popen([BIN, "run", "--root", tmp + "/root", "--state", tmp + "/state", "--host-id", "collector",
                             "--collect", f"127.0.0.1:{port}"], stderr=log)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/fleet", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        t = time.time()
        keys = [nacl.signing.SigningKey.generate() for _ in range(HOSTS)]
        print(f"made {HOSTS} host keys in {time.time() - t:.1f} s", flush=True)
        now = int(time.time())
        for rnd in range(ROUNDS):
            batches = []
            for start in range(0, HOSTS, BATCH):
                body = bytearray()
                for i in range(start, min(HOSTS, start + BATCH)):
                    r = report(keys[i], f"host-{i:06d}", now * 1000 + rnd + 1, now, 7 + rnd, 1 if i % 10 == 0 else 0)
                    body += (0).to_bytes(4, "little") + uvarint(len(r)) + r
                batches.append(bytes(body))
            t = time.time()
            for b in batches:
                post(port, b)
            took = time.time() - t
            sent = sum(len(b) for b in batches)
            print(f"round {rnd + 1}: {len(batches)} POSTs, {sent} bytes ({sent / HOSTS:.0f} per host) taken in {took:.2f} s", flush=True)
        t = time.time()
        fleet = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/fleet", timeout=60).read())
        took = time.time() - t
        rss = [l.split()[1] for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmHWM")][0]
        mdb = os.stat(tmp + "/state/data.mdb").st_blocks * 512
        print(f"collector: hosts={fleet['hosts']} converged={fleet['converged']} failed={fleet['failed']} "
              f"newest_serial={fleet['newest_serial']} rss_kib={rss} mdb_bytes={mdb} "
              f"mdb_bytes_per_host={mdb / HOSTS:.0f} get_fleet_seconds={took:.2f}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp)


main()
