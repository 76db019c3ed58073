package m365sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files the simulator keeps its TLS material in, inside the data directory.
// Clients trust CAFileName; the rest is private to the simulator.
const (
	CAFileName     = "ca.pem"
	caKeyFileName  = "ca-key.pem"
	certFileName   = "server.pem"
	certKeyName    = "server-key.pem"
	serverCertLife = 397 * 24 * time.Hour
	caLife         = 10 * 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// serverNames are the names every server certificate covers.
var serverNames = []string{"localhost"}

var serverIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}

// tlsMaterial is the loaded CA and server certificate.
type tlsMaterial struct {
	cert   tls.Certificate // server certificate and chain
	caPool *x509.CertPool  // just the simulator's CA
	caFile string          // path of ca.pem
}

// loadTLS loads the simulator's CA and server certificate from dataDir,
// creating the CA on first start and (re)issuing the server certificate when
// it is missing, near expiry or no longer covers the loopback names. Key
// files are written 0600. Certificates use the wall clock, not an injected
// one, because clients verify them against theirs.
func loadTLS(dataDir string) (*tlsMaterial, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	caCert, caKey, err := loadOrCreateCA(dataDir)
	if err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dataDir, certFileName), filepath.Join(dataDir, certKeyName)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || !serverCertUsable(cert, caCert) {
		if err := issueServerCert(certPath, keyPath, caCert, caKey); err != nil {
			return nil, err
		}
		if cert, err = tls.LoadX509KeyPair(certPath, keyPath); err != nil {
			return nil, fmt.Errorf("load server certificate: %w", err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tlsMaterial{cert: cert, caPool: pool, caFile: filepath.Join(dataDir, CAFileName)}, nil
}

func loadOrCreateCA(dataDir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dataDir, CAFileName), filepath.Join(dataDir, caKeyFileName)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil {
		cert, key, err := parseCA(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("load CA from %s: %w", dataDir, err)
		}
		if time.Until(cert.NotAfter) > renewBefore {
			return cert, key, nil
		}
	} else if !errors.Is(certErr, os.ErrNotExist) && certErr != nil {
		return nil, nil, fmt.Errorf("read CA: %w", certErr)
	} else if !errors.Is(keyErr, os.ErrNotExist) && keyErr != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", keyErr)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "m365sim local CA", Organization: []string{"Mapdrive m365sim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLife),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, fmt.Errorf("write CA certificate: %w", err)
	}
	// A new CA invalidates the old server certificate.
	_ = os.Remove(filepath.Join(dataDir, certFileName))
	return cert, key, nil
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, errors.New("CA certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("CA key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("CA key does not match the CA certificate")
	}
	return cert, key, nil
}

func serverCertUsable(cert tls.Certificate, ca *x509.Certificate) bool {
	if len(cert.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil || time.Until(leaf.NotAfter) < renewBefore {
		return false
	}
	if leaf.CheckSignatureFrom(ca) != nil {
		return false
	}
	for _, n := range serverNames {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range serverIPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func issueServerCert(certPath, keyPath string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate server key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"Mapdrive m365sim"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverCertLife),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     serverNames,
		IPAddresses:  serverIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create server certificate: %w", err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	if err := os.WriteFile(certPath, chain, 0o644); err != nil {
		return fmt.Errorf("write server certificate: %w", err)
	}
	return nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", filepath.Base(path), err)
	}
	// Remove first so that a key file with looser permissions is not reused.
	_ = os.Remove(path)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write key %s: %w", filepath.Base(path), err)
	}
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
