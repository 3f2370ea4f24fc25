//! Evaluating predictions on the linked data: how well a score (a predicted risk, a
//! clinical score) separates the outcomes, computed inside MPC with only the named figures
//! sealed for the recipients.
//!
//! - [`auc`]: the area under the ROC curve with DeLong's standard error and interval (as
//!   R's pROC).
//! - [`gbdt`]: gradient-boosted decision trees for a binary outcome, trained and validated
//!   on a held-out set inside MPC.

pub mod auc;
pub mod gbdt;

pub use auc::{auc, auc_plain, AucPublic, AucResult, AucSpec};
