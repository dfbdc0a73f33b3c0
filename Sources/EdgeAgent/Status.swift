import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeStore

/// One promise as `status` shows it.
public struct StatusEntry {
  public var id: String
  public var type: PromiseType
  public var subject: String
  public var record: ActualRecord?
}

/// The state as last recorded, read through a read-only LMDB transaction: no IPC, and safe
/// beside a running agent.
public struct StatusReport {
  public var policyName: String
  /// Unix seconds of the last run; 0 when none.
  public var lastRun: Int64
  public var summary: RunSummary
  /// In plan order.
  public var entries: [StatusEntry]
  /// Services as the daemon last recorded them, with their log's last lines.
  public var services: [ServiceStatus] = []
  /// The signed bundle in force, if policies come as bundles.
  public var bundle: BundleStatus? = nil
  /// The pid of the agent holding the state's lock (a daemon, or an apply running), 0 when it
  /// has not written its pid yet; nil when none does. Asked without taking the lock.
  public var heldByPID: Int32? = nil
  /// The agent's own updates (EdgeUpdate): committed version, trial, failures; nil when the
  /// agent never staged one (the image's binary runs).
  public var agent: AgentUpdateRecord? = nil
  /// Each team bundle held: where it stands, and its promises' outcomes (empty without teams).
  public var teams: [TeamStatus] = []
}

/// A team's bundle as `status` shows it: "payments: serial 17, kept 12, repaired 1, failed 0".
public struct TeamStatus {
  public var team: String
  public var serial: UInt64
  public var acceptedAt: Int64
  public var standing: TeamStanding
  /// Its rows' outcomes (`TEAM/…` ids) and the rows with none yet.
  public var counts = RunSummary()
  public var unknown = 0
}

/// The bundle in force and how the upstreams were last seen.
public struct BundleStatus {
  public var serial: UInt64
  /// Unix seconds: when it was accepted here, and when its publisher issued it.
  public var acceptedAt: Int64
  public var issued: Int64
  /// Unix seconds past which it is expired (0: unknown). An expired bundle stays in force.
  public var expires: Int64 = 0
  /// nil before the first pull round.
  public var reachable: Bool?
  /// Since when the upstreams have been (un)reachable, when one last answered, the last error.
  public var since: Int64 = 0
  public var lastContact: Int64 = 0
  public var lastError = ""
  /// The last bundle refused (any upstream, any reason), nil when none ever was.
  public var lastRejection: BundleRejectionRecord? = nil
}

public struct ServiceStatus {
  public var id: String
  public var record: ServiceRecord
  public var logTail: [String]
}

public func readStatus(stateDir: String) throws(AgentError) -> StatusReport {
  do throws(StoreError) {
    let layout = StateLayout(stateDir)
    let env = try Environment(path: stateDir, readOnly: true)
    let txn = try env.read()
    let name = try txn.policyName() ?? ""
    let lastRun = try txn.lastRun() ?? 0
    let summary = try txn.runSummary() ?? RunSummary()
    let promises = try readDesired(txn)
    let marks = try txn.settledMarks()
    var entries: [StatusEntry] = []
    for p in promises {
      let rec = try readActual(txn, p.id)?.settled(by: marks)
      let subject = p.type.managesPath ? p.path : (p.type == .sysctl ? p.key : (p.account?.name ?? p.package?.name ?? p.exec.first ?? ""))
      entries.append(StatusEntry(id: p.id, type: p.type, subject: subject, record: rec))
    }
    var services: [ServiceStatus] = []
    var badService: StoreError? = nil
    try txn.forEach(.services) { key, value in
      let id = String(decoding: key, as: UTF8.self)
      do throws(RecordError) {
        services.append(ServiceStatus(id: id, record: try ServiceRecord.decode(value),
                                      logTail: LogFile.tail(layout.serviceLog(id), lines: 3)))
      } catch {
        badService = .record(error, key: "service " + id)
        return false
      }
      return true
    }
    let bundle = try readBundleStatus(txn)
    let agent = try txn.agentUpdate()
    var accepted: [String: Int64] = [:]
    for t in try txn.teams() { accepted[t.name] = t.record.acceptedAt }
    txn.abort()
    if let badService { throw badService }
    var report = StatusReport(policyName: name, lastRun: lastRun, summary: summary, entries: entries, services: services,
                              bundle: bundle, heldByPID: StateLock.holder(stateDir: stateDir), agent: agent)
    if !accepted.isEmpty, let f = try loadPolicyInForce(env) {
      for t in f.teams {
        var ts = TeamStatus(team: t.team, serial: t.serial, acceptedAt: accepted[t.team] ?? 0, standing: t.standing)
        for e in entries where TeamComposition.team(of: e.id).map({ $0 == t.team }) ?? false {
          if let r = e.record { ts.counts.add(r.status) } else { ts.unknown += 1 }
        }
        report.teams.append(ts)
      }
    }
    return report
  } catch {
    throw .store(error)
  }
}

