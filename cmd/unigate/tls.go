package main

import (
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"time"

	"unigate/config"
)

// certCheckInterval is how often a handshake may look at the certificate
// files: renewals (certbot, cert-manager) are seen within a second, and a
// busy server does not stat two files per handshake.
const certCheckInterval = time.Second

// certReloader hands out the certificate of tls.cert_file and tls.key_file,
// read again when either file changes (CONTRACT §12 "TLS": certificates are
// re-read without a restart). A pair that does not load — a renewal caught
// half-written, a wrong key — is logged and the previous certificate kept,
// so that a bad renewal never takes HTTPS down.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	loaded  fileStamps // of the files cert was read from
	failed  fileStamps // of the last pair that did not load: logged once
	checked time.Time
}

// fileStamps tell whether a file changed: modification time and size of
// the certificate and the key.
type fileStamps [2]struct {
	mod  time.Time
	size int64
}

func stampsOf(paths ...string) fileStamps {
	var s fileStamps
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			s[i].mod, s[i].size = fi.ModTime(), fi.Size()
		}
	}
	return s
}

// newCertReloader loads the pair once; a pair that does not load is a
// startup error (check-config reports it too).
func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger, now: time.Now}
	stamps := stampsOf(certFile, keyFile)
	cert, err := config.LoadCertificate(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.loaded, r.checked = cert, stamps, r.now()
	return r, nil
}

// GetCertificate is the tls.Config hook: called on every handshake.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= certCheckInterval {
		r.checked = now
		r.reloadLocked()
	}
	return r.cert, nil
}

func (r *certReloader) reloadLocked() {
	stamps := stampsOf(r.certFile, r.keyFile)
	if stamps == r.loaded || stamps == r.failed {
		return
	}
	cert, err := config.LoadCertificate(r.certFile, r.keyFile)
	if err != nil {
		r.failed = stamps
		r.logger.Error("tls: the new certificate files do not load; serving the previous certificate", "err", err.Error())
		return
	}
	r.cert, r.loaded, r.failed = cert, stamps, fileStamps{}
	r.logger.Info("tls: certificate reloaded", "cert_file", r.certFile, "not_after", cert.Leaf.NotAfter)
}

// serverTLSConfig is the public listener's TLS: 1.2 at least (ASVS V12.1.1),
// HTTP/2 then HTTP/1.1 by ALPN, the certificate from certs.
func serverTLSConfig(certs *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: certs.GetCertificate,
	}
}
