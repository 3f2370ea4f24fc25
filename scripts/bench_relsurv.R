# Times R's relsurv::rs.surv (method "ederer2", per group) on the data `tessera bench survival`
# hands it (workload relsurv), with the life table the benchmark uses, for the benchmark's
# ratio.
#
# Usage: Rscript scripts/bench_relsurv.R LIFETABLE.csv DATA.csv
# LIFETABLE.csv is in tessera's layout (sex,year,age,q: fixtures/relsurv/lifetable.csv); it is
# turned into a ratetable with relsurv's cutpoints (ages k·365.241 days, years 1 January,
# daily rate -log(1 - q)/365.241), as fixtures/relsurv/make_relsurv.R does. DATA.csv has
# columns time, event, group, age_days, date_days (days since 1970-01-01), sex (0 male,
# 1 female). Prints one JSON object {"seconds": median of three fits, "relsurv": version};
# exits non-zero when relsurv is missing, so the benchmark reports n/a.
suppressPackageStartupMessages({ library(survival); library(relsurv) })
args <- commandArgs(trailingOnly = TRUE)
t <- read.csv(args[1], colClasses = c(sex = "character"))
si <- match(t$sex, c("male", "female"))
si[is.na(si)] <- as.integer(t$sex[is.na(si)])
a <- sort(unique(t$age)); y <- sort(unique(t$year))
arr <- array(NA_real_, dim = c(length(a), 2, length(y)))
arr[cbind(t$age - a[1] + 1, si, t$year - y[1] + 1)] <- -log(1 - t$q) / 365.241
attributes(arr) <- list(
  dim = c(length(a), 2, length(y)),
  dimnames = list(age = as.character(a), sex = c("male", "female"), year = as.character(y)),
  dimid = c("age", "sex", "year"), factor = c(0, 1, 0), type = c(2, 1, 3),
  cutpoints = list(a * 365.241, NULL, as.Date(paste0(y, "-01-01"))),
  class = "ratetable")
d <- read.csv(args[2])
d$year <- as.Date(d$date_days, origin = "1970-01-01")
d$sex <- d$sex + 1
secs <- replicate(3, system.time(rs.surv(Surv(time, event) ~ group, data = d, ratetable = arr,
  method = "ederer2", rmap = list(age = age_days, sex = sex, year = year)))[["elapsed"]])
cat(sprintf("{\"seconds\": %.6f, \"relsurv\": \"%s\"}\n", median(secs),
            as.character(packageVersion("relsurv"))))
