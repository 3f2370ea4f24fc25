# Times R's glmnet on the shape of `tessera bench regression --workloads enet-10k,enet-100k`
# (gaussian lasso, 20 covariates, 20 lambda values, 10-fold cv.glmnet), for the benchmark's
# ratio. The data are drawn here with the same shape (the benchmark's own generator is in
# crates/cli/src/bench/regression.rs); glmnet's time does not depend on the draws.
#
# Usage: Rscript scripts/bench_enet.R ROWS [ROWS ...]
# Prints one JSON object per size: {"rows", "glmnet_seconds" (full path only),
# "cv_seconds" (cv.glmnet: path + 10 folds), "glmnet"}; medians of three runs.
suppressPackageStartupMessages(library(glmnet))
for (n in as.integer(commandArgs(trailingOnly = TRUE))) {
  set.seed(n)
  p <- 20
  x <- matrix(rnorm(n * p), n, p)
  x[, seq(1, p, 3)] <- 0.6 * rnorm(n) + 0.8 * x[, seq(1, p, 3)]
  y <- drop(2 + x %*% (0.3 * rep(c(1, -1), p / 2)) + rnorm(n))
  fit <- replicate(3, system.time(glmnet(x, y, nlambda = 20))[["elapsed"]])
  cv <- replicate(3, system.time(cv.glmnet(x, y, nlambda = 20, nfolds = 10))[["elapsed"]])
  cat(sprintf("{\"rows\": %d, \"glmnet_seconds\": %.4f, \"cv_seconds\": %.4f, \"glmnet\": \"%s\"}\n",
              n, median(fit), median(cv), as.character(packageVersion("glmnet"))))
}
