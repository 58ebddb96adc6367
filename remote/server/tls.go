package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// ErrInsecureAddr is what Serve returns for an address beyond loopback
// without TLS and without Options.InsecureHTTP.
var ErrInsecureAddr = errors.New("server: plain HTTP beyond localhost")

// certFiles serves the certificate of a pair of PEM files; reload rereads
// them and swaps the certificate atomically (handshakes in progress keep
// the one they got).
type certFiles struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func loadCertFiles(certFile, keyFile string) (*certFiles, error) {
	c := &certFiles{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again; on error the served certificate stays.
func (c *certFiles) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load tls certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

func (c *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// tlsConfig is the configuration of a listener serving c.
func (c *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.get, MinVersion: tls.VersionTLS12}
}

// IsLoopback reports whether addr (host:port) listens on this machine
// only: localhost, 127.0.0.0/8 or ::1. An empty host (every interface)
// is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// shutdown stops hs gracefully within ShutdownTimeout, then closes the
// connections of requests still running.
func (s *Server) shutdown(hs *http.Server) error {
	s.draining.Store(true)
	s.opts.Logger.Info("shutting down", slog.Duration("timeout", s.opts.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		s.opts.Logger.Warn("shutdown deadline passed: closed the connections of requests in flight", slog.Duration("timeout", s.opts.ShutdownTimeout))
		return nil
	}
	s.opts.Logger.Info("stopped")
	return nil
}

// logGC logs one event per repository where a collection removed
// objects.
func (s *Server) logGC(res []GCResult) {
	for _, r := range res {
		if r.Report != nil && (r.Report.Removed > 0 || r.Report.TempRemoved > 0) {
			s.opts.Logger.Info("gc", slog.String("repo", r.Repo), slog.Int("removed", r.Report.Removed),
				slog.Int("kept", r.Report.Kept), slog.Int("spared", r.Report.Spared), slog.Int("temp_removed", r.Report.TempRemoved))
		}
	}
}
