//! Descriptive statistics, contingency tables and correlation on the shared linked table.
