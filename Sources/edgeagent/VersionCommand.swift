import EdgeAgent
import EdgeHost

/// `edgeagent version`
enum VersionCommand {
  static let usage = """
    usage: edgeagent version

    Prints the version, the target triple and the versions of libuv, LMDB and libsodium.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: [], flags: [])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("version takes no arguments") }
      writeStdout(versionText)
      return ExitCode.ok
    }
  }
}
