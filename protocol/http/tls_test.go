package http_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "goes test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestHTTPS(t *testing.T) {
	cert, pool := selfSigned(t)
	g := core.NewGoer("127.0.0.1:0", http.New(), "ssl")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.OnMessage = func(c core.Connection, data []byte) {
		r := http.RequestOf(c)
		c.Send("secure "+r.Method()+" "+string(data), false)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	cl := &nethttp.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ { // keep-alive over one TLS connection
		resp, err := cl.Post("https://"+g.Addr().String()+"/", "text/plain", io.MultiReader(strings.NewReader("body"))) // unknown length: chunked
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "secure POST body" || resp.TLS == nil {
			t.Fatalf("%q tls=%v", got, resp.TLS != nil)
		}
	}
	if n := g.Stats().Accepted.Load(); n != 1 {
		t.Fatalf("%d connections for 3 keep-alive requests", n)
	}
}
