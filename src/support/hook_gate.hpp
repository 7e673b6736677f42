// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_HOOK_GATE_HPP
#define GLUE_SUPPORT_HOOK_GATE_HPP

// Runs a user's hook until it is closed, and close() returns only once no hook is running: after
// it, no hook runs, ever. A client closes its gate when it shuts down, so a hook may use memory
// that dies with the client (a logger, a counter) without racing a flight that ends on another
// thread just then. A hook that itself shuts the client down (directly, or by destroying it) is
// not waited for: that would wait for itself.
//
// Hooks never run inside a library lock; this gate's own mutex is held only to count them.

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace glue::detail {

class hook_gate {
public:
    /// Runs `hook()` unless the gate is closed; a throwing hook is ignored (hooks must not
    /// throw, and one that does must not stop the library).
    template <class Hook>
    void run(Hook&& hook) noexcept {
        {
            std::lock_guard lock(mtx_);
            if (closed_) {
                return;
            }
            ++running_;
        }
        {
            // On the stack: nothing to allocate, nothing that could throw.
            const frame here{this, innermost};
            innermost = &here;
            try {
                hook();
            } catch (...) {
            }
            innermost = here.outer;
        }
        std::lock_guard lock(mtx_);
        if (--running_ == 0) {
            idle_.notify_all();
        }
    }

    /// No hook starts after this; returns when every running hook (but those running on this
    /// very thread, one of which called it) has returned. Idempotent, thread-safe.
    void close() {
        std::size_t mine = 0;
        for (const frame* f = innermost; f; f = f->outer) {
            mine += f->gate == this;
        }
        std::unique_lock lock(mtx_);
        closed_ = true;
        idle_.wait(lock, [&] { return running_ <= mine; });
    }

private:
    // The hooks running on this thread, innermost first.
    struct frame {
        const hook_gate* gate;
        const frame* outer;
    };
    static inline thread_local const frame* innermost = nullptr;

    std::mutex mtx_;
    std::condition_variable idle_;
    std::size_t running_ = 0;
    bool closed_ = false;
};

} // namespace glue::detail

#endif
