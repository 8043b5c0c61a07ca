// Package graph emulates the Microsoft Graph v1.0 mail API and the Entra ID token endpoint
// over HTTPS with a generated CA, on top of a generated tenant (sim/tenant).
//
// It serves what a migration reads: users, mailbox settings, mail folders (with well-known
// names), message listing with paging, message delta (with @removed and 410 on expired
// tokens), raw MIME ($value), JSON batching, client-credentials tokens (secret or certificate
// assertion), the Outlook throttling limits (per app and mailbox) and injected faults; and
// groupware: calendars, events (single instances and series masters with
// cancelledOccurrences and exceptionOccurrences), attachments, instances and calendarView
// expanded by the emulator itself (tenant.Event.Instances), calendarView/delta, contact
// folders, contacts and their photos, To Do lists, tasks and checklist items, with their
// deltas (sync states kept server-side, see gwdelta.go), and Prefer: outlook.timezone.
// msgraph-sdk-go and azidentity talk to it unchanged when pointed at GraphEndpoint and
// AuthorityHost, the way a national cloud is reached.
package graph

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
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// Options configure a Server. Only Tenant is required.
type Options struct {
	Tenant        *tenant.Tenant
	ClientID      string // default "bascule-demo"
	ClientSecret  string // default "demo-secret"
	ClientCertPEM []byte // optional: certificate whose key signs accepted client assertions
	Throttle      Throttle
	Faults        Faults
	Addr          string // default "127.0.0.1:0"
}

// Throttle sets the Outlook limits, per app and mailbox.
type Throttle struct {
	Disabled    bool
	Concurrency int           // per app+mailbox, default 4
	Requests    int           // per app+mailbox per Window, default 10000
	Window      time.Duration // default 10m
}

// Faults sets injected failures. Each Graph request (never the token endpoints, never a
// request inside a $batch) draws one number from a PRNG seeded with Seed and gets at most one
// fault.
type Faults struct {
	Seed                                               int64
	Rate503, Rate504, RateTruncate, RateDrop, RateSlow float64 // probabilities per request
	Slow                                               time.Duration
	Only                                               []string // endpoint classes to affect; empty = every Graph endpoint
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	ten      *tenant.Tenant
	clientID string
	secret   string
	cert     *x509.Certificate

	ln     net.Listener
	http   *http.Server
	url    string
	caPEM  []byte
	closed atomic.Bool

	mu     sync.Mutex
	counts map[string]int64
	tokens map[string]time.Time

	fmu    sync.Mutex
	faults Faults
	frng   *mrand.Rand

	lim *limiter

	gd gwDeltas // groupware delta sync states

	inv inventory // audit queries and per-mailbox counts (inventory.go)
}

// Start generates a CA and a server certificate for 127.0.0.1, ::1 and localhost, and serves
// on opts.Addr. It returns an error when opts.Tenant is nil, the certificate is unreadable or
// the address cannot be listened on.
func Start(opts Options) (*Server, error) {
	if opts.Tenant == nil {
		return nil, errors.New("graph: Options.Tenant is required")
	}
	if opts.ClientID == "" {
		opts.ClientID = "bascule-demo"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "demo-secret"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &Server{ten: opts.Tenant, clientID: opts.ClientID, secret: opts.ClientSecret,
		counts: map[string]int64{}, tokens: map[string]time.Time{}, lim: newLimiter(opts.Throttle)}
	if len(opts.ClientCertPEM) > 0 {
		for rest := opts.ClientCertPEM; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("graph: client certificate: %w", err)
				}
				s.cert = c
				break
			}
		}
		if s.cert == nil {
			return nil, errors.New("graph: ClientCertPEM holds no certificate")
		}
	}
	s.SetFaults(opts.Faults)
	tlsCert, caPEM, err := makeCerts()
	if err != nil {
		return nil, err
	}
	s.caPEM = caPEM
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("graph: listen: %w", err)
	}
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{tlsCert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.url = "https://" + net.JoinHostPort(host, port)
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(io.Discard, "", 0)}
	go func() { _ = s.http.Serve(s.ln) }()
	return s, nil
}

func makeCerts() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "Bascule Graph emulator CA", Organization: []string{"Bascule"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "graph.emulator.localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// URL returns the server's origin, "https://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// GraphEndpoint returns the Graph base URL, URL()+"/v1.0".
func (s *Server) GraphEndpoint() string { return s.url + "/v1.0" }

// AuthorityHost returns the login authority host, URL()+"/".
func (s *Server) AuthorityHost() string { return s.url + "/" }

// TenantID returns the tenant's GUID.
func (s *Server) TenantID() string { return s.ten.TenantID() }

// CAPEM returns the PEM of the CA that signed the server certificate.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// WriteCAFile writes CAPEM to path (mode 0644); it returns the write error, if any.
func (s *Server) WriteCAFile(path string) error { return os.WriteFile(path, s.caPEM, 0o644) }

// SetFaults replaces the fault configuration and restarts its PRNG from f.Seed.
func (s *Server) SetFaults(f Faults) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if f.Slow <= 0 {
		f.Slow = 2 * time.Second
	}
	s.faults = f
	s.frng = mrand.New(mrand.NewPCG(uint64(f.Seed), 0xfa175))
}

// SetThrottle replaces the throttling limits (the request history is kept).
func (s *Server) SetThrottle(t Throttle) { s.lim.set(t) }

// Counts returns the number of requests received per endpoint class since the last
// ResetCounts: "openid", "token", "users", "user", "mailboxSettings",
// "mailboxSettings.automaticRepliesSetting", "messageRules", "messageRule",
// "calendarPermissions", "calendarPermission", "mailFolders",
// "mailFolder", "childFolders", "mailFolders.delta", "messages", "message",
// "messages.delta", "message.value", the groupware classes (see gwRoute: "calendars",
// "calendar", "events", "event", "event.instances", "event.attachments", "calendarView",
// "calendarView.delta", "contactFolders", "contacts", "contacts.delta", "contact.photo.value",
// "todo.lists", "todo.tasks", "todo.tasks.delta"...), "batch" (requests inside a batch count
// under their own class too), and "unknown".
func (s *Server) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounts sets every count to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.counts = map[string]int64{}
	s.mu.Unlock()
}

func (s *Server) count(class string) {
	s.mu.Lock()
	s.counts[class]++
	s.mu.Unlock()
}

// Throttled returns the number of 429 responses served.
func (s *Server) Throttled() int64 { return s.lim.throttled.Load() }

// RetryAfterViolations returns the number of requests for a mailbox that arrived while a
// Retry-After given for that app and mailbox was still running (beyond a 100 ms grace for
// requests already in flight).
func (s *Server) RetryAfterViolations() int64 { return s.lim.violations.Load() }

// Close stops the server and drops open connections.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.http.Close()
}
