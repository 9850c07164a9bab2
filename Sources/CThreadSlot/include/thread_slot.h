#ifndef PACA_CTHREADSLOT_H
#define PACA_CTHREADSLOT_H

// A thread-local word for `ThreadSlot`: the thread's slot plus one, 0 until the thread first
// asks. Read with a load, where pthread_getspecific is a call of about 17 instructions. The
// initial-exec model suits an executable, or a library linked at start-up (paca, its tests, and
// SwiftPM's static builds of its library products); a copy loaded with dlopen relies on glibc's
// spare static TLS, which this one word fits. Elsewhere the attribute is ignored. A process with
// two copies of this target has two words, and a thread two numbers: only sharding follows it,
// never correctness.

extern __thread long paca_thread_slot_word __attribute__((tls_model("initial-exec")));

static inline long paca_thread_slot_get(void) {
    return paca_thread_slot_word;
}

static inline void paca_thread_slot_set(long value) {
    paca_thread_slot_word = value;
}

#endif
