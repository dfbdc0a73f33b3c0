#!/usr/bin/env python3
"""edgeagent `apply` beside CFEngine's cf-agent (Debian's cfengine3, 3.21) and a C floor, on the
same generated files: one directory of N files of 64 bytes, distinct content, mode 0644.

For each N and tool, in this order (each tool's sequence runs without the others in between):
  nothing      apply to an empty root: every file created (edgeagent: an empty state too)
  kept-first   the apply right after that: every file already right
  kept-steady  one more kept apply
  drift        1% of the files (every 100th) rewritten with other bytes of the same size,
               then an apply that repairs them
The floor (floor.c, built here with cc -O2 -static) stands beside them: `floor write` (stage
every file, one syncfs, the renames, one directory fsync: the durable work of `nothing`) and
`floor lstat` (one lstat per file: what a kept run cannot avoid). Drift has no floor.

Measured per run, by `floor spawn` (a static C parent: a child forked from Python would report
Python's RSS as its own peak): wall time from fork to wait4, so process start-up counts for
every tool, and peak RSS (wait4's ru_maxrss for that child). Rounds are interleaved: each
round runs every tool on every N, in alternating order. Prints medians and the ratios of medians
(edgeagent/floor, cf-agent/edgeagent) as a Markdown table, and every sample as JSON (--json).
Every run is checked: exit status 0, and after it the directory holds exactly the N files with
the right content and mode (kept runs must also leave every file's inode and mtime alone).

cf-agent is fetched with `apt-get download` and unpacked with `dpkg -x` (with the libraries
this host lacks) into --cache, never installed. It runs as `cf-agent -K -w WORKDIR` with the
policy as WORKDIR/inputs/promises.cf; the work directory is made afresh each round and the
policy validated there untimed first (a run of an empty bundle), as a deployed agent's is: so
cf-promises' validation is not in the figures, and cf-agent writes nothing outside the
temporary directory. If it cannot be fetched or run, it is left out and said so.

usage: run.py [--binary PATH] [--sizes 100,1000,10000] [--rounds 5] [--tmp DIR] [--cache DIR] [--json FILE|-]
Everything runs in a temporary directory under --tmp (default /dev/shm, a tmpfs, else TMPDIR)."""
import argparse, datetime, glob, json, os, shutil, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "../.."))
# cfengine3 and the libraries a stock Debian 12 lacks for it (found with ldd); the others
# (libssl3, libxml2, liblmdb0, ...) are the host's.
PACKAGES = ["cfengine3", "libpromises3", "libpcre3", "libvirt0", "libyajl2", "libssh-4"]
CASES = ["nothing", "kept-first", "kept-steady", "drift"]
TOOLS = ["edgeagent", "cf-agent", "floor"]

def content(i):
    """File i's 64 bytes; floor.c writes the same."""
    return f"file {i:05d} {'of the peers workload':<52}\n"

def drifted(i):
    # Same size, other bytes: a size check alone cannot see it.
    return f"drift {i:05d} {'of the peers workload':<51}\n"

def unpack(cache):
    """cf-agent's environment (LD_LIBRARY_PATH) and path, or None with the reason printed."""
    root = os.path.join(cache, "root")
    agent = os.path.join(root, "usr/bin/cf-agent")
    if not os.path.exists(agent):
        os.makedirs(cache, exist_ok=True)
        r = subprocess.run(["apt-get", "download"] + PACKAGES, cwd=cache, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"peers: cf-agent left out: apt-get download failed: {r.stderr.strip()}", file=sys.stderr)
            return None
        for deb in glob.glob(os.path.join(cache, "*.deb")):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
    libs = ":".join(os.path.join(root, d) for d in ["usr/lib", "usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"])
    env = dict(os.environ, LD_LIBRARY_PATH=libs)
    missing = [l.split()[0] for l in subprocess.run(["ldd", agent], env=env, capture_output=True, text=True).stdout.splitlines()
               if "not found" in l]
    if missing:
        print(f"peers: cf-agent left out: libraries not found: {' '.join(missing)}", file=sys.stderr)
        return None
    return env, root

