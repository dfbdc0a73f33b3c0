import EdgeCore
import EdgeHost

/// A `statcache` key: 8 bytes, a 64-bit FNV-1a hash of the root, a NUL, and the managed path.
///
/// Fixed size, because LMDB refuses keys over 511 bytes (MDB_BAD_VALSIZE) while a root plus a
/// path may run to 8 KiB. Not a cryptographic hash: a record only vouches for a file whose
/// lstat gives the identity it holds (device, inode, size, mtime, ctime), so two paths on one
/// key can only make each other miss and be hashed, never be taken for the other; and the
/// paths come from a signed policy. FNV costs the in-place check about 50 ns a file where
/// SHA-256 cost 400 (15% of a kept run). The NUL keeps ("/a", "/b/c") and ("/a/b", "/c") apart.
/// State schema 3 (Environment.schemaVersion); 2 keyed by SHA-256, 1 by the joined path.
public struct StatKey: Equatable, Hashable, Sendable {
  public var value: UInt64

  public init(_ value: UInt64) { self.value = value }

  public static let zero = StatKey(0)

  /// Lends the key's bytes, little-endian, as stored.
  @inline(__always)
  public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    var le = value.littleEndian
    return try withUnsafeBytes(of: &le) { (raw) throws(E) -> R in try body(raw) }
  }
}

/// The keys of one root's managed paths.
struct StatCacheKey {
  /// The hash with the root and its NUL absorbed: a key costs hashing the path only.
  let prefix: UInt64

  init(root: String) {
    var r = root
    prefix = FNV1a.mix(r.withUTF8 { FNV1a.hash(FNV1a.offset, UnsafeRawBufferPointer($0)) }, 0)
  }

  /// The key of a managed path's bytes (with its leading '/', without a NUL).
  func key(_ path: UnsafeRawBufferPointer) -> StatKey { StatKey(FNV1a.hash(prefix, path)) }

  func key(_ path: String) -> StatKey {
    var p = path
    return p.withUTF8 { key(UnsafeRawBufferPointer($0)) }
  }

  /// A line promise's own key: the path's, a NUL, its id (LinePromise.swift). A path holds no
  /// NUL, so no path has this key.
  func key(_ path: UnsafeRawBufferPointer, edit id: UnsafeRawBufferPointer) -> StatKey {
    StatKey(FNV1a.hash(FNV1a.mix(FNV1a.hash(prefix, path), 0), id))
  }

  func key(_ path: String, edit id: String) -> StatKey {
    var p = path, i = id
    return p.withUTF8 { pb in i.withUTF8 { ib in key(UnsafeRawBufferPointer(pb), edit: UnsafeRawBufferPointer(ib)) } }
  }
}

/// The policy file's stat cache key: its path as given, hashed after a prefix no root has (a
/// root starts with '/').
func policyFileCacheKey(_ path: String) -> StatKey {
  var prefix = "policy-file:", p = path
  let h = prefix.withUTF8 { FNV1a.hash(FNV1a.offset, UnsafeRawBufferPointer($0)) }
  return p.withUTF8 { StatKey(FNV1a.hash(h, UnsafeRawBufferPointer($0))) }
}
