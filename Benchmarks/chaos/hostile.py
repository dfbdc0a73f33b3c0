#!/usr/bin/env python3
"""Hostile inputs at the trust boundary, against the built binary, each in a fresh sandbox.

    Benchmarks/chaos/hostile.py [--bin PATH] [--race-seconds S] [--million]

Each case prints PASS/FAIL with what it measured. For a rejected policy it checks the exit code
(2), that the message names a place (file:line:column), that the root is byte-for-byte as it
was and that no state was created (or an existing one is unchanged). For symlinks it plants a
directory *outside* the root and checks nothing in it is ever created or changed.

  traversal       `..`, `.`, relative, `//`, NUL (\\u0000) in paths, link targets and argv
  oversized       a path of 4096 bytes, a component of 256, an id of 129, a 65 MiB policy file
  nesting         100,000 nested arrays (the reader stops at 64 levels, no stack overflow)
  utf8            invalid UTF-8, overlong forms, lone surrogates, a BOM
  duplicates      an object of 100,000 keys with a duplicate at the end (time bounded)
  symlink-parent  a directory of the root replaced by a symlink to the outside directory
  symlink-leaf    the managed file itself a symlink to an outside file
  symlink-race    a racer swaps a managed directory with a symlink to the outside as fast as
                  it can while apply repairs files in it, for --race-seconds; nothing outside
                  is ever written
  root-escape     ROOT/etc and ROOT/proc/sys symlinked to an outside directory: file (mode only),
                  directory and `creates` checks are never kept on the outside objects, and a
                  sysctl promise neither writes nor (with --dry-run) prints an outside file
  publish-sources `publish` with source_file ../k.key, an absolute outside path and a symlink out:
                  refused (exit 2, nothing written) unless --allow-outside-sources; a secret key
                  is refused even with it
  many-promises   10^6 promises (--million; 10^5 otherwise): time and peak RSS, and the result
  permissions     the state directory is 0700, data.mdb 0600; keygen's secret key 0600
  privileges      services with `user`/`group`: the service and its exec health probe run with
                  exactly its uid, gid and no supplementary groups (a numeric user not in passwd
                  included); a numeric user with neither passwd entry nor `group` never runs
  supervision     a policy author's services that never become healthy (start_timeout 1s: failed,
                  dependents skipped, failed=1 counted) and a --container main service that exits
                  7 on its own (the agent stops the rest and exits 7)
  relay           a running relay answers 4xx to traversal in every spelling, the state's files,
                  and blobs it never verified (a tampered and a foreign-signed bundle's)
  blocking        the loop is never held: with a file:// upstream whose bundle.json is a FIFO
                  (the error is logged), and while a `sleep 5` command promise runs, a killed
                  service is reaped (no zombie) and restarted and file drift is repaired, each
                  within 1 s; the command's outcome is still recorded
  output-forging  a policy name, a path and a command's output holding CR, LF, ESC, BEL, DEL and
                  C1: apply's output and errors, `status` (text and JSON) and the daemon's log
                  carry them escaped; no raw control byte, no forged line
  two-daemons     a second daemon and an apply on a state a daemon holds exit 111 naming its pid
                  and start nothing; `status` names the holder
  relay-pin, relay-hog, big-body, same-serial
                  hostile relays and upstreams against a running agent (hostile_relay.py)
Ends with "hostile: N passed, M failed, K skipped"; a skip is never counted as a pass (and is
logged to $EDGE_SKIP_LOG for test.sh). Exits 1 if any case fails.
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import agentkit
import hostile_relay

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
failed = 0
counts = {"passed": 0, "failed": 0, "skipped": 0}


def default_binary():
    for p in (".build-b7emb/release/edgeagent", ".build-emb/release/edgeagent", ".build-b7/debug/edgeagent",
              ".build/debug/edgeagent"):
        if os.access(os.path.join(REPO, p), os.X_OK):
            return os.path.join(REPO, p)
    return "edgeagent"


def report(ok, name, detail):
    global failed
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)
    counts["passed" if ok else "failed"] += 1
    if not ok:
        failed = 1


def skip(name, reason):
    """Neither a pass nor a failure: counted apart, and logged for test.sh (CI=true fails on it)."""
    counts["skipped"] += 1
    agentkit.skip(name, reason)


def tree(path):
    """A fingerprint of everything under path: names, types, modes, contents, link targets."""
    out = []
    for d, dirs, files in os.walk(path):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            if os.path.islink(p):
                out.append((p, "l", os.readlink(p)))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out.append((p, "f", st.st_mode, hashlib.sha256(f.read()).hexdigest()))
            else:
                out.append((p, "d", st.st_mode))
    return out


def measure(cmd, timeout=900):
    """Runs cmd; returns (rc, stdout, stderr, seconds, peak RSS in KiB of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    dt = time.monotonic() - t0
    # ru_maxrss of children is the max over all waited children: run this one in a fresh helper.
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), dt


def rss_of(cmd, timeout=900):
    """Peak RSS (KiB) and wall time of cmd, through /usr/bin/time when present."""
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        r = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        err = r.stderr.decode(errors="replace")
        line = [l for l in err.splitlines() if l.startswith("@@ ")][-1]
        _, secs, kib = line.split()
        rc = r.returncode
        if "Command exited with non-zero status" in err:
            rc = int(err.split("Command exited with non-zero status ")[1].split()[0])
        return rc, r.stdout.decode(errors="replace"), err, float(secs), int(kib)
    rc, out, err, dt = measure(cmd, timeout)
    return rc, out, err, dt, -1


class Sandbox:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="edgeagent-hostile-")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.outside = os.path.join(self.dir, "outside")
        os.makedirs(os.path.join(self.root, "app"))
        os.makedirs(self.outside)
        with open(os.path.join(self.outside, "secret"), "w") as f:
            f.write("outside, must not change\n")

    def policy(self, doc_or_bytes, name="p.json"):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(doc_or_bytes if isinstance(doc_or_bytes, bytes) else json.dumps(doc_or_bytes).encode())
        return path

    def apply(self, policy, *extra, timeout=900):
        return rss_of([self.args.bin, "apply", policy, "--root", self.root, "--state", self.state, "--quiet"] + list(extra),
                      timeout)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def pol(*promises):
    return {"policy": "hostile", "promises": list(promises)}


