//! Nonlinear functions.
