/// The named databases of one environment (DESIGN.md §4). Raw values index the handle table.
///
/// - meta: schema version, host id, policy, last run, bundle in force, reachability: `MetaKey`,
///   read and written only through the typed accessors of Meta.swift
/// - desired, desired.1: plan position -> PromiseRecord (with the digest of a file's content,
///   computed once when the policy is accepted). One of the two is in force (meta
///   `desired.slot`). A policy that changes few records is written into the one in force, each
///   record only if it differs, in the transaction that records the run; one that changes many
///   is staged in the other, a bounded number of records a transaction, and put in force by the
///   run's transaction (`PolicyState.swift`). DESIGN.md says "replaced whole", in one transaction.
/// - actual: promise id -> ActualRecord (with the serial of the run that wrote it: a repair is
///   read as kept once a later run verified everything in place, meta `run.settled`)
/// - statcache: 64-bit FNV-1a of root, NUL, managed path (8 bytes, under LMDB's 511-byte key
///   limit for any path; schema 3) -> StatRecord: an unchanged file is never re-read
/// - blobs: sha256 -> bytes
/// - services: service id -> service record
/// - events: big-endian u64 sequence -> event record, trimmed to a bounded ring
/// - reports: host id -> `ReportEntry` (the latest verified report of each host this agent
///   carries: its own, a relay's subtree, a collector's fleet; Reports.swift)
/// - teams: team name -> `TeamRecord` (the bundle in force of each team the baseline delegated
///   to, or did; TeamRecords.swift)
public enum Database: Int, CaseIterable, Sendable {
  case meta = 0, desired, actual, statcache, blobs, services, events, reports, teams, desired1

  /// Opened only by an environment that asks for them (`Environment(..., optional:)`) or finds
  /// them (read-only): an `apply` pays nothing for a database it never reads (an open costs
  /// allocations that `bench`'s gate counts).
  public static let optional: [Database] = [.reports, .teams]

  public var name: String {
    switch self {
    case .meta: return "meta"
    case .desired: return "desired"
    case .actual: return "actual"
    case .statcache: return "statcache"
    case .blobs: return "blobs"
    case .services: return "services"
    case .events: return "events"
    case .reports: return "reports"
    case .teams: return "teams"
    case .desired1: return "desired.1"
    }
  }
}
