//! Relative (net) survival of cancer registries: survival corrected for the mortality the
//! patients would have had anyway, taken from a population life table.
//!
//! - [`table`]: the life table (public CSV: expected mortality by sex, calendar year and
//!   age) and its lookup, as R's `ratetable` is looked up.
//! - [`plain`]: the Ederer II and Pohar Perme estimators in plaintext, with relsurv's own
//!   arithmetic (`rs.surv`, `precision = 1`): the oracle of the MPC protocol.

pub mod plain;
pub mod table;

pub use plain::{
    at_grid, curve_from_sums, rs_sums, rs_surv_plain, RelsurvMethod, RelsurvRow, RsPoint, RsSums,
    RsSurv,
};
pub use table::{LifeTable, RateKind};
