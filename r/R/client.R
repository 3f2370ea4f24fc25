# The researcher's calls: submit a study, follow it, fetch its results. Each runs one
# `tessera study ...` command with `--json` / `--format json` and reads its answer.

#' Submit a study file to a station
#'
#' Runs `tessera study submit STUDY --json`. The station passes the study on to the other
#' stations of the study; each decides by its own policy.
#'
#' @param study Path of the study file (TOML, docs/study.md).
#' @param to The station's API address (`host:port`) or its name in the profile (default:
#'   the profile's `default` station).
#' @param profile The researcher's profile (stations' addresses, pins, identity); default
#'   `$TESSERA_PROFILE`, else `~/.config/tessera/profile.toml`.
#' @return The station's answer as a list: `id`, `revision`, `state` (`approved` or
#'   `pending`), `decision`, `at`.
#'   A refusal is signalled as a `tessera_error` whose `rule` and `reasons` say why.
#' @export
tessera_submit <- function(study, to = NULL, profile = NULL) {
  if (!file.exists(study)) {
    tessera_stop(sprintf("the study file %s does not exist", study))
  }
  r <- run_tessera(c("study", "submit", normalizePath(study), opt("to", to),
                     profile_args(profile), "--json"))
  body <- json_of(r)
  if (is.null(body)) {
    fail_from_stderr(r, "tessera study submit")
  }
  station <- if (is.null(to)) body$at else to
  if (r$exit == 3) {
    reasons <- unlist(body$reasons)
    tessera_stop(paste(c("the study was refused:", reasons), collapse = "\n  "),
                 station = station, rule = rule_of(reasons), reasons = reasons,
                 exit = r$exit, class = "tessera_refused")
  }
  if (r$exit != 0) {
    msg <- if (is.null(body$error)) r$stdout else body$error
    tessera_stop(msg, station = station, reasons = msg, exit = r$exit)
  }
  body
}

#' A study's state at a station, and what the other stations said
#'
#' Runs `tessera study status ID --json`.
#'
#' @param id The study id.
#' @param at The station's API address or its name in the profile (default: the profile's
#'   `default` station).
#' @param profile See [tessera_submit()].
#' @return The station's answer as a list: `state` (the approval here), `run` (`state`,
#'   `reason`), `stations` (each other station's `station`, `state`, `reason`), `earlier`
#'   revisions, `progress`, `at`.
#' @export
tessera_status <- function(id, at = NULL, profile = NULL) {
  r <- run_tessera(c("study", "status", id, opt("at", at), profile_args(profile), "--json"))
  if (r$exit != 0) {
    fail_from_stderr(r, "tessera study status")
  }
  json_of(r)
}

# What stopped a study, from its status: a refusal (here or at another station), or a run
# stopped or aborted; NULL while it may still finish.
stopped_by <- function(st) {
  if (identical(st$state, "refused")) {
    return(list(station = st$at, reason = st$reason))
  }
  for (s in st$stations) {
    if (identical(s$state, "refused")) {
      return(list(station = s$station, reason = s$reason))
    }
  }
  run <- st$run
  if (!is.null(run) && run$state %in% c("stopped", "aborted")) {
    # `station NAME refused ...` / `... at station NAME ...`: the station that stopped it.
    m <- regmatches(run$reason, regexec("station ([A-Za-z0-9_.-]+)", run$reason))[[1]]
    return(list(station = if (length(m) == 2) m[2] else st$at,
                reason = paste0(run$state, ": ", run$reason)))
  }
  NULL
}

