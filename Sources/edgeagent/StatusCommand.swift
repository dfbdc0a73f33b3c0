import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// `edgeagent status [--json] [--state DIR | --root DIR] [--events N]`
enum StatusCommand {
  static let usage = """
    usage: edgeagent status [--json] [--state DIR | --root DIR] [--events N]

    Shows the policy, the last run and each promise's last outcome, read from the state
    (read-only; safe while the agent runs).
      --json        machine-readable output
      --state DIR   LMDB state directory (default \(StateLayout.defaultDirectory))
      --root DIR    the state of a sandbox applied with --root DIR and no --state
      --events N    show the last N events (repairs, failures, accepted policies) instead
    Exit: 0, 1 when a promise's latest outcome is failed, 2 usage, 111 no state or a system error.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--state", "--root", "--events"], flags: ["--json"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("status takes no arguments") }
      let stateDir = o.value("--state") ?? StateLayout.directory(forRoot: o.value("--root") ?? "/")
      if let n = o.value("--events") {
        guard let count = Int(n), count > 0 else { throw UsageError("--events needs a positive count") }
        do throws(AgentError) {
          let events = try readEvents(stateDir: stateDir, count: count)
          writeStdout(o.has("--json") ? eventsJSON(events) : eventsText(events))
          return ExitCode.ok
        } catch {
          writeError("status", "\(error)")
          return exitCode(for: error)
        }
      }
      do throws(AgentError) {
        let report = try readStatus(stateDir: stateDir)
        writeStdout(o.has("--json") ? report.json : report.text)
        // So that a script or a monitor can ask "is this box failing a promise?" by the exit.
        return report.rowCounts.0.failed > 0 ? ExitCode.failed : ExitCode.ok
      } catch {
        writeError("status", "\(error)")
        return exitCode(for: error)
      }
    }
  }
}
