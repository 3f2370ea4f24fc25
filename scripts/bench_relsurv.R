# Times R's relsurv::rs.surv (method "ederer2" or "pohar-perme", per group) on the data
# `tessera bench survival` hands it (workloads relsurv, relsurv-pp), with the life table the
# benchmark uses, for the benchmark's ratio.
#
# Usage: Rscript scripts/bench_relsurv.R LIFETABLE.csv [METHOD] DATA.csv   (METHOD: ederer2)
# LIFETABLE.csv is in tessera's layout (sex,year,age,q: fixtures/relsurv/lifetable.csv); it is
# turned into a ratetable with relsurv's cutpoints (ages k·365.241 days, years 1 January,
# daily rate -log(1 - q)/365.241), as fixtures/relsurv/make_relsurv.R does. DATA.csv has
# columns time, event, group, age_days, date_days (days since 1970-01-01), sex (0 male,
# 1 female). Prints one JSON object {"seconds": median of three fits, "relsurv": version};
# exits non-zero when relsurv is missing, so the benchmark reports n/a.
suppressPackageStartupMessages({ library(survival); library(relsurv) })
args <- commandArgs(trailingOnly = TRUE)
# The ratetable reader the fixtures use (fixtures/relsurv/ratetable.R), found from this
# script's own path.
me <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
source(file.path(dirname(normalizePath(me)), "..", "fixtures", "relsurv", "ratetable.R"))
arr <- ratetable_from_csv(args[1])
method <- if (length(args) >= 3) args[2] else "ederer2"
d <- read.csv(args[length(args)])
d$year <- as.Date(d$date_days, origin = "1970-01-01")
d$sex <- d$sex + 1
secs <- replicate(3, system.time(rs.surv(Surv(time, event) ~ group, data = d, ratetable = arr,
  method = method, rmap = list(age = age_days, sex = sex, year = year)))[["elapsed"]])
cat(sprintf("{\"seconds\": %.6f, \"relsurv\": \"%s\"}\n", median(secs),
            as.character(packageVersion("relsurv"))))