#' Wait until a study has run
#'
#' Asks for the study's status every `interval` seconds until its run has finished here
#' (a steward may first have to approve it).
#'
#' @param id The study id.
#' @param timeout Seconds to wait at most.
#' @param interval Seconds between two questions.
#' @param at,profile See [tessera_status()].
#' @param quiet Whether to say nothing while waiting (otherwise each new state is shown).
#' @return The last status (as [tessera_status()]). A study refused at any station, or
#'   stopped or aborted, is signalled as a `tessera_error` naming the station and the reason;
#'   running out of time as a `tessera_timeout` (also a `tessera_error`).
#' @export
tessera_wait <- function(id, timeout = 300, interval = 1, at = NULL, profile = NULL,
                         quiet = TRUE) {
  deadline <- Sys.time() + timeout
  shown <- ""
  repeat {
    st <- tessera_status(id, at = at, profile = profile)
    if (identical(st$run$state, "finished")) {
      return(st)
    }
    why <- stopped_by(st)
    if (!is.null(why)) {
      reason <- if (is.null(why$reason)) "no reason given" else why$reason
      tessera_stop(reason, station = why$station, rule = rule_of(reason), reasons = reason,
                   class = "tessera_refused")
    }
    line <- paste(c(st$run$state, vapply(st$stations, function(s) {
      paste0(s$station, " ", s$state)
    }, "")), collapse = ", ")
    if (!quiet && line != shown) {
      message(sprintf("%s: %s", id, line))
      shown <- line
    }
    if (Sys.time() > deadline) {
      tessera_stop(sprintf("study %s did not finish within %s seconds (%s)", id, timeout, line),
                   station = st$at, class = "tessera_timeout")
    }
    Sys.sleep(interval)
  }
}

#' Fetch a study's results
#'
#' Runs `tessera study results ID --format json`: the program fetches the shares of the
#' results from the three compute stations, checks them against each other and opens them
#' here (no station ever holds a result).
#'
#' @param id The study id.
#' @param at,profile See [tessera_status()].
#' @param wait Seconds to wait while the study is still being approved or computed.
#' @return A list with one element per analysis, by name: a Cox model as a data frame
#'   shaped like `summary(coxph)` (see `cox_table()`), `ols` / `logistic` like
#'   `summary(glm)$coefficients`, Kaplan-Meier as a `tessera_survfit` object (plot it), any
#'   other kind as its JSON result (a list). An analysis that gave no result is a list with
#'   its `error` (and a warning). The whole JSON document: [tessera_json()].
#' @export
tessera_results <- function(id, at = NULL, profile = NULL, wait = 0) {
  r <- run_tessera(c("study", "results", id, opt("at", at), profile_args(profile),
                     "--format", "json", "--wait", as.character(wait)))
  # 4: results written, but some analysis gave none (named on standard error).
  if (!(r$exit %in% c(0L, 4L))) {
    fail_from_stderr(r, "tessera study results")
  }
  if (r$exit == 4L) {
    warning(paste(r$stderr, collapse = "\n"), call. = FALSE)
  }
  results_of(json_of(r))
}

#' Read a results document written by the program
#'
#' For results opened elsewhere: `tessera run STUDY --json` (a study run on one machine),
#' `tessera run --out DIR` (its `results.json`), `tessera study results --format json --out
#' FILE` or `tessera study open ... --format json`.
#'
#' @param path The JSON file.
#' @return As [tessera_results()].
#' @export
tessera_read_results <- function(path) {
  results_of(jsonlite::fromJSON(path, simplifyVector = FALSE))
}

# A results document as the list tessera_results() returns.
results_of <- function(doc) {
  analyses <- lapply(doc$analyses, convert_analysis)
  names(analyses) <- vapply(doc$analyses, function(a) a$name, "")
  structure(analyses, class = "tessera_results", json = doc)
}

#' The whole JSON document of a study's results
#'
#' @param results What [tessera_results()] returned.
#' @return The document as a list (`study`, `linkage`, `analyses`, `data`, `cost`), as
#'   `tessera study results --format json` prints it.
#' @export
tessera_json <- function(results) {
  attr(results, "json")
}

#' @export
print.tessera_results <- function(x, ...) {
  doc <- attr(x, "json")
  cat(sprintf("study %s: %s\n", doc$study$id, doc$study$title))
  cat(sprintf("linked records: %s\n", doc$linkage$intersection))
  for (name in names(x)) {
    cat(sprintf("\n$%s\n", name))
    a <- x[[name]]
    # Tables and curves print as R prints theirs; other results as their structure.
    if (is.data.frame(a) || inherits(a, "survfit")) {
      print(a, ...)
    } else {
      utils::str(a, give.head = FALSE)
    }
  }
  invisible(x)
}
