#include "thread_slot.h"

__thread long paca_thread_slot_word __attribute__((tls_model("initial-exec"))) = 0;
