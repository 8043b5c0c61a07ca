package imap

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// tlsFront terminates TLS on loopback in front of a real IMAP server (implicit TLS, as on
// port 993) with a certificate for 127.0.0.1 from a private CA; it returns its address and
// the CA file.
func tlsFront(t *testing.T, backend string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Bascule test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String(), ca
}

// TestTLS: implicit TLS is verified: with the private CA given the source works; without it
// the run stops with a fatal error that says to give the CA.
func TestTLS(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 4)
	addr, ca := tlsFront(t, d.addr)
	cfg := dovecotConfig(d)
	cfg.Addr, cfg.TLS, cfg.CAFile = addr, "tls", ca
	src := d.source(t, cfg)
	boxes, err := src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"alice"}})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("Mailboxes over TLS with the CA = %v, %v", boxes, err)
	}
	msgs, _ := fullPass(t, src, boxes[0])
	for id, w := range d.msgs["alice"] {
		if _, ok := msgs[id]; !ok {
			t.Errorf("message %s not listed over TLS", id)
			continue
		}
		if sum, _, err := openHash(context.Background(), src, boxes[0], id); err != nil || sum != w.SHA256 {
			t.Errorf("Open(%s) over TLS = %s, %v; want %s", id, sum, err, w.SHA256)
		}
	}

	cfg.CAFile = ""
	src = d.source(t, cfg)
	_, err = src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"alice"}})
	if !errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("Mailboxes over TLS with an unknown CA = %v, want a fatal error naming --ca-file", err)
	}
}
