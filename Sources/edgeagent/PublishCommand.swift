import EdgeAgent
import EdgeCore
import EdgeFleet
import EdgeHost

/// `edgeagent publish SRC_POLICY OUTDIR --key SECRET [--serial N] [--expires DURATION] [--relay URL]... [--relay-fanout N] [--allow-outside-sources] [--agent-dir DIR --agent-version V] [--delegations FILE] [--team NAME]`
enum PublishCommand {
  static let usage = """
    usage: edgeagent publish SRC_POLICY OUTDIR --key SECRET [--serial N] [--expires DURATION]
                             [--relay URL]... [--relay-fanout N] [--allow-outside-sources]
                             [--agent-dir DIR --agent-version VERSION]
                             [--delegations FILE] [--team NAME]

    Signs SRC_POLICY into a bundle directory that any static web server can serve:
    OUTDIR/bundle.json, OUTDIR/bundle.json.sig and OUTDIR/blobs/<sha256>. In SRC_POLICY a file
    promise may say "source_file": "PATH" (relative to SRC_POLICY's directory): the file becomes
    a blob and the key becomes "source": "sha256:<hex>". A source file must lie inside
    SRC_POLICY's directory (symlinks and .. resolved), and a secret key is never published.
      --key SECRET       secret key file from `edgeagent keygen`
      --serial N         the bundle's serial (default: OUTDIR's current serial + 1, or 1)
      --expires DURATION how long agents accept it, e.g. 30d, 12h, 1h30m (default 30d)
      --relay URL        list an agent relay (http://HOST:PORT) in the bundle (repeatable); in
                         this order the relays form a tree: the first N pull from the origin,
                         relay i >= N from relay i/N - 1
      --relay-fanout N   N of that tree, 1 to 1000 (default 10)
      --allow-outside-sources
                         allow source files outside SRC_POLICY's directory
      --agent-dir DIR    ship agent binaries: DIR/edgeagent-x86_64, -aarch64, -armv7 (those
                         present, each checked to be an executable for its target); agents
                         whose version differs stage, self-test and switch to theirs
      --agent-version VERSION
                         the label of those binaries (letters, digits, . - _ + ~)
      --delegations FILE the teams this baseline delegates to: a JSON array of
                         {"team", "keys": [PUBLIC HEX], "scope": {"paths", "services",
                         "sysctls", "packages", "users", "groups", "commands"}}
      --team NAME        sign a team's bundle with the team's key (--key): written to
                         OUTDIR/teams/NAME/, blobs shared in OUTDIR/blobs/; its promises may
                         be "after" the baseline's as "baseline/ID"
    Exit: 0 written, 2 bad input (nothing written), 111 system error.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--key", "--serial", "--expires", "--relay", "--relay-fanout", "--agent-dir", "--agent-version", "--team", "--delegations"],
                          flags: ["--allow-outside-sources"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 2 else { throw UsageError("publish needs SRC_POLICY and OUTDIR") }
      guard let key = o.value("--key") else { throw UsageError("publish needs --key SECRET") }
      var options = PublishOptions(sourcePolicy: o.positional[0], outDir: o.positional[1], secretKeyPath: key)
      if let s = o.value("--serial") {
        guard let n = UInt64(s), n >= 1, n <= UInt64(Int64.max) else { throw UsageError("--serial needs a whole number of 1 or more") }
        options.serial = n
      }
      if let e = o.value("--expires") {
        guard let ms = parseDuration(e), ms >= 1000, ms % 1000 == 0 else {
          throw UsageError("--expires needs a duration of whole seconds up to 100 years, such as 30d, 12h or 1h30m")
        }
        options.expiresIn = ms / 1000
      }
      options.relays = o.all("--relay")
      options.agentDirectory = o.value("--agent-dir")
      options.agentVersion = o.value("--agent-version")
      options.team = o.value("--team")
      options.delegationsFile = o.value("--delegations")
      options.allowOutsideSources = o.has("--allow-outside-sources")
      if let f = o.value("--relay-fanout") {
        guard let n = Int(f), n >= 1, n <= RelayTree.maxFanout else { throw UsageError("--relay-fanout needs a whole number from 1 to \(RelayTree.maxFanout)") }
        options.relayFanout = n
      }
      do throws(BundleError) {
        let r = try publishBundle(options)
        writeStdout((options.team.map { "team \($0): " } ?? "") + "published serial \(r.serial) of policy \(escapedText(r.policyName)) (\(r.promises) promises, \(r.blobs.count) blobs) to \(escapedText(options.outDir))\nbundle.json \(r.bytes) bytes sha256:\(r.digest.hex)\nissued \(isoTime(r.issued)) expires \(isoTime(r.expires))\n")
        return ExitCode.ok
      } catch {
        writeError("publish", "\(error)")
        return bundleExitCode(error)
      }
    }
  }
}

/// Exit codes of bundle commands: a refused bundle 1, bad input 2, the host or store 111.
func bundleExitCode(_ e: BundleError) -> Int32 {
  switch e {
  case .rejected: return ExitCode.failed
  case .input: return ExitCode.usage
  case .host, .store: return ExitCode.system
  }
}
