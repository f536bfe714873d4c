//! Content-addressed blob store: verify-then-commit, file locks, prune.
