import Foundation

/// One metric family of the Prometheus text exposition format (version 0.0.4).
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Sample: Sendable, Equatable {
        /// Appended to the family's name: `_bucket`, `_sum`, `_count` for histograms.
        public var suffix: String
        public var labels: [(String, String)]
        public var value: Double

        public init(_ value: Double, labels: [(String, String)] = [], suffix: String = "") {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.suffix == b.suffix && a.value == b.value && a.labels.map { "\($0.0)=\($0.1)" } == b.labels.map { "\($0.0)=\($0.1)" }
        }
    }

    public let name: String
    public let help: String
    public let kind: Kind
    public var samples: [Sample]

    public init(_ name: String, _ kind: Kind, help: String, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}

/// Renders metric families as Prometheus text (`Content-Type: text/plain; version=0.0.4`).
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(family.help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " " + number(sample.value) + "\n"
            }
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// The samples of a histogram with cumulative `buckets` (upper bounds, ascending), as
    /// `_bucket{le=...}`, `_sum` and `_count`.
    public static func histogram(labels: [(String, String)], bounds: [Double], counts: [Int], sum: Double) -> [MetricFamily.Sample] {
        var samples: [MetricFamily.Sample] = []
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += index < counts.count ? counts[index] : 0
            samples.append(.init(Double(cumulative), labels: labels + [("le", number(bound))], suffix: "_bucket"))
        }
        let total = counts.reduce(0, +)
        samples.append(.init(Double(total), labels: labels + [("le", "+Inf")], suffix: "_bucket"))
        samples.append(.init(sum, labels: labels, suffix: "_sum"))
        samples.append(.init(Double(total), labels: labels, suffix: "_count"))
        return samples
    }
}
