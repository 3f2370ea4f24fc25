//! Polynomial approximation.
