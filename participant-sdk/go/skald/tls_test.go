package skald

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// testCA makes throwaway certificates signed by one CA and writes them as PEM files.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: t.TempDir(), cert: cert, key: key}
	ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(t *testing.T, name, kind string, der []byte) string {
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue returns the certificate and key files of a leaf for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, name string, serial int64) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	template := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+".key", "PRIVATE KEY", keyDER)
}

func TestServerServesMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "participant", 2)
	clientCert, clientKey := ca.issue(t, "coordinator", 3)
	caFile := filepath.Join(ca.dir, "ca.pem")

	s := NewServer()
	s.OnAction("charge", noop)
	s.ServeTLS(TLSOptions{CertFile: serverCert, KeyFile: serverKey, ClientCAFile: caFile})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Shutdown(time.Second)

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := pb.NewParticipantClient(dial(t, s.Address(), grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}))))
	if reply, err := withCert.ExecuteAction(callCtx(t), &pb.StepCall{Handler: "charge"}); err != nil ||
		reply.Outcome != pb.Outcome_OUTCOME_SUCCESS {
		t.Errorf("with a client certificate: %v, %v", reply, err)
	}
	withoutCert := pb.NewParticipantClient(dial(t, s.Address(), grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: roots}))))
	if _, err := withoutCert.ExecuteAction(callCtx(t), &pb.StepCall{Handler: "charge"}); err == nil {
		t.Error("a caller without a client certificate was answered")
	}
	plaintext := pb.NewParticipantClient(dial(t, s.Address()))
	if _, err := plaintext.ExecuteAction(callCtx(t), &pb.StepCall{Handler: "charge"}); err == nil {
		t.Error("a plaintext caller was answered")
	}
}

func TestStartNamesABadTLSFile(t *testing.T) {
	s := NewServer()
	s.ServeTLS(TLSOptions{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"})
	if err := s.Start("127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "/nonexistent/cert.pem") {
		t.Errorf("Start with a missing certificate = %v, want an error naming it", err)
	}
}
