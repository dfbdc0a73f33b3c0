import EdgeAgent
import EdgeCore
import EdgeFleet
import EdgeHost

/// `edgeagent verify DIR --pubkey P`
enum VerifyCommand {
  static let usage = """
    usage: edgeagent verify DIR --pubkey PUB [--pubkey PUB]...

    Checks a bundle directory as an agent would before accepting it: the signature of
    DIR/bundle.json against the public key file(s), the bundle's format and policy, every blob
    in DIR/blobs (present, listed size, SHA-256), and the clock (issued <= now < expires).
    Exit: 0 valid, 1 rejected (the reason is printed), 2 bad usage, 111 unreadable files.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--pubkey"], flags: [])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 1 else { throw UsageError("verify needs one bundle DIR") }
      let paths = o.all("--pubkey")
      guard !paths.isEmpty else { throw UsageError("verify needs --pubkey PUB") }
      var keys: [[UInt8]] = []
      for p in paths {
        do throws(HostError) { keys.append(try Ed25519.readKeyFile(p, bytes: Ed25519.publicKeyBytes)) } catch {
          writeError("verify", "\(error)")
          return ExitCode.usage
        }
      }
      do throws(BundleError) {
        let r = try verifyBundleDirectory(o.positional[0], publicKeys: keys, now: wallClockSeconds())
        let b = r.bundle
        var out = "ok: serial \(b.serial), policy \(escapedText(b.policy.name)) (\(b.policy.promises.count) promises)\n"
        out += "bundle.json sha256:\(r.bundleDigest.hex)\n"
        out += "signature: valid\n"
        out += "blobs: \(b.blobs.count) present and matching (\(r.blobBytes) bytes)\n"
        out += "issued \(isoTime(b.issued)), expires \(isoTime(b.expires)) (in \((b.expires - r.now) / 3600) h)\n"
        var relays = ""
        for (i, u) in b.relays.enumerated() { relays += (i > 0 ? ", " : "") + u.description }
        out += "relays: \(b.relays.isEmpty ? "none" : relays)\n"
        writeStdout(out)
        return ExitCode.ok
      } catch {
        writeError("verify", "\(error)")
        return bundleExitCode(error)
      }
    }
  }
}
