# Finding and running the `tessera` program, and turning its failures into R conditions.
# Every call of the package goes through `run_tessera()`: the program does the TLS, the
# pinning and the reconstruction of results; this package only reads its JSON.

#' The `tessera` program used by this package
#'
#' Looked up, in order, in `getOption("tessera.binary")`, the environment variable
#' `TESSERA_BIN`, then the `PATH`. The first one set is used (it must exist).
#'
#' @return The path of the program.
#' @export
tessera_binary <- function() {
  given <- c(getOption("tessera.binary", ""), Sys.getenv("TESSERA_BIN", ""))
  given <- given[nzchar(given)]
  if (length(given) > 0) {
    if (!file.exists(given[1])) {
      tessera_stop(sprintf("the tessera program %s does not exist", given[1]))
    }
    return(normalizePath(given[1]))
  }
  found <- Sys.which("tessera")
  if (!nzchar(found)) {
    tessera_stop(paste(
      "the tessera program was not found: set options(tessera.binary = PATH),",
      "$TESSERA_BIN, or put it on the PATH"
    ))
  }
  unname(found)
}

# A condition of class `tessera_error`: `station` (name or address of the station that
# refused or failed, when known), `rule` (the policy rules named by the refusal, when
# known), `reasons` (every reason given) and `exit` (the program's exit code).
tessera_condition <- function(message, station = NA_character_, rule = character(),
                              reasons = character(), exit = NA_integer_, call = NULL,
                              class = character()) {
  structure(
    class = c(class, "tessera_error", "error", "condition"),
    list(message = message, call = call, station = station, rule = rule,
         reasons = reasons, exit = exit)
  )
}

# Signals a `tessera_error` (see `tessera_condition()`).
tessera_stop <- function(message, ...) {
  stop(tessera_condition(message, ...))
}

#' @export
conditionMessage.tessera_error <- function(c) {
  where <- if (!is.na(c$station)) sprintf("station %s: ", c$station) else ""
  paste0(where, c$message)
}

# The policy rule a reason names: reasons read `rule: what` (`min_rows: the study's ...`).
rule_of <- function(reasons) {
  hit <- regmatches(reasons, regexpr("^[a-z_]+(?=: )", reasons, perl = TRUE))
  unique(hit)
}

# Runs `tessera ARGS...`; returns list(exit, stdout, stderr) (stdout as one string, stderr
# as lines without the program's `tessera: ` prefix).
run_tessera <- function(args) {
  out <- tempfile("tessera-out")
  err <- tempfile("tessera-err")
  on.exit(unlink(c(out, err)), add = TRUE)
  exit <- suppressWarnings(system2(tessera_binary(), shQuote(args), stdout = out, stderr = err))
  read <- function(f) {
    if (file.exists(f)) readLines(f, warn = FALSE, encoding = "UTF-8") else character()
  }
  list(
    exit = as.integer(exit),
    stdout = paste(read(out), collapse = "\n"),
    stderr = sub("^tessera: ", "", read(err))
  )
}

# The program's standard output as JSON, or NULL when it printed none.
json_of <- function(r) {
  if (!nzchar(trimws(r$stdout))) {
    return(NULL)
  }
  jsonlite::fromJSON(r$stdout, simplifyVector = FALSE)
}

# Stops with the program's own message when it failed with nothing on standard output:
# `station NAME: ...` (as `tessera study results` says it) gives the station.
fail_from_stderr <- function(r, what) {
  msg <- r$stderr[nzchar(r$stderr)]
  if (length(msg) == 0) {
    msg <- sprintf("%s failed (exit %d) and said nothing", what, r$exit)
  }
  station <- NA_character_
  m <- regmatches(msg[1], regexec("^station ([^:]+): (.*)$", msg[1]))[[1]]
  if (length(m) == 3) {
    station <- m[2]
    msg[1] <- m[3]
  }
  reasons <- trimws(msg)
  tessera_stop(paste(reasons, collapse = "\n"), station = station,
               rule = rule_of(reasons), reasons = reasons, exit = r$exit)
}

# `--profile FILE` when one is given (otherwise the program reads $TESSERA_PROFILE or the
# default profile).
profile_args <- function(profile) {
  if (is.null(profile)) character() else c("--profile", normalizePath(profile, mustWork = TRUE))
}

# `--NAME VALUE` when the value is given.
opt <- function(name, value) {
  if (is.null(value)) character() else c(paste0("--", name), as.character(value))
}
