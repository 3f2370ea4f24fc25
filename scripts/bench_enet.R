# Times R's glmnet on the shape of `tessera bench regression --workloads enet-10k,enet-100k`
# (gaussian lasso, 20 covariates, 20 lambda values, 10-fold cv.glmnet), or with --binomial
# of `enet-logistic-10k,enet-logistic-100k` (the same with family = "binomial" and a 0/1
# outcome from a logistic model), or with --cox of `enet-cox-10k,enet-cox-100k` (family
# = "cox": exponential times of hazard 0.05·e^eta censored uniformly on (0, 40), rounded up
# to whole units, as the benchmark draws them), for the benchmark's ratio. The data are drawn here with
# the same shape (the benchmark's own generator is in crates/cli/src/bench/regression.rs);
# glmnet's time depends little on the draws.
#
# With --cox --cindex, cv.glmnet cross-validates by Harrell's C (type.measure = "C"), the
# shape of `enet-cox-c-1k,enet-cox-c-10k` (`tessera bench models`).
#
# Usage: Rscript scripts/bench_enet.R [--binomial | --cox [--cindex]] ROWS [ROWS ...]
# Prints one JSON object per size: {"rows", "family", "glmnet_seconds" (full path only),
# "cv_seconds" (cv.glmnet: path + 10 folds), "glmnet"}; medians of three runs.
suppressPackageStartupMessages({library(glmnet); library(survival)})
args <- commandArgs(trailingOnly = TRUE)
family <- if ("--binomial" %in% args) "binomial" else if ("--cox" %in% args) "cox" else "gaussian"
measure <- if ("--cindex" %in% args) "C" else "deviance"
for (n in as.integer(setdiff(args, c("--binomial", "--cox", "--cindex")))) {
  set.seed(n)
  p <- 20
  x <- matrix(rnorm(n * p), n, p)
  x[, seq(1, p, 3)] <- 0.6 * rnorm(n) + 0.8 * x[, seq(1, p, 3)]
  eta <- drop(x %*% (0.3 * rep(c(1, -1), p / 2)))
  y <- if (family == "binomial") {
    rbinom(n, 1, plogis(eta - 0.5))
  } else if (family == "cox") {
    t_event <- rexp(n, 0.05 * exp(eta))
    t_cens <- runif(n, 0, 40)
    Surv(pmax(1, ceiling(pmin(t_event, t_cens))), as.integer(t_event <= t_cens))
  } else {
    2 + eta + rnorm(n)
  }
  fit <- replicate(3, system.time(glmnet(x, y, family = family, nlambda = 20))[["elapsed"]])
  cv <- replicate(3, system.time(cv.glmnet(x, y, family = family, nlambda = 20,
                                           nfolds = 10, type.measure = measure))[["elapsed"]])
  cat(sprintf("{\"rows\": %d, \"family\": \"%s\", \"glmnet_seconds\": %.4f, \"cv_seconds\": %.4f, \"glmnet\": \"%s\"}\n",
              n, family, median(fit), median(cv), as.character(packageVersion("glmnet"))))
}
