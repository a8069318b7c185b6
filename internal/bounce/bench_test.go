package bounce

import (
	"bytes"
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

// BenchmarkParseLargeOriginal: a DSN that returns a whole 60 KB HTML
// newsletter, as real bounces do; the report is found before the
// original, which is read for its headers only.
func BenchmarkParseLargeOriginal(b *testing.B) {
	raw, err := os.ReadFile("testdata/bounces/postfix-user-unknown.eml")
	if err != nil {
		b.Fatal(err)
	}
	end := bytes.LastIndex(raw, []byte("\r\n--B0UND4RY-1--"))
	if end < 0 {
		b.Fatal("sample changed: no closing boundary")
	}
	line := []byte("<p style=\"margin:0 0 16px\">The council votes on the bridge today; read the whole story on our site.</p>\r\n")
	var msg []byte
	msg = append(msg, raw[:end]...)
	for len(msg) < end+60<<10 {
		msg = append(msg, line...)
	}
	msg = append(msg, raw[end:]...)
	if rep := ParseBytes(msg); len(rep.Recipients) != 1 || rep.Recipients[0].Kind != Hard {
		b.Fatalf("large sample misread: %+v", rep.Recipients)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		ParseBytes(msg)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
