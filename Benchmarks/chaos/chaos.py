#!/usr/bin/env python3
"""Crash consistency: SIGKILL `edgeagent` at random points and check that nothing is lost.

    Benchmarks/chaos/chaos.py [--seed N] [--trials N] [--files N] [--bin PATH] [--scenario NAME]...

Scenario `apply`: a sandbox root holds the files of policy A (N files, 2 directories levels,
sizes 1 B to --max-size, default 16 KiB). Each trial applies the other policy (A -> B, then B -> A, ...) and sends
SIGKILL after a random delay drawn from [0, 1.2 x the measured duration of an uninterrupted
apply]. After each kill it checks:
  1. the state opens: `mdb_stat -a` and `mdb_dump -a` (every page of every database) succeed;
  2. `desired` is entirely the old or entirely the new policy: `status --json` names one of the
     two policies and lists exactly that policy's promise ids, in its plan order;
  3. every managed file holds either its old or its new bytes (never a mix, never empty);
  4. the next apply (not killed) exits 0 with failed=0, leaves no `.NAME.edgeagent-new`
     temporary anywhere under the root, and every file then holds the new bytes;
  5. the state still passes 1, and `status --json` now names the new policy.
Any check that fails is a failure, reported with its trial number and seed; the goal is 0.
Half the kill delays are drawn from the window where an uninterrupted apply replaces files (seen
as directory mtime changes); `mid_write` counts kills that left a temporary or a part-old,
part-new tree, and a run where no kill landed mid-write fails: it proved nothing about atomic
replacement.

Scenario `bundle`: a daemon with a `file://` upstream holds serial N; N+1 (1,000 inline files and
8 new blobs of 128 KiB by default) is published, the daemon started and SIGKILLed during the
acceptance and convergence; checks as above plus: the serial in force and `desired` are the same
bundle, the restarted daemon converges to N+1 and exits 0 on SIGTERM, the state directory holds
nothing but LMDB's files and the services' logs.

Scenario `relay`: a daemon with `relay` set serves client threads (downloads, If-None-Match, HEAD,
long-polls) while new serials are published at random; SIGKILL; the state is checked, and the
restarted relay must serve byte-identical, verified content (`edgeagent verify`), hold no stale
connection and no more fds than its first run. Both skip (logged to $EDGE_SKIP_LOG, see test.sh)
when the binary has no `publish`.

Seeded and reproducible: the same --seed gives the same policies, the same delays and the same
order of trials (the kill point within the process still depends on the machine's speed).
Prints one summary line per scenario and exits 1 on any failure.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import agentkit
from agentkit import Failure, check_lmdb, run, status, temporaries

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def default_binary():
    for p in (".build-b7emb/release/edgeagent", ".build-emb/release/edgeagent", ".build-b7/debug/edgeagent",
              ".build/debug/edgeagent"):
        full = os.path.join(REPO, p)
        if os.access(full, os.X_OK):
            return full
    return "edgeagent"


class Policy:
    """A policy of `files` files under 2 levels of directories; `version` picks the contents."""

    def __init__(self, name, files, version, rng, max_size):
        self.name = name
        self.contents = {}
        # Ids differ between the two policies (a-..., b-...), so `status` tells which is stored.
        promises = [{"id": version + "-top", "type": "directory", "path": "/srv", "mode": "0755"}]
        ndirs = max(1, files // 100)
        for d in range(ndirs):
            promises.append({"id": "%s-dir-%d" % (version, d), "type": "directory", "path": "/srv/d%03d" % d, "mode": "0755"})
        for i in range(files):
            path = "/srv/d%03d/f%05d.conf" % (i % ndirs, i)
            # Sizes spread from 1 byte to max_size, most of them small.
            size = 1 + int(rng.random() ** 3 * (max_size - 1))
            body = (("%s %d %s\n" % (version, i, "x" * 60)) * (size // 64 + 1))[:size]
            self.contents[path] = body.encode()
            promises.append({"id": "%s-f-%05d" % (version, i), "type": "file", "path": path, "content": body, "mode": "0644"})
        self.doc = {"policy": name, "promises": promises}
        self.ids = sorted(p["id"] for p in promises)

    def write(self, path):
        with open(path, "w") as f:
            json.dump(self.doc, f)


def apply_once(binary, policy_file, root, state, timeout=600):
    r = run([binary, "apply", policy_file, "--root", root, "--state", state, "--quiet"], timeout=timeout)
    out = r.stdout.decode(errors="replace")
    return r.returncode, out, r.stderr.decode(errors="replace")


def check_old_or_new(root, new, old, stats):
    """Right after a kill: every file holds its old or its new bytes, never a mix; counts
    which, and whether temporaries were left (the next run must clean them up). True when the
    kill landed mid-write: a temporary was left (killed between its creation and its rename) or
    the tree is part old, part new (killed between two renames)."""
    n_new = n_old = 0
    for path, want_new in new.items():
        with open(root + path, "rb") as f:
            have = f.read()
        if have == want_new:
            n_new += 1
        elif have == old[path]:
            n_old += 1
        else:
            raise Failure("%s holds %d bytes that are neither old nor new" % (path, len(have)))
    stats["files_new_after_kill"] += n_new
    stats["files_old_after_kill"] += n_old
    left = bool(temporaries(root))
    if left:
        stats["temp_after_kill"] += 1
    return left or (n_new > 0 and n_old > 0)


def write_window(binary, policy_file, root, state, dirs):
    """One uninterrupted apply, timed: its duration, and when (seconds after the start) it first
    and last changed a managed directory. Creating a temporary and renaming it into place both
    change the directory's mtime, so the window is where the file replacements happen; kills
    drawn from it test atomic replacement, not just an early exit."""
    mtimes = {d: os.stat(root + d).st_mtime_ns for d in dirs}
    first = last = None
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "apply", policy_file, "--root", root, "--state", state, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while proc.poll() is None:
        now = time.monotonic() - t0
        for d in dirs:
            m = os.stat(root + d).st_mtime_ns
            if m != mtimes[d]:
                mtimes[d] = m
                first = now if first is None else first
                last = now
        time.sleep(0.0005)
    duration = time.monotonic() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise Failure("setup apply failed (%d): %s" % (proc.returncode, err[-300:]))
    return duration, first, last


def check_cleaned_up(root, new):
    """After the run that follows a kill: no temporaries, and every file holds its new bytes."""
    left = temporaries(root)
    if left:
        raise Failure("%d temporaries left after the next run, e.g. %s" % (len(left), left[0]))
    for path, want_new in new.items():
        with open(root + path, "rb") as f:
            if f.read() != want_new:
                raise Failure("%s does not hold the new bytes after the next run" % path)


def scenario_apply(args, rng, log):
    work = tempfile.mkdtemp(prefix="edgeagent-chaos-", dir=args.tmp)
    try:
        root, state = agentkit.root_and_state(work)
        policies = [Policy("chaos-a", args.files, "a", random.Random(rng.random()), args.max_size),
                    Policy("chaos-b", args.files, "b", random.Random(rng.random()), args.max_size)]
        files = [os.path.join(work, "a.json"), os.path.join(work, "b.json")]
        for p, f in zip(policies, files):
            p.write(f)
        # Measure an uninterrupted apply each way (A from empty, then B over A, then A over B),
        # and when each replaces files.
        rc, out, err = apply_once(args.bin, files[0], root, state)
        if rc != 0:
            raise Failure("setup apply A failed (%d): %s %s" % (rc, out[-300:], err[-300:]))
        dirs = sorted(set(os.path.dirname(p) for p in policies[0].contents))
        runs = [write_window(args.bin, files[k], root, state, dirs) for k in (1, 0)]
        full = max(r[0] for r in runs)
        firsts = [r[1] for r in runs if r[1] is not None]
        lasts = [r[2] for r in runs if r[2] is not None]
        window = (min(firsts), max(lasts)) if firsts else None
        log("apply: %d files, %d promises, %.0f KiB per policy; uninterrupted apply %.3f s, files replaced %s"
            % (args.files, len(policies[0].ids), sum(map(len, policies[0].contents.values())) / 1024, full,
               "from %.3f s to %.3f s" % window if window else "never (no directory changed)"))
        current = 0  # the policy the host and state hold
        stats = {"trials": 0, "kills": 0, "finished_first": 0, "failures": 0, "temp_after_kill": 0,
                 "desired_new": 0, "desired_old": 0, "files_new_after_kill": 0, "files_old_after_kill": 0,
                 "mid_write": 0}
        for trial in range(args.trials):
            new = 1 - current
            old_p, new_p = policies[current], policies[new]
            # Half the kills anywhere in the run, half while files are being replaced: a kill
            # before the first rename proves nothing about atomic replacement.
            if window and rng.random() < 0.5:
                delay = rng.uniform(*window)
            else:
                delay = rng.uniform(0, 1.2 * full)
            stats["trials"] += 1
            try:
                proc = subprocess.Popen([args.bin, "apply", files[new], "--root", root, "--state", state, "--quiet"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(delay)
                killed = proc.poll() is None
                if killed:
                    proc.send_signal(signal.SIGKILL)
                    stats["kills"] += 1
                else:
                    stats["finished_first"] += 1
                rc = proc.wait()
                if not killed and rc != 0:
                    raise Failure("apply exited %d before the kill: %s" % (rc, proc.stderr.read().decode(errors="replace")[-300:]))
                proc.stderr.close()
                # 1. the state opens and reads whole.
                check_lmdb(state)
                # 2. desired is entirely the old or the new policy.
                st = status(args.bin, state)
                ids = sorted(p["id"] for p in st["promises"])
                if st["policy"] == new_p.name and ids == new_p.ids:
                    stats["desired_new"] += 1
                elif st["policy"] == old_p.name and ids == old_p.ids:
                    stats["desired_old"] += 1
                else:
                    raise Failure("desired is neither policy: name %r, %d ids" % (st["policy"], len(ids)))
                # 3. every file holds its old or its new bytes.
                if check_old_or_new(root, new_p.contents, old_p.contents, stats):
                    stats["mid_write"] += 1
                # 4. the next run converges and cleans up.
                rc, out, err = apply_once(args.bin, files[new], root, state)
                if rc != 0 or "failed=0" not in out:
                    raise Failure("the run after the kill exited %d: %s %s" % (rc, out[-300:], err[-300:]))
                check_cleaned_up(root, new_p.contents)
                # 5. the state is whole and names the new policy.
                check_lmdb(state)
                st = status(args.bin, state)
                if st["policy"] != new_p.name or sorted(p["id"] for p in st["promises"]) != new_p.ids:
                    raise Failure("after the next run desired is not the new policy")
                current = new
            except (Failure, subprocess.TimeoutExpired, ValueError, OSError) as e:
                stats["failures"] += 1
                log("FAIL apply trial %d (seed %d, delay %.4f s): %s" % (trial, args.seed, delay, e))
                # Converge to a known state before the next trial.
                rc, out, err = apply_once(args.bin, files[new], root, state)
                current = new if rc == 0 else current
            if args.verbose:
                log("trial %d: delay %.4f s %s" % (trial, delay, "killed" if killed else "finished first"))
            elif (trial + 1) % 20 == 0:
                log("apply: %d trials, %d kills, %d failures" % (trial + 1, stats["kills"], stats["failures"]))
        if stats["mid_write"] == 0:
            stats["failures"] += 1
            log("FAIL apply: no kill landed mid-write (between a temporary's creation and its rename, or "
                "between two renames) in %d trials: atomic replacement was not tested; use more --files "
                "or --trials" % args.trials)
        return stats
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def bundle_doc(serial, files, nblobs, blob_size, seed):
    """Serial `serial`'s source policy, its blobs and the bytes every managed file must end with.
    The same paths in every serial: inline files alternate between two contents (a/b), blob
    files are new bytes each serial, so each acceptance stores `nblobs` new blobs."""
    v = "ab"[serial % 2]
    promises = [{"id": v + "-top", "type": "directory", "path": "/srv", "mode": "0755"},
                {"id": v + "-blobdir", "type": "directory", "path": "/srv/blobs", "mode": "0755"}]
    expect, blobs = {}, {}
    ndirs = max(1, files // 100)
    for d in range(ndirs):
        promises.append({"id": "%s-dir-%d" % (v, d), "type": "directory", "path": "/srv/d%03d" % d, "mode": "0755"})
    rng = random.Random(seed * 7919 + (serial % 2))
    for i in range(files):
        path = "/srv/d%03d/f%05d.conf" % (i % ndirs, i)
        size = 1 + int(rng.random() ** 3 * 4095)
        body = (("%s %d %s\n" % (v, i, "y" * 60)) * (size // 64 + 1))[:size]
        expect[path] = body.encode()
        promises.append({"id": "%s-f-%05d" % (v, i), "type": "file", "path": path, "content": body, "mode": "0644"})
    brng = random.Random(seed * 1000003 + serial)
    for i in range(nblobs):
        name, path = "b%02d.bin" % i, "/srv/blobs/b%02d.bin" % i
        blobs[name] = brng.randbytes(blob_size)
        expect[path] = blobs[name]
        promises.append({"id": "%s-blob-%02d" % (v, i), "type": "file", "path": path, "source_file": name, "mode": "0644"})
    doc = {"policy": "bundle-s%d" % serial, "promises": promises}
    ids = sorted(p["id"] for p in promises)
    return doc, blobs, expect, ids


def converged_to(serial):
    name = "bundle-s%d" % serial
    return lambda l: "converged" in l and name in l


def scenario_bundle(args, rng, log):
    """SIGKILL the daemon while it accepts serial N+1 from a `file://` upstream (verify, fetch
    and check blobs, one write transaction) and converges to it. After each kill: the state reads
    whole, the serial in force and `desired` name the same bundle (old or new), every file holds
    its old or new bytes; a restarted daemon (not killed) converges to N+1, cleans up, and exits
    0 on SIGTERM; the state directory holds data.mdb, lock.mdb and edgeagent.lock only."""
    if not agentkit.has_command(args.bin, "publish"):
        return None
    work = tempfile.mkdtemp(prefix="edgeagent-chaos-bundle-", dir=args.tmp)
    agent = None
    try:
        root, state = agentkit.root_and_state(work)
        origin = agentkit.Origin(args.bin, work)
        config = {"state_dir": state, "root": root, "interval": "60s", "upstreams": [origin.url],
                  "trusted_keys": [origin.pub], "host_id": "chaos-bundle"}
        agent = agentkit.Agent(args.bin, work, config)
        seed = args.seed
        docs = {}

        def publish(serial):
            doc, blobs, expect, ids = bundle_doc(serial, args.bundle_files, args.bundle_blobs, args.blob_size, seed)
            origin.publish(doc, serial, blobs)
            docs[serial] = (expect, ids)
            docs.pop(serial - 2, None)

        def converge_fully(serial):
            """Start, wait for the convergence to `serial`, SIGTERM; times since start."""
            agent.start()
            i, t_acc = agent.wait_line(lambda l: "bundle accepted" in l or converged_to(serial)(l), 120)
            _, t_conv = agent.wait_line(converged_to(serial), 120, start=i)
            rc = agent.stop()
            if rc != 0:
                raise Failure("the daemon exited %d after SIGTERM" % rc)
            return t_acc, t_conv

        publish(1)
        converge_fully(1)
        # Measure two uninterrupted restarts that accept a new serial.
        t_acc, t_conv = [], []
        for serial in (2, 3):
            publish(serial)
            a, c = converge_fully(serial)
            t_acc.append(a)
            t_conv.append(c)
        acc, conv = max(t_acc), max(t_conv)
        held = 3
        log("bundle: %d files + %d blobs of %d KiB per serial, bundle.json %d KiB; start to accepted %.3f s, "
            "to converged %.3f s" % (args.bundle_files, args.bundle_blobs, args.blob_size // 1024,
                                     len(origin.published[3]) // 1024, acc, conv))
        stats = {"trials": 0, "kills": 0, "finished_first": 0, "failures": 0, "temp_after_kill": 0,
                 "desired_new": 0, "desired_old": 0, "files_new_after_kill": 0, "files_old_after_kill": 0,
                 "kill_before_accepted": 0, "kill_while_converging": 0, "kill_after_converged": 0}
        for trial in range(args.trials):
            new = held + 1
            # Half the kills anywhere in [0, 1.2 x converged], half around the acceptance itself.
            if trial % 2 == 0:
                delay = rng.uniform(0, 1.2 * conv)
            else:
                delay = rng.uniform(0.7 * acc, acc + 0.3 * (conv - acc))
            stats["trials"] += 1
            killed = False
            try:
                publish(new)
                agent.start()
                time.sleep(delay)
                killed = agent.proc.poll() is None
                if killed:
                    agent.kill()
                    stats["kills"] += 1
                else:
                    stats["finished_first"] += 1
                    raise Failure("the daemon exited %d by itself" % agent.proc.returncode)
                # Where the kill landed, by the log lines that came out before it.
                logged = [l for _, l in agent.lines]
                if any(converged_to(new)(l) for l in logged):
                    stats["kill_after_converged"] += 1
                elif any("bundle accepted" in l for l in logged):
                    stats["kill_while_converging"] += 1
                else:
                    stats["kill_before_accepted"] += 1
                # 1. the state opens and reads whole.
                check_lmdb(state)
                # 2. the bundle in force and desired are the same serial, old or new.
                st = status(args.bin, state)
                serial = (st.get("bundle") or {}).get("serial")
                ids = sorted(p["id"] for p in st["promises"])
                if serial not in (held, new):
                    raise Failure("the serial in force is %r, neither %d nor %d" % (serial, held, new))
                if st["policy"] != "bundle-s%d" % serial or ids != docs[serial][1]:
                    raise Failure("serial %d in force but desired is %r with %d ids" % (serial, st["policy"], len(ids)))
                stats["desired_new" if serial == new else "desired_old"] += 1
                # 3. every file holds its old or its new bytes.
                check_old_or_new(root, docs[new][0], docs[held][0], stats)
                # 4. a restart converges to the new serial and cleans up.
                converge_fully(new)
                check_cleaned_up(root, docs[new][0])
                # 5. the state is whole, names the new serial, and holds nothing else.
                check_lmdb(state, dump=False)
                st = status(args.bin, state)
                if (st.get("bundle") or {}).get("serial") != new or st["policy"] != "bundle-s%d" % new:
                    raise Failure("after the next run the serial in force is not %d" % new)
                extra = agentkit.state_files(state)
                if extra:
                    raise Failure("the state directory holds %s" % extra)
                held = new
            except (Failure, subprocess.TimeoutExpired, ValueError, OSError, KeyError) as e:
                stats["failures"] += 1
                log("FAIL bundle trial %d (seed %d, delay %.4f s): %s" % (trial, args.seed, delay, e))
                if agent.proc and agent.proc.poll() is None:
                    agent.kill()
                try:
                    converge_fully(new)
                    held = new
                except (Failure, subprocess.TimeoutExpired) as e2:
                    log("bundle: unable to recover: %s" % e2)
                    break
            if args.verbose:
                log("trial %d: delay %.4f s %s" % (trial, delay, "killed" if killed else "finished first"))
            elif (trial + 1) % 20 == 0:
                log("bundle: %d trials, %d kills, %d failures" % (trial + 1, stats["kills"], stats["failures"]))
        stats["data_mdb_bytes"] = os.path.getsize(os.path.join(state, "data.mdb"))
        return stats
    finally:
        if agent_alive(agent):
            agent.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def agent_alive(agent):
    return agent is not None and agent.proc is not None and agent.proc.poll() is None


class Hammer:
    """Client threads that hit the relay until stopped: bundle.json (plain, If-None-Match, HEAD),
    the signature, blobs, and long-polls. Every complete 200 is checked: bundle.json must be
    byte-identical to a published one, a blob must hash to its name. An error that ends before
    `killed_at` (the relay was up) is a failure; after it, expected."""

    def __init__(self, port, origin, threads, seed):
        self.port, self.origin = port, origin
        self.stop_flag = False
        self.killed_at = float("inf")
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "ok": 0, "long_polls": 0, "cut_by_kill": 0}
        self.errors = []
        self.threads = [threading.Thread(target=self.loop, args=(random.Random(seed * 131 + i),), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def loop(self, rng):
        while not self.stop_flag:
            published = dict(self.origin.published)
            serial = max(published)
            digests = list(json.loads(published[serial]).get("blobs", {}))
            kind = rng.choice(["bundle", "bundle", "inm", "head", "sig", "blob", "blob", "poll"])
            target, method, headers = "/bundle.json", "GET", []
            if kind == "inm":
                headers = [("If-None-Match", '"%s"' % hashlib.sha256(published[serial]).hexdigest())]
            elif kind == "head":
                method = "HEAD"
            elif kind == "sig":
                target = "/bundle.json.sig"
            elif kind == "blob" and digests:
                target = "/blobs/" + rng.choice(digests)
            elif kind == "poll":
                target = "/bundle.json?wait=%d&have=%d" % (rng.randint(1, 3), serial)
            try:
                st, h, body = agentkit.http(self.port, target, method=method, headers=headers, timeout=10)
                bad = None
                if st == 200 and method == "GET":
                    if target.startswith("/bundle.json") and not target.endswith(".sig"):
                        if body not in self.origin.published.values():
                            bad = "bundle.json of %d bytes that was never published" % len(body)
                    elif target.startswith("/blobs/") and hashlib.sha256(body).hexdigest() != target[7:]:
                        bad = "blob %s with other bytes" % target[7:19]
                elif st == 404 and target.startswith("/blobs/"):
                    pass  # a blob of a serial the relay has not accepted yet
                elif st not in (200, 304):
                    bad = "%s %s: %d" % (method, target, st)
                with self.lock:
                    self.counts["requests"] += 1
                    self.counts["ok"] += bad is None
                    self.counts["long_polls"] += kind == "poll"
                    if bad:
                        self.errors.append(bad)
            except (OSError, Failure) as e:
                with self.lock:
                    if time.monotonic() >= self.killed_at:
                        self.counts["cut_by_kill"] += 1
                    elif not self.stop_flag:
                        self.errors.append("%s %s before the kill: %s" % (method, target, e))
                if self.stop_flag or time.monotonic() >= self.killed_at:
                    return

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(timeout=15)


def relay_metric(port, name):
    st, _, body = agentkit.http(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise Failure("/metrics has no %s" % name)


def scenario_relay(args, rng, log):
    """SIGKILL a daemon that relays (`run --relay`) while client threads download and long-poll
    and, in half the trials, a new serial is published (so some kills land in an acceptance while
    serving). After each kill: the state reads whole and the serial in force matches `desired`;
    the restarted relay serves bundle.json byte-identical to a published one whose signature and
    blobs `edgeagent verify` accepts; it holds no connection but the asking one, its fd count is
    the first run's, and the state directory holds data.mdb, lock.mdb and edgeagent.lock only."""
    if not agentkit.has_command(args.bin, "publish"):
        return None
    work = tempfile.mkdtemp(prefix="edgeagent-chaos-relay-", dir=args.tmp)
    agent = None
    try:
        root, state = agentkit.root_and_state(work)
        origin = agentkit.Origin(args.bin, work)
        port = agentkit.free_port()
        config = {"state_dir": state, "root": root, "interval": "300ms", "upstreams": [origin.url],
                  "trusted_keys": [origin.pub], "host_id": "chaos-relay", "relay": "127.0.0.1:%d" % port}
        agent = agentkit.Agent(args.bin, work, config)
        docs = {}

        def publish(serial):
            doc, blobs, _, ids = bundle_doc(serial, 20, 3, 65536, args.seed)
            origin.publish(doc, serial, blobs)
            docs[serial] = ids

        def restart_and_verify():
            agent.start()
            agentkit.wait_healthy(port)
            served, body, _ = agentkit.fetch_and_verify(args.bin, port, origin.pub, os.path.join(work, "fetched"))
            if origin.published.get(served) != body:
                raise Failure("the relay serves serial %d with bytes that differ from the published ones" % served)
            conns = relay_metric(port, "edgeagent_relay_connections")
            if conns != 1:
                raise Failure("the restarted relay holds %d connections besides /metrics" % (conns - 1))
            return served

        publish(1)
        served = restart_and_verify()
        baseline_fds = agent.fds()
        log("relay: port %d, 20 files + 3 blobs of 64 KiB per serial; %d fds at rest" % (port, baseline_fds))
        latest = 1
        stats = {"trials": 0, "kills": 0, "finished_first": 0, "failures": 0, "temp_after_kill": 0,
                 "desired_new": 0, "desired_old": 0, "files_new_after_kill": 0, "files_old_after_kill": 0,
                 "requests": 0, "long_polls": 0, "cut_by_kill": 0, "published": 0, "max_fds_at_rest": baseline_fds}
        for trial in range(args.trials):
            delay = rng.uniform(0.1, args.relay_max_delay)
            publish_at = rng.uniform(0, delay) if rng.random() < 0.5 else None
            stats["trials"] += 1
            held = served
            hammer = None
            try:
                hammer = Hammer(port, origin, args.relay_clients, args.seed * 1000 + trial)
                t0 = time.monotonic()
                if publish_at is not None:
                    time.sleep(publish_at)
                    latest += 1
                    publish(latest)
                    stats["published"] += 1
                time.sleep(max(0, delay - (time.monotonic() - t0)))
                if agent.proc.poll() is not None:
                    stats["finished_first"] += 1
                    raise Failure("the relay exited %d by itself" % agent.proc.returncode)
                hammer.killed_at = time.monotonic()
                agent.kill()
                stats["kills"] += 1
                hammer.stop()
                for k in ("requests", "long_polls", "cut_by_kill"):
                    stats[k] += hammer.counts[k]
                if hammer.errors:
                    raise Failure("%d client errors, e.g. %s" % (len(hammer.errors), hammer.errors[0]))
                # The state reads whole; the serial in force and desired agree.
                check_lmdb(state)
                st = status(args.bin, state)
                serial = (st.get("bundle") or {}).get("serial")
                if serial is None or not held <= serial <= latest:
                    raise Failure("the serial in force is %r, not in [%d, %d]" % (serial, held, latest))
                ids = sorted(p["id"] for p in st["promises"])
                if st["policy"] != "bundle-s%d" % serial or ids != docs[serial]:
                    raise Failure("serial %d in force but desired is %r" % (serial, st["policy"]))
                stats["desired_new" if serial > held else "desired_old"] += 1
                extra = agentkit.state_files(state)
                if extra:
                    raise Failure("the state directory holds %s" % extra)
                # Restart: verified, byte-identical content; nothing held over.
                served = restart_and_verify()
                if served < serial:
                    raise Failure("the restarted relay serves serial %d below the %d in force" % (served, serial))
                fds = agent.fds()
                stats["max_fds_at_rest"] = max(stats["max_fds_at_rest"], fds)
                if fds > baseline_fds:
                    raise Failure("the restarted relay holds %d fds, the first run %d" % (fds, baseline_fds))
            except (Failure, subprocess.TimeoutExpired, ValueError, OSError, KeyError) as e:
                stats["failures"] += 1
                log("FAIL relay trial %d (seed %d, delay %.4f s): %s" % (trial, args.seed, delay, e))
                if hammer:
                    hammer.stop()
                if agent_alive(agent):
                    agent.kill()
                try:
                    served = restart_and_verify()
                except (Failure, OSError) as e2:
                    log("relay: unable to recover: %s" % e2)
                    break
            if args.verbose:
                log("trial %d: delay %.3f s, publish %s" % (trial, delay, publish_at))
            elif (trial + 1) % 20 == 0:
                log("relay: %d trials, %d kills, %d failures, %d requests" % (trial + 1, stats["kills"], stats["failures"], stats["requests"]))
        stats["data_mdb_bytes"] = os.path.getsize(os.path.join(state, "data.mdb"))
        return stats
    finally:
        if agent_alive(agent):
            agent.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


