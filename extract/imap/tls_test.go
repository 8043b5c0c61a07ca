package imap

import (
	"bufio"
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

// testCert makes a self-signed CA certificate for 127.0.0.1 and writes it to a CA file.
func testCert(t *testing.T) (tls.Certificate, string) {
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

// tlsFront terminates TLS on loopback in front of a real IMAP server, with a certificate for
// 127.0.0.1 from a private CA: implicit TLS (as on port 993), or with starttls the plaintext
// greeting and STARTTLS exchange (RFC 3501 6.2.1) first. It returns its address and the CA
// file.
func tlsFront(t *testing.T, backend string, starttls bool) (string, string) {
	t.Helper()
	cert, ca := testCert(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer raw.Close()
				if starttls {
					raw.Write([]byte("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] front ready\r\n"))
					line, err := bufio.NewReader(raw).ReadString('\n') // the client waits for the answer
					tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
					if err != nil || !strings.EqualFold(cmd, "STARTTLS") {
						raw.Write([]byte(tag + " BAD STARTTLS first\r\n"))
						return
					}
					raw.Write([]byte(tag + " OK Begin TLS negotiation now\r\n"))
				}
				c := tls.Server(raw, conf)
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				br := bufio.NewReader(b)
				if starttls {
					// After STARTTLS there is no second greeting: drop the server's.
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
				}
				go io.Copy(b, c)
				io.Copy(c, br)
			}()
		}
	}()
	return ln.Addr().String(), ca
}

// TestTLS: implicit TLS and STARTTLS are verified: with the private CA given the source
// works; without it the run stops with a fatal error that says to give the CA.
func TestTLS(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 4)
	for _, mode := range []string{"tls", "starttls"} {
		t.Run(mode, func(t *testing.T) {
			addr, ca := tlsFront(t, d.addr, mode == "starttls")
			cfg := dovecotConfig(d)
			cfg.Addr, cfg.TLS, cfg.CAFile = addr, mode, ca
			src := d.source(t, cfg)
			boxes, err := src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"alice"}})
			if err != nil || len(boxes) != 1 {
				t.Fatalf("Mailboxes over %s with the CA = %v, %v", mode, boxes, err)
			}
			msgs, _ := fullPass(t, src, boxes[0])
			for id, w := range d.msgs["alice"] {
				if _, ok := msgs[id]; !ok {
					t.Errorf("message %s not listed over %s", id, mode)
					continue
				}
				if sum, _, err := openHash(context.Background(), src, boxes[0], id); err != nil || sum != w.SHA256 {
					t.Errorf("Open(%s) over %s = %s, %v; want %s", id, mode, sum, err, w.SHA256)
				}
			}

			cfg.CAFile = ""
			src = d.source(t, cfg)
			_, err = src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"alice"}})
			if !errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), "--ca-file") {
				t.Errorf("Mailboxes over %s with an unknown CA = %v, want a fatal error naming --ca-file", mode, err)
			}
		})
	}
}
