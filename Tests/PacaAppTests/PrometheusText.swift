/// A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line is
/// `# HELP name text`, `# TYPE name type` or a sample `name{label="value",…} value`; names match
/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`, label values escape only
/// `\\`, `\"` and `\n`; every sample belongs to a family with a TYPE; a histogram's buckets are
/// cumulative, end with `le="+Inf"`, and that bucket equals `_count`.
struct PrometheusText {
    struct Invalid: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    /// The value of the sample `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    static func parse(_ text: String) throws(Invalid) -> PrometheusText {
        var result = PrometheusText()
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            func fail(_ message: String) -> Invalid { Invalid(line: lineNumber, message: "\(message): \(line)") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else {
                    throw fail("a comment must be # HELP or # TYPE")
                }
                let name = String(parts[2])
                guard isMetricName(name) else { throw fail("bad metric name") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw fail("bad type")
                    }
                    guard result.types[name] == nil else { throw fail("second TYPE for \(name)") }
                    guard !result.samples.contains(where: { family($0.name, types: result.types) == name }) else {
                        throw fail("TYPE after samples of \(name)")
                    }
                    result.types[name] = String(parts[3])
                }
                continue
            }
            var scanner = Substring(line)
            let name = String(scanner.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            guard isMetricName(name) else { throw fail("bad metric name") }
            scanner = scanner.dropFirst(name.count)
            var labels: [String: String] = [:]
            if scanner.first == "{" {
                scanner = scanner.dropFirst()
                while scanner.first != "}" {
                    let label = String(scanner.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                    guard isLabelName(label) else { throw fail("bad label name") }
                    scanner = scanner.dropFirst(label.count)
                    guard scanner.hasPrefix("=\"") else { throw fail("expected =\" after \(label)") }
                    scanner = scanner.dropFirst(2)
                    var value = ""
                    while true {
                        guard let character = scanner.first else { throw fail("unterminated label value") }
                        scanner = scanner.dropFirst()
                        if character == "\"" { break }
                        if character == "\\" {
                            switch scanner.first {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw fail("bad escape in label value")
                            }
                            scanner = scanner.dropFirst()
                        } else {
                            value.append(character)
                        }
                    }
                    guard labels.updateValue(value, forKey: label) == nil else { throw fail("label \(label) twice") }
                    if scanner.first == "," { scanner = scanner.dropFirst() } else if scanner.first != "}" { throw fail("expected , or }") }
                }
                scanner = scanner.dropFirst()
            }
            guard scanner.first == " " else { throw fail("expected a space before the value") }
            let fields = scanner.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 1 || (fields.count == 2 && Int64(fields[1]) != nil) else { throw fail("expected value [timestamp]") }
            let number: Double?
            switch fields[0] {
            case "+Inf": number = .infinity
            case "-Inf": number = -.infinity
            case "NaN": number = .nan
            default: number = Double(fields[0])
            }
            guard let number else { throw fail("bad value") }
            guard result.types[family(name, types: result.types)] != nil else { throw fail("sample without a TYPE") }
            result.samples.append(Sample(name: name, labels: labels, value: number))
        }
        try result.checkHistograms()
        return result
    }

    /// The family a sample belongs to: `x_bucket`, `x_sum`, `x_count` belong to histogram `x`.
    static func family(_ name: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    func checkHistograms() throws(Invalid) {
        for (name, type) in types where type == "histogram" {
            var series: [[String: String]: [(le: Double, count: Double)]] = [:]
            for sample in samples where sample.name == name + "_bucket" {
                guard let le = sample.labels["le"], let bound = le == "+Inf" ? .infinity : Double(le) else {
                    throw Invalid(line: 0, message: "\(name)_bucket without a numeric le")
                }
                var rest = sample.labels
                rest["le"] = nil
                series[rest, default: []].append((bound, sample.value))
            }
            guard !series.isEmpty else { throw Invalid(line: 0, message: "histogram \(name) has no buckets") }
            for (labels, buckets) in series {
                guard buckets.map(\.le) == buckets.map(\.le).sorted() else {
                    throw Invalid(line: 0, message: "\(name)\(labels): buckets out of order")
                }
                for (earlier, later) in zip(buckets, buckets.dropFirst()) where later.count < earlier.count {
                    throw Invalid(line: 0, message: "\(name)\(labels): buckets are not cumulative")
                }
                guard let last = buckets.last, last.le == .infinity else {
                    throw Invalid(line: 0, message: "\(name)\(labels): no le=\"+Inf\" bucket")
                }
                guard let count = value(name + "_count", labels), count == last.count else {
                    throw Invalid(line: 0, message: "\(name)\(labels): +Inf bucket differs from _count")
                }
                guard value(name + "_sum", labels) != nil else { throw Invalid(line: 0, message: "\(name)\(labels): no _sum") }
            }
        }
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
