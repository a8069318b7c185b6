package mail

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	netmail "net/mail"
)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValues(func() (crypto.Signer, crypto.Signer) {
	rk, _, err := GenerateDKIMKey("rsa")
	if err != nil {
		panic(err)
	}
	ek, _, err := GenerateDKIMKey("ed25519")
	if err != nil {
		panic(err)
	}
	return rk, ek
})

func testSigner(t testing.TB) *DKIMSigner {
	t.Helper()
	rk, ek := testKeys()
	s, err := NewDKIMSigner(
		DKIMKey{Domain: "example.com", Selector: "rsa2026", Signer: rk},
		DKIMKey{Domain: "example.com", Selector: "ed2026", Signer: ek},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dkimTestMessages(t testing.TB) map[string][]byte {
	t.Helper()
	msgs := map[string][]byte{}
	m := benchMessage()
	m.From.Name = "Zoë Ünïcode — 新闻"
	p, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	msgs["newsletter"] = p

	m2 := Message{
		From:    netmail.Address{Address: "news@example.com"},
		To:      []netmail.Address{{Address: "r@example.org"}},
		Subject: strings.Repeat("folded subject ", 10),
		Text:    "trailing spaces   \n\tindented\twith  tabs\n\n\n\n",
	}
	if p, err = m2.Bytes(); err != nil {
		t.Fatal(err)
	}
	msgs["text with whitespace"] = p

	// Hand-written: odd spacing around colons, folded headers, empty body,
	// mixed-case names.
	msgs["hand written"] = []byte("from:   News  <news@example.com> \r\n" +
		"To:   r@example.org  \r\n" +
		"SUBJECT: a\r\n\tfolded   subject \r\n" +
		"Date: Mon, 02 Jan 2026 15:04:05 +0000\r\n" +
		"\r\n")
	return msgs
}

func TestDKIMSignPythonVerifies(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("independent DKIM verifier unavailable: /usr/bin/python3 missing")
	}
	if out, err := exec.Command(python, "-c", "import dkim, nacl").CombinedOutput(); err != nil {
		t.Skipf("independent DKIM verifier unavailable: python3 module dkim or nacl missing (apt install python3-dkim python3-nacl): %s", out)
	}
	rk, ek := testKeys()
	rtxt, err := DKIMTXTRecord(rk)
	if err != nil {
		t.Fatal(err)
	}
	etxt, err := DKIMTXTRecord(ek)
	if err != nil {
		t.Fatal(err)
	}
	s := testSigner(t)
	dir := t.TempDir()
	var names []string
	for name, msg := range dkimTestMessages(t) {
		signed, err := s.Sign(msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkWireFormat(t, signed)
		if !bytes.HasSuffix(signed, msg) {
			t.Fatalf("%s: signed message does not end with the original", name)
		}
		file := filepath.Join(dir, strconv.Itoa(len(names))+".eml")
		names = append(names, name)
		os.WriteFile(file, signed, 0o600)
		// The same message with the From changed must fail.
		tampered := bytes.Replace(signed, []byte("news@example.com"), []byte("news@example.net"), 1)
		if bytes.Equal(tampered, signed) {
			t.Fatalf("%s: nothing to tamper with", name)
		}
		os.WriteFile(file+".tampered", tampered, 0o600)
		// And with a line added to the body.
		os.WriteFile(file+".tampered-body", append(signed[:len(signed):len(signed)], "extra\r\n"...), 0o600)
	}
	script := `
import sys, glob, dkim
records = {b"rsa2026._domainkey.example.com.": sys.argv[2].encode(), b"ed2026._domainkey.example.com.": sys.argv[3].encode()}
def dnsfunc(name, timeout=5):
    if isinstance(name, str):
        name = name.encode()
    if not name.endswith(b"."):
        name += b"."
    return records.get(name)
for path in sorted(glob.glob(sys.argv[1] + "/*.eml*")):
    msg = open(path, "rb").read()
    d = dkim.DKIM(msg)
    results = []
    for i in range(2):
        try:
            results.append(d.verify(idx=i, dnsfunc=dnsfunc))
        except dkim.ValidationError:
            results.append(False)
    print(path.rsplit("/", 1)[1], " ".join(str(r) for r in results))
`
	out, err := exec.Command(python, "-c", script, dir, rtxt, etxt).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3*len(names) {
		t.Fatalf("python output:\n%s", out)
	}
	for _, line := range lines {
		file, res, _ := strings.Cut(line, " ")
		num, _, _ := strings.Cut(file, ".")
		i, _ := strconv.Atoi(num)
		want := "True True"
		if strings.Contains(file, ".tampered") {
			want = "False False"
		}
		if res != want {
			t.Errorf("%s (%s): python dkim.verify = %s, want %s", names[i], file, res, want)
		}
	}
}

func TestDKIMSignHeaderList(t *testing.T) {
	s := testSigner(t)
	m := benchMessage()
	msg, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	sigs := parsed.Header["Dkim-Signature"]
	if len(sigs) != 2 {
		t.Fatalf("%d DKIM-Signature fields, want 2", len(sigs))
	}
	for i, algo := range []string{"rsa-sha256", "ed25519-sha256"} {
		tags := map[string]string{}
		for _, kv := range strings.Split(sigs[i], ";") {
			k, v, _ := strings.Cut(kv, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		want := map[string]string{
			"v": "1", "a": algo, "c": "relaxed/relaxed", "d": "example.com",
			"h": "from:from:to:subject:subject:date:message-id:mime-version:content-type:list-id:list-unsubscribe:list-unsubscribe:list-unsubscribe-post:list-unsubscribe-post",
		}
		for k, v := range want {
			if tags[k] != v {
				t.Errorf("signature %d: %s=%q, want %q", i, k, tags[k], v)
			}
		}
		if !regexp.MustCompile(`^\d+$`).MatchString(tags["t"]) || tags["bh"] == "" || tags["b"] == "" {
			t.Errorf("signature %d: tags %v", i, tags)
		}
	}

	// Absent over-signed fields are still listed once; absent others not.
	plain := []byte("From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n")
	signed, err = s.Sign(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(signed, []byte("h=from:from:subject:subject:list-unsubscribe:\r\n\tlist-unsubscribe-post;")) {
		t.Errorf("h= for a minimal message:\n%s", signed)
	}
}

func TestDKIMSignRefusesBrokenMessage(t *testing.T) {
	s := testSigner(t)
	for _, msg := range []string{"", "From: a@example.com\r\n"} {
		if _, err := s.Sign([]byte(msg)); err == nil {
			t.Errorf("Sign(%q) succeeded", msg)
		}
	}
}

func TestNewDKIMSignerValidates(t *testing.T) {
	rk, _ := testKeys()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		keys []DKIMKey
	}{
		{"no keys", nil},
		{"no domain", []DKIMKey{{Selector: "s", Signer: rk}}},
		{"bad domain", []DKIMKey{{Domain: "exa mple.com", Selector: "s", Signer: rk}}},
		{"bad selector", []DKIMKey{{Domain: "example.com", Selector: "s;x=1", Signer: rk}}},
		{"no signer", []DKIMKey{{Domain: "example.com", Selector: "s"}}},
		{"ecdsa", []DKIMKey{{Domain: "example.com", Selector: "s", Signer: ec}}},
	}
	for _, tt := range tests {
		if _, err := NewDKIMSigner(tt.keys...); err == nil {
			t.Errorf("%s: NewDKIMSigner succeeded", tt.name)
		}
	}
}

func TestDKIMKeyPEMRoundTrip(t *testing.T) {
	for _, algo := range []string{"rsa", "ed25519"} {
		key, pemBytes, err := GenerateDKIMKey(algo)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Errorf("%s: PEM = %.40q", algo, pemBytes)
		}
		parsed, err := ParseDKIMKeyPEM(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		type equaler interface{ Equal(crypto.PrivateKey) bool }
		if !parsed.(equaler).Equal(key) {
			t.Errorf("%s: parsed key differs", algo)
		}
		txt, err := DKIMTXTRecord(parsed)
		if err != nil {
			t.Fatal(err)
		}
		prefix := "v=DKIM1; k=" + algo + "; p="
		if !strings.HasPrefix(txt, prefix) {
			t.Fatalf("%s: TXT = %q", algo, txt)
		}
		der, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(txt, prefix))
		if err != nil {
			t.Fatal(err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			pub, err := x509.ParsePKIXPublicKey(der)
			if err != nil || !k.PublicKey.Equal(pub) {
				t.Errorf("rsa: TXT key = %v, %v", pub, err)
			}
		case ed25519.PrivateKey:
			if !bytes.Equal(der, k.Public().(ed25519.PublicKey)) {
				t.Errorf("ed25519: TXT key is not the raw public key")
			}
		}
	}

	// PKCS#1, as older tooling (opendkim-genkey) writes it.
	rk, _ := testKeys()
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk.(*rsa.PrivateKey))})
	if k, err := ParseDKIMKeyPEM(pkcs1); err != nil || !k.(*rsa.PrivateKey).Equal(rk) {
		t.Errorf("PKCS#1: %v", err)
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, in := range map[string][]byte{
		"garbage":   []byte("not a key"),
		"ecdsa":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"cert type": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"bad der":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := ParseDKIMKeyPEM(in); err == nil {
			t.Errorf("%s: ParseDKIMKeyPEM succeeded", name)
		}
	}
	if _, _, err := GenerateDKIMKey("dsa"); err == nil {
		t.Error("GenerateDKIMKey(dsa) succeeded")
	}
}

func TestRelaxedCanonicalization(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"\r\n\r\n", ""},
		{"a  b \t\r\n\r\n\r\n", "a b\r\n"},
		{" x\r\n\r\ny", " x\r\n\r\ny\r\n"},
	}
	for _, tt := range tests {
		if got := string(relaxedBody([]byte(tt.in))); got != tt.want {
			t.Errorf("relaxedBody(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := string(appendRelaxedHeader(nil, []byte("SubJect \t:  a\r\n\t b  \r\n"))); got != "subject:a b\r\n" {
		t.Errorf("appendRelaxedHeader = %q", got)
	}
}

func BenchmarkDKIMSign(b *testing.B) {
	rk, ek := testKeys()
	msg, err := func() ([]byte, error) { m := benchMessage(); return m.Bytes() }()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa2048", rk}, {"ed25519", ek}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewDKIMSigner(DKIMKey{Domain: "example.com", Selector: "s", Signer: bc.key})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
