import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost

/// `edgeagent run [--config FILE] [flags that override it]`
enum RunCommand {
  static let usage = """
    usage: edgeagent run [--config FILE] [--policy FILE] [--root DIR] [--state DIR] [--interval DURATION]
                         [--label NAME]... [--log-format logfmt|json] [--container] [--relay ADDR:PORT] [--relay-url URL]
                         [--metrics ADDR:PORT] [--collect ADDR:PORT]

    The daemon: converges at start, on a timer with a per-host splay, at once on SIGHUP or a
    policy file change, and for just the touched promises when a managed path drifts; supervises
    the policy's services. As PID 1 it mounts /proc, /sys, /dev and /run, reaps every orphan, and
    on SIGTERM, SIGINT or SIGPWR stops the services in reverse order, syncs and powers off.
      --config FILE      JSON config (keys: state_dir, root, policy, interval, pull_interval, labels,
                         log_format, container, host_id, upstreams, trusted_keys, relay, relay_url, metrics,
                         collect, collectors, report_interval, agent_trial, crash_loop_count, crash_loop_window,
                         modules, mounts); flags override it
      --state DIR        the state (default /var/lib/edgeagent; under --root when a root is given)
      --metrics ADDR:PORT  serve GET /metrics (Prometheus text) and /healthz (200 while converging)
      --collect ADDR:PORT  be the fleet's collector: take signed host reports (POST /report) and serve
                         the fleet: GET / (a page), /fleet, /fleet/hosts?failed=1|stale=1|serial=N|host=ID
      --container        on shutdown, exit with the main service's status instead of powering off;
                         when the main service exits on its own, stop the others and exit with it
    As PID 1 with no arguments (the kernel's /init), it runs with --config /etc/edgeagent/config.json,
    loads the config's kernel modules and mounts its filesystems before opening the state.
    Logs go to stderr, one line per event. Exit: 0 after a clean shutdown, 2 bad config, 111 system error.

    """

  /// `started`: monotonic ns at the process's entry, for the first `converged` line;
  /// `kernelInit`: the kernel ran us as /init.
  static func run(_ args: ArraySlice<String>, started: UInt64, kernelInit: Bool = false) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--config", "--policy", "--root", "--state", "--interval", "--label",
                                         "--log-format", "--relay", "--relay-url", "--host-id", "--metrics", "--collect"], flags: ["--container"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("run takes no arguments") }
      var config = DaemonConfig()
      if let path = o.value("--config") {
        do throws(AgentError) { config = try DaemonConfig.load(path) } catch {
          writeError(heading: "run: config rejected:", error)
          return exitCode(for: error)
        }
      }
      if let v = o.value("--policy") { config.policy = v }
      if let v = o.value("--root") { config.root = v }
      if let v = o.value("--state") { config.stateDir = v }
      if let v = o.value("--host-id") { config.hostID = v }
      if let v = o.value("--relay") { config.relay = v }
      if let v = o.value("--relay-url") { config.relayURL = v }
      if let v = o.value("--metrics") { config.metrics = v }
      if let v = o.value("--collect") { config.collect = v }
      if let v = o.value("--interval") {
        guard let ms = parseDuration(v), ms >= 100, ms <= 86_400_000 else { throw UsageError("--interval needs a duration from 100ms to 1d, e.g. 60s or 1m30s") }
        config.intervalMs = UInt32(ms)
      }
      config.labels += o.all("--label")
      if let f = o.value("--log-format") {
        guard f == "json" || f == "logfmt" else { throw UsageError("--log-format is logfmt or json") }
        config.logJSON = f == "json"
      }
      if o.has("--container") { config.container = true }
      do throws(AgentError) {
        let daemon = try Daemon(config, startedNs: started, kernelInit: kernelInit)
        return daemon.run()
      } catch {
        writeError("run", "\(error)")
        return exitCode(for: error)
      }
    }
  }
}
