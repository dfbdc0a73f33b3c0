/// The fields of a file's status that change whenever its content can have changed: a
/// different inode (replaced), size, mtime or ctime (written, even with mtime set back).
public struct FileIdentity: Equatable, Sendable {
  public var device: UInt64
  public var inode: UInt64
  public var size: Int64
  /// Nanoseconds since the epoch.
  public var mtime: Int64
  public var ctime: Int64

  public init(device: UInt64, inode: UInt64, size: Int64, mtime: Int64, ctime: Int64) {
    self.device = device
    self.inode = inode
    self.size = size
    self.mtime = mtime
    self.ctime = ctime
  }
}

/// The `statcache` database's value: a file's identity when it was last hashed, and the hash.
/// Fixed size (1 + 40 + 32 bytes), read in place with no allocation. While the identity is
/// unchanged the content is the one hashed, so a kept file is never read again.
public struct StatRecord: Equatable, Sendable {
  public static let version: UInt8 = 1
  public static let size = 73

  public var identity: FileIdentity
  public var digest: Digest

  public init(identity: FileIdentity, digest: Digest) {
    self.identity = identity
    self.digest = digest
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: StatRecord.size)
    w.u8(StatRecord.version)
    w.u64(identity.device)
    w.u64(identity.inode)
    w.i64(identity.size)
    w.i64(identity.mtime)
    w.i64(identity.ctime)
    w.digest(digest)
    return w.bytes
  }

  /// Decodes in place; nil for a record of another version or size (treated as a cache miss).
  public static func decode(_ raw: UnsafeRawBufferPointer) -> StatRecord? {
    guard raw.count == size else { return nil }
    var r = ByteReader(raw)
    do {
      guard try r.u8() == version else { return nil }
      let id = FileIdentity(device: try r.u64(), inode: try r.u64(), size: try r.i64(), mtime: try r.i64(), ctime: try r.i64())
      return StatRecord(identity: id, digest: try r.digest())
    } catch {
      return nil
    }
  }
}
