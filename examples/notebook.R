# The demo's study from R: submit it, wait for the stations (the GP network's steward must
# approve it), fetch the results, print them as summary(coxph) / summary(glm) print theirs,
# and plot the Kaplan-Meier curves.
#
# Set up the demo's stations first (r/README.md, "The demo's study from R"):
#
#   tessera demo --prepare --dir /tmp/demo    # stations' folders, your identity, the study
#   tessera station serve --config /tmp/demo/registry/station.toml &   # and gp, institute
#   # write /tmp/demo/researcher/profile.toml naming the stations (r/README.md)
#   R CMD INSTALL r/
#   export TESSERA_PROFILE=/tmp/demo/researcher/profile.toml
#   Rscript examples/notebook.R /tmp/demo/researcher/study.toml
#
# then, as the GP network's steward, in another shell:
#
#   tessera station --config /tmp/demo/gp/station.toml approve tessera-demo
#
# The curves are written to km.pdf beside the study (or the file given second).

library(tessera)

args <- commandArgs(trailingOnly = TRUE)
study <- if (length(args) >= 1) args[1] else "study.toml"
pdf_file <- if (length(args) >= 2) args[2] else file.path(dirname(study), "km.pdf")

# Submit to the profile's default station (the registry), which passes the study on.
submitted <- tessera_submit(study)
cat(sprintf("study %s at %s: %s\n", submitted$id, submitted$at, submitted$state))

# Wait for every station's decision and the computation (a steward may refuse: that is a
# tessera_error naming the station and the reason).
status <- tryCatch(
  tessera_wait(submitted$id, timeout = 600, quiet = FALSE),
  tessera_error = function(e) {
    message("the study did not run: ", conditionMessage(e))
    quit(status = 3)
  }
)
cat(sprintf("study %s: %s\n", submitted$id, status$run$state))

# Fetch the shares from the three compute stations and open them here.
results <- tessera_results(submitted$id)
print(results)

# The Cox model's hazard ratios with their 95% limits, as summary(coxph)$conf.int.
cat("\nhazard ratios:\n")
print(results$cox[, c("exp(coef)", "lower .95", "upper .95", "Pr(>|z|)")], digits = 3)

# Kaplan-Meier by statin use (plot() works with or without the survival package).
grDevices::pdf(pdf_file)
plot(results$km_by_statin, xlab = "days since diagnosis", ylab = "survival",
     main = "Survival by statin use (synthetic data)")
invisible(grDevices::dev.off())
cat(sprintf("\nKaplan-Meier curves: %s\n", pdf_file))
