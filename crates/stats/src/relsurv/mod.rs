//! Relative (net) survival of cancer registries: survival corrected for the mortality the
//! patients would have had anyway, taken from a population life table.
//!
//! - [`table`]: the life table (public CSV: expected mortality by sex, calendar year and
//!   age) and its lookup, as R's `ratetable` is looked up.
//! - [`plain`]: the Ederer II and Pohar Perme estimators in plaintext, with relsurv's own
//!   arithmetic (`rs.surv`, `precision = 1`): the oracle of the MPC protocol.
//! - [`path`]: a patient's daily population rate as the data owner writes it down for
//!   sharing (the rate on day 0 and its changes), from the owner's own columns.
//! - [`ederer`]: Ederer II in MPC, from the shared paths and the follow-up.
//! - [`spec`]: `kind = "relsurv"` as a study names it, and the owner's part (the paths).
//! - [`weights`]: a patient's Pohar Perme weights `1/S(u)` as polynomial pieces, written
//!   by the same owner for the MPC protocol.
//! - [`pohar`]: Pohar Perme net survival in MPC, from the shared weights and the follow-up.

pub mod ederer;
pub mod path;
pub mod plain;
pub mod pohar;
pub mod spec;
pub mod table;
pub mod weights;

pub use plain::{
    at_grid, curve_from_sums, rs_sums, rs_surv_plain, RelsurvMethod, RelsurvRow, RsPoint, RsSums,
    RsSurv,
};
pub use spec::RelsurvSpec;
pub use table::{LifeTable, RateKind};
