import EdgeAgent
import EdgeConverge
import EdgeHost

/// `edgeagent self-test --state DIR --target TARGET [--config FILE]`
enum SelfTestCommand {
  static let usage = """
    usage: edgeagent self-test --state DIR --target TARGET [--config FILE]

    What a running agent asks of a new binary before it switches to it: this binary starts,
    is built for TARGET (x86_64, aarch64, armv7), reads FILE as the daemon's config, and opens
    the state DIR read-only and reads its records. It writes nothing.
    Exit: 0 passed, 1 failed (the reason on stderr), 2 bad usage.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--state", "--target", "--config"], flags: [])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("self-test takes no arguments") }
      guard let state = o.value("--state"), let target = o.value("--target") else { throw UsageError("self-test needs --state DIR and --target TARGET") }
      do throws(AgentError) {
        writeStdout(try selfTest(stateDir: state, target: target, configPath: o.value("--config")) + "\n")
        return ExitCode.ok
      } catch {
        writeError("self-test failed", "\(error)")
        return ExitCode.failed
      }
    }
  }
}
