// Package text holds the one way upgrader cuts text for history, logs and
// the terminal: at rune boundaries, since the guides' prompts and output are
// half Chinese and a cut rune turns into U+FFFD wherever it is shown.
package text

import (
	"strings"
	"unicode/utf8"
)

// Mark ends a cut text.
const Mark = "…"

// Truncate cuts s to at most max bytes at a rune boundary, ending the cut
// with Mark (which counts in max).
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len(Mark)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Mark
}

// OneLine folds whitespace (newlines included) into single spaces and cuts
// the result to max bytes: a command, a statement or a prompt in a table.
func OneLine(s string, max int) string {
	return Truncate(strings.Join(strings.Fields(s), " "), max)
}

// Tail keeps the end of s, at most max bytes, starting at a rune boundary
// and marking the cut at the front: the last lines of a command's output.
func Tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := len(s) - (max - len(Mark))
	if cut > len(s) {
		cut = len(s)
	}
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return Mark + s[cut:]
}
