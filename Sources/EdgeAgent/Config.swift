import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// The daemon's configuration: one JSON file (`run --config`), every key optional, command-line
/// flags override it. Unknown keys are rejected with their line:column, as in policies.
public struct DaemonConfig {
  /// The state directory: as named (`state_dir`, `--state`), else the default under `root`.
  public var stateDir: String {
    get { namedStateDir ?? StateLayout.directory(forRoot: root) }
    set { namedStateDir = newValue }
  }
  var namedStateDir: String? = nil
  public var root = "/"
  /// A local policy file; nil when policies arrive only as bundles.
  public var policy: String? = nil
  /// Milliseconds between convergences (besides those a file change or SIGHUP starts).
  public var intervalMs: UInt32 = 60_000
  /// Milliseconds between bundle pulls when no upstream long-polls; nil: `intervalMs`. Only the
  /// relays of the first tier talk to the origin, so they can afford to ask often.
  public var pullIntervalMs: UInt32? = nil
  public var labels: [String] = []
  public var logJSON = false
  /// In a container: exit with the main service's status instead of powering off.
  public var container = false
  /// Overrides the host id kept in the state (for tests; the splay derives from it).
  public var hostID: String? = nil
  /// Bundle sources, trusted public keys and the relay address (see DESIGN.md §8).
  public var upstreams: [String] = []
  public var trustedKeys: [String] = []
  public var relay: String? = nil
  /// Where upstream host names are looked up (a box may keep them elsewhere, and tests do).
  public var hostsFile = "/etc/hosts"
  public var resolvConf = "/etc/resolv.conf"
  /// The URL under which bundles list this relay (`http://HOST:PORT`), when it differs from
  /// `http://` + `relay` (a relay listening on 0.0.0.0, behind NAT, or by name). It places the
  /// relay in the bundle's relay tree.
  public var relayURL: String? = nil
  /// Where to serve /metrics and /healthz (IPv4-ADDRESS:PORT, e.g. 127.0.0.1:9100); nil: nowhere
  /// but a relay's own address.
  public var metrics: String? = nil
  /// Where this agent is the fleet's collector (IPv4-ADDRESS:PORT): it takes host reports and
  /// serves the fleet view (issue 16); nil: it is not.
  public var collect: String? = nil
  /// Where the top of the relay tree (and an agent with no relay above it) sends host reports:
  /// collectors' http:// URLs, tried in order.
  public var collectors: [String] = []
  /// A file listing the hosts whose reports a relay or collector takes, one `HOST_ID PUBLIC_KEY`
  /// (64 hex digits) per line, `#` comments; nil: any host, its key pinned on first sight.
  public var allowedHosts: String? = nil
  /// Milliseconds between this host's report heartbeats (and a relay's forwarding period).
  public var reportIntervalMs: UInt32 = 300_000
  /// Where the crash-loop rule trips: exits within a window.
  public var crashLoopCount = 5
  public var crashLoopWindowMs: UInt32 = 60_000
  /// As PID 1, before the state is opened: kernel modules to load, in order (`.ko` paths; an
  /// initramfs has no modprobe, so dependencies come first), then filesystems to mount (the
  /// state disk, a bundle source). A failure is logged and boot goes on.
  public var modules: [String] = []
  public var mounts: [MountSpec] = []
  /// How long a new agent binary must run after its first full convergence, without a crash,
  /// before it commits itself (`agent_trial`).
  public var agentTrialMs: UInt32 = 60_000
  /// The file this config was read from (nil: flags only): an update's self-test reads it.
  public var path: String? = nil

  public init() {}

