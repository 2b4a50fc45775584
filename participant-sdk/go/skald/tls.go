package skald

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// tlsReloadInterval is how often certificate, key and CA files are read again, as in the C++
// SDK: replaced files are used for new connections without a restart.
const tlsReloadInterval = time.Minute

// pemFiles reads a certificate and key and optionally a CA bundle, and reads them again when
// asked after tlsReloadInterval. A reload that fails keeps the last good files.
type pemFiles struct {
	certFile, keyFile, caFile string

	mu       sync.Mutex
	loadedAt time.Time
	cert     *tls.Certificate // nil when certFile is empty
	cas      *x509.CertPool   // nil when caFile is empty
}

// newPEMFiles returns the files loaded, or an error naming the file and the problem.
func newPEMFiles(certFile, keyFile, caFile string) (*pemFiles, error) {
	files := &pemFiles{certFile: certFile, keyFile: keyFile, caFile: caFile}
	if err := files.load(); err != nil {
		return nil, err
	}
	return files, nil
}

func (f *pemFiles) load() error {
	var cert *tls.Certificate
	if f.certFile != "" || f.keyFile != "" {
		if f.certFile == "" || f.keyFile == "" {
			return errors.New("a certificate needs both cert_file and key_file")
		}
		loaded, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return fmt.Errorf("certificate %s with key %s: %w", f.certFile, f.keyFile, err)
		}
		cert = &loaded
	}
	var cas *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("CA file: %w", err)
		}
		cas = x509.NewCertPool()
		if !cas.AppendCertsFromPEM(pem) {
			return fmt.Errorf("CA file %s holds no PEM certificate", f.caFile)
		}
	}
	f.mu.Lock()
	f.cert, f.cas, f.loadedAt = cert, cas, time.Now()
	f.mu.Unlock()
	return nil
}

// current returns the certificate and CAs, reloading them first when they are older than
// tlsReloadInterval.
func (f *pemFiles) current() (*tls.Certificate, *x509.CertPool) {
	f.mu.Lock()
	stale := time.Since(f.loadedAt) >= tlsReloadInterval
	if stale {
		f.loadedAt = time.Now() // one reload at a time; a failed one waits for the next interval
	}
	f.mu.Unlock()
	if stale {
		_ = f.load()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert, f.cas
}

// serverTLSConfig returns the configuration of a participant server: its certificate and,
// with a client CA, mutual TLS (callers must present a certificate signed by it). Each
// handshake uses the files as last (re)loaded.
func serverTLSConfig(files *pemFiles) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, cas := files.current()
			config := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert},
				NextProtos: []string{"h2"}}
			if cas != nil {
				config.ClientCAs = cas
				config.ClientAuth = tls.RequireAndVerifyClientCert
			}
			return config, nil
		},
	}
}

// clientTLSConfig returns the configuration of the channel to the coordinator: its
// certificate is checked against the CA file (the system's bundle without one) and must name
// the host dialled; the client certificate, when given, is presented and reloaded. The CA
// file is read once.
func clientTLSConfig(files *pemFiles) *tls.Config {
	_, cas := files.current()
	config := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cas}
	if files.certFile != "" {
		config.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := files.current()
			return cert, nil
		}
	}
	return config
}
