import EdgeAgent
import EdgeCore
import EdgeHost

/// `edgeagent fleet --url URL | --state DIR [--json]`
enum FleetCommand {
  static let usage = """
    usage: edgeagent fleet (--url http://COLLECTOR[:PORT] | --state DIR) [--json]

    The fleet as a collector (`run --collect`) sees it from the hosts' signed reports: hosts per
    bundle serial (converged, failed, stale: nothing for 4 heartbeats), how many are behind the
    newest serial, then each failed host with its failed promises and reasons, crash-looping
    services and pull errors, and each stale host with the age of its last report.
      --url URL     ask the collector over HTTP (GET /fleet and /fleet/hosts)
      --state DIR   read the collector's state directly, on its box (read-only)
      --json        print {"fleet": ..., "failed": ..., "stale": ...}: the collector's documents
    Exit: 0 every host converged, 1 some host failed or stale, 2 bad usage, 111 no answer or
    an unreadable state.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--url", "--state"], flags: ["--json"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("fleet takes no arguments") }
      let url = o.value("--url"), state = o.value("--state")
      guard (url == nil) != (state == nil) else { throw UsageError("fleet needs one of --url or --state") }
      let answer: FleetAnswer
      do throws(FleetQueryError) {
        if let url {
          answer = try fleetAnswer(url: url, json: o.has("--json"))
        } else {
          answer = try fleetAnswer(stateDir: state!, json: o.has("--json"), now: wallClockSeconds())
        }
      } catch {
        if case .url = error { throw UsageError("--url \(error)") }
        writeError("fleet", error.description)
        return ExitCode.system
      }
      writeStdout(answer.output)
      return answer.allConverged ? ExitCode.ok : ExitCode.failed
    }
  }
}
