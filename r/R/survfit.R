# Kaplan-Meier results as survfit-like objects: the fields survival's `survfit` has, so that
# code written for survfit (and `plot()`) works, plus the grid table as `summary(fit,
# times = ...)` prints it.

# One curve's steps: its event times when the study asked for them (`at_event_times`),
# otherwise its shown grid rows. Survival and its limits as the JSON has them; `std.err` as
# survfit keeps it (of log survival, the JSON's standard error of the survival over the
# survival); events per step (the grid's events are cumulative).
curve_steps <- function(curve) {
  if (length(curve$event_times) > 0) {
    rows <- curve$event_times
    events <- column(rows, "events")
    censored <- column(rows, "censored")
  } else {
    rows <- Filter(function(r) isTRUE(r$shown), curve$rows)
    events <- diff(c(0, column(rows, "events")))
    censored <- rep(NA_real_, length(rows))
  }
  surv <- column(rows, "survival")
  data.frame(
    time = column(rows, "time"), n.risk = column(rows, "at_risk"), n.event = events,
    n.censor = censored, surv = surv, std.err = column(rows, "std_err") / surv,
    lower = column(rows, "ci_lower"), upper = column(rows, "ci_upper")
  )
}

# One curve's grid rows as `summary(survfit, times = ...)` gives them: number at risk,
# events since the previous shown grid time, survival, its standard error and limits;
# suppressed rows (too few at risk) are NA.
curve_grid <- function(curve, label) {
  rows <- curve$rows
  cumulative <- column(rows, "events")
  shown <- !is.na(cumulative)
  events <- rep(NA_real_, length(rows))
  events[shown] <- diff(c(0, cumulative[shown]))
  data.frame(
    strata = rep(label, length(rows)), time = column(rows, "time"),
    n.risk = column(rows, "at_risk"), n.event = events, surv = column(rows, "survival"),
    std.err = column(rows, "std_err"), lower = column(rows, "ci_lower"),
    upper = column(rows, "ci_upper"), stringsAsFactors = FALSE
  )
}

# A Kaplan-Meier result as an object of class c("tessera_survfit", "survfit"): `time`,
# `n.risk`, `n.event`, `n.censor` (known only with censoring marks), `surv`, `std.err`,
# `lower`, `upper`, `strata` (steps per curve, named `column=level`), `conf.int`,
# `conf.type` ("log-log": the exponential Greenwood interval), `type`, `n`; and `grid`
# (the grid table, as `summary(fit, times = ...)`), `median` (per curve, when asked for).
km_survfit <- function(result) {
  curves <- result$curves
  labels <- vapply(curves, function(c) {
    if (is.null(c$group)) "all" else paste0(result$group_column, "=", c$group)
  }, "")
  steps <- lapply(curves, curve_steps)
  all <- do.call(rbind, steps)
  fit <- list(
    n = result$n, time = all$time, n.risk = all$n.risk, n.event = all$n.event,
    n.censor = all$n.censor, surv = all$surv, std.err = all$std.err,
    lower = all$lower, upper = all$upper, conf.int = result$conf_level,
    conf.type = "log-log", type = "right", logse = TRUE
  )
  if (!is.null(result$group_column)) {
    fit$strata <- setNames(vapply(steps, nrow, 0L), labels)
  }
  fit$grid <- do.call(rbind, Map(curve_grid, curves, labels))
  rownames(fit$grid) <- NULL
  medians <- lapply(curves, function(c) c$median)
  if (!all(vapply(medians, is.null, TRUE))) {
    fit$median <- setNames(medians, labels)
  }
  class(fit) <- c("tessera_survfit", "survfit")
  fit
}

# The steps of curve `i` of `x` (all of them without strata).
curve_index <- function(x, i) {
  if (is.null(x$strata)) {
    return(seq_along(x$time))
  }
  end <- cumsum(x$strata)
  seq_len(x$strata[i]) + end[i] - x$strata[i]
}

#' Plot Kaplan-Meier curves
#'
#' Step curves from time 0 (survival 1), one per group, with the confidence limits dashed.
#' Works without the survival package (which plots the object too: it is also a `survfit`).
#'
#' @param x A `tessera_survfit` from [tessera_results()].
#' @param conf.int Whether to draw the confidence limits.
#' @param col Colours, one per curve.
#' @param xlab,ylab Axis labels.
#' @param ... Passed to `plot()`.
#' @export
plot.tessera_survfit <- function(x, conf.int = TRUE, col = seq_len(max(1, length(x$strata))),
                                 xlab = "time", ylab = "survival", ...) {
  k <- max(1, length(x$strata))
  plot(NA, xlim = c(0, max(x$time, 1)), ylim = c(0, 1), xlab = xlab, ylab = ylab, ...)
  for (i in seq_len(k)) {
    j <- curve_index(x, i)
    lines(c(0, x$time[j]), c(1, x$surv[j]), type = "s", col = col[i])
    if (conf.int) {
      lines(c(0, x$time[j]), c(1, x$lower[j]), type = "s", col = col[i], lty = 2)
      lines(c(0, x$time[j]), c(1, x$upper[j]), type = "s", col = col[i], lty = 2)
    }
  }
  if (!is.null(x$strata)) {
    legend("topright", legend = names(x$strata), col = col, lty = 1, bty = "n")
  }
  invisible(x)
}

#' @export
print.tessera_survfit <- function(x, ...) {
  cat(sprintf("Kaplan-Meier, n = %s, %s%% log-log limits\n", x$n, 100 * x$conf.int))
  print(x$grid, row.names = FALSE, ...)
  invisible(x)
}
