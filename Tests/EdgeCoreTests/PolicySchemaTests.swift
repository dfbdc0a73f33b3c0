import EdgeCore
import Foundation
import XCTest

/// schema/policy.schema.json mirrors the decoder's grammar: for every promise type, the schema
/// allows exactly the keys the decoder does not call unknown. (schema/check-examples.py
/// validates the example policies against the schema itself.)
final class PolicySchemaTests: XCTestCase {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  func schemaVariants() throws -> [(type: String, keys: Set<String>)] {
    let bytes = try Data(contentsOf: Self.repository.appendingPathComponent("schema/policy.schema.json"))
    let root = try JSONReader.parse(Array(bytes))
    let defs = try XCTUnwrap(root.members?.first { $0.key == "$defs" }?.value.members)
    let promise = try XCTUnwrap(defs.first { $0.key == "promise" }?.value.members)
    let variants = try XCTUnwrap(promise.first { $0.key == "oneOf" }?.value.array)
    return try variants.map { v in
      let m = try XCTUnwrap(v.members)
      let title = try XCTUnwrap(m.first { $0.key == "title" }?.value.string)
      let props = try XCTUnwrap(m.first { $0.key == "properties" }?.value.members)
      return (title, Set(props.map(\.key)))
    }
  }

  /// Whether the decoder knows `key` for `type`: a deliberately wrong value must give some
  /// error other than "unknown key".
  func decoderAccepts(_ type: String, _ key: String) -> Bool {
    let text = "{\"policy\":\"p\",\"promises\":[{\"id\":\"x\",\"type\":\"\(type)\",\"\(key)\":{\"__probe\":[]}}]}"
    do {
      _ = try PolicyDecoder.decode(Array(text.utf8))
      return true
    } catch {
      return !error.issues.contains { $0.key == key && $0.message.hasPrefix("unknown key") }
    }
  }

  /// The schema's `$defs/duration` string pattern accepts what `parseDuration` does.
  func testSchemaDurationPatternIsTheDecodersGrammar() throws {
    let bytes = try Data(contentsOf: Self.repository.appendingPathComponent("schema/policy.schema.json"))
    let root = try JSONReader.parse(Array(bytes))
    let defs = try XCTUnwrap(root.members?.first { $0.key == "$defs" }?.value.members)
    let duration = try XCTUnwrap(defs.first { $0.key == "duration" }?.value.members)
    let anyOf = try XCTUnwrap(duration.first { $0.key == "anyOf" }?.value.array)
    let pattern = try XCTUnwrap(anyOf.compactMap { $0.members?.first { $0.key == "pattern" }?.value.string }.first)
    let regex = try NSRegularExpression(pattern: pattern)
    for text in ["90", "0", "30d", "12h", "5m", "2s", "250ms", "5m30s", "1h30m", "1d2h3m4s5ms", "1m5ms", "0s",
                 "", "s", "ms", "1w", "1.5s", "-5s", " 5s", "5S", "1m30", "30s5m", "1s1s", "5ms1s", "5sm", "5mss"] {
      let matches = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
      XCTAssertEqual(matches, parseDuration(text) != nil, "\"\(text)\": schema \(matches)")
    }
  }

  func testSchemaCoversEveryPromiseType() throws {
    let titles = Set(try schemaVariants().map(\.type))
    XCTAssertEqual(titles, Set(PromiseType.allCases.map(\.name)))
  }

  func testSchemaKeysAreExactlyTheDecoderKeys() throws {
    let candidates = ["path", "content", "source", "mode", "owner", "group", "state", "purge", "target", "exec",
                      "creates", "unless", "timeout", "env", "cwd", "user", "restart", "health", "stop_signal",
                      "stop_timeout", "start_timeout", "main", "key", "value", "after", "notify", "if", "comment", "color", "perms"]
    for (type, keys) in try schemaVariants() {
      for key in candidates where key != "id" && key != "type" {
        XCTAssertEqual(keys.contains(key), decoderAccepts(type, key),
                       "type \(type), key \(key): schema says \(keys.contains(key)), decoder says \(decoderAccepts(type, key))")
      }
      for key in keys where key != "id" && key != "type" {
        XCTAssertTrue(decoderAccepts(type, key), "schema allows \(key) for \(type) but the decoder rejects it")
      }
    }
  }
}
