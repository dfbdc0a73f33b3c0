#!/usr/bin/env python3
"""Measures `edgeagent run` supervising N services (issue 4's targets):

  idle memory   RSS and PSS of the agent process alone (/proc/PID/smaps_rollup), after settling
  restart       crash to restarted: SIGKILL a service, time until its new process exists
                (first restarts only, which the supervisor does at once), median over samples,
                as seen from outside (this script polls) and as the agent logs it (restart_us:
                exit reaped to new process running; independent of the observer's scheduling)
  idle wakeups  syscalls the idle agent makes in a window (strace -c -f), and context switches
                from /proc/PID/status

  --peers       the same services under runit and s6 (Debian's packages, peers.py): the PSS of
                their whole supervision tree and crash to restarted, beside the agent's

usage: bench_daemon.py [--binary PATH] [--services 10] [--rounds 3] [--idle-seconds 5] [--peers]
Prints a table and a JSON line. Runs everything in a temporary root and state; loopback only."""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--binary", default=os.path.join(here, "../../.build-emb/release/edgeagent"))
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=5)
    ap.add_argument("--peers", action="store_true")
    ap.add_argument("--peers-cache", default="/tmp/edgeagent-peers")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    sleep = shutil.which("sleep")
    results = {"binary": binary, "services": a.services}
    restarts = []
    reactions = []  # the agent's own figure: exit reaped to new process running (restart_us)
    for rnd in range(a.rounds):
        t = tempfile.mkdtemp(prefix="edgeagent-daemon-bench-")
        try:
            os.mkdir(f"{t}/root")
            promises = [{"id": f"svc{i}", "type": "service", "exec": [sleep, str(100000 + i)]} for i in range(a.services)]
            with open(f"{t}/policy.json", "w") as f:
                json.dump({"policy": "bench-daemon", "promises": promises}, f)
            agent = subprocess.Popen([binary, "run", "--policy", f"{t}/policy.json", "--root", f"{t}/root",
                                      "--state", f"{t}/state", "--interval", "1h"],
                                     stderr=open(f"{t}/agent.log", "w"))
            try:
                pids = wait_services(agent.pid, a.services, sleep)
                if rnd == 0:
                    # Settle: the first records are written, and the agent, quiet for a second,
                    # lets go of its code's mappings (EdgeLoop/ImageRelease.swift).
                    time.sleep(2.0)
                    results.update(memory(agent.pid))
                    results.update(idle(agent.pid, a.idle_seconds))
                for i in range(a.services):
                    old = pids[f"{100000 + i}"]
                    t0 = time.monotonic()
                    os.kill(old, signal.SIGKILL)
                    new = None
                    deadline = t0 + 5
                    while time.monotonic() < deadline:
                        new = find_child(agent.pid, sleep, str(100000 + i), exclude=old)
                        if new:
                            break
                    if new is None:
                        sys.exit(f"service svc{i} was not restarted within 5 s")
                    restarts.append((time.monotonic() - t0) * 1000)
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=20)
                with open(f"{t}/agent.log") as f:
                    for line in f:
                        for field in line.split():
                            if field.startswith("restart_us="):
                                reactions.append(int(field.split("=")[1]) / 1000)
        finally:
            shutil.rmtree(t, ignore_errors=True)
    restarts.sort()
    results["restart_ms_median"] = round(statistics.median(restarts), 3)
    results["restart_ms_p90"] = round(restarts[int(len(restarts) * 0.9) - 1], 3)
    results["restart_samples"] = len(restarts)
    reactions.sort()
    if reactions:
        results["agent_restart_ms_median"] = round(statistics.median(reactions), 3)
        results["agent_restart_ms_max"] = round(reactions[-1], 3)
    if a.peers:
        import peers
        results.update(peers.run(a.peers_cache, a.services, sleep))
    for k, v in results.items():
        print(f"{k:24} {v}")
    print(json.dumps(results))

def children(pid):
    # One read of the agent's own child list: polling costs microseconds, not a /proc scan.
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []

def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []

def find_child(agent, sleep, arg, exclude):
    for c in children(agent):
        if c != exclude and cmdline(c)[:2] == [sleep.encode(), arg.encode()]:
            return c
    return None

def wait_services(agent, n, sleep):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = {}
        for c in children(agent):
            cl = cmdline(c)
            if len(cl) >= 2 and cl[0] == sleep.encode():
                found[cl[1].decode()] = c
        if len(found) == n:
            return found
        time.sleep(0.02)
    sys.exit("services did not all start within 10 s")

def memory(pid):
    r = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("Rss", "Pss", "Pss_Anon", "Pss_File"):
                r[f"agent_{k.lower()}_kib"] = int(v.split()[0])
    return r

def idle(pid, seconds):
    def switches():
        with open(f"/proc/{pid}/status") as f:
            return sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
    c0 = switches()
    r = {"idle_seconds": seconds}
    if shutil.which("strace"):
        p = subprocess.run(["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", "-p", str(pid)],
                           capture_output=True, text=True)
        calls = 0
        for line in p.stderr.splitlines():
            parts = line.split()
            if parts and parts[-1] == "total":
                calls = int(parts[3]) if len(parts) >= 5 else int(parts[2])
        r["idle_syscalls"] = calls
    else:
        time.sleep(seconds)
    r["idle_context_switches"] = switches() - c0
    return r

if __name__ == "__main__":
    main()