def write_policies(n, ea_path, cf_path, cf_root):
    promises = [{"id": "d", "type": "directory", "path": "/d", "mode": "0755"}]
    promises += [{"id": f"f{i:05d}", "type": "file", "path": f"/d/f{i:05d}", "content": content(i), "mode": "0644"}
                 for i in range(n)]
    with open(ea_path, "w") as f:
        json.dump({"policy": f"peers-{n}", "promises": promises}, f)
    # cf-agent takes absolute paths, so its root is fixed and emptied before each run. A
    # newline inside a CFEngine string is literal (no escapes); rxdirs is set only to silence
    # a warning per promise and pass.
    with open(cf_path, "w") as f:
        f.write('body common control { bundlesequence => { "main" }; }\n'
                'body perms file_mode { mode => "0644"; rxdirs => "false"; }\n'
                'body perms dir_mode { mode => "0755"; rxdirs => "false"; }\n'
                'bundle agent noop { }\n'
                'bundle agent main {\nfiles:\n'
                f'  "{cf_root}/d/." create => "true", perms => dir_mode;\n')
        for i in range(n):
            f.write(f'  "{cf_root}/d/f{i:05d}" create => "true", content => "{content(i)}", perms => file_mode;\n')
        f.write("}\n")

def spawn(floor, argv, env=None, log=None):
    """(wall seconds, peak RSS KiB, exit code) of one run of argv, as `floor spawn` measures it
    (fork to wait4, and wait4's ru_maxrss): see floor.c for why not from here."""
    r = subprocess.run([floor, "spawn", log or os.devnull] + argv, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"peers: floor spawn {argv[0]}: {r.stderr.strip()}")
    ns, rss, code = (int(x) for x in r.stdout.split())
    return ns / 1e9, rss, code

def check(d, n, drift_set=(), before=None):
    """Exits unless d holds exactly f00000..f(n-1) with their content (drifted ones restored)
    and mode 0644; with `before`, unless each file's inode and mtime are still those. Returns
    the (inode, mtime) of each file."""
    names = sorted(os.listdir(d))
    want = [f"f{i:05d}" for i in range(n)]
    if names != want:
        extra, lost = set(names) - set(want), set(want) - set(names)
        raise SystemExit(f"peers: {d}: {len(lost)} files missing, {len(extra)} unexpected (e.g. {sorted(extra)[:3]})")
    ids = []
    for i, name in enumerate(want):
        p = os.path.join(d, name)
        st = os.lstat(p)
        with open(p) as f:
            if f.read() != content(i) or st.st_mode & 0o7777 != 0o644:
                raise SystemExit(f"peers: {p}: wrong content or mode {oct(st.st_mode)}")
        ids.append((st.st_ino, st.st_mtime_ns))
    if before is not None:
        touched = [i for i in range(n) if ids[i] != before[i] and i not in drift_set]
        if touched:
            raise SystemExit(f"peers: {d}: a kept file was rewritten: f{touched[0]:05d} ({len(touched)} in all)")
    return ids

def drift(d, n):
    picked = range(0, n, 100)
    for i in picked:
        with open(os.path.join(d, f"f{i:05d}"), "w") as f:
            f.write(drifted(i))
    return set(picked)

def run_tool(tool, n, base, binary, floor, cf):
    """One tool's four cases on N files, from an empty root: {case: (wall, rss)}."""
    # Roots are shallow (base/c/d/f00000, 5 components under /): cf-agent opens every path one
    # component at a time from / (4 syscalls a level), so depth is charged to it per open.
    root = os.path.join(base, tool[0])
    d, log = os.path.join(root, "d"), os.path.join(base, "log")
    state, work = os.path.join(base, tool + "-state"), os.path.join(base, tool + "-work")
    for old in [root, state, work]:
        shutil.rmtree(old, ignore_errors=True)
    os.makedirs(root)
    argv, env = None, None
    if tool == "edgeagent":
        argv = [binary, "apply", os.path.join(base, f"policy-{n}.json"), "--root", root, "--state", state, "--quiet"]
    elif tool == "cf-agent":
        env, cfroot = cf
        os.makedirs(os.path.join(work, "inputs"))
        os.makedirs(os.path.join(work, "bin"))
        # cf-agent validates a policy by running WORKDIR/bin/cf-promises.
        os.symlink(os.path.join(cfroot, "usr/bin/cf-promises"), os.path.join(work, "bin/cf-promises"))
        shutil.copy(os.path.join(base, f"policy-{n}.cf"), os.path.join(work, "inputs/promises.cf"))
        argv = [os.path.join(cfroot, "usr/bin/cf-agent"), "-K", "-w", work]
        # Untimed: validate the policy (cf-agent records it and skips cf-promises from then on).
        if spawn(floor, argv + ["-b", "noop"], env, log)[2] != 0 or os.path.exists(d):
            raise SystemExit(f"peers: cf-agent could not validate its policy: {open(log).read()[-2000:]}")
    out = {}
    def timed(case, args):
        wall, rss, rc = spawn(floor, args, env, log)
        if rc != 0:
            raise SystemExit(f"peers: {tool} {case} N={n} exited {rc}: {open(log).read()[-2000:]}")
        out[case] = (wall, rss)
    if tool == "floor":
        timed("nothing", [floor, "write", d, str(n)])
        check(d, n)
        timed("kept-first", [floor, "lstat", d, str(n)])
        timed("kept-steady", [floor, "lstat", d, str(n)])
        return out
    timed("nothing", argv)
    ids = check(d, n)
    timed("kept-first", argv)
    check(d, n, before=ids)
    timed("kept-steady", argv)
    check(d, n, before=ids)
    picked = drift(d, n)
    ids = [(st.st_ino, st.st_mtime_ns) for st in (os.lstat(os.path.join(d, f"f{i:05d}")) for i in range(n))]
    timed("drift", argv)
    check(d, n, drift_set=picked, before=ids)
    return out