def rejected(args, name, body, expect=None):
    """body is rejected with exit 2, a position, and root/state untouched."""
    s = Sandbox(args)
    try:
        before = tree(s.dir)
        rc, out, err, secs, kib = s.apply(s.policy(body))
        after = tree(s.dir)
        # The policy file itself is new in the sandbox; compare everything else.
        after = [e for e in after if not e[0].endswith("p.json")]
        before = [e for e in before if not e[0].endswith("p.json")]
        msg = (err.strip().splitlines() or [""])[min(1, len((err.strip().splitlines() or [""])) - 1)]
        ok = rc == 2 and before == after and not os.path.exists(s.state) and (expect is None or expect in err)
        return ok, "exit %d in %.2f s, %d KiB: %s" % (rc, secs, kib, msg[:140])
    finally:
        s.close()


def case_traversal(args):
    cases = {
        "dotdot": pol({"id": "a", "type": "file", "path": "/app/../../outside/secret", "content": "x"}),
        "dot": pol({"id": "a", "type": "file", "path": "/app/./x", "content": "x"}),
        "relative": pol({"id": "a", "type": "file", "path": "app/x", "content": "x"}),
        "double-slash": pol({"id": "a", "type": "file", "path": "//outside/secret", "content": "x"}),
        "nul-path": pol({"id": "a", "type": "file", "path": "/app/x\u0000/../../y", "content": "x"}),
        "nul-target": pol({"id": "a", "type": "link", "path": "/app/l", "target": "/x\u0000y"}),
        "nul-argv": pol({"id": "a", "type": "command", "exec": ["/bin/true", "a\u0000b"]}),
        "creates-dotdot": pol({"id": "a", "type": "command", "exec": ["/bin/true"], "creates": "/../x"}),
        "sysctl-traversal": pol({"id": "a", "type": "sysctl", "key": "../../../etc/shadow", "value": "1"}),
        "root-itself": pol({"id": "a", "type": "directory", "path": "/", "state": "absent", "purge": True}),
    }
    for k, body in cases.items():
        ok, detail = rejected(args, "traversal/" + k, body)
        report(ok, "traversal/" + k, detail)


def case_oversized(args):
    for k, body in {
        "path-4096": pol({"id": "a", "type": "file", "path": "/" + "/".join(["a" * 200] * 21)[:4095], "content": "x"}),
        "component-256": pol({"id": "a", "type": "file", "path": "/" + "a" * 256, "content": "x"}),
        "id-129": pol({"id": "a" * 129, "type": "file", "path": "/x", "content": "x"}),
        "mode-5-digits": pol({"id": "a", "type": "file", "path": "/x", "mode": "07777"}),
        "timeout-huge": pol({"id": "a", "type": "command", "exec": ["/bin/true"], "timeout": 10 ** 30}),
    }.items():
        ok, detail = rejected(args, k, body)
        report(ok, "oversized/" + k, detail)
    # A policy file past the 64 MiB read limit (maxPolicyBytes): refused before parsing, exit 2.
    big = b'{"policy":"x","promises":[],"comment":"' + b"x" * (65 << 20) + b'"}'
    ok, detail = rejected(args, "file-65MiB", big, expect="larger than 64 MiB")
    report(ok, "oversized/file-65MiB", detail)
    # More values than JSONReader.defaultMaxValues: refused while parsing, with the position.
    many = b'{"policy":"x","promises":[],"comment":[' + b",".join([b"0"] * 900000) + b']}'
    ok, detail = rejected(args, "values-900k", many, expect="more than 800000 values")
    report(ok, "oversized/values-900k", detail)


def case_nesting(args):
    for k, body in {"arrays-100000": b"[" * 100000 + b"]" * 100000,
                    "objects-100000": b'{"a":' * 100000 + b"1" + b"}" * 100000,
                    "class-expression-100000": json.dumps(pol({"id": "a", "type": "file", "path": "/x", "content": "x",
                                                                "if": "(" * 100000 + "a" + ")" * 100000})).encode()}.items():
        ok, detail = rejected(args, k, body)
        report(ok, "nesting/" + k, detail)


def case_utf8(args):
    for k, raw in {"invalid": b"\xc3\x28", "overlong-slash": b"\xc0\xaf", "overlong-3": b"\xe0\x80\xaf",
                   "surrogate": b"\xed\xa0\x80", "past-10ffff": b"\xf4\x90\x80\x80", "truncated": b"\xe2\x82"}.items():
        body = b'{"policy":"x","promises":[{"id":"a","type":"file","path":"/app/' + raw + b'","content":"x"}]}'
        ok, detail = rejected(args, k, body)
        report(ok, "utf8/" + k, detail)
    for k, esc in {"lone-high": "\\ud800", "lone-low": "\\udc00"}.items():
        body = ('{"policy":"x","promises":[{"id":"a","type":"file","path":"/app/%s","content":"x"}]}' % esc).encode()
        ok, detail = rejected(args, k, body)
        report(ok, "utf8/" + k, detail)
    ok, detail = rejected(args, "bom", b"\xef\xbb\xbf" + json.dumps(pol()).encode())
    report(ok, "utf8/bom", detail)


def case_duplicates(args):
    body = '{"policy":"x","promises":[],' + ",".join('"k%d":0' % i for i in range(100000)) + ',"k5":1}'
    ok, detail = rejected(args, "dup", body.encode())
    secs = float(detail.split(" in ")[1].split(" s")[0])
    report(ok and secs < 10, "duplicates/100000-keys", detail)


def case_symlink_parent(args):
    s = Sandbox(args)
    try:
        os.rmdir(os.path.join(s.root, "app"))
        os.symlink(s.outside, os.path.join(s.root, "app"))  # absolute, pointing out of the root
        before = tree(s.outside)
        rc, out, err, secs, kib = s.apply(s.policy(pol({"id": "f", "type": "file", "path": "/app/secret", "content": "pwned\n"},
                                                        {"id": "g", "type": "file", "path": "/app/new", "content": "pwned\n"})))
        report(tree(s.outside) == before, "symlink-parent",
               "exit %d, outside unchanged; %s" % (rc, (out.strip().splitlines() or [""])[0][:120]))
    finally:
        s.close()


