//! Linear (OLS, ridge) and logistic regression on the shared linked table.
