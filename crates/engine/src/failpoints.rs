//! Fault injection for the engine's own tests: named points (the `fail` crate's) where a test
//! makes the engine fail the way a defect would. They exist only with the `failpoints`
//! feature, which the engine's tests turn on and no build of the `baton` binary does; without
//! it each point is an empty function.

/// Where a step is computed. Configured as `return(PROCESS)`, computing a step of an instance
/// of process PROCESS panics, as a defect in the core would (instances of other processes are
/// left alone).
pub const STEP: &str = "engine::step";

/// The [`STEP`] point, passed before the core computes a step of an instance of `process`.
#[cfg(feature = "failpoints")]
pub(crate) fn before_step(process: &str) {
    fail::fail_point!(STEP, |target: Option<String>| {
        if target.as_deref() == Some(process) {
            panic!("failpoint `{STEP}` for process `{process}`");
        }
    });
}

#[cfg(not(feature = "failpoints"))]
pub(crate) fn before_step(_process: &str) {}
