//! Shared set-up for netprophet's criterion benchmarks (see the `[[bench]]`
//! targets in this package's manifest).
