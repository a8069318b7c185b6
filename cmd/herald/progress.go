package main

// Output helpers shared by the import, export and benchmark commands.

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/mcsync"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws the import's progress on a terminal.
func progressBar(w io.Writer, start time.Time) func(mcsync.Progress) {
	return func(p mcsync.Progress) {
		frac := 0.0
		if p.Total > 0 {
			frac = min(1, float64(p.Bytes)/float64(p.Total))
		}
		const width = 30
		n := int(frac * width)
		rate := float64(p.Rows) / max(time.Since(start).Seconds(), 0.001)
		fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %s rows  %s rows/s ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100,
			group(int64(p.Rows)), group(int64(rate)))
	}
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
