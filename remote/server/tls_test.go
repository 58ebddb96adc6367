package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 named cn to
// dir/cert.pem and dir/key.pem (replacing them) and returns it.
func selfSigned(t *testing.T, dir, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "EC PRIVATE KEY", kder)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serve runs Serve with opts in the background and returns its address
// and a function that stops it and returns Serve's error.
func serve(t *testing.T, opts server.Options) (string, func() error) {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ctx, opts, func(a net.Addr) { addrc <- a.String() }) }()
	select {
	case a := <-addrc:
		stopped := false
		var serr error
		stop := func() error {
			if !stopped {
				cancel()
				serr, stopped = <-errc, true
			}
			return serr
		}
		t.Cleanup(func() { stop() })
		return a, stop
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	return "", nil
}

// servedCert returns the certificate a fresh TLS connection to addr gets,
// trusting only roots.
func servedCert(addr string, roots ...*x509.Certificate) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestServeTLSReload(t *testing.T) {
	dir := t.TempDir()
	first := selfSigned(t, dir, "first")
	reload := make(chan struct{})
	addr, _ := serve(t, server.Options{TLSCert: filepath.Join(dir, "cert.pem"), TLSKey: filepath.Join(dir, "key.pem"), Reload: reload})

	// A client that trusts the certificate speaks the protocol over TLS.
	pool := x509.NewCertPool()
	pool.AddCert(first)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c, err := remote.New("https://"+addr+"/a/b", remote.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatalf("info over TLS: %v", err)
	}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS listener")
		}
	}

	// New files, then a reload: new connections get the second certificate.
	second := selfSigned(t, dir, "second")
	if got, err := servedCert(addr, first); err != nil || got.Subject.CommonName != "first" {
		t.Fatalf("before reload: %v %v", got, err)
	}
	reload <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := servedCert(addr, second)
		if err == nil && got.Subject.CommonName == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after reload: %v %v", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := servedCert(addr, first); err == nil {
		t.Error("the first certificate is still served after the reload")
	}

	// A broken pair on reload: the server keeps serving the second one.
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	reload <- struct{}{} // the first was handled once this one is taken
	if got, err := servedCert(addr, second); err != nil || got.Subject.CommonName != "second" {
		t.Fatalf("after a failed reload: %v %v", got, err)
	}
}

func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		err := server.Serve(context.Background(), server.Options{Root: t.TempDir(), Addr: addr}, nil)
		if !errors.Is(err, server.ErrInsecureAddr) {
			t.Errorf("Serve on %s without TLS: %v, want ErrInsecureAddr", addr, err)
		}
	}
	// Allowed explicitly (behind a proxy), and on loopback.
	for _, opts := range []server.Options{{Addr: "0.0.0.0:0", InsecureHTTP: true}, {Addr: "127.0.0.2:0"}, {Addr: "localhost:0"}} {
		if _, stop := serve(t, opts); stop() != nil {
			t.Errorf("%+v: %v", opts, stop())
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "127.9.9.9:1": true, "[::1]:1": true, "localhost:1": true, "LOCALHOST:1": true,
		"10.0.0.1:1": false, "0.0.0.0:1": false, ":1": false, "example.com:1": false, "127.0.0.1": false} {
		if got := server.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

// TestGracefulShutdown starts a slow request, stops the server, and
// checks that new connections are refused while the request completes.
func TestGracefulShutdown(t *testing.T) {
	addr, stop := serve(t, server.Options{ShutdownTimeout: 10 * time.Second})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+addr+remote.PathPrefix+"login/challenge", pr)
	req.Header.Set("Content-Type", remote.MediaJSON)
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), err}
	}()
	key := keyN(1).Public().String()
	if _, err := io.WriteString(pw, `{"address":`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server is reading the body
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutting down: the listener closes; new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) before the request in flight finished", err)
	default:
	}
	if _, err := io.WriteString(pw, `"`+key+`"}`); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, key) {
		t.Fatalf("request in flight during shutdown: %d %q %v", r.status, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestShutdownDeadline: a request that does not finish within
// ShutdownTimeout has its connection closed, and Serve returns.
func TestShutdownDeadline(t *testing.T) {
	addr, stop := serve(t, server.Options{ShutdownTimeout: 300 * time.Millisecond})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+remote.PathPrefix+"login/challenge", pr)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	io.WriteString(pw, `{`)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("Serve returned after %v, want about the 300ms deadline", d)
	}
	pw.Close() // the client's transport waits for its body to be written
	select {
	case err := <-done:
		if err == nil {
			t.Error("the slow request got an answer after its connection was closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request was not cut off")
	}
}
