//! Analytic FLOP counting: layers report `2 x multiply-accumulates` while a
//! [`count`] scope is active on the current thread.
//!
//! Counted: convolutions, transposed convolutions, linear layers, attention
//! matmuls, LSTM gate matmuls, and FFTs (estimated as `2.5 N log2 N` real
//! FLOPs per real-input transform). Element-wise ops, norms and pooling are not
//! counted (they are a few percent of the total for these networks).

use std::cell::Cell;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static TOTAL: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` and returns its result with the FLOPs counted while it ran.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let was_active = ACTIVE.with(|a| a.replace(true));
    let before = TOTAL.with(|t| t.replace(0));
    let out = f();
    let counted = TOTAL.with(|t| t.replace(before));
    ACTIVE.with(|a| a.set(was_active));
    if was_active {
        // Nested scopes also contribute to the outer count.
        TOTAL.with(|t| t.set(t.get() + counted));
    }
    (out, counted)
}

/// Adds `flops` to the active count (no-op outside [`count`]).
pub(crate) fn add(flops: u64) {
    if ACTIVE.with(|a| a.get()) {
        TOTAL.with(|t| t.set(t.get().saturating_add(flops)));
    }
}

/// Adds `2 * macs_per_output * numel(output)`.
pub(crate) fn add_macs(macs_per_output: i64, output_numel: i64) {
    let macs = macs_per_output.max(0) as u64 * output_numel.max(0) as u64;
    add(2 * macs);
}

/// Adds the estimate for `transforms` real 2-D FFTs of `n` points each.
pub(crate) fn add_fft(n: i64, transforms: i64) {
    if n > 1 {
        let n = n as f64;
        add((2.5 * n * n.log2() * transforms.max(0) as f64) as u64);
    }
}
