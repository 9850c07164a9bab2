import Foundation
import PacaCore
import Testing

@testable import PacaWarming

@Suite("SequenceModel and persistence")
struct SequenceModelTests {
    /// Ten visits a minute apart: A, then B a second later, C two seconds later in three of
    /// them, and D ten seconds later (too late to count).
    func visits() -> WarmingModel {
        var model = WarmingModel()
        for visit in 0..<Int64(10) {
            let start = monday + visit * minute
            model.observe("A", at: start, url: "/a")
            model.observe("B", at: start + 1_000, url: "/b")
            if visit < 3 { model.observe("C", at: start + 2_000, url: "/c") }
            model.observe("D", at: start + 12_000, url: "/d")
        }
        return model
    }

    @Test("followers of A are B always and C three times in ten; D, too late, is none")
    func followers() {
        let model = visits()
        let followers = model.followers(of: "A")
        #expect(followers.map(\.key) == ["B", "C"])
        #expect(followers.map(\.probability) == [1.0, 0.3])
        #expect(model.followers(of: "B").map(\.key) == ["C"])
        #expect(model.followers(of: "unknown").isEmpty)
    }

    @Test("a popular key that follows everything by chance has a low lift; a real follower a high one")
    func lift() {
        var model = SequenceModel(configuration: .init(lookback: 2))
        for round in 0..<Int64(100) {
            let start = monday + round * 10_000
            // "hot" is every other request; "page.css" follows "page" only.
            model.observe("hot", at: start)
            model.observe("page", at: start + 100)
            model.observe("hot", at: start + 200)
            model.observe("page.css", at: start + 300)
            model.observe("hot", at: start + 400)
            model.observe("other\(round)", at: start + 500)
        }
        let all = model.followers(of: "page").map(\.key)
        #expect(Set(all) == ["hot", "page.css"])
        let real = model.followers(of: "page", minimumLift: 2)
        #expect(real.map(\.key) == ["page.css"])
        #expect(real.first.map { $0.probability == 1 && $0.lift > 2 } == true)
    }

    @Test("followers per key and source keys stay within their bounds")
    func sequenceBounds() {
        var model = SequenceModel(configuration: .init(capacity: 4, followersPerKey: 2, window: 5_000, lookback: 1))
        for round in 0..<Int64(20) {
            model.observe("A", at: monday + round * 10_000)
            // B follows every time, the others once each.
            model.observe(round.isMultiple(of: 2) ? "B" : "x\(round)", at: monday + round * 10_000 + 100)
        }
        #expect(model.count <= 4)
        let followers = model.followers(of: "A")
        #expect(followers.count == 2)
        #expect(followers.first?.key == "B")
    }

    @Test("a saved model loads back with the same predictions and followers")
    func roundTrip() throws {
        let model = visits()
        let path = NSTemporaryDirectory() + "paca-warming-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path, savedAt: monday + hour)
        let loaded = try WarmingModel.load(from: path)
        let time = monday + day + 9 * hour
        #expect(loaded.popularity.top(10, at: time, within: hour) == model.popularity.top(10, at: time, within: hour))
        #expect(loaded.popularity.keys == model.popularity.keys)
        #expect(loaded.followers(of: "A").map(\.key) == model.followers(of: "A").map(\.key))
        #expect(loaded.followers(of: "A").map(\.probability) == model.followers(of: "A").map(\.probability))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter {
            $0.hasPrefix((path as NSString).lastPathComponent + ".tmp")
        }
        #expect(leftovers.isEmpty)
    }

    @Test("foreign, truncated, damaged, newer and missing files are rejected with an error naming the file")
    func badFiles() throws {
        let path = NSTemporaryDirectory() + "paca-warming-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func load(_ content: String) -> WarmingModelFileError? {
            try? content.write(toFile: path, atomically: false, encoding: .utf8)
            do {
                _ = try WarmingModel.load(from: path)
                return nil
            } catch {
                return error as? WarmingModelFileError
            }
        }
        #expect(load("\u{1}\u{2}garbage") == .foreign(path: path))
        #expect(load(#"{"routes": []}"#) == .foreign(path: path))
        #expect(load(#"{"format":"paca-warming","version":99}"#) == .unsupportedVersion(path: path, version: 99))
        guard case .corrupt = load(#"{"format":"paca-warming","version":1,"keys":5}"#) else {
            Issue.record("a damaged model was not reported as such")
            return
        }
        try visits().save(to: path, savedAt: monday)
        let whole = try String(contentsOfFile: path, encoding: .utf8)
        guard case .corrupt = load(String(whole.prefix(whole.count / 2))) else {
            Issue.record("a truncated model was not reported as such")
            return
        }
        let negative = whole.replacingOccurrences(of: #""occurrences":10"#, with: #""occurrences":-10"#)
        #expect(negative != whole)
        guard case .corrupt = load(negative) else {
            Issue.record("a negative count was not reported")
            return
        }
        try FileManager.default.removeItem(atPath: path)
        #expect {
            _ = try WarmingModel.load(from: path)
        } throws: { error in
            guard case .io(let named, _) = error as? WarmingModelFileError else { return false }
            return named == path
        }
        #expect(WarmingModelFileError.foreign(path: path).description == "\(path) is not a paca warming model")
    }
}
