//! The table the analyses read: the linked data, secret-shared ([`Frame`]), and its
//! plaintext twin ([`PlainFrame`]) used by the reference implementations and the tests.
//!
//! A column is numeric (fixed point) or categorical (levels declared in the study, stored as
//! one-hot indicator columns). Every column carries a *present* indicator (integer 0/1):
//! a missing value is stored as 0 with present = 0, so which rows are missing stays secret.
//!
//! A data party encodes each of its columns into Z_2^128 vectors with [`PlainColumn::encode`]
//! (present first, then the value or the one-hot levels); those vectors are the payload it
//! secret-shares and links; after the join, [`Frame::assemble`] reads them back by the
//! public schema ([`PlainColumn::schema`]).

use std::sync::Arc;

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::{Result, StatsError};

/// One column of the shared table.
#[derive(Clone, Debug, Default)]
pub struct Column {
    /// `party.column`, as the study names it.
    pub name: String,
    /// 1 where the value is present, 0 where it is missing (integers, not fixed point).
    /// Shared by reference: the columns of a block missing together hold one indicator
    /// ([`Frame::share_block`]).
    pub present: Arc<AShare<u128>>,
    /// The values.
    pub data: ColumnData,
}

/// The values of a shared column.
#[derive(Clone, Debug)]
pub enum ColumnData {
    /// Fixed-point values (0 where missing).
    Numeric(AShare<u128>),
    /// One indicator column (integers 0/1) per declared level, all 0 where missing.
    Categorical {
        /// The level labels, in the study's order.
        levels: Vec<String>,
        /// `onehot[l][i] = 1` when row `i` has level `l`.
        onehot: Vec<AShare<u128>>,
    },
}

impl Default for ColumnData {
    fn default() -> Self {
        ColumnData::Numeric(AShare::default())
    }
}

/// The public description of a column: what a data party announces about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schema {
    /// A numeric column.
    Numeric,
    /// A categorical column with these levels.
    Categorical(Vec<String>),
}

impl Schema {
    /// Number of Z_2^128 vectors a column of this schema is encoded into.
    pub fn width(&self) -> usize {
        match self {
            Schema::Numeric => 2,
            Schema::Categorical(levels) => 1 + levels.len(),
        }
    }
}

/// The secret-shared table the analyses read.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// Number of rows (public: the intersection size).
    pub rows: usize,
    /// The columns.
    pub columns: Vec<Column>,
}

impl Frame {
    /// Reads columns back from encoded vectors (as made by [`PlainColumn::encode`]):
    /// `cols` holds the vectors of the columns named in `schema`, in order.
    pub fn assemble(
        rows: usize,
        schema: &[(String, Schema)],
        cols: &[AShare<u128>],
    ) -> Result<Frame> {
        Frame::assemble_owned(rows, schema, cols.to_vec())
    }

    /// [`Frame::assemble`] taking the vectors by value, so that the table is never held
    /// twice (the weight columns of Pohar Perme are hundreds of vectors).
    pub fn assemble_owned(
        rows: usize,
        schema: &[(String, Schema)],
        cols: Vec<AShare<u128>>,
    ) -> Result<Frame> {
        let need: usize = schema.iter().map(|(_, s)| s.width()).sum();
        if need != cols.len() || cols.iter().any(|c| c.len() != rows) {
            return Err(StatsError::Invalid(format!(
                "the schema needs {need} vectors of {rows} rows, got {} vectors",
                cols.len()
            )));
        }
        let mut it = cols.into_iter();
        let mut next = || it.next().expect("counted above");
        let columns = schema
            .iter()
            .map(|(name, s)| {
                let present = Arc::new(next());
                let data = match s {
                    Schema::Numeric => ColumnData::Numeric(next()),
                    Schema::Categorical(levels) => ColumnData::Categorical {
                        levels: levels.clone(),
                        onehot: levels.iter().map(|_| next()).collect(),
                    },
                };
                Column {
                    name: name.clone(),
                    present,
                    data,
                }
            })
            .collect();
        Ok(Frame { rows, columns })
    }

    /// Secret-shares a plaintext frame held by compute party `owner` (the others pass a
    /// frame with the same schema and row count; its values are not used). For tests and
    /// for data that needs no linkage.
    pub fn share(p: &mut Party, owner: usize, plain: &PlainFrame) -> Result<Frame> {
        Frame::share_block(p, owner, plain, |_| false)
    }

