//! Secure record linkage: the inner join of tables held by several data parties, computed
//! by the three compute parties so that nobody learns who is in whose table.
//!
//! - [`keys`]: at each data party, locally: key normalisation declared per key column,
//!   encoding of the (composite) key into 64 bits, missing keys and duplicates, with a
//!   data-quality report for the owner only.
//! - [`input`]: secret-sharing a prepared table, from a compute party or from an outside
//!   data party (dealer messages).
//! - [`join`]: the protocol (stable oblivious sort, adjacent equality, shuffle, opening of
//!   the match bits only) and its leakage statement: the compute parties learn the input
//!   sizes and the intersection size, nothing else; no data party learns which of its
//!   records matched.
//! - [`left`]: the left join (every row of one party, the others' columns where they hold
//!   the same person): it opens nothing but the kept party's row count, already public.
//! - [`plain`]: the plaintext joins, the oracles of the tests.
//! - [`synthetic`]: deterministic test and benchmark tables.
//!
//! A typical run, with data parties A and B being compute parties 0 and 1:
//!
//! ```no_run
//! # use tessera_link::{keys, input, join};
//! # fn f(p: &mut tessera_mpc::Party, spec: &keys::KeySpec, mine: &keys::RawTable)
//! #     -> tessera_link::Result<()> {
//! let (prep, report) = keys::prepare(spec, mine)?; // report: for this party's eyes only
//! let a = input::share_prepared(p, 0, (p.id() == 0).then_some(&prep))?;
//! let b = input::share_prepared(p, 1, (p.id() == 1).then_some(&prep))?;
//! let joined = join::join(p, &[a, b], &join::JoinOptions::default())?;
//! # Ok(()) }
//! ```

pub mod error;
pub mod input;
pub mod join;
pub mod keys;
pub mod left;
pub mod plain;
pub mod synthetic;

pub use error::{LinkError, Result};
pub use input::{Shape, SharedInput};
pub use join::{join, JoinOptions, Joined};
pub use keys::{prepare, KeySpec, PrepareReport, Prepared, RawTable};
pub use left::left_join;
