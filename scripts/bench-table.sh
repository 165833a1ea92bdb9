#!/usr/bin/env bash
# Reads `go test -bench` output on stdin, passes it through, and prints one
# Markdown table of every benchmark's metrics at the end (make bench). A
# benchmark that logs while it runs has its name and its numbers on
# different lines; the numbers line starts with the iteration count.
set -euo pipefail
awk '
  { print > "/dev/stderr" }
  /^pkg: / { pkg = $2; sub(/^upgrader\//, "", pkg) }
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    pending = name
    if ($2 ~ /^[0-9]+$/ && $4 == "ns/op") { row(name, 3); pending = "" }
    next
  }
  pending != "" && $1 ~ /^[0-9]+$/ && $3 == "ns/op" { row(pending, 2); pending = "" }
  function row(name, from,   i, v, u, r) {
    r = ""
    for (i = from; i + 1 <= NF; i += 2) {
      v = $i; u = $(i + 1)
      if (u == "ns/op" && v + 0 >= 1e6) { v = sprintf("%.3g", v / 1e9); u = "s/op" }
      r = r (r == "" ? "" : ", ") v " " u
    }
    rows[++n] = "| " pkg " | " name " | " r " |"
  }
  END {
    print ""
    print "| package | benchmark | measured |"
    print "|---|---|---|"
    for (i = 1; i <= n; i++) print rows[i]
  }
'
