// The Go reference of `npm run bench`: issues N ECDSA-P256 leaf certificates in one goroutine with crypto/x509,
// the same shape rekey issues (128-bit random serial, CN, two DNS SANs, critical basicConstraints cA FALSE,
// critical keyUsage digitalSignature, extKeyUsage serverAuth, subject and authority key identifiers), each
// followed by the PEM of the certificate and of the PKCS#8 key. Prints one JSON line with the rate.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"time"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func keyID(pub *ecdsa.PublicKey) []byte {
	raw, err := x509.MarshalPKIXPublicKey(pub)
	must(err)
	// RFC 5280 method 1 over the whole SPKI is close enough for a timing reference: one SHA-1 either way.
	sum := sha1.Sum(raw)
	return sum[:]
}

func main() {
	n := flag.Int("n", 3000, "certificates to issue")
	out := flag.String("out", "", "write the last certificate and key here (PEM), for a check")
	flag.Parse()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench-ca"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          keyID(&caKey.PublicKey),
	}
	caDer, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDer)
	must(err)

	serialLimit := new(big.Int).Lsh(big.NewInt(1), 128)
	var certPem, keyPem []byte
	issue := func(i int) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		serial, err := rand.Int(rand.Reader, serialLimit)
		must(err)
		now := time.Now()
		name := fmt.Sprintf("svc-%d", i)
		template := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             now.Add(-5 * time.Minute),
			NotAfter:              now.Add(90 * 24 * time.Hour),
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:              []string{name, name + ".ns-0.svc"},
			SubjectKeyId:          keyID(&key.PublicKey),
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		must(err)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		must(err)
		certPem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPem = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	}
	for i := 0; i < 200; i++ {
		issue(i) // warm up
	}
	start := time.Now()
	for i := 0; i < *n; i++ {
		issue(i)
	}
	seconds := time.Since(start).Seconds()
	if *out != "" {
		must(os.WriteFile(*out, append(certPem, keyPem...), 0o600))
	}
	must(json.NewEncoder(os.Stdout).Encode(map[string]any{"count": *n, "seconds": seconds, "perSecond": float64(*n) / seconds}))
}
