package mail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func envelopes(msgs [][]byte) []Envelope {
	envs := make([]Envelope, len(msgs))
	for i, m := range msgs {
		envs[i] = Envelope{From: "bounce@example.com", To: "r" + strconv.Itoa(i) + "@example.org", Msg: m}
	}
	return envs
}

func TestSMTPSendBatch(t *testing.T) {
	for _, o := range []struct {
		name  string
		opts  serverOpts
		chunk bool
	}{
		{"plain", serverOpts{}, true},
		{"starttls", serverOpts{startTLS: true}, true},
		{"implicit tls", serverOpts{implicitTLS: true}, true},
		{"without chunking", serverOpts{}, false},
		{"without pipelining", serverOpts{}, false},
	} {
		t.Run(o.name, func(t *testing.T) {
			be := &testBackend{}
			tr := NewSMTP(startServer(t, be, o.opts))
			tr.noChunking = !o.chunk
			tr.noPipelining = o.name == "without pipelining"
			defer tr.Close()
			// Enough messages for several rounds (batchBytes), with lines
			// that DATA would dot-stuff and BDAT must leave alone.
			msgs := testMessages(t, 40)
			big := benchMessage()
			big.Text = strings.Repeat(".line of text that goes on\n", 4000)
			p, err := big.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, p, msgs[0])
			errs := make([]error, len(msgs))
			tr.SendBatch(context.Background(), envelopes(msgs), errs)
			for i, err := range errs {
				if err != nil {
					t.Errorf("message %d: %v", i, err)
				}
			}
			checkReceived(t, be, msgs, o.opts.startTLS || o.opts.implicitTLS, "")
			if _, conns, _ := be.stats(); conns != 1 {
				t.Errorf("%d connections, want 1", conns)
			}
		})
	}
}

// batchOnce sends n test messages to be in one SendBatch and returns what
// it reported, how many times each recipient received a message, and how
// many connections the server saw. The transport stays open for the test.
func batchOnce(t *testing.T, be *testBackend, chunking bool, n int) (*SMTPTransport, []Envelope, []error, map[string]int, int) {
	t.Helper()
	tr := NewSMTP(startServer(t, be, serverOpts{}))
	tr.noChunking = !chunking
	t.Cleanup(func() { tr.Close() })
	envs := envelopes(testMessages(t, n))
	errs := make([]error, len(envs))
	tr.SendBatch(context.Background(), envs, errs)
	got, conns, _ := be.stats()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.to[0]]++
	}
	return tr, envs, errs, seen, conns
}

// TestSMTPSendBatchRefusals: refusals in the middle of a round settle
// exactly the refused messages; the others arrive once, on one
// connection.
func TestSMTPSendBatchRefusals(t *testing.T) {
	refuse := map[string]*smtp.SMTPError{
		"r3@example.org":  {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
		"r4@example.org":  {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted"},
		"r9@example.org":  {Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"},
		"r10@example.org": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
	}
	dataErr := map[string]*smtp.SMTPError{
		"r6@example.org":  {Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Content refused"},
		"r19@example.org": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try later"},
	}
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) { testSendBatchRefusals(t, chunking, refuse, dataErr) })
	}
}

func testSendBatchRefusals(t *testing.T, chunking bool, refuse, dataErr map[string]*smtp.SMTPError) {
	be := &testBackend{rcptErr: func(to string) error {
		if e := refuse[to]; e != nil {
			return e
		}
		return nil
	}}
	be.dataErr = func(to []string) error {
		if e := dataErr[to[0]]; e != nil {
			return e
		}
		return nil
	}
	tr, envs, errs, seen, conns := batchOnce(t, be, chunking, 20)
	for i, e := range envs {
		want := refuse[e.To]
		cmd := "RCPT"
		if want == nil {
			want, cmd = dataErr[e.To], "DATA"
		}
		if want == nil {
			if errs[i] != nil || seen[e.To] != 1 {
				t.Errorf("%s: err %v, delivered %d times; want delivered once", e.To, errs[i], seen[e.To])
			}
			continue
		}
		var se *SendError
		if !errors.As(errs[i], &se) || se.Code != want.Code || se.Command != cmd || se.Temporary != (want.Code/100 == 4) ||
			se.EnhancedCode != fmt.Sprintf("%d.%d.%d", want.EnhancedCode[0], want.EnhancedCode[1], want.EnhancedCode[2]) {
			t.Errorf("%s: err %#v, want %d on %s", e.To, errs[i], want.Code, cmd)
		}
		if seen[e.To] != 0 {
			t.Errorf("%s: refused but delivered", e.To)
		}
	}
	if conns != 1 {
		t.Errorf("%d connections, want 1 (refusals do not cost the connection)", conns)
	}
	// The connection goes on: the next batch is clean.
	tr.SendBatch(context.Background(), envs[:2], errs)
	if errs[0] != nil || errs[1] != nil {
		t.Errorf("after refusals: %v %v", errs[0], errs[1])
	}
}

// TestSMTPSendBatchConnectionLost: the server drops the connection in the
// middle of a round. What was reported sent arrived; the rest is a
// temporary failure, never reported sent.
func TestSMTPSendBatchConnectionLost(t *testing.T) {
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) { testSendBatchConnectionLost(t, chunking) })
	}
}

