import EdgeCore
import EdgeHost

/// Checks a bundle's signature, then decodes it. The signature comes first: nothing of an
/// unsigned document is parsed beyond its size. `trustedKeys` are 32-byte Ed25519 public keys.
public func verifySignedBundle(_ bytes: [UInt8], signature: [UInt8], trustedKeys: [[UInt8]]) throws(BundleRejection) -> PolicyBundle {
  if bytes.count > PolicyBundle.maxBytes { throw .transfer("bundle.json is larger than \(PolicyBundle.maxBytes >> 20) MiB") }
  var trusted = false
  for k in trustedKeys where Ed25519.verify(signature, bytes, publicKey: k) { trusted = true; break }
  if !trusted { throw .badSignature }
  do { return try PolicyBundle.decode(bytes) } catch { throw .format(error) }
}

/// Checks one blob's bytes against its listing: size first (cheap), then SHA-256.
public func checkBlob(_ blob: BundleBlob, _ bytes: [UInt8]) throws(BundleRejection) {
  if Int64(bytes.count) != blob.size {
    throw .blobMismatch(blob.digest, "\(bytes.count) bytes, listed as \(blob.size) (truncated or padded)")
  }
  let d = SHA256.hash(bytes)
  if d != blob.digest { throw .blobMismatch(blob.digest, "content hashes to \(d.hex)") }
}

/// A bundle directory as an origin serves it, read from disk: `bundle.json`,
/// `bundle.json.sig` (64 raw bytes) and `blobs/<sha256>`.
public struct BundleDirectory {
  public let path: String

  public init(_ path: String) { self.path = path }

  public func readBundle() throws(HostError) -> [UInt8] { try readWholeFile(path + "/bundle.json", limit: PolicyBundle.maxBytes) }
  public func readSignature() throws(HostError) -> [UInt8] { try readWholeFile(path + "/bundle.json.sig", limit: 4096) }
  /// The blob's bytes; nil when the file is absent. A file whose size is not `size` is not
  /// read (it cannot match, and a huge one must not be loaded).
  public func readBlob(_ b: BundleBlob) throws(BundleError) -> [UInt8] {
    let p = path + "/blobs/" + b.digest.hex
    let st: FileStat?
    do { st = try FileStat.following(p) } catch { throw .host(error) }
    guard let st else { throw .rejected(.blobMissing(b.digest)) }
    if st.identity.size != b.size { throw .rejected(.blobMismatch(b.digest, "\(st.identity.size) bytes, listed as \(b.size)")) }
    do { return try readWholeFile(p, limit: Int(max(b.size, 1))) } catch { throw .host(error) }
  }
}

/// What `edgeagent verify` found.
public struct VerifyReport {
  public var bundle: PolicyBundle
  public var bundleDigest: Digest
  public var blobBytes: Int64
  public var now: Int64
}

/// `edgeagent verify DIR --pubkey P`: signature, format, blobs (present, sized, hashed) and
/// the clock (not expired, not before issue). No held serial: that is an agent's state.
public func verifyBundleDirectory(_ dir: String, publicKeys: [[UInt8]], now: Int64) throws(BundleError) -> VerifyReport {
  let d = BundleDirectory(dir)
  let bytes: [UInt8], sig: [UInt8]
  do throws(HostError) {
    bytes = try d.readBundle()
    sig = try d.readSignature()
  } catch { throw .host(error) }
  let bundle: PolicyBundle
  do throws(BundleRejection) {
    bundle = try verifySignedBundle(bytes, signature: sig, trustedKeys: publicKeys)
  } catch { throw .rejected(error) }
  // A team's bundle (OUT/teams/NAME/) shares the origin's blobs (OUT/blobs/).
  let blobs = bundle.team == nil ? d : BundleDirectory(dir + "/../..")
  var total: Int64 = 0
  for b in bundle.blobs {
    let content = try blobs.readBlob(b)
    do { try checkBlob(b, content) } catch { throw .rejected(error) }
    total += b.size
  }
  do { try BundleRejection.checkFreshness(bundle, heldSerial: nil, now: now) } catch { throw .rejected(error) }
  return VerifyReport(bundle: bundle, bundleDigest: SHA256.hash(bytes), blobBytes: total, now: now)
}
