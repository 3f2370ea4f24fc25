//! Survival analysis on the shared linked table: Kaplan–Meier ([`km`]), the log-rank test
//! ([`logrank`]) and Cox proportional hazards ([`cox`]), each beside its plaintext twin
//! ([`plain`]). All three first put the rows in risk-set order ([`risk`]). Each MPC function
//! ends with its result sealed for the recipients ([`crate::sealed::Sealed`] of
//! [`KmPublic`], [`LogrankPublic`], [`CoxPublic`]); the compute parties open only the
//! documented control values (counts, bits), never the result.

pub mod cox;
pub mod km;
pub mod logrank;
pub mod plain;
pub(crate) mod risk;
pub mod synthetic;

pub use cox::{cox, cox_plain, CoxPublic, CoxResult};
pub use km::{kaplan_meier, kaplan_meier_plain, KmPublic, KmResult};
pub use logrank::{logrank, logrank_plain, LogrankPublic, LogrankResult};
