//! Records from other logging APIs, as records of this engine: the `log`
//! crate's (feature `log`).

#[cfg(feature = "log")]
pub mod log;