SCENARIOS = {"apply": scenario_apply, "bundle": scenario_bundle, "relay": scenario_relay}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=200, help="trials per scenario (CI: 20)")
    ap.add_argument("--files", type=int, default=2000, help="files per policy in the apply scenario")
    ap.add_argument("--max-size", type=int, default=16384, help="largest file in bytes")
    ap.add_argument("--bundle-files", type=int, default=1000, help="inline files per bundle (bundle scenario)")
    ap.add_argument("--bundle-blobs", type=int, default=8, help="new blobs per bundle (bundle scenario)")
    ap.add_argument("--blob-size", type=int, default=131072, help="bytes per blob (bundle scenario)")
    ap.add_argument("--relay-clients", type=int, default=8, help="client threads (relay scenario)")
    ap.add_argument("--relay-max-delay", type=float, default=1.5, help="latest kill, seconds (relay scenario)")
    ap.add_argument("--bin", default=default_binary())
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    ap.add_argument("--tmp", default=None, help="where the sandboxes go (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the sandbox for inspection")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    for tool in ("mdb_stat", "mdb_dump"):
        if shutil.which(tool) is None:
            sys.exit("chaos: %s not found (apt-get install lmdb-utils)" % tool)
    rng = random.Random(args.seed)
    log = lambda s: print(s, file=sys.stderr, flush=True)
    log("chaos: %s, seed %d, %d trials per scenario" % (args.bin, args.seed, args.trials))
    results, failed = {}, 0
    for name in args.scenario or list(SCENARIOS):
        t0 = time.monotonic()
        stats = SCENARIOS[name](args, random.Random(rng.random()), log)
        if stats is None:
            agentkit.skip("chaos " + name, "needs the bundle commands (publish) in this binary")
            continue
        stats["seconds"] = round(time.monotonic() - t0, 1)
        results[name] = stats
        failed += stats["failures"]
        print("%-7s trials=%d kills=%d finished_first=%d failures=%d desired_old=%d desired_new=%d "
              "temp_after_kill=%d files_old=%d files_new=%d %.1f s"
              % (name, stats["trials"], stats["kills"], stats["finished_first"], stats["failures"],
                 stats["desired_old"], stats["desired_new"], stats["temp_after_kill"],
                 stats["files_old_after_kill"], stats["files_new_after_kill"], stats["seconds"]))
        extra = {k: v for k, v in stats.items() if k in ("mid_write", "requests", "long_polls", "cut_by_kill", "published", "kill_before_accepted",
                                                          "kill_while_converging", "kill_after_converged",
                                                          "max_fds_at_rest", "data_mdb_bytes")}
        if extra:
            print("%-7s %s" % ("", " ".join("%s=%s" % kv for kv in sorted(extra.items()))))
    if args.json:
        print(json.dumps({"seed": args.seed, "scenarios": results}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
