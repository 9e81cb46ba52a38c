//! Small helpers the sections share: percentiles, and the owners plans are dealt to.

/// The `p`-th percentile (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Owner of the `i`-th plan: plans are dealt round-robin to `owners` owners.
pub fn owner(i: usize, owners: usize) -> String {
    format!("bench-{}", i % owners.max(1))
}
