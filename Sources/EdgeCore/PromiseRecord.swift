/// The `desired` database's value: one promise, encoded, version 1. The database's key is the
/// promise's position in plan order (u32, big-endian), so a cursor walks promises in the order
/// they are checked.
///
/// Layout: a fixed header (version, type, flags, digest, mode), then the fields a kept check
/// reads (id, path, owner, group, target, condition), then the rest. `PromiseView` reads the
/// first two parts in place, without allocating; `decode` builds a whole `Promise`.
/// Append new fields at the end and bump the version when a reader must know.
public enum PromiseRecord {
  public static let version: UInt8 = 1

  /// `digest`: for a file, the digest of its content (inline or blob); for a command, of its
  /// argv; .zero otherwise. EdgeCore cannot hash, so the caller supplies it.
  public static func encode(_ p: Promise, digest: Digest) -> [UInt8] {
    var w = ByteWriter(capacity: 96 + (p.content?.count ?? 0))
    w.u8(version)
    w.u8(p.type.rawValue)
    var flags: UInt8 = 0
    if p.absent { flags |= PromiseView.absentFlag }
    if p.purge { flags |= PromiseView.purgeFlag }
    if p.content != nil { flags |= PromiseView.contentFlag }
    if p.source != nil { flags |= PromiseView.sourceFlag }
    if p.mode != nil { flags |= PromiseView.modeFlag }
    if p.owner != nil { flags |= PromiseView.ownerFlag }
    if p.group != nil { flags |= PromiseView.groupFlag }
    if p.creates != nil { flags |= PromiseView.createsFlag }
    w.u8(flags)
    w.digest(digest)
    w.u32(p.mode ?? 0)
    w.string(p.id)
    w.string(p.path)
    w.string(p.owner ?? "")
    w.string(p.group ?? "")
    w.string(p.target)
    w.string(p.conditionText)
    w.string(p.creates ?? "")
    w.string(p.key)
    w.string(p.value)
    w.bytes(p.content ?? [])
    w.strings(p.exec)
    w.strings(p.unless)
    w.u32(UInt32(p.timeout))
    w.strings(p.after)
    w.strings(p.notify)
    if let svc = p.service {
      w.u8(1)
      w.strings(svc.env)
      w.string(svc.cwd ?? "")
      w.u8(svc.restart.rawValue)
      w.u32(UInt32(svc.stopSignal))
      w.u32(svc.stopTimeoutMs)
      w.u8(svc.main ? 1 : 0)
      if let h = svc.health {
        w.u8(h.kind.rawValue)
        w.strings(h.target)
        w.u32(h.intervalMs)
        w.u32(h.timeoutMs)
      } else {
        w.u8(0)
      }
      w.u32(svc.startTimeoutMs)
    } else {
      w.u8(0)
    }
    // A line promise's edit, after everything older records hold.
    if let e = p.edit {
      w.u8(1)
      w.string(e.line)
      w.string(e.match?.source ?? "")
      w.string(e.key)
      w.string(e.value)
      w.string(e.separator)
      w.string(e.section)
      w.u8(e.atStart ? 1 : 0)
    }
    // A package, likewise (tag 3); its blob here too: the header's digest is its check's.
    if let k = p.package {
      w.u8(3)
      w.string(k.name)
      w.u8(k.version == nil ? 0 : 1)
      w.string(k.version ?? "")
      w.digest(p.source ?? .zero)
    }
    // A user's or group's account, likewise (tag 2).
    if let a = p.account {
      w.u8(2)
      w.string(a.name)
      w.u8(a.id == nil ? 0 : 1)
      w.u32(a.id ?? 0)
      w.u8(a.groups == nil ? 0 : 1)
      w.strings(a.groups ?? [])
      for field in [a.home, a.shell, a.gecos, a.password] {
        w.u8(field == nil ? 0 : 1)
        w.string(field ?? "")
      }
    }
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> Promise {
    let v = try PromiseView(raw)
    var p = Promise(id: String(decoding: v.id, as: UTF8.self), type: v.type)
    p.absent = v.absent
    p.purge = v.flags & PromiseView.purgeFlag != 0
    p.path = String(decoding: v.path, as: UTF8.self)
    if v.flags & PromiseView.sourceFlag != 0 { p.source = v.digest }
    if v.hasMode { p.mode = v.mode }
    if v.hasOwner { p.owner = String(decoding: v.owner, as: UTF8.self) }
    if v.hasGroup { p.group = String(decoding: v.group, as: UTF8.self) }
    // The fields a promise boxes (Promise.rare) are set only when not empty: a file promise
    // decoded from its record then costs no box.
    if !v.target.isEmpty { p.target = String(decoding: v.target, as: UTF8.self) }
    if !v.condition.isEmpty { p.conditionText = String(decoding: v.condition, as: UTF8.self) }
    // Parsed when the policy was accepted: one that no longer parses is a corrupt record, not a
    // promise without its condition (which would then hold on every host).
    if !p.conditionText.isEmpty {
      do throws(ClassExpressionError) { p.condition = try ClassExpression(parsing: p.conditionText) } catch {
        throw RecordError("condition \"\(p.conditionText)\": \(error)")
      }
    }
    if v.flags & PromiseView.createsFlag != 0 { p.creates = String(decoding: v.creates, as: UTF8.self) }
    if !v.key.isEmpty { p.key = String(decoding: v.key, as: UTF8.self) }
    if !v.value.isEmpty { p.value = String(decoding: v.value, as: UTF8.self) }
    var r = ByteReader(raw)
    try r.skip(v.restOffset)
    let content = try r.bytes()
    if v.flags & PromiseView.contentFlag != 0 { p.content = content }
    let exec = try r.strings(), unless = try r.strings()
    if !exec.isEmpty { p.exec = exec }
    if !unless.isEmpty { p.unless = unless }
    // Bounded as the decoder bounds them: a corrupt record is an error, not a trap (a u32 past
    // Int32.max does not fit armv7's Int or a signal number).
    let timeout = try r.u32()
    guard timeout <= 86_400 else { throw RecordError("timeout out of range") }
    if timeout != 0 { p.timeout = Int(timeout) }
    p.after = try r.strings()
    p.notify = try r.strings()
    if try r.u8() == 1 {
      var svc = ServiceSpec()
      svc.env = try r.strings()
      let cwd = try r.string()
      svc.cwd = cwd.isEmpty ? nil : cwd
      guard let restart = ServiceSpec.Restart(rawValue: try r.u8()) else { throw RecordError("unknown restart policy") }
      svc.restart = restart
      let signal = try r.u32()
      guard signal < 128 else { throw RecordError("stop signal out of range") }
      svc.stopSignal = Int32(signal)
      svc.stopTimeoutMs = try r.u32()
      svc.main = try r.u8() == 1
      let kind = try r.u8()
      if kind != 0 {
        guard let k = HealthCheck.Kind(rawValue: kind) else { throw RecordError("unknown health check kind") }
        var h = HealthCheck(kind: k, target: try r.strings())
        h.intervalMs = try r.u32()
        h.timeoutMs = try r.u32()
        svc.health = h
      }
      // Records stored before start_timeout end here: they keep the default.
      if !r.atEnd { svc.startTimeoutMs = try r.u32() }
      p.service = svc
    }
    let tag: UInt8 = r.atEnd ? 0 : try r.u8()
    if tag == 3 {
      let name = try r.string()
      let hasVersion = try r.u8() == 1, version = try r.string()
      let source = try r.digest()
      p.package = PackageSpec(name: name, version: hasVersion ? version : nil)
      p.source = v.flags & PromiseView.sourceFlag != 0 ? source : nil
    }
    if tag == 2 {
      let name = try r.string()
      let hasID = try r.u8() == 1, id = try r.u32()
      let hasGroups = try r.u8() == 1, groups = try r.strings()
      var fields: [String?] = []
      for _ in 0..<4 {
        let has = try r.u8() == 1, v = try r.string()
        fields.append(has ? v : nil)
      }
      p.account = AccountSpec(name: name, id: hasID ? id : nil, groups: hasGroups ? groups : nil, home: fields[0],
                              shell: fields[1], gecos: fields[2], password: fields[3])
    }
    if tag == 1 {
      let line = try r.string(), source = try r.string()
      var match: LineRegex? = nil
      if !source.isEmpty {
        do throws(RegexError) { match = try LineRegex(source) } catch { throw RecordError("match \"\(source)\": \(error)") }
      }
      p.edit = LineEdit(line: line, match: match, key: try r.string(), value: try r.string(), separator: try r.string(),
                        section: try r.string(), atStart: try r.u8() == 1)
    }
    return p
  }

  /// The `desired` key for plan position `n`.
  public static func key(_ n: Int) -> [UInt8] {
    let v = UInt32(n)
    return [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
  }
}

/// A promise record read in place: the header and the fields a kept check needs, as slices of
/// the record's bytes (valid as long as the bytes are: inside the LMDB transaction).
public struct PromiseView {
  static let absentFlag: UInt8 = 1, purgeFlag: UInt8 = 2, contentFlag: UInt8 = 4, sourceFlag: UInt8 = 8
  static let modeFlag: UInt8 = 16, ownerFlag: UInt8 = 32, groupFlag: UInt8 = 64, createsFlag: UInt8 = 128

  public let type: PromiseType
  public let flags: UInt8
  public let digest: Digest
  public let mode: UInt32
  public let id: UnsafeRawBufferPointer
  public let path: UnsafeRawBufferPointer
  public let owner: UnsafeRawBufferPointer
  public let group: UnsafeRawBufferPointer
  public let target: UnsafeRawBufferPointer
  public let condition: UnsafeRawBufferPointer
  public let creates: UnsafeRawBufferPointer
  public let key: UnsafeRawBufferPointer
  public let value: UnsafeRawBufferPointer
  /// command: how many arguments `unless` has (0: none).
  public let unlessCount: Int
  /// Where the content field starts.
  let restOffset: Int
  /// The whole record, for a check that must decode it after all (PromiseRecord.decode).
  public let raw: UnsafeRawBufferPointer

  public init(_ raw: UnsafeRawBufferPointer) throws(RecordError) {
    self.raw = raw
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == PromiseRecord.version else { throw RecordError("promise record version \(v) is not known") }
    guard let t = PromiseType(rawValue: try r.u8()) else { throw RecordError("unknown promise type") }
    type = t
    flags = try r.u8()
    digest = try r.digest()
    mode = try r.u32()
    id = try r.slice()
    path = try r.slice()
    owner = try r.slice()
    group = try r.slice()
    target = try r.slice()
    condition = try r.slice()
    creates = try r.slice()
    key = try r.slice()
    value = try r.slice()
    restOffset = r.offset
    _ = try r.slice()                                  // content
    for _ in 0..<(try r.varint()) { _ = try r.slice() } // exec
    unlessCount = try r.varint()
  }

  public var absent: Bool { flags & PromiseView.absentFlag != 0 }
  public var hasMode: Bool { flags & PromiseView.modeFlag != 0 }
  public var hasOwner: Bool { flags & PromiseView.ownerFlag != 0 }
  public var hasGroup: Bool { flags & PromiseView.groupFlag != 0 }
  public var hasCreates: Bool { flags & PromiseView.createsFlag != 0 }
  /// Whether the digest names content this promise manages.
  public var managesContent: Bool { flags & (PromiseView.contentFlag | PromiseView.sourceFlag) != 0 }
}

/// The `actual` database's value: what the agent last saw and did for one promise. Version 2
/// adds `run`; a version 1 record reads as written by run 0.
public struct ActualRecord: Sendable, Equatable {
  public static let version: UInt8 = 2

  public var status: OutcomeStatus
  public var reason: String
  /// The digest of what was observed (a file's content), or .zero when not applicable.
  public var fingerprint: Digest
  /// When the promise was last checked, and when its status last changed (Unix seconds).
  public var checkedAt: Int64
  public var changedAt: Int64
  /// How many times it was repaired, over the state's life.
  public var repairs: UInt32
  /// How many runs in a row it has failed.
  public var failures: UInt32
  /// The serial of the run that wrote it (meta `run.serial`), for `settled(by:)`.
  public var run: UInt64

  public init(status: OutcomeStatus, reason: String, fingerprint: Digest = .zero, checkedAt: Int64,
              changedAt: Int64, repairs: UInt32 = 0, failures: UInt32 = 0, run: UInt64 = 0) {
    self.status = status
    self.reason = reason
    self.fingerprint = fingerprint
    self.checkedAt = checkedAt
    self.changedAt = changedAt
    self.repairs = repairs
    self.failures = failures
    self.run = run
  }

  /// The record as it stands after `marks` (oldest first): a repair that a later run verified
  /// in place, with every other promise kept, is kept since the first such run. That run records
  /// one mark instead of rewriting each repaired record (10,000 of them after a first run),
  /// which would cost it more than its checks.
  @inline(never)
  public func settled(by marks: [SettledMark]) -> ActualRecord {
    guard status == .repaired else { return self }
    for mark in marks where run < mark.run {
      var r = self
      r.status = .kept
      r.reason = ""
      r.checkedAt = mark.at
      r.changedAt = mark.at
      return r
    }
    return self
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: 72 + reason.utf8.count)
    w.u8(ActualRecord.version)
    w.u8(status.rawValue)
    w.string(reason)
    w.digest(fingerprint)
    w.i64(checkedAt)
    w.i64(changedAt)
    w.u32(repairs)
    w.u32(failures)
    w.u64(run)
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> ActualRecord {
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == 1 || v == version else { throw RecordError("outcome record version \(v) is not known") }
    guard let status = OutcomeStatus(rawValue: try r.u8()) else { throw RecordError("unknown outcome status") }
    var rec = ActualRecord(status: status, reason: try r.string(), fingerprint: try r.digest(), checkedAt: try r.i64(),
                           changedAt: try r.i64(), repairs: try r.u32(), failures: try r.u32())
    if v == version { rec.run = try r.u64() }
    return rec
  }
}

/// One of meta `run.settled`'s marks: the run `run` (a serial) verified every promise it did not
/// repair in place, at `at` (Unix seconds), so each repair recorded by an earlier run (and not
/// rewritten since) is kept from then on (`ActualRecord.settled(by:)`).
public struct SettledMark: Sendable, Equatable {
  public var run: UInt64
  public var at: Int64

  public init(run: UInt64, at: Int64) {
    self.run = run
    self.at = at
  }
}
