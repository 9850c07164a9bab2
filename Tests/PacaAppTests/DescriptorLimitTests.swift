import Glibc
import PacaApp
import PacaEngine
import Testing

/// `paca serve` raises its descriptor limit to the hard one, and the `sendfile` mirrors take at
/// most an eighth of it.
@Suite("Descriptor limit")
struct DescriptorLimitTests {
    @Test("the soft limit is raised to the hard one (at most the ceiling), and reads back")
    func raisesToHard() {
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        let (_, after) = DescriptorLimit.raiseToHard(ceiling: 1 << 20)
        let hard = limit.rlim_max == rlim_t.max ? Int.max : Int(limit.rlim_max)
        #expect(after == DescriptorLimit.current)
        #expect(after >= min(hard, 1 << 20) || limit.rlim_cur == rlim_t.max)
    }

    @Test("sendfile mirrors get at most an eighth of the descriptors, counting one per loop on each")
    func mirrorsShareOfDescriptors() {
        let limit = DescriptorLimit.current
        let policy = ProxyApplication.sendfilePolicy(.init(maxFiles: 256), loops: 3)
        #expect(policy.maxFiles == min(256, limit / 32))
        #expect(policy.maxFiles * 4 <= limit / 8)
        #expect(policy.minBodyBytes == 128 << 10, "the rest of the policy is kept")
    }
}