    /// [`Frame::share`], except that the numeric columns `in_block` names (a public choice,
    /// as relsurv's weight columns, which the owner writes missing together) share one
    /// present indicator, sent once and held once: a row of the block is present when it
    /// is present in every column of the block (the owner zeroes the others' values).
    /// Half the bytes and memory of a block of many columns.
    pub fn share_block(
        p: &mut Party,
        owner: usize,
        plain: &PlainFrame,
        in_block: impl Fn(&str) -> bool,
    ) -> Result<Frame> {
        let f = p.frac_bits();
        let (n, me) = (plain.rows, p.id());
        let block: Vec<bool> = plain
            .columns
            .iter()
            .map(|c| in_block(&c.name) && matches!(c.data, PlainData::Numeric(_)))
            .collect();
        let complete: Vec<bool> = (0..n)
            .map(|i| {
                plain
                    .columns
                    .iter()
                    .zip(&block)
                    .all(|(c, &b)| !b || c.present(i))
            })
            .collect();
        let share = |p: &mut Party, v: &[u128]| p.share_input(owner, (me == owner).then_some(v), n);
        let present = if block.contains(&true) {
            let bits: Vec<u128> = complete.iter().map(|&b| u128::from(b)).collect();
            Some(Arc::new(share(p, &bits)?))
        } else {
            None
        };
        let mut columns = Vec::with_capacity(plain.columns.len());
        for (c, &b) in plain.columns.iter().zip(&block) {
            let mut vs = c.encode(f);
            if let (true, Some(present)) = (b, &present) {
                let vals: Vec<u128> = vs[1]
                    .iter()
                    .zip(&complete)
                    .map(|(&v, &k)| if k { v } else { 0 })
                    .collect();
                columns.push(Column {
                    name: c.name.clone(),
                    present: Arc::clone(present),
                    data: ColumnData::Numeric(share(p, &vals)?),
                });
                continue;
            }
            let cols = vs
                .drain(..)
                .map(|v| share(p, &v))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let schema = [(c.name.clone(), c.schema())];
            columns.extend(Frame::assemble_owned(n, &schema, cols)?.columns);
        }
        Ok(Frame { rows: n, columns })
    }

    /// The column called `name`, or an error naming the columns there are.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
            StatsError::Invalid(format!(
                "no column `{name}` in the linked table (columns: {})",
                known.join(", ")
            ))
        })
    }

    /// The values and present indicator of the numeric column `name`.
    pub fn numeric(&self, name: &str) -> Result<(&AShare<u128>, &AShare<u128>)> {
        let c = self.column(name)?;
        match &c.data {
            ColumnData::Numeric(v) => Ok((v, &*c.present)),
            ColumnData::Categorical { .. } => Err(StatsError::Invalid(format!(
                "column `{name}` is categorical, the analysis needs a numeric column"
            ))),
        }
    }

    /// The levels, one-hot indicators and present indicator of the categorical column
    /// `name`.
    pub fn categorical(&self, name: &str) -> Result<CategoricalRef<'_>> {
        let c = self.column(name)?;
        match &c.data {
            ColumnData::Categorical { levels, onehot } => Ok(CategoricalRef {
                levels,
                onehot,
                present: &c.present,
            }),
            ColumnData::Numeric(_) => Err(StatsError::Invalid(format!(
                "column `{name}` is numeric, the analysis needs a categorical column"
            ))),
        }
    }
}

/// A categorical column of a [`Frame`], borrowed.
#[derive(Clone, Copy, Debug)]
pub struct CategoricalRef<'a> {
    /// The level labels.
    pub levels: &'a [String],
    /// One indicator vector (integers 0/1) per level.
    pub onehot: &'a [AShare<u128>],
    /// The present indicator.
    pub present: &'a AShare<u128>,
}

/// The plaintext twin of a [`Column`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlainColumn {
    /// `party.column`.
    pub name: String,
    /// The values (`None` = missing).
    pub data: PlainData,
}

/// The values of a plaintext column.
#[derive(Clone, Debug, PartialEq)]
pub enum PlainData {
    /// Real values.
    Numeric(Vec<Option<f64>>),
    /// Level indices into `levels`.
    Categorical {
        /// The level labels.
        levels: Vec<String>,
        /// Each row's level index.
        codes: Vec<Option<usize>>,
    },
}

impl PlainColumn {
    /// A numeric column without missing values.
    pub fn numeric(name: &str, v: &[f64]) -> Self {
        PlainColumn {
            name: name.to_string(),
            data: PlainData::Numeric(v.iter().map(|&x| Some(x)).collect()),
        }
    }