def case_symlink_leaf(args):
    s = Sandbox(args)
    try:
        os.symlink(os.path.join(s.outside, "secret"), os.path.join(s.root, "app", "conf"))
        before = tree(s.outside)
        rc, out, err, secs, kib = s.apply(s.policy(pol({"id": "f", "type": "file", "path": "/app/conf", "content": "pwned\n", "mode": "0600"})))
        is_file = os.path.isfile(os.path.join(s.root, "app", "conf")) and not os.path.islink(os.path.join(s.root, "app", "conf"))
        report(tree(s.outside) == before and rc == 0 and is_file, "symlink-leaf",
               "exit %d, the link was replaced by a file inside the root, outside unchanged" % rc)
    finally:
        s.close()


def case_root_escape(args):
    s = Sandbox(args)
    try:
        os.makedirs(os.path.join(s.outside, "d"))
        os.chmod(os.path.join(s.outside, "d"), 0o755)
        with open(os.path.join(s.outside, "motd"), "w") as f:
            f.write("outside\n")
        os.chmod(os.path.join(s.outside, "motd"), 0o644)
        open(os.path.join(s.outside, "made"), "w").close()
        with open(os.path.join(s.outside, "victim"), "w") as f:
            f.write("victim-bytes\n")
        os.symlink(s.outside, os.path.join(s.root, "etc"))
        os.makedirs(os.path.join(s.root, "proc"))
        os.symlink(s.outside, os.path.join(s.root, "proc", "sys"))
        before = tree(s.outside)
        checks = s.policy(pol({"id": "mode", "type": "file", "path": "/etc/motd", "mode": "0644"},
                              {"id": "dir", "type": "directory", "path": "/etc/d", "mode": "0755"},
                              {"id": "cmd", "type": "command", "exec": ["/bin/true"], "creates": "/etc/made"}))
        for extra in (["--dry-run"], []):
            r = subprocess.run([args.bin, "apply", checks, "--root", s.root, "--state", s.state] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            out = r.stdout.decode(errors="replace")
            kept = [l for l in out.splitlines() if l.startswith("kept ") or "kept=3" in l]
            report(not kept and "kept=0" in out, "root-escape/etc%s" % (" (dry run)" if extra else ""),
                   "exit %d, no check kept on an outside object: %s" % (r.returncode, out.strip().splitlines()[-1][:120]))
        sysctl = s.policy(pol({"id": "k", "type": "sysctl", "key": "victim", "value": "pwned"}), name="s.json")
        for extra in (["--dry-run"], []):
            r = subprocess.run([args.bin, "apply", sysctl, "--root", s.root, "--state", s.state] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            out = r.stdout.decode(errors="replace")
            report("victim-bytes" not in out and r.returncode == 1 and tree(s.outside) == before,
                   "root-escape/sysctl%s" % (" (dry run)" if extra else ""),
                   "exit %d, victim neither printed nor written: %s" % (r.returncode, (out.strip().splitlines() or [""])[0][:140]))
        report(tree(s.outside) == before, "root-escape/outside", "outside unchanged after 4 applies")
    finally:
        s.close()


def case_publish_sources(args):
    s = Sandbox(args)
    try:
        src = os.path.join(s.dir, "src")
        os.makedirs(src)
        subprocess.run([args.bin, "keygen", "--out", os.path.join(s.dir, "k")], stdout=subprocess.DEVNULL, check=True)
        with open(os.path.join(src, "ok.conf"), "w") as f:
            f.write("inside\n")
        os.symlink(os.path.join(s.outside, "secret"), os.path.join(src, "link"))
        shutil.copy(os.path.join(s.dir, "k.key"), os.path.join(src, "renamed.txt"))
        out = os.path.join(s.dir, "out")

        def publish(source, *extra):
            with open(os.path.join(src, "p.json"), "w") as f:
                json.dump(pol({"id": "f", "type": "file", "path": "/etc/f", "source_file": source}), f)
            r = subprocess.run([args.bin, "publish", os.path.join(src, "p.json"), out, "--key", os.path.join(s.dir, "k.key")]
                               + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            blobs = os.listdir(os.path.join(out, "blobs")) if os.path.isdir(os.path.join(out, "blobs")) else []
            return r.returncode, r.stderr.decode(errors="replace").strip(), blobs

        for name, source, extra in (("dotdot-key", "../k.key", []), ("absolute", os.path.join(s.outside, "secret"), []),
                                    ("symlink-out", "link", []), ("key-allowed-outside", "../k.key", ["--allow-outside-sources"]),
                                    ("key-renamed-inside", "renamed.txt", [])):
            rc, err, blobs = publish(source, *extra)
            report(rc == 2 and not blobs and 'promise "f"' in err, "publish-sources/" + name,
                   "exit %d, %d blobs: %s" % (rc, len(blobs), err[:160]))
        rc, err, blobs = publish("ok.conf")
        report(rc == 0 and len(blobs) == 1, "publish-sources/inside", "exit %d, %d blob" % (rc, len(blobs)))
    finally:
        s.close()


def case_symlink_race(args):
    s = Sandbox(args)
    try:
        app = os.path.join(s.root, "app")
        real = os.path.join(s.root, "real")
        os.rmdir(app)
        os.mkdir(real)
        link = os.path.join(s.root, "app-link")
        os.symlink(s.outside, link)
        alt = os.path.join(s.root, "app-dir")
        os.mkdir(alt)
        before = tree(s.outside)
        stop = threading.Event()
        swaps = [0]

        def racer():
            # Atomically alternate /app between a real directory and a symlink to the outside.
            tmp = os.path.join(s.root, "swap")
            while not stop.is_set():
                try:
                    os.symlink(s.outside, tmp)
                    os.rename(tmp, app) if not os.path.isdir(app) or os.path.islink(app) else None
                    if os.path.isdir(app) and not os.path.islink(app):
                        os.rename(app, alt + "-%d" % swaps[0])
                        os.rename(tmp, app)
                    swaps[0] += 1
                    os.unlink(app)
                    os.mkdir(tmp + "d")
                    os.rename(tmp + "d", app)
                    swaps[0] += 1
                except OSError:
                    pass
                finally:
                    for p in (tmp, tmp + "d"):
                        try:
                            os.rmdir(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
                        except OSError:
                            pass

        promises_a = [{"id": "f%d" % i, "type": "file", "path": "/app/f%d" % i, "content": "A%d\n" % i} for i in range(50)]
        promises_b = [{"id": "f%d" % i, "type": "file", "path": "/app/f%d" % i, "content": "B%d\n" % i} for i in range(50)]
        pa, pb = s.policy(pol(*promises_a), "a.json"), s.policy(pol(*promises_b), "b.json")
        t = threading.Thread(target=racer, daemon=True)
        t.start()
        runs = repaired = 0
        deadline = time.monotonic() + args.race_seconds
        while time.monotonic() < deadline:
            rc, out, err, secs, kib = s.apply(pa if runs % 2 == 0 else pb)
            runs += 1
            repaired += out.count("repaired f")
            if tree(s.outside) != before:
                break
        stop.set()
        t.join()
        escaped = tree(s.outside) != before
        report(not escaped and runs > 0, "symlink-race",
               "%d applies (%d file repairs) against %d swaps in %.0f s; outside %s"
               % (runs, repaired, swaps[0], args.race_seconds, "WRITTEN" if escaped else "never written"))
    finally:
        s.close()


def case_many(args):
    n = 10 ** 6 if args.million else 10 ** 5
    s = Sandbox(args)
    try:
        # Directories nest under /m/<k>/ so no directory holds more than 1,000 entries.
        promises = ['{"id":"m","type":"directory","path":"/m"}']
        for k in range(n // 1000):
            promises.append('{"id":"m%d","type":"directory","path":"/m/%d"}' % (k, k))
        for i in range(n - len(promises)):
            promises.append('{"id":"p%d","type":"file","path":"/m/%d/%d","content":""}' % (i, i % (n // 1000), i))
        body = ('{"policy":"many","promises":[' + ",".join(promises) + "]}").encode()
        path = s.policy(body)
        # Every run must succeed and say so in its summary; the apply runs whatever the dry run
        # said (a rejected dry run used to pass and skip the real apply).
        last = lambda out, err: (out.strip().splitlines() or err.strip().splitlines() or [""])[-1]
        before = tree(s.root)
        rc, out, err, secs, kib = s.apply(path, "--dry-run")
        untouched = tree(s.root) == before
        summary = "kept=0 repaired=%d failed=0 skipped=0" % n
        report(rc == 0 and summary in out and untouched, "many-promises/%d-dry-run" % n,
               "%.1f MB policy: exit %d in %.1f s, peak RSS %.0f MiB, root %s: %s"
               % (len(body) / 1e6, rc, secs, kib / 1024, "untouched" if untouched else "WRITTEN",
                  last(out, err)[:120]))
        rc, out, err, secs, kib = s.apply(path)
        files = sum(len(f) for _, _, f in os.walk(os.path.join(s.root, "m")))
        dirs = sum(len(d) for _, d, _ in os.walk(os.path.join(s.root, "m")))
        first_ok = rc == 0 and summary in out and files == n - 1 - n // 1000 and dirs == n // 1000
        rc2, out2, err2, secs2, kib2 = s.apply(path)
        second_ok = rc2 == 0 and ("kept=%d repaired=0 failed=0 skipped=0" % n) in out2
        report(first_ok and second_ok, "many-promises/%d-apply" % n,
               "first apply exit %d in %.1f s, peak RSS %.0f MiB, %d files and %d directories made (%s); "
               "second (all kept) exit %d in %.1f s, %.0f MiB (%s)"
               % (rc, secs, kib / 1024, files, dirs, last(out, err)[:60], rc2, secs2, kib2 / 1024, last(out2, err2)[:60]))
    finally:
        s.close()


def case_permissions(args):
    s = Sandbox(args)
    try:
        rc, out, err, secs, kib = s.apply(s.policy(pol({"id": "f", "type": "file", "path": "/app/x", "content": "x"})))
        st_dir = os.stat(s.state).st_mode & 0o777
        st_data = os.stat(os.path.join(s.state, "data.mdb")).st_mode & 0o777
        report(rc == 0 and st_dir == 0o700 and st_data == 0o600, "permissions/state",
               "state dir %o, data.mdb %o (umask %o)" % (st_dir, st_data, os.umask(os.umask(0))))
        if agentkit.has_command(args.bin, "keygen"):
            key = os.path.join(s.dir, "k")
            old = os.umask(0)  # the agent must not rely on the caller's umask
            try:
                r = subprocess.run([args.bin, "keygen", "--out", key], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            finally:
                os.umask(old)
            secrets = [f for f in os.listdir(s.dir) if f.startswith("k")]
            modes = {f: oct(os.stat(os.path.join(s.dir, f)).st_mode & 0o777) for f in secrets}
            secret_ok = any(m == "0o600" for f, m in modes.items() if not f.endswith(".pub"))
            report(r.returncode == 0 and secret_ok, "permissions/keygen",
                   "umask 000: %s %s" % (modes, r.stderr.decode(errors="replace").strip()[:100]))
        # A service that lists its open fds: only 0, 1, 2 (and ls's own /proc/self/fd) may be there.
        fds = os.path.join(s.dir, "fds.txt")
        svc = s.policy(pol({"id": "lister", "type": "service", "restart": "never",
                            "exec": ["/bin/sh", "-c", "ls -l /proc/self/fd > %s 2>&1; exec sleep 1000" % fds]}), "svc.json")
        cfg = os.path.join(s.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"state_dir": s.state, "root": s.root, "policy": svc, "interval": "60s"}, f)
        agent = subprocess.Popen([args.bin, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (os.path.exists(fds) and os.path.getsize(fds) > 0):
                time.sleep(0.1)
            time.sleep(0.2)
            agent_fds = len(os.listdir("/proc/%d/fd" % agent.pid))
        finally:
            agent.terminate()
            agent.wait(timeout=30)
        lines = [l for l in open(fds).read().splitlines() if "->" in l] if os.path.exists(fds) else []
        extra = [l.split(" ", 8)[-1] for l in lines
                 if l.split()[8] not in ("0", "1", "2") and "/proc/" not in l.split("->")[1]]
        report(bool(lines) and not extra, "permissions/service-fds",
               "the service holds %d fds (%s); the agent holds %d; leaked: %s"
               % (len(lines), ", ".join(l.split()[8] for l in lines), agent_fds, extra or "none"))
    finally:
        s.close()


def case_privileges(args):
    """Issue 12 items 9 and 10: before, the probe ran as root (Uid 0, full capabilities) and a
    numeric user ran with gid 0 and root's supplementary groups."""
    if os.getuid() != 0:
        skip("privileges", "needs root to start services as other users")
        return
    work = tempfile.mkdtemp(prefix="edgeagent-hostile-priv-")
    agent = None
    try:
        os.chmod(work, 0o755)
        out = os.path.join(work, "out")
        os.mkdir(out)
        os.chmod(out, 0o1777)
        root, state = agentkit.root_and_state(work)
        ids = "grep -E '^(Uid|Gid|Groups):' /proc/self/status > %s/%%s.txt" % out
        doc = pol({"id": "numeric", "type": "service", "user": "4242", "group": "4243",
                   "exec": ["/bin/sh", "-c", (ids % "service") + "; exec sleep 1000"],
                   "health": {"exec": ["/bin/sh", "-c", ids % "probe"], "interval": "200ms"}},
                  {"id": "nogroup", "type": "service", "user": "4244",
                   "exec": ["/bin/sh", "-c", "touch %s/nogroup-ran; exec sleep 1000" % out]})
        policy = os.path.join(work, "p.json")
        with open(policy, "w") as f:
            json.dump(doc, f)
        agent = agentkit.Agent(args.bin, work, {"state_dir": state, "root": root, "policy": policy, "interval": "60s"}).start()
        # Waits on what happened, not on a log line, so the figures of a build without the fix show too.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(os.path.exists(os.path.join(out, n)) for n in ("service.txt", "probe.txt")):
            time.sleep(0.1)
        refusals = lambda: [l for _, l in agent.lines if "unable to start service" in l and "nogroup" in l]
        while time.monotonic() < deadline and not refusals() and not os.path.exists(os.path.join(out, "nogroup-ran")):
            time.sleep(0.1)
        refusal = (refusals() or ["no refusal logged"])[0]

        def read(name):
            path = os.path.join(out, name + ".txt")
            if not os.path.exists(path):
                return "missing"
            return " | ".join(" ".join(l.split()) for l in open(path).read().splitlines())
        want = "Uid: 4242 4242 4242 4242 | Gid: 4243 4243 4243 4243 | Groups:"
        svc, probe = read("service"), read("probe")
        report(svc == want, "privileges/service", "numeric user 4242, group 4243: %s" % svc)
        report(probe == want, "privileges/health-exec", "its exec probe: %s" % probe)
        ran = os.path.exists(os.path.join(out, "nogroup-ran"))
        report(not ran and "key=user" in refusal, "privileges/no-gid",
               "user 4244 without passwd entry or group: %s; %s" % ("ran" if ran else "never ran", refusal[:200]))
        rc = agent.stop()
        report(rc == 0, "privileges/exit", "SIGTERM: exit %d" % rc)
    except agentkit.Failure as e:
        report(False, "privileges", str(e)[:400])
    finally:
        if agent and agent.proc.poll() is None:
            agent.kill()
        shutil.rmtree(work, ignore_errors=True)


def case_supervision(args):
    """Issue 12 items 14 and 15: before, a check that never passed was `repaired: starting` for
    ever with failed=0, and a container whose main service exited never ended."""
    work = tempfile.mkdtemp(prefix="edgeagent-hostile-sup-")
    agent = None
    try:
        root, state = agentkit.root_and_state(work)
        policy = os.path.join(work, "p.json")
        with open(policy, "w") as f:
            json.dump(pol({"id": "web", "type": "service", "exec": ["/bin/sleep", "1000"], "start_timeout": "1s",
                           "health": {"tcp": "127.0.0.1:%d" % agentkit.free_port(), "interval": "50ms", "timeout": "100ms"}},
                          {"id": "app", "type": "service", "exec": ["/bin/sleep", "1000"], "after": ["web"]}), f)
        agent = agentkit.Agent(args.bin, work, {"state_dir": state, "root": root, "policy": policy, "interval": "60s"}).start()
        rows = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.2)
            r = agentkit.run([args.bin, "status", "--state", state, "--json"])
            try:
                rows = {p["id"]: p for p in json.loads(r.stdout)["promises"]}
            except ValueError:
                continue
            if rows.get("web", {}).get("status") == "failed" and rows.get("app", {}).get("status") == "skipped":
                break
        web, app = rows.get("web", {}), rows.get("app", {})
        report(web.get("status") == "failed" and "start_timeout" in web.get("reason", "")
               and app.get("status") == "skipped" and '"web"' in app.get("reason", ""), "supervision/start-timeout",
               "web %s (%s), app %s (%s)" % (web.get("status"), web.get("reason", "")[:80], app.get("status"), app.get("reason", "")[:80]))
        agent.stop()
        agent = None
        with open(policy, "w") as f:
            json.dump(pol({"id": "main", "type": "service", "exec": ["/bin/sh", "-c", "sleep 0.3; exit 7"], "main": True},
                          {"id": "side", "type": "service", "exec": ["/bin/sleep", "1000"]}), f)
        shutil.rmtree(state, ignore_errors=True)
        t0 = time.monotonic()
        proc = subprocess.Popen([args.bin, "run", "--container", "--policy", policy, "--root", root, "--state", state,
                                 "--interval", "60s"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=20)
            rc, secs = proc.returncode, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            rc, secs = None, time.monotonic() - t0
        stopped = b'msg="service exited" service=side' in err
        report(rc == 7 and stopped, "supervision/container-main-exit",
               "main exits 7: agent exit %s after %.1f s, the other service %s" % (rc, secs, "stopped" if stopped else "NOT stopped"))
    except agentkit.Failure as e:
        report(False, "supervision", str(e)[:400])
    finally:
        if agent and agent.proc.poll() is None:
            agent.kill()
        shutil.rmtree(work, ignore_errors=True)


def case_relay(args):
    """A running relay (`run --relay`) serves exactly what it verified: bundle.json, its signature,
    the blobs of accepted bundles, /healthz and /metrics. Every other target (traversal in every
    spelling, the state's files by name and by absolute path, blobs never verified) is 4xx with a
    short body; a bundle whose blob was tampered with, or whose signature is foreign, is refused
    and its blobs are never served."""
    if not agentkit.has_command(args.bin, "publish"):
        skip("relay", "no publish command in this binary")
        return
    work = tempfile.mkdtemp(prefix="edgeagent-hostile-relay-")
    agent = None
    try:
        root, state = agentkit.root_and_state(work)
        origin = agentkit.Origin(args.bin, work)
        port = agentkit.free_port()
        doc = {"policy": "relayed", "promises": [
            {"id": "conf", "type": "file", "path": "/etc/relayed.conf", "content": "x\n", "mode": "0644"},
            {"id": "blob", "type": "file", "path": "/etc/blob.bin", "source_file": "b.bin", "mode": "0644"}]}
        origin.publish(doc, 1, {"b.bin": b"verified blob\n" * 100})
        good_blob = hashlib.sha256(b"verified blob\n" * 100).hexdigest()
        config = {"state_dir": state, "root": root, "interval": "200ms", "upstreams": [origin.url],
                  "trusted_keys": [origin.pub], "host_id": "hostile-relay", "relay": "127.0.0.1:%d" % port}
        agent = agentkit.Agent(args.bin, work, config).start()
        agentkit.wait_healthy(port)
        # Serial 2 with a blob tampered with at the origin: refused, its blobs never stored.
        tampered = b"tampered blob\n" * 100
        doc2 = dict(doc, policy="tampered")
        origin.publish(doc2, 2, {"b.bin": tampered})
        t_digest = hashlib.sha256(tampered).hexdigest()
        with open(os.path.join(origin.dir, "blobs", t_digest), "wb") as f:
            f.write(b"not what the bundle says\n" * 100)
        refused = lambda l: "bundle rejected" in l or "unable to accept" in l
        i, _ = agent.wait_line(refused, 20)
        # Serial 3 signed by another key: refused before any blob is fetched.
        stranger = agentkit.Origin(args.bin, os.path.join(work, "stranger"))
        stranger.dir = origin.dir
        other = b"foreign blob\n" * 100
        stranger.publish(dict(doc, policy="foreign"), 3, {"b.bin": other})
        o_digest = hashlib.sha256(other).hexdigest()
        agent.wait_line(refused, 20, start=i + 1)
        data = open(os.path.join(state, "data.mdb"), "rb").read()
        mdb_digest = hashlib.sha256(data).hexdigest()
        targets = ["/data.mdb", "/lock.mdb", "/edgeagent.lock", "/state/data.mdb", state + "/data.mdb", "/../data.mdb",
                   "/../../../../../../" + state.lstrip("/") + "/data.mdb", "/%2e%2e/data.mdb", "/%2E%2E/%2E%2E/etc/passwd",
                   "/blobs/../data.mdb", "/blobs/../../data.mdb", "/blobs/%2e%2e/data.mdb", "/blobs/..%2fdata.mdb",
                   "/blobs/..%5cdata.mdb", "/..\\data.mdb", "//data.mdb", "/./bundle.json", "/bundle.json/..",
                   "/bundle.json/../data.mdb", "/bundle.json%00", "/bundle.json%2f..%2fdata.mdb", "/BUNDLE.JSON",
                   "/metrics/../data.mdb", "/healthz/..", "/blobs/", "/blobs/" + good_blob[:63],
                   "/blobs/" + good_blob + "/..", "/blobs/" + good_blob + "/../../data.mdb", "/blobs/" + good_blob + "%00",
                   "/blobs/" + "0" * 64, "/blobs/" + mdb_digest, "/blobs/" + t_digest,
                   "/blobs/" + o_digest, "/blobs/sha256:" + good_blob, "/etc/passwd", "/proc/self/environ",
                   "/blobs/" + "g" * 64, "/blobs/" + good_blob + good_blob]
        raws = [b"GET http://127.0.0.1/data.mdb HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET data.mdb HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
                b"OPTIONS /bundle.json HTTP/1.1\r\nHost: x\r\n\r\n",
                b"POST /bundle.json HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd",
                b"PUT /blobs/" + t_digest.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd",
                b"GET /bundle.json\x00/../data.mdb HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /bundle.json HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n"]
        bad = []
        statuses = {}
        for t in targets + raws:
            try:
                if isinstance(t, bytes):
                    st, h, body = agentkit.http(port, None, raw=t)
                else:
                    st, h, body = agentkit.http(port, t)
            except (OSError, agentkit.Failure) as e:
                st, body = "closed", b""
            statuses[st] = statuses.get(st, 0) + 1
            if st not in (400, 404, 405, 413, 431, "closed") or len(body) > 64 or b"\x00" in body:
                bad.append("%r: %s (%d bytes)" % (t if isinstance(t, str) else t[:40], st, len(body)))
        report(not bad, "relay/traversal",
               "%d targets, answers %s; anything else served: %s" % (len(targets) + len(raws), statuses, bad or "nothing"))
        # What is served is exactly the verified serial 1.
        served, body, nblobs = agentkit.fetch_and_verify(args.bin, port, origin.pub, os.path.join(work, "fetched"))
        st, _, blob = agentkit.http(port, "/blobs/" + good_blob)
        st2, _, _ = agentkit.http(port, "/blobs/" + t_digest)
        st3, _, _ = agentkit.http(port, "/blobs/" + o_digest)
        ok = served == 1 and body == origin.published[1] and st == 200 and blob == b"verified blob\n" * 100 and st2 == 404 and st3 == 404
        report(ok, "relay/verified-only",
               "serves serial %d (byte-identical to the published one: %s, verify passes, %d blob); tampered serial 2's "
               "blob %d, foreign serial 3's blob %d" % (served, body == origin.published[1], nblobs, st2, st3))
        rc = agent.stop()
        report(rc == 0, "relay/exit", "SIGTERM: exit %d" % rc)
    finally:
        if agent and agent.proc.poll() is None:
            agent.kill()
        shutil.rmtree(work, ignore_errors=True)


def service_pid(agent, service, start=0):
    """The pid of the last `started service` line for `service` from line `start` on."""
    i, _ = agent.wait_line(lambda l: "started service" in l and "service=%s " % service in l + " ", 20, start=start)
    return i, int(agent.lines[i][1].split(" pid=")[1].split()[0])


def zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def held_loop_checks(agent, root, service, label, within=1.0):
    """Kills `service` and edits a managed file; reports whether the loop reaped the killed
    process, restarted the service and repaired the file, each within `within` seconds."""
    i, pid = service_pid(agent, service)
    mark = len(agent.lines)
    conf = os.path.join(root, "etc", "drift.conf")
    t0 = time.monotonic()
    os.kill(pid, 9)
    with open(conf, "w") as f:
        f.write("drifted\n")
    restart = repaired = None
    reaped = False
    while time.monotonic() - t0 < 6 and (restart is None or repaired is None or not reaped):
        now = time.monotonic()
        with agent.cond:
            for t, l in agent.lines[mark:]:
                if restart is None and "started service" in l and "service=%s " % service in l + " ":
                    restart = t - t0
        if repaired is None:
            with open(conf) as f:
                if f.read() == "kept\n":
                    repaired = now - t0
        if not reaped and not zombie(pid):
            reaped = now - t0 < within
        time.sleep(0.01)
    ok = reaped and restart is not None and restart < within and repaired is not None and repaired < within
    fmt = lambda x: "never" if x is None else "%.0f ms" % (x * 1000)
    report(ok, "blocking/" + label, "killed %s (pid %d): reaped %s, restarted in %s; drift repaired in %s (limit %.0f ms)"
           % (service, pid, "yes" if reaped else "NO (zombie)", fmt(restart), fmt(repaired), within * 1000))
    return ok


def case_blocking(args):
    """PID 1's loop must never block: reaping, supervision and drift repair go on while a
    file:// upstream's bundle.json is a FIFO (open() would wait for a writer forever) and while
    a command promise runs for 5 s."""
    if not agentkit.has_command(args.bin, "publish"):
        skip("blocking", "no publish command in this binary")
        return
    work = tempfile.mkdtemp(prefix="edgeagent-hostile-blocking-")
    agent = None
    try:
        root, state = agentkit.root_and_state(work)
        origin = agentkit.Origin(args.bin, work)
        base = [{"id": "svc-a", "type": "service", "exec": ["/bin/sleep", "100000"], "restart": "always"},
                {"id": "svc-b", "type": "service", "exec": ["/bin/sleep", "100000"], "restart": "always"},
                {"id": "drift", "type": "file", "path": "/etc/drift.conf", "content": "kept\n", "mode": "0644"}]
        origin.publish({"policy": "blocking", "promises": base}, 1)
        config = {"state_dir": state, "root": root, "interval": "60s", "pull_interval": "200ms", "upstreams": [origin.url],
                  "trusted_keys": [origin.pub], "host_id": "hostile-blocking"}
        agent = agentkit.Agent(args.bin, work, config).start()
        service_pid(agent, "svc-a")
        service_pid(agent, "svc-b")
        # 1. bundle.json becomes a FIFO with no writer: the pull fails at once, and says why.
        bundle = os.path.join(origin.dir, "bundle.json")
        os.rename(bundle, bundle + ".real")
        os.mkfifo(bundle)
        mark = len(agent.lines)
        try:
            i, _ = agent.wait_line(lambda l: "bundle.json" in l and "FIFO" in l, 5, start=mark)
            report(True, "blocking/fifo-logged", agent.lines[i][1][:200])
        except agentkit.Failure:
            report(False, "blocking/fifo-logged", "no log line names the FIFO within 5 s")
        held_loop_checks(agent, root, "svc-a", "fifo-upstream")
        os.unlink(bundle)
        os.rename(bundle + ".real", bundle)
        # 2. A command promise that runs for 5 s.
        mark = len(agent.lines)
        slow = {"id": "slow", "type": "command", "exec": ["/bin/sleep", "5"]}
        origin.publish({"policy": "blocking", "promises": base + [slow]}, 2)
        deadline = time.monotonic() + 10
        sleeper = None
        while sleeper is None and time.monotonic() < deadline:
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open("/proc/%s/cmdline" % d, "rb") as f:
                            if f.read() == b"/bin/sleep\x005\x00":
                                sleeper = int(d)
                    except OSError:
                        pass
            time.sleep(0.02)
        if sleeper is None:
            report(False, "blocking/command", "the command promise never started")
        else:
            held_loop_checks(agent, root, "svc-b", "command-running")
            running = os.path.exists("/proc/%d" % sleeper) and not zombie(sleeper)
            report(running, "blocking/command-overlap", "the command was %s during the checks"
                   % ("still running" if running else "already over"))
            try:
                i, _ = agent.wait_line(lambda l: "promise=slow" in l and "reason=ran" in l, 15, start=mark)
                report(True, "blocking/command-outcome", agent.lines[i][1][:200])
            except agentkit.Failure:
                report(False, "blocking/command-outcome", "no `repaired promise=slow reason=ran` line within 15 s")
        rc = agent.stop()
        report(rc == 0, "blocking/exit", "SIGTERM: exit %d" % rc)
    except agentkit.Failure as e:
        report(False, "blocking", str(e))
    finally:
        if agent and agent.proc.poll() is None:
            agent.kill()
def raw_controls(data):
    """The control bytes in data a terminal would act on: C0 but newline, DEL, and C1 (UTF-8 C2 80..9F)."""
    found = [b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]
    found += [data[i + 1] for i in range(len(data) - 1) if data[i] == 0xC2 and 0x80 <= data[i + 1] <= 0x9F]
    return found


def case_output_forging(args):
    """Text from a policy or a child reaches the operator escaped, in every output: a newline
    cannot forge a line (a log line, a table row), an ESC, BEL or C1 cannot reach the terminal."""
    s = Sandbox(args)
    agent = None
    forged = "\nts=2026-01-01T00:00:00Z level=info msg=forged\r\x1b]0;pwned\x07\x1b[2J\u009b31m\x7f"
    problems = []

    def check(what, data, forbid_line=b"forged"):
        bad = raw_controls(data)
        if bad:
            problems.append("%s: raw control bytes %s" % (what, sorted(set("%02x" % b for b in bad))))
        if any(l.lstrip().startswith(forbid_line) or l.startswith(b"ts=2026-01-01") for l in data.split(b"\n")):
            problems.append("%s: a forged line" % what)

    try:
        # A rejected policy: the error quotes the path.
        r = agentkit.run([args.bin, "apply", s.policy(pol({"id": "a", "type": "file", "path": "/app/x" + forged + "/../y",
                                                             "content": "x"}), "bad.json"),
                          "--root", s.root, "--state", s.state])
        check("apply error (exit %d)" % r.returncode, r.stdout + r.stderr)
        # A policy whose name, a command's output and reasons hold control bytes.
        script = "printf 'first\\n\\033]0;pwned\\007\\r\\302\\233 31m%s\\177'; exit 3" % "\\nforged"
        doc = {"policy": "hostile" + forged, "promises": [
            {"id": "cmd", "type": "command", "exec": ["/bin/sh", "-c", script]},
            {"id": "conf", "type": "file", "path": "/app/conf", "content": "x" + forged}]}
        path = s.policy(doc)
        r = agentkit.run([args.bin, "apply", path, "--root", s.root, "--state", s.state])
        check("apply (exit %d)" % r.returncode, r.stdout + r.stderr)
        if r.returncode not in (0, 1):
            problems.append("apply exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[:200]))
        r = agentkit.run([args.bin, "status", "--state", s.state])
        check("status", r.stdout + r.stderr)
        r = agentkit.run([args.bin, "status", "--events", "20", "--state", s.state])
        check("status --events", r.stdout + r.stderr)
        r = agentkit.run([args.bin, "status", "--json", "--state", s.state])
        check("status --json", r.stdout + r.stderr)
        if json.loads(r.stdout)["policy"] != doc["policy"]:
            problems.append("status --json: the policy name did not round-trip")
        # The daemon's log: one logfmt line per event, whatever the values hold.
        shutil.rmtree(s.state)
        agent = agentkit.Agent(args.bin, s.dir, {"state_dir": s.state, "root": s.root, "policy": path,
                                                 "interval": "200ms"}).start()
        agent.wait_line(lambda l: "cmd" in l and "exited with status 3" in l, 20)
        agent.stop()
        with open(agent.logpath, "rb") as f:
            log = f.read()
        log = log[:log.rfind(b"[exit ")]
        check("daemon log", log)
        if any(not l.startswith(b"ts=") for l in log.splitlines()):
            problems.append("daemon log: a line that is not an event")
        report(not problems, "output-forging", "; ".join(problems) or
               "apply, its errors, status (text, events, JSON) and %d daemon log lines carry no raw control byte"
               % len(log.splitlines()))
    except agentkit.Failure as e:
        report(False, "output-forging", str(e))
    finally:
        if agent and agent.proc.poll() is None:
            agent.kill()
        s.close()


def case_two_daemons(args):
    """One agent per state directory: the second daemon (and an apply) is refused, exit 111 with
    the holder's pid, before it starts a service; status --json says who holds the state."""
    work = tempfile.mkdtemp(prefix="edgeagent-hostile-two-")
    agents = []
    try:
        root, state = agentkit.root_and_state(work)
        starts = os.path.join(work, "starts")
        policy = os.path.join(work, "p.json")
        with open(policy, "w") as f:
            json.dump(pol({"id": "svc", "type": "service",
                           "exec": ["/bin/sh", "-c", "echo $$ >> %s; exec sleep 1000" % starts]}), f)
        config = {"state_dir": state, "root": root, "policy": policy, "interval": "1s"}
        first = agentkit.Agent(args.bin, work, config, name="first").start()
        agents.append(first)
        first.wait_line(lambda l: "msg=converged" in l, 20)
        second = agentkit.Agent(args.bin, work, config, name="second").start()
        agents.append(second)
        try:
            rc2 = second.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc2 = None
        time.sleep(0.5)
        with open(second.logpath, "rb") as f:
            err2 = f.read().decode(errors="replace")
        r = agentkit.run([args.bin, "apply", policy, "--root", root, "--state", state])
        held = agentkit.status(args.bin, state).get("held_by_pid")
        with open(starts) as f:
            started = f.read().split()
        expect = "is held by pid %d" % first.pid
        ok = (rc2 == 111 and expect in err2 and r.returncode == 111 and expect.encode() in r.stderr
              and len(started) == 1 and held == first.pid and first.proc.poll() is None)
        report(ok, "two-daemons", "second daemon exit %s, apply exit %d, service started %d time(s), held_by_pid %s "
               "(first %d): %s" % (rc2, r.returncode, len(started), held, first.pid,
                                   (err2.strip().splitlines() or [""])[0][:160]))
    except agentkit.Failure as e:
        report(False, "two-daemons", str(e))
    finally:
        for a in agents:
            if a.proc.poll() is None:
                a.stop()
        shutil.rmtree(work, ignore_errors=True)


CASES = {"traversal": case_traversal, "oversized": case_oversized, "nesting": case_nesting, "utf8": case_utf8,
         "duplicates": case_duplicates, "symlink-parent": case_symlink_parent, "symlink-leaf": case_symlink_leaf,
         "symlink-race": case_symlink_race, "root-escape": case_root_escape,
         "publish-sources": case_publish_sources, "many-promises": case_many, "permissions": case_permissions,
         "privileges": case_privileges, "supervision": case_supervision, "relay": case_relay,
         "blocking": case_blocking, "output-forging": case_output_forging,
         "two-daemons": case_two_daemons}
# Hostile relays and upstreams (issue 12 items 5-8), in their own file.
CASES.update({"relay-pin": lambda a: hostile_relay.case_relay_pin(a, report),
              "relay-hog": lambda a: hostile_relay.case_relay_hog(a, report),
              "big-body": lambda a: hostile_relay.case_big_body(a, report, rss_of),
              "same-serial": lambda a: hostile_relay.case_same_serial(a, report)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=default_binary())
    ap.add_argument("--race-seconds", type=float, default=20)
    ap.add_argument("--million", action="store_true", help="10^6 promises (default 10^5)")
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    print("hostile: %s" % args.bin, flush=True)
    for name in args.case or list(CASES):
        CASES[name](args)
    print("hostile: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts, flush=True)
    sys.exit(failed)


if __name__ == "__main__":
    main()
