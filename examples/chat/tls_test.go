package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
)

// testCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files in a temporary directory. It returns their paths, a pool that
// trusts the certificate, and the base64 SHA-256 of its public key (what
// Chromium's --ignore-certificate-errors-spki-list takes).
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool, spki string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "goes chat test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return certFile, keyFile, pool, base64.StdEncoding.EncodeToString(sum[:])
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestFromEnv(t *testing.T) {
	ch, err := fromEnv(envOf(nil))
	if err != nil || ch.goer.Address != "127.0.0.1:8080" || ch.goer.Transport != "tcp" {
		t.Fatalf("defaults: %v %q %q", err, ch.goer.Address, ch.goer.Transport)
	}
	ch, err = fromEnv(envOf(map[string]string{"GOES_ADDR": "127.0.0.1:9", "GOES_CERT": "c.pem", "GOES_KEY": "k.pem"}))
	if err != nil || ch.goer.Address != "127.0.0.1:9" || ch.goer.Transport != "ssl" ||
		ch.goer.CertFile != "c.pem" || ch.goer.KeyFile != "k.pem" {
		t.Fatalf("tls: %v %+v", err, ch.goer)
	}
	for _, half := range []map[string]string{{"GOES_CERT": "c.pem"}, {"GOES_KEY": "k.pem"}} {
		if _, err := fromEnv(envOf(half)); err == nil || !strings.Contains(err.Error(), "GOES_CERT and GOES_KEY") {
			t.Errorf("%v: err = %v, want the pair asked for", half, err)
		}
	}

	// A certificate that cannot be read stops the start, with the reason.
	ch, _ = fromEnv(envOf(map[string]string{"GOES_ADDR": "127.0.0.1:0",
		"GOES_CERT": filepath.Join(t.TempDir(), "missing.pem"), "GOES_KEY": "k.pem"}))
	ch.goer.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := ch.goer.Start(); err == nil || !strings.Contains(err.Error(), "certificate") {
		if err == nil {
			ch.goer.Stop()
		}
		t.Fatalf("start with a missing certificate: %v", err)
	}
}

// TestChatTLS runs the chat the way the README shows, with GOES_CERT and
// GOES_KEY: the page, its icon and the WebSocket are served over TLS only;
// curl and Chromium (the latter trusting this certificate's key alone) use
// https and wss; in Chromium a page at desktop width and one at phone width
// talk (chat-tls.png, chat-tls-phone.png in $GOES_ARTIFACTS).
func TestChatTLS(t *testing.T) {
	certFile, keyFile, pool, spki := testCert(t)
	ch, err := fromEnv(envOf(map[string]string{"GOES_ADDR": "127.0.0.1:0", "GOES_CERT": certFile, "GOES_KEY": keyFile}))
	if err != nil {
		t.Fatal(err)
	}
	ch.goer.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := ch.goer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ch.goer.Stop)
	addr := ch.goer.Addr().String()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url string) (int, string, string) {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, _, page := get("https://" + addr + "/"); code != 200 || !strings.Contains(page, "<title>goes chat</title>") {
		t.Fatalf("https page: %d %.80q", code, page)
	}
	if code, ctype, _ := get("https://" + addr + "/favicon.ico"); code != 200 || ctype != "image/x-icon" {
		t.Fatalf("https favicon: %d %q", code, ctype)
	}
	// The port speaks TLS only: a plain request gets no page.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain http answered on the TLS port")
		}
	}

	t.Run("wss", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		dialTLS := func() *client {
			c, _, err := cws.Dial(ctx, "wss://"+addr+"/ws", &cws.DialOptions{HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.CloseNow() })
			return &client{t, ctx, c}
		}
		a, b := dialTLS(), dialTLS()
		a.send(message{Type: "join", Nick: "alice", Room: "secure"})
		a.expect("welcome")
		b.send(message{Type: "join", Nick: "bob", Room: "secure"})
		b.expect("welcome")
		b.send(message{Type: "say", Text: "over wss"})
		if m := a.expect("say"); m.Nick != "bob" || m.Text != "over wss" {
			t.Fatalf("say %+v", m)
		}
		a.c.Close(cws.StatusNormalClosure, "")
		b.c.Close(cws.StatusNormalClosure, "")
	})

	t.Run("curl", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl not installed (apt-get install curl); the curl check is skipped")
		}
		run := func(args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--max-time", "10"}, args...)...).CombinedOutput()
			return string(out), err
		}
		out, err := run("--fail", "--cacert", certFile, "https://"+addr+"/")
		if err != nil || !strings.Contains(out, "<title>goes chat</title>") {
			t.Fatalf("curl --cacert https page: %v\n%.200s", err, out)
		}
		out, err = run("--cacert", certFile, "-o", os.DevNull, "-w", "%{http_code} %{content_type}", "https://"+addr+"/favicon.ico")
		if err != nil || out != "200 image/x-icon" {
			t.Fatalf("curl favicon: %v %q", err, out)
		}
		// Trusting another certificate, curl refuses the server: the checks
		// above did verify it.
		other, _, _, _ := testCert(t)
		out, err = run("--cacert", other, "https://"+addr+"/")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 60 {
			t.Fatalf("curl trusting nothing: %v, want a certificate error\n%.200s", err, out)
		}
	})

	t.Run("browser", func(t *testing.T) {
		needBrowser(t).run(t, "https://"+addr, "pair", "chat-tls", spki)
	})
}
