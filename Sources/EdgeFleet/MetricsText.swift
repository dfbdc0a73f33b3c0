/// Prometheus text (exposition format 0.0.4), built only when /metrics is asked for: each family
/// once, its HELP and TYPE lines before its samples.
public struct MetricsText {
  public private(set) var text = ""

  public init() {}

  /// Starts a family; `type` is "counter" or "gauge".
  public mutating func family(_ name: String, _ type: String, _ help: String) {
    text += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n"
  }

  /// One sample of the family just started. `labels`: `key="value",...` with each value passed
  /// through `escapedQuotes`; "" for none.
  public mutating func sample(_ name: String, _ value: String, labels: String = "") {
    text += labels.isEmpty ? name + " " + value + "\n" : name + "{" + labels + "} " + value + "\n"
  }

  /// A family of one sample without labels.
  public mutating func single(_ name: String, _ type: String, _ help: String, _ value: String) {
    family(name, type, help)
    sample(name, value)
  }

  /// A family of one sample per label value: `name{label="values[i]"} samples[i]`. The values
  /// are escaped here (a service id is the operator's text).
  public mutating func labeled(_ name: String, _ type: String, _ help: String, label: String, _ values: [String],
                               _ samples: [Int]) {
    family(name, type, help)
    for i in 0..<min(values.count, samples.count) {
      sample(name, String(samples[i]), labels: label + "=\"" + escapedQuotes(values[i]) + "\"")
    }
  }

  public mutating func append(_ more: String) { text += more }
}

/// Nanoseconds as seconds with three decimals: `1.042`.
public func secondsText(_ ns: UInt64) -> String {
  let ms = ns / 1_000_000 % 1000
  return String(ns / 1_000_000_000) + (ms < 10 ? ".00" : ms < 100 ? ".0" : ".") + String(ms)
}

/// The text with backslash, double quote and newline escaped: what goes between the quotes of
/// a Prometheus label value (its format defines only these three escapes).
public func escapedQuotes(_ s: String) -> String {
  var out = ""
  for c in s.unicodeScalars {
    switch c {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}
