# The R client against real stations (driven by scripts/r.sh, which prepares the demo's
# three stations, starts them, writes the researcher's profile and installs the package):
#
#   Rscript r/tests/run.R DEMO_DIR REPO_DIR
#
# with TESSERA_BIN and TESSERA_PROFILE set. A study is submitted with tessera_submit(),
# approved by the GP network's steward with the CLI, awaited with tessera_wait() and fetched
# with tessera_results(); the Cox table, the Kaplan-Meier curves and the logistic regression
# are compared with R's own coxph / survfit / glm on the pooled data (the fixtures' two
# tables joined as the demo's study joins them) at 1e-4. Refusals (on submission, and by a
# steward after it) must come back as `tessera_error` conditions naming the station and rule.
# Ends with `r tests: N passed, M failed` and exits 1 on any failure.

suppressPackageStartupMessages({
  library(tessera)
  library(survival)
})

args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 2)
demo <- normalizePath(args[1])
repo <- normalizePath(args[2])
bin <- tessera_binary()

passed <- 0L
failed <- 0L
# Runs one named check: passes when `expr` runs without error.
check <- function(name, expr) {
  ok <- tryCatch({
    force(expr)
    TRUE
  }, error = function(e) {
    message(sprintf("FAILED %s: %s", name, conditionMessage(e)))
    FALSE
  })
  if (ok) {
    passed <<- passed + 1L
    message(sprintf("ok     %s", name))
  } else {
    failed <<- failed + 1L
  }
}
# Fails unless `a` and `b` agree within `tol` (absolute), naming what differs.
near <- function(a, b, tol, what) {
  a <- unname(as.matrix(a))
  b <- unname(as.matrix(b))
  if (!identical(dim(a), dim(b))) stop(sprintf("%s: shapes differ", what))
  worst <- max(abs(a - b))
  if (!is.finite(worst) || worst > tol) {
    stop(sprintf("%s: differs by %.3g (more than %g)", what, worst, tol))
  }
  invisible(worst)
}
# Fails unless `cond` is a `tessera_error` from `expr`; returns the condition.
expect_tessera_error <- function(expr) {
  got <- tryCatch({
    force(expr)
    NULL
  }, tessera_error = function(e) e)
  if (is.null(got)) stop("no tessera_error was signalled")
  got
}
# The CLI as a station's steward.
steward <- function(station, ...) {
  out <- suppressWarnings(system2(bin, shQuote(c("station", "--config",
    file.path(demo, station, "station.toml"), ...)), stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) stop(paste(c("steward:", out), collapse = "\n"))
  out
}
# The demo's study under another id (and other text changes).
variant <- function(id, from = character(), to = character()) {
  text <- readLines(file.path(demo, "researcher", "study.toml"))
  text <- sub('^id = "tessera-demo"$', sprintf('id = "%s"', id), text)
  for (i in seq_along(from)) text <- sub(from[i], to[i], text, fixed = TRUE)
  path <- file.path(demo, "researcher", paste0(id, ".toml"))
  writeLines(text, path)
  path
}
# Waits until station `name` holds study `id` in `state`, as the registry reports it.
await_station <- function(id, name, state, seconds = 60) {
  deadline <- Sys.time() + seconds
  repeat {
    st <- tessera_status(id)
    for (s in st$stations) if (identical(s$station, name) && identical(s$state, state)) return(st)
    if (Sys.time() > deadline) stop(sprintf("%s never %s at %s", id, state, name))
    Sys.sleep(0.2)
  }
}

# The pooled data: the registry's and the GP's tables joined on the normalised key.
registry <- read.csv(file.path(repo, "fixtures", "synthetic", "registry.csv"))
gp <- read.csv(file.path(repo, "fixtures", "synthetic", "gp.csv"))
registry$key <- tolower(trimws(registry$patient_id))
gp$key <- tolower(trimws(gp$patient_id))
pooled <- merge(registry, gp[, setdiff(names(gp), "patient_id")], by = "key")

# The lookup order of the program, each setting restored on the way out.
binary_lookup <- function() {
  env <- Sys.getenv("TESSERA_BIN")
  path <- Sys.getenv("PATH")
  old <- options(tessera.binary = "/no/such/tessera")
  on.exit({
    options(old)
    Sys.setenv(TESSERA_BIN = env, PATH = path)
  })
  e <- expect_tessera_error(tessera_binary())
  stopifnot(grepl("/no/such/tessera", conditionMessage(e)))
  options(tessera.binary = NULL)
  stopifnot(normalizePath(tessera_binary()) == normalizePath(env))
  Sys.setenv(TESSERA_BIN = "", PATH = dirname(env))
  stopifnot(normalizePath(tessera_binary()) == normalizePath(env))
  Sys.setenv(PATH = tempdir())
  e <- expect_tessera_error(tessera_binary())
  stopifnot(grepl("not found", conditionMessage(e)))
}
check("the binary is found by option, then $TESSERA_BIN, then PATH", binary_lookup())

id <- "r-client"
check("tessera_submit: the registry approves by rule", {
  a <- tessera_submit(variant(id))
  stopifnot(a$id == id, a$state == "approved", a$revision == 1,
            a$decision$approve$rule == "approved researcher")
})

check("tessera_status: the GP network waits for its steward; approved with the CLI", {
  st <- await_station(id, "gp", "pending")
  stopifnot(st$state == "approved", st$run$state != "finished")
  steward("gp", "approve", id, "--by", "gp steward (R test)")
})

started <- Sys.time()
check("tessera_wait: the run finishes", {
  st <- tessera_wait(id, timeout = 120, interval = 0.2)
  stopifnot(st$run$state == "finished")
})
secs <- function(since) as.numeric(Sys.time() - since, units = "secs")
message(sprintf("       approval to finished run: %.1f s", secs(started)))

res <- NULL
check("tessera_results: every analysis, and the whole JSON", {
  t0 <- Sys.time()
  res <<- tessera_results(id, wait = 30)
  message(sprintf("       results fetched and opened in %.2f s", secs(t0)))
  stopifnot(identical(names(res), c("km_by_statin", "logrank_by_statin", "cox", "diabetes")),
            tessera_json(res)$linkage$intersection == nrow(pooled))
})

check("Cox: shaped like summary(coxph) and equal to R's coxph at 1e-4", {
  fit <- coxph(Surv(time, event) ~ age + sex + treatment + factor(stage) + comorbidity +
                 smoker + bmi + diabetes + factor(statin), data = pooled, ties = "efron")
  s <- summary(fit)
  r <- s$coefficients
  ci <- s$conf.int
  t <- res$cox
  want <- c(colnames(r), setdiff(colnames(ci), colnames(r)))
  if (!identical(colnames(t), want)) stop(paste("columns:", paste(colnames(t), collapse = ", ")))
  stopifnot(rownames(t)[4] == "registry.stage[T.2]", nrow(t) == nrow(r))
  worst <- max(
    near(t[, colnames(r)], r, 1e-4, "coefficients"),
    near(t[, colnames(ci)], ci, 1e-4, "conf.int"),
    near(attr(t, "loglik"), fit$loglik, 1e-4 * abs(fit$loglik[1]), "log-likelihood")
  )
  stopifnot(attr(t, "nevent") == fit$nevent, attr(t, "n") == fit$n)
  message(sprintf("       Cox: largest difference from coxph %.1e", worst))
})

check("Kaplan-Meier: a survfit whose grid equals summary(survfit, times) at 1e-4", {
  km <- res$km_by_statin
  stopifnot(inherits(km, "survfit"), inherits(km, "tessera_survfit"),
            identical(names(km$strata), c("gp.statin=0", "gp.statin=1")))
  fit <- survfit(Surv(time, event) ~ statin, data = pooled, conf.type = "log-log")
  s <- summary(fit, times = c(365, 730, 1095, 1460))
  g <- km$grid
  stopifnot(identical(as.numeric(g$n.risk), s$n.risk), identical(as.numeric(g$n.event), s$n.event))
  worst <- max(
    near(g[, c("surv", "std.err", "lower", "upper")],
         cbind(s$surv, s$std.err, s$lower, s$upper), 1e-4, "grid"),
    # The object's own fields: survival, log-scale standard errors, limits per step.
    near(cbind(km$surv, km$std.err * km$surv, km$lower, km$upper),
         cbind(s$surv, s$std.err, s$lower, s$upper), 1e-4, "steps")
  )
  stopifnot(identical(as.numeric(km$time), s$time), identical(as.integer(km$strata), c(4L, 4L)))
  message(sprintf("       Kaplan-Meier: largest difference from survfit %.1e", worst))
})

check("Kaplan-Meier: plot() works, ours and survival's", {
  f <- tempfile(fileext = ".pdf")
  on.exit(unlink(f))
  grDevices::pdf(f)
  plot(res$km_by_statin)
  getS3method("plot", "survfit")(res$km_by_statin, conf.int = TRUE)
  grDevices::dev.off()
  stopifnot(file.size(f) > 1000)
})

check("logistic: shaped like summary(glm) and equal to R's glm at 1e-4", {
  fit <- glm(diabetes ~ age + sex + bmi + smoker, family = binomial, data = pooled)
  r <- summary(fit)$coefficients
  t <- res$diabetes
  stopifnot(identical(colnames(t)[1:4], colnames(r)), rownames(t)[1] == "(Intercept)")
  worst <- near(t[, 1:4], r, 1e-4, "coefficients")
  message(sprintf("       logistic: largest difference from glm %.1e", worst))
})

check("a study refused on submission is a tessera_error naming the rule", {
  e <- expect_tessera_error(tessera_submit(
    variant("r-refused", "min_rows = 100", "min_rows = 10")))
  stopifnot(inherits(e, "tessera_refused"), identical(e$rule, "min_rows"),
            grepl("min_rows: ", conditionMessage(e)), e$exit == 3)
})

check("a study refused by a steward stops tessera_wait with a tessera_error naming the station", {
  other <- "r-refused-by-gp"
  tessera_submit(variant(other))
  await_station(other, "gp", "pending")
  steward("gp", "refuse", other, "--why", "the ethics board said no", "--by", "gp steward")
  e <- expect_tessera_error(tessera_wait(other, timeout = 60, interval = 0.2))
  stopifnot(inherits(e, "tessera_refused"), e$station == "gp",
            grepl("ethics board", conditionMessage(e)))
  # Once the registry has stopped its run, the results are refused for good (exit 3).
  deadline <- Sys.time() + 30
  while (!identical(tessera_status(other)$run$state, "stopped")) {
    if (Sys.time() > deadline) stop("the registry never stopped the study")
    Sys.sleep(0.2)
  }
  e <- expect_tessera_error(tessera_results(other))
  stopifnot(e$exit == 3)
})

check("an unknown study is a tessera_error", {
  e <- expect_tessera_error(tessera_status("no-such-study"))
  stopifnot(e$exit == 2, grepl("no study no-such-study", conditionMessage(e)))
})

# The example study run on this machine (`tessera run --json`), with the Kaplan-Meier curves
# at every event time and robust Cox standard errors: the converters' other shapes.
local_doc <- function() {
  text <- readLines(file.path(repo, "examples", "survival", "study.toml"))
  text <- gsub("../../fixtures/", paste0(repo, "/fixtures/"), text, fixed = TRUE)
  text <- sub("^max_vars_per_row = 0.1$", "max_vars_per_row = 0.1\nallow_event_times = true", text)
  text <- sub("^times = \\[365, 730, 1095, 1460\\]$", "times = [365, 730, 1095, 1460]\nat_event_times = true", text)
  text <- sub('^zph = "km".*$', "robust = true", text)
  study <- tempfile(fileext = ".toml")
  out <- tempfile(fileext = ".json")
  on.exit(unlink(c(study, out)))
  writeLines(text, study)
  status <- system2(bin, shQuote(c("run", study, "--json")), stdout = out, stderr = FALSE)
  if (status != 0) stop(sprintf("tessera run exited %d", status))
  tessera_read_results(out)
}
ran_here <- NULL
check("tessera_read_results: the example study run here with `tessera run --json`", {
  ran_here <<- local_doc()
  stopifnot(tessera_json(ran_here)$study$id == "synthetic-survival",
            is.data.frame(ran_here$bmi), is.data.frame(ran_here$cox),
            inherits(ran_here$km_by_stage, "survfit"))
})
check("OLS: shaped like summary(lm) and equal to R's lm at 1e-4", {
  fit <- lm(bmi ~ age + sex + diabetes + smoker, data = pooled)
  r <- summary(fit)$coefficients
  t <- ran_here$bmi
  stopifnot(identical(colnames(t)[1:4], colnames(r)), identical(colnames(t)[5:6], c("2.5 %", "97.5 %")))
  near(t[, 1:4], r, 1e-4, "coefficients")
  near(t[, 5:6], confint(fit), 1e-4, "confint")
})
check("Cox with robust standard errors: summary(coxph(robust = TRUE))'s columns and values", {
  fit <- coxph(Surv(time, event) ~ age + sex + treatment + factor(stage) + comorbidity + smoker +
                 bmi + diabetes + hypertension + statin + metformin + ace_inhibitor,
               data = pooled, ties = "efron", robust = TRUE)
  r <- summary(fit)$coefficients
  t <- ran_here$cox
  if (!identical(colnames(t)[1:6], colnames(r))) stop(paste(colnames(t), collapse = ", "))
  near(t[, colnames(r)], r, 1e-4, "coefficients")
})
check("Kaplan-Meier at every event time: the steps equal survfit's curve", {
  km <- ran_here$km_by_stage
  fit <- survfit(Surv(time, event) ~ stage, data = pooled, conf.type = "log-log")
  # The event times with at least min_cell (10) at risk, as the study shows them.
  s <- summary(fit)
  keep <- s$n.risk >= 10
  stopifnot(identical(names(km$strata), paste0("registry.stage=", 1:4)),
            identical(as.integer(km$strata), as.integer(table(s$strata[keep]))),
            identical(km$time, s$time[keep]), identical(km$n.risk, s$n.risk[keep]),
            identical(km$n.event, s$n.event[keep]))
  near(cbind(km$surv, km$std.err * km$surv, km$lower, km$upper),
       cbind(s$surv, s$std.err, s$lower, s$upper)[keep, ], 1e-4, "steps")
})

message(sprintf("r tests: %d passed, %d failed", passed, failed))
quit(status = if (failed > 0) 1 else 0)