  /// Reads and validates a config file.
  public static func load(_ path: String) throws(AgentError) -> DaemonConfig {
    let bytes: [UInt8]
    do { bytes = try readWholeFile(path, limit: 1 << 20) } catch { throw .host(error) }
    let root: JSONNode
    do { root = try JSONReader.parse(bytes) } catch {
      throw .policy(PolicyError(PolicyIssue(error.message, at: error.position)), file: path)
    }
    guard let members = root.members else {
      throw .policy(PolicyError(PolicyIssue("a config is a JSON object", at: root.position)), file: path)
    }
    var c = DaemonConfig()
    // Absolute: an update's self-test runs from /.
    c.path = (try? realPath(path)) ?? path
    var issues: [PolicyIssue] = []
    func bad(_ m: JSONMember, _ message: String) { issues.append(PolicyIssue(message, at: m.value.position, key: m.key)) }
    func strings(_ m: JSONMember) -> [String]? {
      guard let a = m.value.array else { bad(m, "expected an array of strings"); return nil }
      var out: [String] = []
      for item in a {
        guard let s = item.string else { bad(m, "expected an array of strings"); return nil }
        out.append(s)
      }
      return out
    }
    for m in members {
      switch m.key {
      case "state_dir", "root", "policy", "host_id", "relay", "relay_url", "log_format", "hosts_file", "resolv_conf", "metrics", "collect", "allowed_hosts":
        guard let s = m.value.string else { bad(m, "expected string, found \(m.value.typeName)"); continue }
        switch m.key {
        case "state_dir": c.stateDir = s
        case "root": c.root = s
        case "policy": c.policy = s
        case "host_id": c.hostID = s
        case "relay": c.relay = s
        case "hosts_file": c.hostsFile = s
        case "resolv_conf": c.resolvConf = s
        case "relay_url": c.relayURL = s
        case "metrics": c.metrics = s
        case "collect": c.collect = s
        case "allowed_hosts": c.allowedHosts = s
        default:
          if s == "json" { c.logJSON = true } else if s != "logfmt" { bad(m, "expected \"logfmt\" or \"json\"") }
        }
      case "interval", "pull_interval", "crash_loop_window":
        guard let d = m.value.durationMs, d >= 100, d <= 86_400_000 else { bad(m, durationExpected(from: "100ms", to: "1d")); continue }
        let ms = UInt32(d)
        switch m.key {
        case "interval": c.intervalMs = ms
        case "pull_interval": c.pullIntervalMs = ms
        default: c.crashLoopWindowMs = ms
        }
      case "crash_loop_count":
        guard let n = m.value.integer, n >= 1, n <= 1000 else { bad(m, "expected a count from 1 to 1000"); continue }
        c.crashLoopCount = Int(n)
      case "labels": if let s = strings(m) { c.labels = s }
      case "modules":
        guard let s = strings(m) else { continue }
        if s.contains(where: { !$0.hasPrefix("/") }) { bad(m, "expected absolute paths to .ko files"); continue }
        c.modules = s
      case "mounts":
        guard let a = m.value.array else { bad(m, "expected an array of mounts"); continue }
        for item in a {
          if let spec = mountSpec(item, &issues) { c.mounts.append(spec) }
        }
      case "agent_trial":
        guard let d = m.value.durationMs, d >= 1000, d <= 86_400_000 else { bad(m, durationExpected(from: "1s", to: "1d")); continue }
        c.agentTrialMs = UInt32(d)
      case "report_interval":
        guard let d = m.value.durationMs, d >= 1000, d <= 86_400_000 else { bad(m, durationExpected(from: "1s", to: "1d")); continue }
        c.reportIntervalMs = UInt32(d)
      case "collectors": if let s = strings(m) { c.collectors = s }
      case "upstreams": if let s = strings(m) { c.upstreams = s }
      case "trusted_keys": if let s = strings(m) { c.trustedKeys = s }
      case "container":
        guard let b = m.value.bool else { bad(m, "expected boolean"); continue }
        c.container = b
      case "comment", "$schema": break
      default:
        issues.append(PolicyIssue("unknown key (allowed: state_dir, root, policy, interval, pull_interval, labels, log_format, container, host_id, upstreams, trusted_keys, relay, relay_url, metrics, collect, collectors, report_interval, agent_trial, allowed_hosts, hosts_file, resolv_conf, crash_loop_count, crash_loop_window, modules, mounts, comment)", at: m.keyPosition, key: m.key))
      }
    }
    if !issues.isEmpty { throw .policy(PolicyError(issues), file: path) }
    return c
  }
}

/// One `mounts` entry: `{"device": "/dev/vda", "path": "/var/lib/edgeagent", "type": "ext4",
/// "options": "noatime", "wait": "1s"}`; options and wait are optional.
func mountSpec(_ node: JSONNode, _ issues: inout [PolicyIssue]) -> MountSpec? {
  guard let members = node.members else {
    issues.append(PolicyIssue("a mount is an object with device, path and type", at: node.position, key: "mounts"))
    return nil
  }
  var device: String? = nil, path: String? = nil, type: String? = nil, options = "", waitMs: UInt32 = 1000
  var ok = true
  for m in members {
    if m.key == "wait" {
      if let ms = m.value.durationMs, ms <= 600_000 { waitMs = UInt32(ms) } else {
        issues.append(PolicyIssue(durationExpected(from: "0s", to: "10m"), at: m.value.position, key: m.key))
        ok = false
      }
      continue
    }
    guard let s = m.value.string else {
      issues.append(PolicyIssue("expected string, found \(m.value.typeName)", at: m.value.position, key: m.key))
      ok = false
      continue
    }
    switch m.key {
    case "device": device = s
    case "path":
      if !s.hasPrefix("/") { issues.append(PolicyIssue("expected an absolute path", at: m.value.position, key: m.key)); ok = false }
      path = s
    case "type": type = s
    case "options": options = s
    default:
      issues.append(PolicyIssue("unknown key (allowed: device, path, type, options, wait)", at: m.keyPosition, key: m.key))
      ok = false
    }
  }
  guard let device, let path, let type else {
    issues.append(PolicyIssue("a mount needs device, path and type", at: node.position, key: "mounts"))
    return nil
  }
  return ok ? MountSpec(device: device, path: path, type: type, options: options, waitMs: waitMs) : nil
}
