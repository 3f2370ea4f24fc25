//! Survival analysis on the shared linked table: Kaplan–Meier ([`km`], with each curve's
//! median and its interval, [`median`]), the log-rank test
//! ([`logrank`]), Cox proportional hazards ([`cox`], with Harrell's concordance, [`concordance`]), the cumulative incidence of competing
//! risks ([`cuminc`]) with the Fine–Gray model ([`finegray`]) and the restricted mean survival time ([`rmst`]), each beside its
//! plaintext twin ([`plain`], [`cuminc::cuminc_plain`] and [`rmst::rmst_plain`]). All of them
//! first put the rows in risk-set order ([`risk`]). Each MPC function ends with its result
//! sealed for the recipients ([`crate::sealed::Sealed`] of [`KmPublic`], [`LogrankPublic`],
//! [`CoxPublic`], [`CumincPublic`], [`RmstPublic`]); the compute parties open only the
//! documented control values (counts, bits), never the result.

pub mod concordance;
pub mod cox;
pub mod cuminc;
pub(crate) mod dominance;
pub mod finegray;
pub(crate) mod finegray_mpc;
pub mod finegray_plain;
pub mod km;
pub mod logrank;
pub mod median;
pub mod plain;
pub(crate) mod risk;
pub mod rmst;
pub mod synthetic;
pub mod zph;

pub use concordance::{concordance_plain, Concordance, ConcordanceRaw, ConcordanceRows};
pub use cox::{cox, cox_plain, CoxPublic, CoxResult};
pub use cuminc::{cuminc, cuminc_plain, CumincPublic, CumincResult, CumincSpec};
pub use finegray::{finegray, finegray_plain, FinegrayPublic, FinegrayResult, FinegraySpec};
pub use km::{kaplan_meier, kaplan_meier_plain, KmPublic, KmResult};
pub use logrank::{logrank, logrank_plain, LogrankPublic, LogrankResult};
pub use rmst::{rmst, rmst_plain, RmstPublic, RmstResult, RmstSpec};