extension StatusReport {
  /// The rows' statuses counted, and the rows with no outcome yet: what the header shows, so
  /// that it agrees with the table below it.
  public var rowCounts: (RunSummary, unknown: Int) {
    var c = RunSummary(), unknown = 0
    for e in entries { if let r = e.record { c.add(r.status) } else { unknown += 1 } }
    return (c, unknown)
  }

  /// Aligned text for a terminal. Every value that came from a policy, a path, an upstream or a
  /// service's log is escaped (`escapedText`; `table` does its cells): a newline in a path
  /// cannot forge a row and an ESC in a log line cannot reach the terminal.
  public var text: String {
    let now = wallClockSeconds()
    let (counts, unknown) = rowCounts
    var out = "policy \(policyName.isEmpty ? "(none)" : escapedText(policyName))  last run \(lastRun == 0 ? "never" : timeAndAge(lastRun, now))  \(counts)\(unknown > 0 ? " unknown=\(unknown)" : "")\n"
    if lastRun != 0 && counts != summary {
      // A drift repair checks only what drifted: the rows are each promise's latest outcome.
      out += "last run alone: \(summary)\n"
    }
    if let pid = heldByPID {
      out += pid > 0 ? "state held by pid \(pid) (\(holderName(pid)))\n" : "state held by an agent starting\n"
    } else {
      out += "no daemon holds the state\n"
    }
    if let b = bundle {
      out += "bundle serial \(b.serial)  issued \(isoTime(b.issued)) (age \(duration(now - b.issued)))  accepted \(isoTime(b.acceptedAt))\n"
      if b.expires > 0 && now >= b.expires {
        out += "bundle EXPIRED at \(isoTime(b.expires)) (\(duration(now - b.expires)) ago): still in force, no newer bundle accepted\n"
      }
      switch b.reachable {
      case .some(true): out += "upstreams reachable since \(isoTime(b.since))\n"
      case .some(false):
        out += "upstreams UNREACHABLE since \(isoTime(b.since)); last reached \(b.lastContact == 0 ? "never" : isoTime(b.lastContact))"
        out += b.lastError.isEmpty ? "\n" : "; last error: \(escapedText(b.lastError))\n"
      case .none: out += "upstreams not contacted yet\n"
      }
      if let r = b.lastRejection {
        // Through `table`, which escapes what it prints: source and reason come from upstreams.
        out += table([["last bundle rejected \(isoTime(r.time))", r.code, "from \(r.source): \(r.reason)"]])
      }
    }
    if let a = agent { out += agentText(a) }
    for t in teams {
      // Through `table`: a standing's reason quotes paths from a team's policy.
      var line = "team \(t.team): serial \(t.serial), "
      if t.standing == .inForce {
        line += "kept \(t.counts.kept), repaired \(t.counts.repaired), failed \(t.counts.failed)" + (t.unknown > 0 ? ", unknown \(t.unknown)" : "")
        line += "  accepted \(isoTime(t.acceptedAt))"
      } else {
        line += t.standing.label
      }
      out += table([[line]])
    }
    var rows: [[String]] = [["ID", "TYPE", "STATUS", "SINCE", "REPAIRS", "SUBJECT", "REASON"]]
    for e in entries {
      let r = e.record
      rows.append([e.id, e.type.name, r?.status.name ?? "unknown", r.map { timeAndAge($0.changedAt, now) } ?? "-",
                   r.map { String($0.repairs) } ?? "0", e.subject, r?.reason ?? ""])
    }
    out += table(rows)
    if !services.isEmpty {
      var srows: [[String]] = [["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "HEALTH"]]
      for s in services {
        let r = s.record
        srows.append([s.id, r.stateName, r.pid > 0 ? String(r.pid) : "-", r.startedAt > 0 ? "\(now - r.startedAt)s" : "-",
                      String(r.restarts), r.hasExited ? (r.lastExit < 0 ? "signal \(-r.lastExit)" : "status \(r.lastExit)") : "-",
                      r.ready ? "ready" : (r.phase == .running || r.phase == .starting ? "not ready" : "-")])
      }
      out += "\n" + table(srows)
      for s in services where !s.logTail.isEmpty {
        out += "\n\(escapedText(s.id)) log:\n"
        for l in s.logTail { out += "  " + escapedText(l) + "\n" }
      }
    }
    return out
  }

  public var json: String {
    var w = JSONWriter()
    w.beginObject()
    w.member("policy", policyName)
    w.key("last_run"); if lastRun == 0 { w.null() } else { w.string(isoTime(lastRun)) }
    w.key("held_by_pid"); if let pid = heldByPID { w.int(Int64(pid)) } else { w.null() }
    w.key("held_by"); if let pid = heldByPID, pid > 0 { w.string(holderName(pid)) } else { w.null() }
    w.key("bundle")
    if let b = bundle {
      w.beginObject()
      w.member("serial", Int64(b.serial))
      w.member("issued", isoTime(b.issued))
      w.member("age_seconds", wallClockSeconds() - b.issued)
      w.member("accepted", isoTime(b.acceptedAt))
      w.member("expires", b.expires == 0 ? "" : isoTime(b.expires))
      w.member("expired", b.expires > 0 && wallClockSeconds() >= b.expires)
      w.key("upstreams_reachable"); if let r = b.reachable { w.bool(r) } else { w.null() }
      w.member("since", b.since == 0 ? "" : isoTime(b.since))
      w.member("last_contact", b.lastContact == 0 ? "" : isoTime(b.lastContact))
      w.member("last_error", b.lastError)
      w.key("last_rejection")
      if let r = b.lastRejection {
        w.beginObject()
        w.member("time", isoTime(r.time))
        w.member("reason", r.code)
        w.member("from", r.source)
        w.member("detail", r.reason)
        w.endObject()
      } else {
        w.null()
      }
      w.endObject()
    } else {
      w.null()
    }
    w.key("agent")
    if let a = agent {
      w.beginObject()
      w.member("running", a.runningVersion(image: edgeagentVersion))
      w.member("committed", a.committedVersion.isEmpty ? edgeagentVersion : a.committedVersion)
      w.member("committed_at", a.committedAt == 0 ? "" : isoTime(a.committedAt))
      w.key("trial")
      if let t = a.trial {
        w.beginObject()
        w.member("version", t.version)
        w.member("previous", t.previousVersion)
        w.member("started", isoTime(t.startedAt))
        w.endObject()
      } else {
        w.null()
      }
      w.key("failed")
      w.beginArray()
      for v in a.failed { w.string(v) }
      w.endArray()
      w.member("rollbacks", Int64(a.rollbacks))
      w.key("last_failure")
      if a.failureTime > 0 {
        w.beginObject()
        w.member("time", isoTime(a.failureTime))
        w.member("version", a.failureVersion)
        w.member("reason", a.failureReason)
        w.endObject()
      } else {
        w.null()
      }
      w.endObject()
    } else {
      w.null()
    }
    w.key("teams")
    w.beginArray()
    for t in teams {
      w.beginObject()
      w.member("team", t.team)
      w.member("serial", Int64(t.serial))
      w.member("accepted", t.acceptedAt == 0 ? "" : isoTime(t.acceptedAt))
      switch t.standing {
      case .inForce: w.member("standing", "in_force")
      case .revoked: w.member("standing", "revoked")
      case .suspended: w.member("standing", "suspended")
      }
      w.member("reason", t.standing == .inForce ? "" : t.standing.label)
      w.member("kept", Int64(t.counts.kept))
      w.member("repaired", Int64(t.counts.repaired))
      w.member("failed", Int64(t.counts.failed))
      w.member("skipped", Int64(t.counts.skipped))
      w.member("unknown", Int64(t.unknown))
      w.endObject()
    }
    w.endArray()
    // "summary" counts the rows below, as the text's header does; "last_run_summary" is what
    // the last run alone checked (a drift repair checks only what drifted).
    let (counts, unknown) = rowCounts
    w.key("summary")
    w.beginObject()
    w.member("kept", Int64(counts.kept)); w.member("repaired", Int64(counts.repaired))
    w.member("failed", Int64(counts.failed)); w.member("skipped", Int64(counts.skipped))
    w.member("unknown", Int64(unknown))
    w.endObject()
    w.key("last_run_summary")
    w.beginObject()
    w.member("kept", Int64(summary.kept)); w.member("repaired", Int64(summary.repaired))
    w.member("failed", Int64(summary.failed)); w.member("skipped", Int64(summary.skipped))
    w.endObject()
    w.key("promises")
    w.beginArray()
    for e in entries {
      w.beginObject()
      w.member("id", e.id)
      w.member("type", e.type.name)
      w.member("subject", e.subject)
      if let r = e.record {
        w.member("status", r.status.name)
        w.member("reason", r.reason)
        w.member("since", isoTime(r.changedAt))
        w.member("checked", isoTime(r.checkedAt))
        w.member("repairs", Int64(r.repairs))
        w.member("failures", Int64(r.failures))
      } else {
        w.member("status", "unknown")
      }
      w.endObject()
    }
    w.endArray()
    w.key("services")
    w.beginArray()
    for s in services {
      w.beginObject()
      w.member("id", s.id)
      w.member("state", s.record.stateName)
      w.member("pid", Int64(s.record.pid))
      w.member("started", s.record.startedAt > 0 ? isoTime(s.record.startedAt) : "")
      w.member("restarts", Int64(s.record.restarts))
      w.key("last_exit"); if s.record.hasExited { w.int(Int64(s.record.lastExit)) } else { w.null() }
      w.member("ready", s.record.ready)
      w.key("log")
      w.beginArray()
      for l in s.logTail { w.string(l) }
      w.endArray()
      w.endObject()
    }
    w.endArray()
    w.endObject()
    return w.text + "\n"
  }
}

/// Left-aligned columns two spaces apart; the last column is not padded. Cells are escaped
/// (`escapedText`), so one row is one line whatever a cell holds.
func table(_ rawRows: [[String]]) -> String {
  let rows = rawRows.map { $0.map { escapedText($0) } }
  guard let first = rows.first else { return "" }
  var widths = [Int](repeating: 0, count: first.count)
  for r in rows { for (i, c) in r.enumerated() where i < r.count - 1 { widths[i] = max(widths[i], c.utf8.count) } }
  var out = ""
  for r in rows {
    var line = ""
    for (i, c) in r.enumerated() {
      line += c
      if i < r.count - 1 { line += String(repeating: " ", count: widths[i] - c.utf8.count + 2) }
    }
    while line.utf8.last == UInt8(ascii: " ") { line.removeLast() }
    out += line + "\n"
  }
  return out
}

/// One line per event: time, kind, status, subject, reason.
public func eventsText(_ events: [EventRecord]) -> String {
  var rows: [[String]] = [["TIME", "KIND", "STATUS", "SUBJECT", "REASON"]]
  for e in events { rows.append([isoTime(e.time), e.kind.name, e.status.name, e.subject, e.reason]) }
  return table(rows)
}

/// The agent lines of `status`: which version runs, what is committed, a trial, the last failure.
func agentText(_ a: AgentUpdateRecord) -> String {
  var out = "agent \(escapedText(a.runningVersion(image: edgeagentVersion)))"
  out += a.committedVersion.isEmpty ? "  committed: the image's \(edgeagentVersion)" : "  committed \(escapedText(a.committedVersion)) at \(isoTime(a.committedAt))"
  if let t = a.trial { out += "  TRIAL of \(escapedText(t.version)) since \(isoTime(t.startedAt)) (previous \(escapedText(t.previousVersion)))" }
  if a.rollbacks > 0 { out += "  rollbacks \(a.rollbacks)" }
  out += "\n"
  if a.failureTime > 0 {
    out += "agent update FAILED \(isoTime(a.failureTime)): \(escapedText(a.failureVersion)): \(escapedText(a.failureReason))\n"
  }
  return out
}

extension AgentUpdateRecord {
  /// The version a daemon on this state runs: a trial's, else the committed one, else the
  /// image's (`image`, this binary's own).
  public func runningVersion(image: String) -> String {
    trial?.version ?? (committedVersion.isEmpty ? image : committedVersion)
  }
}

public func eventsJSON(_ events: [EventRecord]) -> String {
  var w = JSONWriter()
  w.beginArray()
  for e in events {
    w.beginObject()
    w.member("time", isoTime(e.time))
    w.member("kind", e.kind.name)
    w.member("status", e.status.name)
    w.member("subject", e.subject)
    w.member("reason", e.reason)
    w.endObject()
  }
  w.endArray()
  return w.text + "\n"
}

/// The last outcome of promise `id`; one that does not decode is an error naming it.
func readActual(_ txn: borrowing Transaction, _ id: String) throws(StoreError) -> ActualRecord? {
  let decoded = try withUTF8(id) { (k) throws(StoreError) -> Result<ActualRecord?, RecordError> in
    try txn.get(.actual, k) { (raw) throws(RecordError) -> ActualRecord? in
      guard let raw else { return nil }
      return try ActualRecord.decode(raw)
    }
  }
  switch decoded {
  case .success(let r): return r
  case .failure(let e): throw .record(e, key: "actual " + id)
  }
}

/// The bundle in force and the puller's reachability record, from meta; nil without a bundle.
func readBundleStatus(_ txn: borrowing Transaction) throws(StoreError) -> BundleStatus? {
  guard let serial = try txn.bundleSerial() else { return nil }
  let accepted = try txn.bundleAcceptedAt() ?? 0
  var (issued, expires): (Int64, Int64) = (0, 0)
  if let bytes = try txn.bundleBytes() {
    do throws(BundleFormatError) {
      let b = try PolicyBundle.decode(bytes)
      (issued, expires) = (b.issued, b.expires)
    } catch { throw .record(RecordError(error.description), key: MetaKey.bundleJSON.name) }
  }
  var status = BundleStatus(serial: serial, acceptedAt: accepted, issued: issued)
  status.expires = expires
  if let reach = try txn.reachability() {
    status.reachable = reach.reachable
    status.since = reach.since
    status.lastContact = reach.lastContact
    status.lastError = reach.lastError
  }
  status.lastRejection = try txn.lastRejection()
  return status
}

/// "2026-12-06T13:16:54Z (3m ago)": a time as recorded, and how long ago for a reader.
func timeAndAge(_ t: Int64, _ now: Int64) -> String {
  let age = now - t
  return isoTime(t) + (age < 0 ? " (in the future: clock behind?)" : " (\(duration(age)) ago)")
}

/// What the agent holding the state is, from its command line: a daemon (`run`, or PID 1 run by
/// the kernel with no arguments) or a one-shot `apply`. The pid is the lock file's, so it may
/// have ended since; /proc is the host's own, read only for this line.
func holderName(_ pid: Int32) -> String {
  let argv: [UInt8]
  do throws(HostError) { argv = try readWholeFile("/proc/\(pid)/cmdline", limit: 1 << 16) } catch { return "not running" }
  let args = argv.split(separator: 0, omittingEmptySubsequences: false)
  let command = args.count > 1 ? String(decoding: args[1], as: UTF8.self) : ""
  switch command {
  case "run", "": return pid == 1 || command == "run" ? "a daemon" : "an agent"
  case "apply": return "an apply in progress"
  default: return "an agent (\(command))"
  }
}

