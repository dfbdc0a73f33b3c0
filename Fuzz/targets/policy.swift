// requires: PolicyDecoder.swift Plan.swift PromiseRecord.swift
// The policy validator (JSON -> validated Policy -> plan) on arbitrary bytes: a Policy or a
// PolicyError, never a trap. Oracle: every accepted promise obeys the rules the host side relies
// on (paths pass pathProblem, ids are unique, the plan is a permutation), and survives the
// `desired` record encoding unchanged.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  guard let policy = try? PolicyDecoder.decode(bytes) else { return 0 }
  guard let order = try? Plan.order(policy.promises) else { fatalError("accepted policy has no plan") }
  guard order.count == policy.promises.count, Set(order).count == order.count else { fatalError("plan is not a permutation") }
  var ids = Set<String>()
  for p in policy.promises {
    guard ids.insert(p.id).inserted else { fatalError("duplicate id accepted: \(p.id)") }
    if p.type.managesPath, let problem = pathProblem(p.path) { fatalError("bad path accepted: \(problem)") }
    let record = PromiseRecord.encode(p, digest: .zero)
    let back: Promise
    do { back = try record.withUnsafeBytes { (raw) throws(RecordError) -> Promise in try PromiseRecord.decode(raw) } }
    catch { fatalError("record of \(p.id) does not decode: \(error)") }
    guard back.id == p.id, back.type == p.type, back.path == p.path, back.content == p.content, back.mode == p.mode,
          back.owner == p.owner, back.group == p.group, back.absent == p.absent, back.target == p.target,
          back.exec == p.exec, back.after == p.after, back.notify == p.notify, back.conditionText == p.conditionText,
          back.key == p.key, back.value == p.value, back.creates == p.creates, back.unless == p.unless
    else { fatalError("record of \(p.id) round-trips differently") }
  }
  return 0
}