func testSendBatchConnectionLost(t *testing.T, chunking bool) {
	be := &testBackend{}
	be.dataErr = func(to []string) error {
		if to[0] == "r5@example.org" {
			be.dropAll()
			return errors.New("gone")
		}
		return nil
	}
	tr, envs, errs, seen, _ := batchOnce(t, be, chunking, 12)
	for i, e := range envs {
		switch {
		case i < 5:
			if errs[i] != nil || seen[e.To] != 1 {
				t.Errorf("%s: err %v, delivered %d times", e.To, errs[i], seen[e.To])
			}
		default:
			if !IsTemporary(errs[i]) {
				t.Errorf("%s: err %v, want a temporary failure", e.To, errs[i])
			}
			if seen[e.To] != 0 {
				t.Errorf("%s: reported failed but delivered", e.To)
			}
		}
	}
	// A fresh connection takes what failed.
	be.dataErr = nil
	tr.SendBatch(context.Background(), envs[5:], errs)
	for i, err := range errs[:len(envs)-5] {
		if err != nil {
			t.Errorf("retry %d: %v", i, err)
		}
	}
}

// TestSMTPSendBatchRedial: a pooled connection that the server closed
// while idle is replaced without failing anything.
func TestSMTPSendBatchRedial(t *testing.T) { bothModes(t, testSendBatchRedial) }

// bothModes runs test against a fresh server and transport, with BDAT and
// with chained DATA.
func bothModes(t *testing.T, test func(*testing.T, *testBackend, *SMTPTransport)) {
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) {
			be := &testBackend{}
			tr := NewSMTP(startServer(t, be, serverOpts{}))
			tr.noChunking = !chunking
			defer tr.Close()
			test(t, be, tr)
		})
	}
}

func testSendBatchRedial(t *testing.T, be *testBackend, tr *SMTPTransport) {
	msgs := testMessages(t, 6)
	envs := envelopes(msgs)
	errs := make([]error, len(envs))
	tr.SendBatch(context.Background(), envs[:3], errs)
	be.dropAll()
	tr.SendBatch(context.Background(), envs[3:], errs)
	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("after the drop, message %d: %v", i+3, err)
		}
	}
	checkReceived(t, be, msgs, false, "")
}

// TestSMTPSendBatchRefusesBadInput: what Send refuses before the wire,
// SendBatch refuses per message, and sends the rest.
func TestSMTPSendBatchRefusesBadInput(t *testing.T) { bothModes(t, testSendBatchRefusesBadInput) }

func testSendBatchRefusesBadInput(t *testing.T, be *testBackend, tr *SMTPTransport) {
	good := testMessages(t, 1)[0]
	envs := []Envelope{
		{From: "b@example.com", To: "ok1@example.org", Msg: good},
		{From: "b@example.com", To: "x@example.org>\r\nRCPT TO:<y@example.org", Msg: good},
		{From: "b@example.com", To: "bare@example.org", Msg: []byte("Subject: x\n\nbare LF\n")},
		{From: "b@example.com", To: "long@example.org", Msg: []byte("Subject: x\r\n\r\n" + strings.Repeat("a", 1200) + "\r\n")},
		{From: "b@example.com", To: "ok2@example.org", Msg: good},
	}
	errs := make([]error, len(envs))
	tr.SendBatch(context.Background(), envs, errs)
	for i, want := range []bool{true, false, false, false, true} {
		if (errs[i] == nil) != want {
			t.Errorf("envelope %d: err %v", i, errs[i])
		}
		if errs[i] != nil && IsTemporary(errs[i]) {
			t.Errorf("envelope %d: %v should be permanent", i, errs[i])
		}
	}
	got, _, _ := be.stats()
	if len(got) != 2 || got[0].to[0] != "ok1@example.org" || got[1].to[0] != "ok2@example.org" {
		t.Errorf("delivered %+v", got)
	}
}

