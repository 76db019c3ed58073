package distcheck

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// SigningFiles names the PEM files of a throwaway code-signing setup.
type SigningFiles struct {
	CA   string // the self-signed CA certificate, for osslsigncode verify -CAfile
	Cert string // the code-signing certificate followed by the CA
	Key  string // the code-signing certificate's RSA key (PKCS #1)
}

// NewSigningCA writes a self-signed CA and a code-signing certificate it
// issued into dir, valid from an hour ago for a day. Tests sign with it in
// place of a real certificate (MAPDRIVE_SIGN_CERT / MAPDRIVE_SIGN_KEY).
func NewSigningCA(dir, name string) (SigningFiles, error) {
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SigningFiles{}, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " Test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return SigningFiles{}, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return SigningFiles{}, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SigningFiles{}, fmt.Errorf("generate signing key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name + " Test Code Signing", Organization: []string{name}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return SigningFiles{}, fmt.Errorf("create signing certificate: %w", err)
	}
	f := SigningFiles{
		CA:   filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, "signing.pem"),
		Key:  filepath.Join(dir, "signing.key"),
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, caPEM, 0o644},
		{f.Cert, append(leafPEM, caPEM...), 0o644},
		{f.Key, keyPEM, 0o600},
	} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return SigningFiles{}, fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return f, nil
}
