import EdgeAgent
import EdgeCore
import EdgeHost

/// `edgeagent keygen --out PREFIX`
enum KeygenCommand {
  static let usage = """
    usage: edgeagent keygen --out PREFIX

    Makes an Ed25519 key pair for signing bundles: PREFIX.key (the secret key, mode 0600) and
    PREFIX.pub (the public key, for agents' trusted_keys). Each file is one line of lowercase
    hex (secret: 128 digits, libsodium's seed and public key; public: 64 digits). Existing
    files are never overwritten.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--out"], flags: [])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("keygen takes no arguments") }
      guard let prefix = o.value("--out"), !prefix.isEmpty else { throw UsageError("keygen needs --out PREFIX") }
      let (pk, sk) = Ed25519.keypair()
      do throws(HostError) {
        try Ed25519.writeKeyFile(prefix + ".key", sk, mode: 0o600)
        try Ed25519.writeKeyFile(prefix + ".pub", pk, mode: 0o644)
      } catch {
        writeError("keygen", "\(error)")
        return error.errno == .exists ? ExitCode.usage : ExitCode.system
      }
      writeStdout("wrote \(prefix).key (secret, 0600) and \(prefix).pub\npublic key \(Hex.encode(pk))\n")
      return ExitCode.ok
    }
  }
}
