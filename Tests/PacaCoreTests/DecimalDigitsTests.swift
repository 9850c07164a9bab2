import PacaCore
import Testing

@Suite("DecimalDigits")
struct DecimalDigitsTests {
    @Test("every length, each side of every power of ten and the largest value are written as Swift writes them")
    func asSwiftWritesThem() {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65_535, .max, .max - 1]
        var power: UInt64 = 1
        for _ in 1...19 {
            power *= 10
            values += [power - 1, power, power + 1, power - power / 3]
        }
        for value in values {
            let bytes = [UInt8](unsafeUninitializedCapacity: 20) { buffer, count in
                count = DecimalDigits.write(value, to: buffer.baseAddress!)
            }
            #expect(String(decoding: bytes, as: UTF8.self) == String(value), "\(value)")
            #expect(DecimalDigits.count(value) == String(value).count, "\(value)")
        }
    }

    @Test("every value below 20,000 (the short paths and the first values past them) is written as Swift writes it")
    func everySmallValue() {
        var target = [UInt8](repeating: 0, count: 20)
        for value in UInt64(0)..<20_000 {
            let count = target.withUnsafeMutableBufferPointer { DecimalDigits.write(value, to: $0.baseAddress!) }
            if String(decoding: target[..<count], as: UTF8.self) != String(value) {
                Issue.record("\(value) written as \(String(decoding: target[..<count], as: UTF8.self))")
                return
            }
        }
    }
}