    /// A categorical column without missing values.
    pub fn categorical(name: &str, levels: &[&str], codes: &[usize]) -> Self {
        PlainColumn {
            name: name.to_string(),
            data: PlainData::Categorical {
                levels: levels.iter().map(|s| s.to_string()).collect(),
                codes: codes.iter().map(|&c| Some(c)).collect(),
            },
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.data {
            PlainData::Numeric(v) => v.len(),
            PlainData::Categorical { codes, .. } => codes.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` has a value.
    pub fn present(&self, i: usize) -> bool {
        match &self.data {
            PlainData::Numeric(v) => v[i].is_some(),
            PlainData::Categorical { codes, .. } => codes[i].is_some(),
        }
    }

    /// The public schema.
    pub fn schema(&self) -> Schema {
        match &self.data {
            PlainData::Numeric(_) => Schema::Numeric,
            PlainData::Categorical { levels, .. } => Schema::Categorical(levels.clone()),
        }
    }

    /// The Z_2^128 vectors this column is shared as: the present indicator, then the
    /// fixed-point values (`f` fractional bits) or one indicator per level.
    pub fn encode(&self, f: u32) -> Vec<Vec<u128>> {
        let bit = |b: bool| u128::from(b);
        match &self.data {
            PlainData::Numeric(v) => vec![
                v.iter().map(|x| bit(x.is_some())).collect(),
                v.iter()
                    .map(|x| x.map_or(0, |x| encode::<u128>(x, f)))
                    .collect(),
            ],
            PlainData::Categorical { levels, codes } => {
                let mut out = vec![codes.iter().map(|c| bit(c.is_some())).collect()];
                for l in 0..levels.len() {
                    out.push(codes.iter().map(|&c| bit(c == Some(l))).collect());
                }
                out
            }
        }
    }
}

/// The plaintext twin of a [`Frame`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlainFrame {
    /// Number of rows.
    pub rows: usize,
    /// The columns.
    pub columns: Vec<PlainColumn>,
}

impl PlainFrame {
    /// A frame of the given columns (all of the same length).
    pub fn new(columns: Vec<PlainColumn>) -> Result<PlainFrame> {
        let rows = columns.first().map_or(0, PlainColumn::len);
        if let Some(c) = columns.iter().find(|c| c.len() != rows) {
            return Err(StatsError::Invalid(format!(
                "column `{}` has {} rows, `{}` has {rows}",
                c.name,
                c.len(),
                columns[0].name
            )));
        }
        Ok(PlainFrame { rows, columns })
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Result<&PlainColumn> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| StatsError::Invalid(format!("no column `{name}`")))
    }

    /// The values of the numeric column `name`.
    pub fn numeric(&self, name: &str) -> Result<&[Option<f64>]> {
        match &self.column(name)?.data {
            PlainData::Numeric(v) => Ok(v),
            PlainData::Categorical { .. } => Err(StatsError::Invalid(format!(
                "column `{name}` is categorical, the analysis needs a numeric column"
            ))),
        }
    }

    /// The levels and codes of the categorical column `name`.
    pub fn categorical(&self, name: &str) -> Result<(&[String], &[Option<usize>])> {
        match &self.column(name)?.data {
            PlainData::Categorical { levels, codes } => Ok((levels, codes)),
            PlainData::Numeric(_) => Err(StatsError::Invalid(format!(
                "column `{name}` is numeric, the analysis needs a categorical column"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::fixed::decode_vec;
    use tessera_mpc::testing::run3_ok;

    #[test]
    fn frame_round_trip() {
        let plain = PlainFrame::new(vec![
            PlainColumn {
                name: "a.x".into(),
                data: PlainData::Numeric(vec![Some(1.5), None, Some(-2.25)]),
            },
            PlainColumn {
                name: "b.g".into(),
                data: PlainData::Categorical {
                    levels: vec!["u".into(), "v".into()],
                    codes: vec![Some(1), Some(0), None],
                },
            },
        ])
        .unwrap();
        let out = run3_ok(|p| {
            let fr = Frame::share(p, 1, &plain).map_err(|e| match e {
                StatsError::Mpc(m) => m,
                e => panic!("{e}"),
            })?;
            let (v, pr) = fr.numeric("a.x").unwrap();
            let g = fr.categorical("b.g").unwrap();
            assert_eq!(g.levels.len(), 2);
            Ok((
                p.reveal(v)?,
                p.reveal(pr)?,
                p.reveal(&g.onehot[1])?,
                p.reveal(g.present)?,
            ))
        });
        let (v, pr, oh1, gp) = &out[0];
        assert_eq!(decode_vec(v, 24), vec![1.5, 0.0, -2.25]);
        assert_eq!(pr, &vec![1, 0, 1]);
        assert_eq!(oh1, &vec![1, 0, 0]);
        assert_eq!(gp, &vec![1, 1, 0]);
    }
}
