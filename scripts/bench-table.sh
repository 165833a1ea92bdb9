#!/usr/bin/env bash
# Reads `go test -bench` output on stdin, passes it through, and prints one
# Markdown table of every benchmark's metrics at the end (make bench).
set -euo pipefail
awk '
  { print > "/dev/stderr" }
  /^pkg: / { pkg = $2; sub(/^upgrader\//, "", pkg) }
  /^Benchmark/ && NF >= 4 {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    row = ""
    for (i = 3; i + 1 <= NF; i += 2) {
      v = $i; u = $(i + 1)
      if (u == "ns/op" && v + 0 >= 1e6) { v = sprintf("%.3g", v / 1e9); u = "s/op" }
      row = row (row == "" ? "" : ", ") v " " u
    }
    rows[++n] = "| " pkg " | " name " | " row " |"
  }
  END {
    print ""
    print "| package | benchmark | measured |"
    print "|---|---|---|"
    for (i = 1; i <= n; i++) print rows[i]
  }
'
