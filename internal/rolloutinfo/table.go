package rolloutinfo

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// table aligns cells into columns like text/tabwriter with padding 2, but measures
// cells by their visible width, so ANSI colour codes do not push columns apart.
type table struct {
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

var ansiSeq = regexp.MustCompile("\x1b\\[[0-9;]*m")

func visibleWidth(s string) int {
	return utf8.RuneCountInString(ansiSeq.ReplaceAllString(s, ""))
}

// write renders the rows. The last cell of a row is not padded, like a tabwriter cell
// that is not terminated by a tab.
func (t *table) write(b *strings.Builder) {
	var widths []int
	for _, row := range t.rows {
		for i := 0; i < len(row)-1; i++ {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(row[i]))
		}
	}
	for _, row := range t.rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(cell)+2))
			}
		}
		b.WriteByte('\n')
	}
}
