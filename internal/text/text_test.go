package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"upgrader/internal/text"
)

func TestCutsAtRunes(t *testing.T) {
	s := strings.Repeat("修复完成，正常退出", 20)
	for max := 0; max < 80; max++ {
		for _, got := range []string{text.Truncate(s, max), text.Tail(s, max), text.OneLine("a\n"+s, max)} {
			if !utf8.ValidString(got) {
				t.Fatalf("max %d: invalid UTF-8 %q", max, got)
			}
			if len(got) > max && len(got) > len(text.Mark) {
				t.Fatalf("max %d: %d bytes", max, len(got))
			}
		}
	}
	if got := text.Truncate("short", 10); got != "short" {
		t.Fatalf("short text changed: %q", got)
	}
	if got := text.OneLine("a\n  b\tc", 80); got != "a b c" {
		t.Fatalf("OneLine: %q", got)
	}
	if got := text.Tail("abcdefgh", 6); got != "…fgh" {
		t.Fatalf("Tail: %q", got)
	}
}
