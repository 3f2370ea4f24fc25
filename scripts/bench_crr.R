# Times R's cmprsk::crr on the data `tessera bench survival` hands it (workload finegray), for
# the benchmark's ratio.
#
# Usage: Rscript scripts/bench_crr.R DATA.csv
# DATA.csv has columns time, cause (0 censored, 1, 2), x1..xp (as written by the benchmark).
# Fits the Fine–Gray model of cause 1 (crr's defaults: gtol 1e-6, maxiter 10) and prints one
# JSON object {"seconds": median of three fits, "cmprsk": version}. Exits non-zero when
# cmprsk is missing, so the benchmark reports n/a.
suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
X <- as.matrix(d[, grep("^x[0-9]+$", names(d)), drop = FALSE])
secs <- replicate(3, system.time(crr(d$time, d$cause, X, failcode = 1, cencode = 0))[["elapsed"]])
cat(sprintf("{\"seconds\": %.6f, \"cmprsk\": \"%s\"}\n", median(secs),
            as.character(packageVersion("cmprsk"))))
