import EdgeAgent
import EdgeHost

/// `edgeagent status [--json] [--state DIR]`
enum StatusCommand {
  static let usage = """
    usage: edgeagent status [--json] [--state DIR]

    Shows the policy, the last run and each promise's last outcome, read from the state
    (read-only; safe while the agent runs).
      --json        machine-readable output
      --state DIR   LMDB state directory (default /var/lib/edgeagent)

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--state"], flags: ["--json"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("status takes no arguments") }
      do throws(AgentError) {
        let report = try readStatus(stateDir: o.value("--state") ?? "/var/lib/edgeagent")
        writeStdout(o.has("--json") ? report.json : report.text)
        return ExitCode.ok
      } catch {
        writeStderr("edgeagent: status: \(error)\n")
        return exitCode(for: error)
      }
    }
  }
}
