//! The overflow policy shared by the rings, the writer and the export pipeline.

/// What a call does when its thread's ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wait (spin, then yield) until the writer makes room: no record is lost.
    #[default]
    Block,
    /// Never wait: drop the record and count it; the writer reports drops.
    Drop,
}
