//! Test support: registry processes, token server, fixture image builder, oracle comparison.
