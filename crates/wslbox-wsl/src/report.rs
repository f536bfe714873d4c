//! What an operation changed, for the user.

/// The steps an operation completed, in order, and what the user should look at by hand.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
}
