//! Records from other logging APIs, as records of this engine: the `log`
//! crate's (feature `log`) and the `tracing` crate's (feature `tracing`).

#[cfg(feature = "log")]
pub mod log;

#[cfg(feature = "tracing")]
pub mod tracing;
