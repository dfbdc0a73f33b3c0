#!/usr/bin/env python3
"""Relay under load: 1,000 long-poll clients plus a stream of garbage, while the agent must go on
converging and supervising.

    Benchmarks/chaos/relayload.py [--bin PATH] [--clients 1000] [--garbage-rate 100] [--seconds 60]
                                  [--seed N] [--bundle-kib N] [--tmp DIR] [--json]

An agent runs `run --relay 127.0.0.1:PORT` with a `file://` upstream holding serial 1 (a file,
a supervised `sleep` service, 3 blobs). Then, for --seconds, on loopback only:
  - --clients long-poll clients, each `GET /bundle.json?wait=30&have=SERIAL`, reconnecting as a
    child agent does (at once after an answer, after 1 s when refused or cut);
  - --garbage-rate connections a second, in turn: random bytes, a 64 KiB header field,
    a request line of 16 KiB, a slowloris (one header byte a second, never finished), a
    non-HTTP method, a half-sent request closed early;
  - 2 s in, then every 11 s, the service is SIGKILLed (the first exit and any after a run of
    10 s are restarted at once)
    and every 2 s the managed file is overwritten (drift: it must be repaired), timing each;
  - halfway, serial 2 is published: every connected long-poll must be answered with it.
Sampled every 0.5 s: the agent's RSS, its open fds (/proc/PID/fd) and the relay's connection
gauge (/metrics). After the load stops, the fds must return to their count before it (after
the relay's 10 s head timeout has closed the slowloris connections).
Prints one line of figures (or JSON) and exits 1 if a check failed.
"""
import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time

import agentkit
from agentkit import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def default_binary():
    for p in (".build-emb/release/edgeagent", ".build/debug/edgeagent"):
        if os.access(os.path.join(REPO, p), os.X_OK):
            return os.path.join(REPO, p)
    return "edgeagent"


def policy(serial, conf, pad_kib=0):
    doc = {"policy": "load-s%d" % serial, "promises": [
        {"id": "pad", "type": "file", "path": "/etc/pad", "content": "p" * (pad_kib * 1024), "mode": "0644"},
        {"id": "etc", "type": "directory", "path": "/etc", "mode": "0755"},
        {"id": "conf", "type": "file", "path": "/etc/app.conf", "content": conf, "mode": "0644"},
        {"id": "svc", "type": "service", "exec": ["/bin/sleep", "100000"], "restart": "always"},
    ]}
    blobs = {}
    rng = random.Random(serial)
    for i in range(3):
        blobs["b%d" % i] = rng.randbytes(65536)
        doc["promises"].append({"id": "blob%d" % i, "type": "file", "path": "/etc/blob%d" % i,
                                "source_file": "b%d" % i, "mode": "0644"})
    return doc, blobs


def children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


