"""Shared pieces of the chaos scripts that drive a daemon: a signing origin (keygen, publish to a
`file://` directory), a running `edgeagent run` whose log lines are timestamped as they arrive,
and a plain HTTP/1.1 client for the relay (one request per connection, as the relay answers).

Imported by chaos.py (scenarios bundle and relay), relayload.py and hostile.py (case relay).
"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time

TEMP_SUFFIX = ".edgeagent-new"


class Failure(Exception):
    pass


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, **kw)


def skip(what, reason):
    """A check that cannot run here is not a pass: print it, and append it to $EDGE_SKIP_LOG
    (test.sh counts those lines, and with CI=true fails on any)."""
    print("SKIP %s: %s" % (what, reason), flush=True)
    path = os.environ.get("EDGE_SKIP_LOG")
    if path:
        with open(path, "a") as f:
            f.write("%s: %s\n" % (what, reason))


def has_command(binary, name):
    """Whether `binary --help` lists the command `name` (an older binary may lack publish)."""
    r = run([binary, "--help"])
    return (" " + name + " ") in (r.stdout + r.stderr).decode(errors="replace")


def root_and_state(work):
    """`work`/root, made empty (the managed root), and `work`/state, left for the agent to make."""
    root, state = os.path.join(work, "root"), os.path.join(work, "state")
    os.mkdir(root)
    return root, state


def check_lmdb(state, dump=True):
    """The environment opens and (with dump) every page of every database reads."""
    r = run(["mdb_stat", "-a", state])
    if r.returncode != 0:
        raise Failure("mdb_stat -a failed: " + r.stderr.decode(errors="replace").strip())
    if dump:
        with open(os.devnull, "wb") as null:
            r = subprocess.run(["mdb_dump", "-a", state], stdout=null, stderr=subprocess.PIPE, timeout=600)
        if r.returncode != 0:
            raise Failure("mdb_dump -a failed: " + r.stderr.decode(errors="replace").strip())


def state_files(state):
    """Anything in the state directory besides LMDB's two files, the agent's lock and the services'
    logs is a leak."""
    return sorted(f for f in os.listdir(state) if f not in ("data.mdb", "lock.mdb", "edgeagent.lock", "logs"))


def status(binary, state):
    r = run([binary, "status", "--json", "--state", state])
    if r.returncode not in (0, 1):  # 1: the state holds a failed promise, which callers look for
        raise Failure("status failed (%d): %s" % (r.returncode, r.stderr.decode(errors="replace").strip()))
    return json.loads(r.stdout)


def temporaries(root):
    found = []
    for d, _, files in os.walk(root):
        found += [os.path.join(d, f) for f in files if f.endswith(TEMP_SUFFIX)]
    return found


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Origin:
    """A key pair and a bundle directory served as `file://`; remembers every published bundle."""

    def __init__(self, binary, work):
        self.bin = binary
        self.work = work
        self.dir = os.path.join(work, "origin")
        self.src = os.path.join(work, "src")
        os.makedirs(self.src, exist_ok=True)
        self.key = os.path.join(work, "k")
        r = run([binary, "keygen", "--out", self.key])
        if r.returncode != 0:
            raise Failure("keygen failed: %s" % r.stderr.decode(errors="replace"))
        self.pub = self.key + ".pub"
        self.published = {}  # serial -> bundle.json bytes

    @property
    def url(self):
        return "file://" + self.dir

    def publish(self, doc, serial, blobs=None):
        """Signs `doc` (a source policy; `source_file` names keys of `blobs`) as `serial`."""
        d = os.path.join(self.src, "s%d" % serial)
        os.makedirs(d, exist_ok=True)
        for name, data in (blobs or {}).items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        src = os.path.join(d, "policy.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        r = run([self.bin, "publish", src, self.dir, "--key", self.key + ".key", "--serial", str(serial)])
        if r.returncode != 0:
            raise Failure("publish %d failed: %s" % (serial, r.stderr.decode(errors="replace")))
        # The source blobs are in the origin now (blobs/<sha256>); keep the work dir small.
        for name in (blobs or {}):
            os.unlink(os.path.join(d, name))
        with open(os.path.join(self.dir, "bundle.json"), "rb") as f:
            self.published[serial] = f.read()
        return self.published[serial]


class Agent:
    """`edgeagent run --config CFG` with its stderr lines timestamped (monotonic) as they arrive."""

    def __init__(self, binary, work, config, name="agent"):
        self.bin = binary
        self.cfg = os.path.join(work, name + ".config.json")
        with open(self.cfg, "w") as f:
            json.dump(config, f)
        self.config = config
        self.logpath = os.path.join(work, name + ".log")
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()

    def start(self):
        self.lines = []
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([self.bin, "run", "--config", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        proc = self.proc
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        return self

    def _read(self, proc):
        log = open(self.logpath, "ab")
        for line in proc.stderr:
            log.write(line)
            log.flush()
            with self.cond:
                self.lines.append((time.monotonic(), line.decode(errors="replace").rstrip("\n")))
                self.cond.notify_all()
        log.write(b"[exit %r]\n" % (proc.wait(),))
        log.close()
        with self.cond:
            self.cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def wait_line(self, pred, timeout, start=0):
        """Index and time (since start()) of the first line from `start` on that satisfies pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i][1]):
                        return i, self.lines[i][0] - self.t0
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and i >= len(self.lines):
                    tail = "\n".join(l for _, l in self.lines[-5:])
                    raise Failure("agent: no expected log line within %.0f s (exit %s); last lines:\n%s"
                                  % (timeout, self.proc.poll(), tail))
                self.cond.wait(min(left, 0.2))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=30):
        """SIGTERM and the exit code (a daemon that is not PID 1 exits after a clean shutdown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("agent did not exit within %d s of SIGTERM" % timeout)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_kib(self, field="VmRSS"):
        """Resident KiB now (VmRSS) or the process's high-water mark (VmHWM)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0


