package bounce

import (
	"os"
	"testing"
)

// BenchmarkParse parses and classifies the whole corpus mix (DSNs, ARF,
// text bounces, auto-replies, garbage) per iteration and reports
// messages per second. The target (issue 17) is 2,000 a second on one
// core: run with -cpu 1.
func BenchmarkParse(b *testing.B) {
	_, files := corpus(b)
	var msgs [][]byte
	size := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		size += len(raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, m := range msgs {
			ParseBytes(m)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
}
