#ifndef PACA_CTHREADSLOT_H
#define PACA_CTHREADSLOT_H

// A thread-local word for `ThreadSlot`: the thread's slot plus one, 0 until the thread first
// asks. Read with a load (initial-exec TLS: paca and its tests are executables, never a library
// loaded with dlopen), where pthread_getspecific is a call of about 17 instructions.

extern __thread long paca_thread_slot_word __attribute__((tls_model("initial-exec")));

static inline long paca_thread_slot_get(void) {
    return paca_thread_slot_word;
}

static inline void paca_thread_slot_set(long value) {
    paca_thread_slot_word = value;
}

#endif