def http(port, target, method="GET", headers=(), timeout=10.0, raw=None):
    """One request to 127.0.0.1:port. Returns (status, {lowercase field: value}, body), or raises
    OSError / Failure on a truncated or malformed answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if raw is None:
            req = "%s %s HTTP/1.1\r\nHost: relay\r\n" % (method, target)
            for k, v in headers:
                req += "%s: %s\r\n" % (k, v)
            raw = (req + "\r\n").encode()
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise Failure("truncated head (%d bytes)" % len(data))
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise Failure("bad status line %r" % lines[0])
    fields = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        fields[k.strip().lower()] = v.strip()
    n = int(fields.get("content-length", "-1"))
    if method != "HEAD" and n >= 0 and len(body) != n and int(parts[1]) != 304:
        raise Failure("truncated body: %d of %d bytes" % (len(body), n))
    return int(parts[1]), fields, body


def wait_healthy(port, timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            st, _, body = http(port, "/healthz", timeout=2)
            if st == 200:
                return body
            last = "%d %r" % (st, body)
        except (OSError, Failure) as e:
            last = str(e)
        time.sleep(0.02)
    raise Failure("relay not healthy within %d s: %s" % (timeout, last))


def fetch_and_verify(binary, port, pub, into):
    """Downloads bundle.json, its signature and every blob it lists from the relay into `into`
    and runs `edgeagent verify` on it. Returns (serial, bundle.json bytes, blob count)."""
    os.makedirs(os.path.join(into, "blobs"), exist_ok=True)
    for f in os.listdir(os.path.join(into, "blobs")):
        os.unlink(os.path.join(into, "blobs", f))
    st, h, bundle = http(port, "/bundle.json")
    if st != 200:
        raise Failure("GET /bundle.json: %d" % st)
    st, h2, sig = http(port, "/bundle.json.sig")
    if st != 200:
        raise Failure("GET /bundle.json.sig: %d" % st)
    doc = json.loads(bundle)
    blobs = doc.get("blobs", {})
    for digest, size in blobs.items():
        st, _, data = http(port, "/blobs/" + digest)
        if st != 200 or len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise Failure("blob %s: status %d, %d bytes, hash mismatch" % (digest[:12], st, len(data)))
        with open(os.path.join(into, "blobs", digest), "wb") as f:
            f.write(data)
    with open(os.path.join(into, "bundle.json"), "wb") as f:
        f.write(bundle)
    with open(os.path.join(into, "bundle.json.sig"), "wb") as f:
        f.write(sig)
    r = run([binary, "verify", into, "--pubkey", pub])
    if r.returncode != 0:
        raise Failure("verify of what the relay served failed (%d): %s" % (r.returncode, (r.stdout + r.stderr).decode(errors="replace")[-300:]))
    if h.get("x-edge-serial") != str(doc["serial"]):
        raise Failure("X-Edge-Serial %r but bundle serial %r" % (h.get("x-edge-serial"), doc["serial"]))
    return doc["serial"], bundle, len(blobs)
