package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// mkcert CERT KEY writes a self-signed certificate for 127.0.0.1 and
// localhost, and its key, as PEM files (scripts of fed serve --tls-cert).
func cmdMkcert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkcert CERT KEY")
	}
	der, kder, err := selfSignedDER()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
}

// selfSignedDER makes a self-signed certificate for 127.0.0.1 and
// localhost; it returns the certificate and its EC key, DER-encoded.
func selfSignedDER() (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "fed test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	if cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k); err != nil {
		return nil, nil, err
	}
	key, err = x509.MarshalECPrivateKey(k)
	return cert, key, err
}

// httpget [-cacert FILE] [-o FILE] [-type] URL gets URL and prints the
// status code and the body on stdout (with -o, the body goes to FILE
// instead; with -type, a line "Content-Type: …" follows the status); with
// -cacert it trusts only the PEM certificates of FILE. It fails when the
// request does.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	var roots *x509.CertPool
	out, showType := "", false
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-cacert" && len(args) > 2:
			b, err := os.ReadFile(ts.MkAbs(args[1]))
			ts.Check(err)
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(b) {
				ts.Fatalf("httpget: no certificate in %s", args[1])
			}
			args = args[2:]
		case args[0] == "-o" && len(args) > 2:
			out, args = args[1], args[2:]
		case args[0] == "-type":
			showType, args = true, args[1:]
		default:
			ts.Fatalf("usage: httpget [-cacert FILE] [-o FILE] [-type] URL")
		}
	}
	if len(args) != 1 {
		ts.Fatalf("usage: httpget [-cacert FILE] [-o FILE] [-type] URL")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, err := http.NewRequestWithContext(context.Background(), "GET", args[0], nil)
	ts.Check(err)
	resp, err := hc.Do(req)
	if err != nil {
		if neg {
			fmt.Fprintf(ts.Stderr(), "%v\n", err)
			return
		}
		ts.Fatalf("httpget: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if neg {
		ts.Fatalf("httpget %s succeeded", args[0])
	}
	fmt.Fprintf(ts.Stdout(), "%d\n", resp.StatusCode)
	if showType {
		fmt.Fprintf(ts.Stdout(), "Content-Type: %s\n", resp.Header.Get("Content-Type"))
	}
	if out != "" {
		ts.Check(os.WriteFile(ts.MkAbs(out), b, 0o644))
		return
	}
	fmt.Fprintf(ts.Stdout(), "%s", b)
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its
// key to certFile and keyFile, and returns a client configuration that
// trusts it.
func writeTestCert(t testing.TB, certFile, keyFile string) *tls.Config {
	t.Helper()
	der, kder, err := selfSignedDER()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}