class Load:
    def __init__(self, args, port, agent):
        self.args, self.port, self.agent = args, port, agent
        self.stop = False
        self.serial = 1
        self.c = {"poll_answers": 0, "poll_refused_or_cut": 0, "poll_connects": 0, "garbage": 0,
                  "garbage_answered": 0, "garbage_closed": 0, "slowloris_closed": 0, "slowloris_seconds_max": 0.0,
                  "garbage_status": {}}
        self.got_new = set()        # clients that have received serial 2
        self.connected = set()      # clients with a request in flight
        self.samples = []           # (t, rss KiB, fds, relay connections)
        self.restarts = []          # seconds from SIGKILL of the service to its new pid
        self.repairs = []           # seconds from drift to repair
        self.failures = []

    async def long_poll(self, i):
        # A child asks with the serial it holds (the last one it was answered with), as the agent
        # does; asking with the script's serial could park a child that never got serial 2.
        have = self.serial
        while not self.stop:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.c["poll_refused_or_cut"] += 1
                await asyncio.sleep(1)
                continue
            self.c["poll_connects"] += 1
            self.connected.add(i)
            try:
                w.write(b"GET /bundle.json?wait=%d&have=%d HTTP/1.1\r\nHost: relay\r\n\r\n" % (self.args.wait, have))
                data = await r.read()  # until the relay closes
            except OSError:
                data = b""
            finally:
                self.connected.discard(i)
                w.close()
            if not data.startswith(b"HTTP/1.1 200"):
                self.c["poll_refused_or_cut"] += 1
                await asyncio.sleep(1)
                continue
            self.c["poll_answers"] += 1
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
            for line in head.split("\r\n"):
                if line.startswith("x-edge-serial:") and line[14:].strip().isdigit():
                    have = int(line[14:].strip())
            if have == 2:
                self.got_new.add(i)

    async def garbage_one(self, kind, rng):
        t0 = time.monotonic()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.c["garbage_closed"] += 1
            return
        try:
            if kind == "random":
                w.write(rng.randbytes(rng.randint(1, 4096)))
            elif kind == "big-header":
                w.write(b"GET /bundle.json HTTP/1.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
            elif kind == "long-line":
                w.write(b"GET /" + b"a" * 16384 + b" HTTP/1.1\r\n\r\n")
            elif kind == "method":
                w.write(b"BREW /bundle.json HTTP/1.1\r\nHost: x\r\n\r\n")
            elif kind == "half":
                w.write(b"GET /bundle.json HTTP/1.1\r\nHo")
                await w.drain()
                w.close()
                self.c["garbage_closed"] += 1
                return
            elif kind == "slowloris":
                w.write(b"GET /bundle.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                while not self.stop:
                    await asyncio.sleep(1)
                    w.write(b"a")
                    await w.drain()
                    if r.at_eof():
                        break
                    try:
                        data = await asyncio.wait_for(r.read(1), 0.01)
                        if data == b"" or data:
                            break
                    except asyncio.TimeoutError:
                        pass
                secs = time.monotonic() - t0
                self.c["slowloris_closed"] += 1
                self.c["slowloris_seconds_max"] = max(self.c["slowloris_seconds_max"], round(secs, 1))
                return
            await w.drain()
            data = await asyncio.wait_for(r.read(), 15)
            if data.startswith(b"HTTP/1.1 "):
                st = data[9:12].decode()
                self.c["garbage_status"][st] = self.c["garbage_status"].get(st, 0) + 1
                self.c["garbage_answered"] += 1
                if st.startswith("2"):
                    self.failures.append("garbage %s answered %s" % (kind, st))
            else:
                self.c["garbage_closed"] += 1
        except (OSError, asyncio.TimeoutError):
            self.c["garbage_closed"] += 1
        finally:
            w.close()

    async def garbage(self):
        if self.args.garbage_rate <= 0:
            return
        rng = random.Random(self.args.seed)
        kinds = self.args.garbage_kinds.split(",")
        tasks = set()
        n = 0
        t0 = time.monotonic()
        while not self.stop:
            t = asyncio.ensure_future(self.garbage_one(kinds[n % len(kinds)], rng))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            n += 1
            self.c["garbage"] += 1
            await asyncio.sleep(max(0, t0 + n / self.args.garbage_rate - time.monotonic()))
        await asyncio.gather(*tasks, return_exceptions=True)

    async def monitor(self):
        t0 = time.monotonic()
        while not self.stop:
            try:
                conns = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: relay_connections(self.port))
            except (OSError, Failure):
                conns = -1
            self.samples.append((round(time.monotonic() - t0, 1), self.agent.rss_kib(), self.agent.fds(), conns))
            await asyncio.sleep(0.5)

    async def supervise(self):
        """Kills the service every 11 s and times its restart. A run of 10 s resets the
        supervisor's backoff, so each restart is due at once: what is timed is the agent."""
        pause = 2  # the first exit is restarted at once whatever the run's length
        while not self.stop:
            await asyncio.sleep(pause)
            pause = 11
            if self.stop:
                break
            kids = children(self.agent.pid)
            if not kids:
                self.failures.append("no service running")
                continue
            old = kids[0]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            while time.monotonic() - t0 < 5:
                await asyncio.sleep(0.01)
                now = [k for k in children(self.agent.pid) if k != old]
                if now:
                    self.restarts.append(time.monotonic() - t0)
                    break
            else:
                self.failures.append("the service was not restarted within 5 s")

    async def drift(self, conf_path, want):
        while not self.stop:
            await asyncio.sleep(2)
            with open(conf_path, "w") as f:
                f.write("drifted\n")
            t0 = time.monotonic()
            while time.monotonic() - t0 < 15:
                await asyncio.sleep(0.005)
                try:
                    with open(conf_path, "rb") as f:
                        if f.read() == want:
                            self.repairs.append(time.monotonic() - t0)
                            break
                except OSError:
                    pass
            else:
                self.failures.append("drift not repaired within 15 s")


def relay_connections(port):
    st, _, body = agentkit.http(port, "/metrics", timeout=5)
    for line in body.decode().splitlines():
        if line.startswith("edgeagent_relay_connections "):
            return int(float(line.split()[1]))
    raise Failure("no connection gauge")


def relay_metric(port, name):
    st, _, body = agentkit.http(port, "/metrics", timeout=5)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return -1


async def main_async(args, work, log):
    origin = agentkit.Origin(args.bin, work)
    root, state = agentkit.root_and_state(work)
    port = agentkit.free_port()
    config = {"state_dir": state, "root": root, "interval": "2s", "upstreams": [origin.url],
              "trusted_keys": [origin.pub], "host_id": "relayload", "relay": "127.0.0.1:%d" % port,
              "crash_loop_count": 1000}
    conf = "setting = 1\n"
    doc, blobs = policy(1, conf, args.bundle_kib)
    origin.publish(doc, 1, blobs)
    agent = agentkit.Agent(args.bin, work, config).start()
    result = {"clients": args.clients, "garbage_rate": args.garbage_rate, "seconds": args.seconds,
              "bundle_bytes": len(origin.published[1])}
    try:
        agentkit.wait_healthy(port)
        agent.wait_line(lambda l: "service ready" in l or "converged" in l, 20)
        await asyncio.sleep(0.5)
        result["fds_before"] = agent.fds()
        result["rss_kib_before"] = agent.rss_kib()
        result["nofile_soft_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        load = Load(args, port, agent)
        conf_path = os.path.join(root, "etc/app.conf")
        tasks = [asyncio.ensure_future(load.long_poll(i)) for i in range(args.clients)]
        tasks += [asyncio.ensure_future(load.garbage()), asyncio.ensure_future(load.monitor()),
                  asyncio.ensure_future(load.supervise()), asyncio.ensure_future(load.drift(conf_path, conf.encode()))]
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds / 2)
        # Serial 2: every long-poll held now must be answered with it.
        held = set(load.connected)
        load.serial = 2
        doc2, blobs2 = policy(2, conf, args.bundle_kib)
        origin.publish(doc2, 2, blobs2)
        tp = time.monotonic()
        fanout = None
        while time.monotonic() - tp < args.seconds / 2:
            if fanout is None and held and held <= load.got_new:
                fanout = time.monotonic() - tp
            await asyncio.sleep(0.05)
        load.stop = True
        result["publish_to_all_held_answered_s"] = round(fanout, 2) if fanout is not None else None
        result["held_at_publish"] = len(held)
        result["held_answered_with_new"] = len(held & load.got_new)
        for t in tasks[:args.clients]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        result["load_seconds"] = round(time.monotonic() - t0, 1)
        # After: the slowloris and cancelled clients are gone once the relay notices (<= 10 s).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and relay_connections(port) > 1:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)
        result["fds_after"] = agent.fds()
        result["rss_kib_after"] = agent.rss_kib()
        result["rss_kib_high_water"] = agent.rss_kib("VmHWM")
        result["connections_after"] = relay_connections(port) - 1
        result["refused_connections"] = relay_metric(port, "edgeagent_relay_refused_connections_total")
        result["bad_requests"] = relay_metric(port, "edgeagent_relay_bad_requests_total")
        result["requests"] = relay_metric(port, "edgeagent_relay_requests_total")
        s = load.samples
        result["rss_kib_peak"] = max(x[1] for x in s)
        result["fds_peak"] = max(x[2] for x in s)
        result["connections_peak"] = max(x[3] for x in s)
        result["rss_kib_samples"] = [x[1] for x in s[::10]]
        result["rss_kib_by_10s"] = [max([x[1] for x in s if k * 10 <= x[0] < (k + 1) * 10] or [0])
                                    for k in range(int(args.seconds // 10) + 1)]
        result.update({k: v for k, v in load.c.items()})
        result["service_kills"] = len(load.restarts)
        result["service_restart_s_max"] = round(max(load.restarts), 3) if load.restarts else None
        result["drift_repairs"] = len(load.repairs)
        result["drift_repair_s_max"] = round(max(load.repairs), 3) if load.repairs else None
        # Converged to serial 2 meanwhile (the log says so) and still serves it, verified.
        agent.wait_line(lambda l: "converged" in l and "load-s2" in l, 10)
        served, body, _ = agentkit.fetch_and_verify(args.bin, port, origin.pub, os.path.join(work, "fetched"))
        result["served_after"] = served
        failures = list(load.failures)
        if served != 2 or body != origin.published[2]:
            failures.append("after the load the relay serves serial %d" % served)
        if result["fds_after"] > result["fds_before"]:
            failures.append("fds: %d before, %d after" % (result["fds_before"], result["fds_after"]))
        if result["connections_after"] != 0:
            failures.append("%d connections still open after the load" % result["connections_after"])
        if result["held_answered_with_new"] != result["held_at_publish"]:
            failures.append("%d of %d held long-polls got serial 2" % (result["held_answered_with_new"], result["held_at_publish"]))
        if not load.restarts or not load.repairs:
            failures.append("supervision or drift repair did not happen")
        rc = agent.stop()
        if rc != 0:
            failures.append("the agent exited %d on SIGTERM" % rc)
        result["failures"] = failures
        return result
    finally:
        if agent.proc.poll() is None:
            agent.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=default_binary())
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--garbage-rate", type=float, default=100, help="garbage connections per second")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--garbage-kinds", default="random,big-header,long-line,slowloris,method,half",
                    help="which garbage, in turn")
    ap.add_argument("--wait", type=int, default=30, help="long-poll seconds the clients ask for")
    ap.add_argument("--bundle-kib", type=int, default=0, help="pad bundle.json by this much inline content")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The clients' side needs one fd per connection too.
    need = args.clients + int(args.garbage_rate * 12) + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    log = lambda s: print(s, file=sys.stderr, flush=True)
    work = tempfile.mkdtemp(prefix="edgeagent-relayload-", dir=args.tmp)
    try:
        r = asyncio.run(main_async(args, work, log))
    except (Failure, OSError) as e:
        print("relayload FAIL: %s" % e)
        logs = [f for f in os.listdir(work) if f.endswith(".log")]
        for f in logs:
            print("".join(open(os.path.join(work, f), errors="replace").readlines()[-15:]))
        sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(r))
    else:
        print(" ".join("%s=%s" % (k, v) for k, v in r.items() if k != "failures"))
    for f in r["failures"]:
        print("FAIL " + f)
    print("relayload %s" % ("PASS" if not r["failures"] else "FAIL"))
    sys.exit(1 if r["failures"] else 0)


if __name__ == "__main__":
    main()
