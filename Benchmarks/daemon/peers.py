"""runit and s6, Debian's packages, supervising the same N `sleep` services as the agent, for
side-by-side figures: idle PSS of the whole supervision tree (runsvdir and its N runsv; s6-svscan
and its N s6-supervise), and crash to restarted as seen from outside.

runit is fetched with `apt-get download` and unpacked with `dpkg -x` into a cache directory and
runs from there. s6-svscan execs /usr/bin/s6-supervise by a path fixed at build time, so s6 has
to be installed (`apt-get install s6`: binaries and libraries only, it starts nothing); without
it s6 is left out and said so. The services live in a temporary directory."""
import glob, os, shutil, signal, statistics, subprocess, sys, tempfile, time

PACKAGES = ["runit"]

def unpack(cache):
    """The unpacked packages' root: cache/root, made once."""
    root = os.path.join(cache, "root")
    if os.path.exists(os.path.join(root, "usr/bin/runsvdir")):
        return root
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run(["apt-get", "download"] + PACKAGES, cwd=cache, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"peers: apt-get download {' '.join(PACKAGES)} failed: {r.stderr.strip()}")
    for deb in glob.glob(os.path.join(cache, "*.deb")):
        subprocess.run(["dpkg", "-x", deb, root], check=True)
    return root

def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out

def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""

def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0

def sleeps(top, sleep_comm="sleep"):
    """{argument: pid} of the sleep services under top."""
    found = {}
    for p in tree(top):
        if comm(p) == sleep_comm:
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
                found[args[1].decode()] = p
            except (OSError, IndexError):
                pass
    return found

def measure(name, argv, scandir, env, services, sleep, samples):
    for i in range(services):
        d = os.path.join(scandir, f"svc{i}")
        os.makedirs(d)
        with open(os.path.join(d, "run"), "w") as f:
            f.write(f"#!/bin/sh\nexec {sleep} {100000 + i}\n")
        os.chmod(os.path.join(d, "run"), 0o755)
    top = subprocess.Popen(argv + [scandir], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while len(sleeps(top.pid)) < services:
            if time.monotonic() > deadline:
                sys.exit(f"peers: {name}: services did not all start within 15 s")
            time.sleep(0.05)
        time.sleep(2.0)  # settle, as for the agent
        supervisors = [p for p in tree(top.pid) if comm(p) != "sleep"]
        r = {f"{name}_pss_kib": sum(pss(p) for p in supervisors), f"{name}_processes": len(supervisors)}
        restarts = []
        for i in range(min(samples, services)):
            arg = str(100000 + i)
            old = sleeps(top.pid)[arg]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            while True:
                new = sleeps(top.pid).get(arg)
                if new and new != old:
                    break
                if time.monotonic() - t0 > 5:
                    sys.exit(f"peers: {name}: svc{i} was not restarted within 5 s")
            restarts.append((time.monotonic() - t0) * 1000)
        r[f"{name}_restart_ms_median"] = round(statistics.median(restarts), 3)
        return r
    finally:
        # runsv and s6-supervise outlive their parent: the whole tree goes, found while it is one.
        procs = tree(top.pid)
        for p in procs:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        top.wait()

def run(cache, services, sleep, samples=5):
    root = unpack(cache)
    # runsvdir finds runsv on PATH.
    env = dict(os.environ, PATH=f"{root}/usr/bin:{root}/usr/sbin:{os.environ.get('PATH', '')}")
    results = {}
    peers = [("runit", [f"{root}/usr/bin/runsvdir", "-P"])]
    if os.path.exists("/usr/bin/s6-supervise") and shutil.which("s6-svscan"):
        peers.append(("s6", [shutil.which("s6-svscan")]))
    else:
        print("peers: s6 left out: /usr/bin/s6-supervise is missing (apt-get install s6)", file=sys.stderr)
    for name, argv in peers:
        t = tempfile.mkdtemp(prefix=f"edgeagent-peer-{name}-")
        try:
            results.update(measure(name, argv, os.path.join(t, "service"), env, services, sleep, samples))
        finally:
            shutil.rmtree(t, ignore_errors=True)
    return results