// FuzzSMTPBatchReplies feeds arbitrary replies to a batch: SendBatch must
// not panic or hang, and must never report more messages sent than the
// server sent 250 lines.
func FuzzSMTPBatchReplies(f *testing.F) {
	f.Add([]byte("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n"), true)
	f.Add([]byte("250 ok\r\n550 5.1.1 no\r\n502 5.5.1 no rcpt\r\n250 ok\r\n250 ok\r\n250 ok\r\n"), true)
	f.Add([]byte("250-a\r\n250 b\r\n421 bye\r\n"), true)
	f.Add([]byte("250 ok\r\n25"), true)
	f.Add([]byte("\xff\r\n250 ok\r\n"), true)
	f.Add([]byte("250 ok\r\n251 fwd\r\n250 ok\r\n451 4.3.0 later\r\n"), true)
	f.Add([]byte("250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"), false)
	f.Add([]byte("250 ok\r\n550 no\r\n354 go\r\n"), false)
	f.Fuzz(func(t *testing.T, replies []byte, chunking bool) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			c.Write([]byte("220 fuzz\r\n"))
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			if chunking {
				c.Write([]byte("250-fuzz\r\n250-PIPELINING\r\n250 CHUNKING\r\n"))
			} else {
				c.Write([]byte("250-fuzz\r\n250 PIPELINING\r\n"))
			}
			go io.Copy(io.Discard, br)
			c.Write(replies)
		}()
		tr := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, CommandTimeout: 2 * time.Second})
		defer tr.Close()
		envs := envelopes([][]byte{[]byte("Subject: a\r\n\r\na\r\n"), []byte("Subject: b\r\n\r\nb\r\n"), []byte("Subject: c\r\n\r\nc\r\n")})
		errs := make([]error, len(envs))
		tr.SendBatch(context.Background(), envs, errs)
		sent := 0
		for _, err := range errs {
			if err == nil {
				sent++
			}
		}
		oks := 0
		for _, line := range bytes.Split(replies, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("250 ")) || bytes.Equal(bytes.TrimRight(line, "\r"), []byte("250")) {
				oks++
			}
		}
		if sent > oks {
			t.Fatalf("%d messages reported sent on %d 250 replies", sent, oks)
		}
	})
}

// BenchmarkSMTPSendBatch sends groups of 32 messages over 10 connections
// to an in-process go-smtp server (both sides' CPU counts): with BDAT, by
// chained DATA (a server without CHUNKING), and one by one (without
// PIPELINING).
func BenchmarkSMTPSendBatch(b *testing.B) {
	for _, mode := range []string{"bdat", "chain", "single"} {
		b.Run(mode, func(b *testing.B) {
			be := &testBackend{discard: true}
			tr := NewSMTP(startServer(b, be, serverOpts{}))
			tr.noChunking = mode != "bdat"
			tr.noPipelining = mode == "single"
			defer tr.Close()
			m := benchMessage()
			msg, err := m.Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism((tr.cfg.PoolSize + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				envs := make([]Envelope, 0, 32)
				errs := make([]error, 32)
				flush := func() {
					tr.SendBatch(context.Background(), envs, errs)
					for _, err := range errs[:len(envs)] {
						if err != nil {
							b.Error(err)
						}
					}
					envs = envs[:0]
				}
				for pb.Next() {
					envs = append(envs, Envelope{From: "b@example.com", To: "r" + strconv.FormatInt(next.Add(1), 10) + "@example.org", Msg: msg})
					if len(envs) == cap(envs) {
						flush()
					}
				}
				if len(envs) > 0 {
					flush()
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
