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

extension FileIdentity {
  /// Whether every write to the file after the moment `now` (the coarse wall clock,
  /// `coarseWallClockNanoseconds`, read *before* the content was observed) is certain to stamp
  /// it with another time than `stamp` (its ctime or mtime as observed), so that a later
  /// identity match proves the content is the one observed: git's "racily clean" problem.
  ///
  /// The kernel stamps a write from that coarse clock (never behind it), truncated to the
  /// filesystem's granule: 1 ns on ext4, XFS, btrfs and tmpfs, 100 ns on NTFS, 10 ms on exFAT,
  /// a second on ext2/3 with small inodes, 2 s for FAT's mtime. A granule is a power of ten
  /// (FAT's two seconds aside) and the stamp a multiple of it, so the largest power of ten that
  /// divides the stamp's sub-second part bounds it; a stamp on a whole second may have 2 s. Once
  /// the clock has passed the stamp by that much, any later write truncates to a later granule.
  /// On a nanosecond filesystem that is the next tick: 4 ms at most on this kernel (HZ=250).
  public static func settled(_ stamp: Int64, before now: Int64) -> Bool {
    return now >= stamp + granule(stamp)
  }

  /// The coarsest granule `stamp` can have been truncated to (see `settled`).
  public static func granule(_ stamp: Int64) -> Int64 {
    var sub = stamp % 1_000_000_000
    if sub < 0 { sub += 1_000_000_000 }
    if sub == 0 { return 2_000_000_000 }
    var g: Int64 = 1
    while sub % (g * 10) == 0 { g *= 10 }
    return g
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

  /// The record of a file hashed after `observedFrom` (the wall clock before its lstat), or nil
  /// when its ctime is not settled before then: a write in the same timestamp tick as the lstat
  /// would leave size, mtime and ctime as they were, and the record would vouch for content the
  /// hash never saw (git's "racily clean" problem).
  public static func vouching(_ identity: FileIdentity, _ digest: Digest, observedFrom: Int64) -> StatRecord? {
    FileIdentity.settled(identity.ctime, before: observedFrom) ? StatRecord(identity: identity, digest: digest) : nil
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