def ratio(a, b):
    return f"{a / b:.1f}" if a and b else ""

def table(results):
    rows = ["| N | case | edgeagent ms | cf-agent ms | floor ms | edgeagent / floor | cf-agent / edgeagent "
            "| edgeagent RSS KiB | cf-agent RSS KiB | floor RSS KiB |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, cases in results.items():
        for case, by in cases.items():
            med = {t: by[t]["wall_ms_median"] if t in by else None for t in TOOLS}
            rss = {t: by[t]["rss_kib_median"] if t in by else None for t in TOOLS}
            cell = lambda v, f="{:,.1f}": f.format(v) if v is not None else "-"
            rows.append(f"| {int(n):,} | {case} | {cell(med['edgeagent'])} | {cell(med['cf-agent'])} | {cell(med['floor'])} "
                        f"| {ratio(med['edgeagent'], med['floor']) or '-'} | {ratio(med['cf-agent'], med['edgeagent']) or '-'} "
                        f"| {cell(rss['edgeagent'], '{:,}')} | {cell(rss['cf-agent'], '{:,}')} | {cell(rss['floor'], '{:,}')} |")
    return "\n".join(rows)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "out/edgeagent-x86_64"))
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tmp", default="/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir())
    ap.add_argument("--cache", default=os.path.join(REPO, "out/peers"))
    ap.add_argument("--json", metavar="FILE", help="also write every sample as JSON to FILE (- for stdout, then no table)")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    binary = os.path.abspath(a.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"peers: no edgeagent binary at {binary} (--binary)")
    cf = unpack(os.path.abspath(a.cache))
    tools = [t for t in TOOLS if t != "cf-agent" or cf]
    base = tempfile.mkdtemp(prefix="edgeagent-peers-", dir=a.tmp)
    try:
        floor = os.path.join(base, "floor")
        subprocess.run(["cc", "-O2", "-static", "-o", floor, os.path.join(HERE, "floor.c")], check=True)
        for n in sizes:
            write_policies(n, os.path.join(base, f"policy-{n}.json"), os.path.join(base, f"policy-{n}.cf"),
                           os.path.join(base, "c"))
        samples = {n: {c: {t: [] for t in tools} for c in CASES} for n in sizes}
        for r in range(a.rounds):
            order = tools if r % 2 == 0 else tools[::-1]
            for n in sizes:
                for tool in order:
                    for case, v in run_tool(tool, n, base, binary, floor, cf).items():
                        samples[n][case][tool].append(v)
            print(f"peers: round {r + 1}/{a.rounds} done", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    results = {str(n): {c: {t: {"wall_ms": [round(w * 1000, 2) for w, _ in v], "rss_kib": [k for _, k in v],
                                "wall_ms_median": round(statistics.median(w for w, _ in v) * 1000, 2),
                                "rss_kib_median": int(statistics.median(k for _, k in v))}
                            for t, v in by.items() if v}
                        for c, by in cases.items()}
               for n, cases in samples.items()}
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.split("\n")[0]
    meta = {"binary": binary, "edgeagent_version": version, "tools": tools, "sizes": sizes, "rounds": a.rounds,
            "tmp": a.tmp, "cores": os.cpu_count(), "load": os.getloadavg(),
            "date": datetime.datetime.now().isoformat(timespec="minutes")}
    if a.json == "-":
        print(json.dumps(dict(meta, results=results), indent=1))
    elif a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(dict(meta, results=results), indent=1) + "\n")
    if a.json != "-":
        print(f"{meta['date']}, {meta['cores']} cores, load {', '.join(f'{l:.2f}' for l in meta['load'])}, "
              f"tmp {a.tmp}, rounds {a.rounds}, medians; {version}")
        print(table(results))

if __name__ == "__main__":
    main()
