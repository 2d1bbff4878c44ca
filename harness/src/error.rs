//! Why a run could not be carried out, as opposed to what it found.

/// Why a run could not be carried out (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// The cluster or the run directory could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Writing results failed.
    #[error("cannot write results: {0}")]
    Results(String),
}
