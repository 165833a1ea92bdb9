package workflows

import (
	"regexp"
	"strings"
)

// A guide's map (runbook.Guide.Map) is checked against its plan by
// runbook.CheckMap, and against the vendor's document (Spec.Seed) by
// SeedHeadings: every heading of the document is some section's Heading,
// so a section of the guide can never be dropped silently.

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$`)
	fence      = regexp.MustCompile("^[ \t]*(```|~~~)")
)

// Heading is one markdown heading of a guide's document.
type Heading struct {
	Level int
	Text  string
	Line  int
}

// SeedHeadings lists the markdown headings of a guide's document: lines
// starting with one to six #, outside fenced code blocks (``` or ~~~, at any
// indentation: the guides indent them in lists). A first heading of level 1
// is the document's own title, not a section, and is left out. A document
// without markdown headings (a web page saved as text) yields none; its
// map's Headings are still checked to appear in the text (see
// guidemap_test.go).
func SeedHeadings(doc string) []Heading {
	var out []Heading
	inFence, marker := false, ""
	for i, line := range strings.Split(doc, "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case !inFence:
				inFence, marker = true, m[1]
			case m[1] == marker:
				inFence = false
			}
			continue
		}
		if inFence {
			continue
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil || strings.TrimSpace(m[2]) == "" {
			continue
		}
		out = append(out, Heading{Level: len(m[1]), Text: NormalizeHeading(m[2]), Line: i + 1})
	}
	if len(out) > 0 && out[0].Level == 1 {
		out = out[1:]
	}
	return out
}

// NormalizeHeading is a heading's text as compared: spaces collapsed.
func NormalizeHeading(s string) string { return strings.Join(strings.Fields(s), " ") }
