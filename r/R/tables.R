# Results as R users know them: coefficient tables shaped like summary(coxph) and
# summary(glm), from the JSON of `tessera study results --format json`.

# One analysis of the results document, converted by its kind.
convert_analysis <- function(a) {
  if (!is.null(a$error)) {
    return(list(kind = a$kind, error = a$error))
  }
  switch(a$kind,
    cox = cox_table(a$result),
    logistic = glm_table(a$result, "z"),
    ols = glm_table(a$result, "t"),
    kaplan_meier = km_survfit(a$result),
    a$result
  )
}

# A numeric column from a list of rows (NA where a value is absent or null).
column <- function(rows, field) {
  vapply(rows, function(r) {
    v <- r[[field]]
    if (is.null(v)) NA_real_ else as.numeric(v)
  }, 0)
}

# R's label of a confidence level (`.95` for 0.95, as summary(coxph) and confint print it).
level_label <- function(conf_level) {
  sub("^0", "", format(round(conf_level, 2)))
}

# A Cox model's coefficient table: the columns of `summary(coxph)$coefficients` (`coef`,
# `exp(coef)`, `se(coef)`, with robust standard errors also `robust se`, then `z`,
# `Pr(>|z|)`) followed by those of its `conf.int` not already there (`exp(-coef)`,
# `lower .95`, `upper .95`). Rows are the model's terms (`registry.stage[T.2]`). Attributes:
# `n`, `nevent`, `loglik` (null and fitted), `logtest` (likelihood-ratio test), `conf.level`,
# `converged`, `ph_test` (with `zph`: the proportional-hazards test as its JSON).
cox_table <- function(result) {
  rows <- result$rows
  level <- level_label(result$conf_level)
  robust <- isTRUE(result$robust)
  se <- column(rows, "se")
  t <- data.frame(coef = column(rows, "coef"), check.names = FALSE)
  t[["exp(coef)"]] <- column(rows, "exp_coef")
  t[["se(coef)"]] <- if (robust) column(rows, "se_naive") else se
  if (robust) t[["robust se"]] <- se
  t[["z"]] <- column(rows, "z")
  t[["Pr(>|z|)"]] <- column(rows, "p")
  t[["exp(-coef)"]] <- 1 / t[["exp(coef)"]]
  t[[paste0("lower ", level)]] <- column(rows, "exp_coef_lower")
  t[[paste0("upper ", level)]] <- column(rows, "exp_coef_upper")
  rownames(t) <- vapply(rows, function(r) r$covariate, "")
  structure(t,
    n = result$n, nevent = result$events,
    loglik = c(result$log_likelihood_null, result$log_likelihood),
    logtest = c(test = result$lr_statistic, df = result$lr_df, pvalue = result$lr_p),
    conf.level = result$conf_level, converged = result$converged,
    ph_test = result$ph_test
  )
}

# A regression's coefficient table shaped like `summary(glm)$coefficients`: `Estimate`,
# `Std. Error`, `z value` / `t value` (`stat`), `Pr(>|z|)` / `Pr(>|t|)`, then the
# confidence limits as `confint()` names them (`2.5 %`, `97.5 %`). The intercept is
# `(Intercept)`. Attributes: `nobs` and the result's other fields (`log_likelihood`,
# `r_squared`, ...).
glm_table <- function(result, stat) {
  rows <- result$coefficients
  tail <- (1 - result$conf_level) / 2
  t <- data.frame(Estimate = column(rows, "coef"), check.names = FALSE)
  t[["Std. Error"]] <- column(rows, "std_err")
  t[[paste(stat, "value")]] <- column(rows, "stat")
  t[[sprintf("Pr(>|%s|)", stat)]] <- column(rows, "p_value")
  t[[paste(format(100 * tail), "%")]] <- column(rows, "ci_low")
  t[[paste(format(100 * (1 - tail)), "%")]] <- column(rows, "ci_high")
  names <- vapply(rows, function(r) r$name, "")
  rownames(t) <- ifelse(names == "intercept", "(Intercept)", names)
  extra <- result[setdiff(names(result), "coefficients")]
  do.call(structure, c(list(t), extra))
}
