//! Survival analysis on the shared linked table: Kaplan–Meier, log-rank test, Cox
//! proportional hazards.
