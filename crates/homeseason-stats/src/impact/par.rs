//! Work of one analysis split between threads, without changing a bit of its result: each side
//! runs the same function on the same values whatever the thread count; nothing is summed across
//! threads, nothing random is drawn in a worker.

/// `a()` and `b()`, side by side when `threads` ≥ 2 (`b` on a new thread), one after the other
/// otherwise.
pub(crate) fn join<A: Send, B: Send>(
    threads: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads < 2 {
        let a = a();
        return (a, b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        match b.join() {
            Ok(b) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_runs_both_and_keeps_their_places() {
        for threads in [1, 2] {
            let (a, b) = join(threads, || "a".repeat(3), || 7 * 6);
            assert_eq!((a.as_str(), b), ("aaa", 42));
        }
    }
}
