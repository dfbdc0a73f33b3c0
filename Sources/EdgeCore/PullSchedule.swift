/// The puller's timing and upstream order as pure functions (no clock, no randomness of its
/// own: callers pass `random` in), so tests walk every case.
///
/// - splay: a host's fixed offset within the poll interval, from its id, so a fleet's polls
///   spread evenly instead of arriving together;
/// - backoff: after `failures` consecutive failed rounds, wait base·2^(failures-1), capped,
///   with "equal jitter" (half fixed, half random) so a fleet that lost its origin together
///   does not come back together;
/// - rendezvous ranking: each host orders the relays by hash(host id, relay); every host gets a
///   different but stable order, so load spreads evenly and moves minimally when a relay goes.
public enum PullSchedule {
  public static let backoffBaseMs: UInt64 = 1_000
  public static let backoffCapMs: UInt64 = 300_000

  /// 64-bit FNV-1a over the bytes, then a SplitMix64 finaliser (FNV's low bits are weak).
  public static func hash(_ text: String) -> UInt64 {
    var h = FNV1a.hash(FNV1a.offset, text)
    h ^= h >> 30; h = h &* 0xbf58_476d_1ce4_e5b9
    h ^= h >> 27; h = h &* 0x94d0_49bb_1331_11eb
    return h ^ (h >> 31)
  }

  /// This host's offset in [0, intervalMs).
  public static func splay(hostID: String, intervalMs: UInt64) -> UInt64 {
    intervalMs == 0 ? 0 : hash("splay:" + hostID) % intervalMs
  }

  /// The delay before the next round after `failures` consecutive failed rounds (1 or more).
  /// `random` is uniform in [0, 1 << 32).
  public static func backoffMs(failures: Int, random: UInt32, baseMs: UInt64 = backoffBaseMs, capMs: UInt64 = backoffCapMs) -> UInt64 {
    let exponent = UInt64(min(max(failures, 1) - 1, 30))
    let full = min(capMs, baseMs << exponent)
    let half = full / 2
    return half + (half * UInt64(random)) >> 32
  }

  /// `intervalMs` give or take 10%, from `random` (uniform in [0, 1 << 32)).
  public static func jittered(_ intervalMs: UInt64, random: UInt32) -> UInt64 {
    let spread = intervalMs / 5
    return intervalMs - intervalMs / 10 + (spread * UInt64(random)) >> 32
  }

  /// Indices of `candidates` by descending rendezvous score for `hostID`.
  public static func rank(_ candidates: [String], hostID: String) -> [Int] {
    var scored: [(Int, UInt64)] = []
    for (i, c) in candidates.enumerated() { scored.append((i, hash(hostID + "\u{0}" + c))) }
    scored.sort { a, b in a.1 != b.1 ? a.1 > b.1 : a.0 < b.0 }
    return scored.map { $0.0 }
  }
}
