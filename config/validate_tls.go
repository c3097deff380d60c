package config

import (
	"crypto/tls"
	"fmt"
)

// maxCertFile bounds what is read as a certificate chain: a long chain is
// a few KiB.
const maxCertFile = 1 << 20

// checkTLS checks tls.cert_file and tls.key_file: both or neither, readable,
// a certificate chain and the private key of its leaf. check-config finds a
// mismatched pair before a restart does.
func (c *Config) checkTLS(ps *Problems) {
	t := c.TLS
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return
	case t.CertFile == "":
		ps.add("tls.cert_file", "required with tls.key_file")
		return
	case t.KeyFile == "":
		ps.add("tls.key_file", "required with tls.cert_file")
		return
	}
	if _, err := LoadCertificate(t.CertFile, t.KeyFile); err != nil {
		ps.add(err.(*certError).key, "%v", err.(*certError).err)
	}
}

// certError is a LoadCertificate failure and the key it is about.
type certError struct {
	key string // tls.cert_file, tls.key_file, or tls for the pair
	err error
}

func (e *certError) Error() string { return e.key + ": " + e.err.Error() }

// LoadCertificate reads a PEM certificate chain (leaf first) and the
// private key of its leaf. Errors name the files, never the key's content.
func LoadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := readFileMax(certFile, maxCertFile)
	if err != nil {
		return nil, &certError{"tls.cert_file", fmt.Errorf("cannot read: %v", err)}
	}
	keyPEM, err := readSmallFile(keyFile)
	if err != nil {
		return nil, &certError{"tls.key_file", fmt.Errorf("cannot read: %v", err)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &certError{"tls", fmt.Errorf("%s and %s are not a PEM certificate chain and the private key of its leaf: %v", certFile, keyFile, err)}
	}
	return &cert, nil
}

// readFileMax reads at most limit bytes of path (readFileLimit): a cert_file
// naming a device or a log file must not exhaust memory.
func readFileMax(path string, limit int64) ([]byte, error) {
	b, err := readFileLimit(path, limit)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d KiB, not a certificate chain", path, limit>>10)
	}
	return b, nil
}
