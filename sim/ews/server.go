// Package ews emulates Exchange Web Services of an on-premises Exchange 2016 server over
// HTTPS with a generated CA, on top of the same generated tenant (sim/tenant) that sim/graph
// serves: one tenant model, two protocol faces.
//
// It speaks SOAP 1.1 at /EWS/Exchange.asmx (namespaces m: messages, t: types; every answer
// carries ServerVersionInfo of Exchange 2016), authenticates with Basic, NTLM (NTLMv2,
// verified per MS-NLMP, the handshake kept per TCP connection as IIS does) or a fixed Bearer
// token, honours ExchangeImpersonation (ApplicationImpersonation right given to one service
// account, refused to another with ErrorImpersonateUserDenied), serves Autodiscover (POX
// autodiscover.xml and SOAP autodiscover.svc GetUserSettings), enforces the EWS throttling
// policy (EWSMaxConcurrency → ErrorExceededConnectionCount, a request budget → ErrorServerBusy
// with BackOffMilliseconds) and injects faults (503, slow, truncated, dropped).
//
// # Files and dispatch
//
// Operations are registered by name: each file registers its operations in an init function
// with register("GetItem", fn). The dispatcher (soap.go) authenticates the request, parses the
// envelope (RequestServerVersion, ExchangeImpersonation, TimeZoneContext), resolves the
// mailbox acted for, applies throttling and faults, counts the operation, and calls the
// operation's opFunc with a *Call. An opFunc decodes c.Body (the operation element, e.g.
// <m:GetItem>…</m:GetItem>) with c.decode, writes its response element into c.Out, usually
// with c.begin / c.ok / c.fail / c.end, and returns nil, or returns a *Fault (faultf) for a
// server-level SOAP fault (HTTP 500).
//
//   - server.go: Options, Start, Server accessors, counts.
//   - soap.go: envelope reading and writing, Call, register, response helpers, faults.
//   - auth.go, ntlm.go: accounts, Basic, Bearer, NTLM, impersonation.
//   - autodiscover.go: POX and SOAP Autodiscover.
//   - folders.go: the EWS folder tree of a mailbox (mail folders of the tenant plus its
//     calendars, contact folders and task lists as IPF.Appointment, IPF.Contact and IPF.Task
//     folders), FolderId/DistinguishedFolderId resolution (c.resolveFolder), folder XML,
//     GetFolder, FindFolder.
//   - mail.go: ItemShape, ItemIds, GetItem, and the messages' item source. Other item kinds
//     plug into GetItem and SyncFolderItems with registerItemSource(folder class, itemSource).
//     A folder's PermissionSet comes from the folderPermissionSet hook when set.
//   - sync.go: SyncFolderItems for every folder class with an item source, and
//     SyncFolderHierarchy; sync states are kept server-side (ExpireSyncStates, and
//     tenant.ExpireDeltaTokens, invalidate them: ErrorInvalidSyncStateData).
//   - throttle.go, faults.go: throttling and fault injection.
//
// Groupware and settings operations (calendar items, contacts, tasks, GetDelegate,
// permissions, OOF, rules) live in their own files and plug in the same way.
package ews

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
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// Options configure a Server. Only Tenant is required.
type Options struct {
	Tenant *tenant.Tenant

	// Passwords sets a user's password by UPN or mail (case-insensitive). A user not listed
	// has the password DefaultPassword(user) gives.
	Passwords map[string]string

	// ServiceAccount is an account without a mailbox that holds the ApplicationImpersonation
	// right; default "svc-bascule@<tenant domain>", password ServicePassword (default
	// "Service-Pa55!"). PlainAccount has no such right; default "svc-noimp@<domain>",
	// password PlainPassword (default "Plain-Pa55!").
	ServiceAccount, ServicePassword string
	PlainAccount, PlainPassword     string

	// BearerToken, when set, is accepted as "Authorization: Bearer <token>" for the service
	// account (the way an app with full_access_as_app is).
	BearerToken string

	// Domain is the NetBIOS domain of NTLM and DOMAIN\user names; default "CONTOSO".
	Domain string

	Throttle Throttle
	Faults   Faults
	Addr     string // default "127.0.0.1:0"
}

// Throttle sets the EWS throttling policy, per budget key: the mailbox acted for (the
// impersonated one when impersonating), else the calling account; with PerCaller, always the
// calling account (one budget for a service account however many mailboxes it
// impersonates).
type Throttle struct {
	Disabled  bool
	PerCaller bool
	// MaxConcurrency is EWSMaxConcurrency (default 10): a request beyond it gets a SOAP fault
	// ErrorExceededConnectionCount.
	MaxConcurrency int
	// Requests per Window (default 100000 per minute) is the budget: a request beyond it gets
	// ErrorServerBusy with BackOffMilliseconds until the oldest request leaves the window.
	Requests int
	Window   time.Duration
	// BusyInResponse answers ErrorServerBusy inside a response message (HTTP 200,
	// ResponseClass="Error") instead of as a SOAP fault (HTTP 500).
	BusyInResponse bool
}

// Faults sets injected failures. Each EWS request (never Autodiscover, never an NTLM
// handshake leg) draws one number from a PRNG seeded with Seed and gets at most one fault.
type Faults struct {
	Seed int64
	// Rate503: HTTP 503 (queued requests); RateBusy: a SOAP fault ErrorServerBusy with
	// BackOffMilliseconds BusyBackOff (default 1s); RateTruncate: half the body then the
	// connection closes; RateDrop: the connection closes before any answer; RateSlow: the
	// answer waits Slow (default 2s).
	Rate503, RateBusy, RateTruncate, RateDrop, RateSlow float64
	Slow, BusyBackOff                                   time.Duration
	Only                                                []string // operations to affect; empty = every operation
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	ten    *tenant.Tenant
	opts   Options
	domain string // mail domain of the tenant
	accts  *accounts

	ln     net.Listener
	http   *http.Server
	url    string
	caPEM  []byte
	closed atomic.Bool

	mu     sync.Mutex
	counts map[string]int64

	fmu    sync.Mutex
	faults Faults
	frng   *mrand.Rand

	lim *limiter

	syncs syncStore // SyncFolderItems / SyncFolderHierarchy states (sync.go)

	inv inventory // per-mailbox counts (inventory.go)
}

// Start generates a CA and a server certificate for 127.0.0.1, ::1 and localhost, and serves
// on opts.Addr. It returns an error when opts.Tenant is nil or the address cannot be
// listened on.
func Start(opts Options) (*Server, error) {
	if opts.Tenant == nil {
		return nil, errors.New("ews: Options.Tenant is required")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Domain == "" {
		opts.Domain = "CONTOSO"
	}
	s := &Server{ten: opts.Tenant, counts: map[string]int64{}, lim: newLimiter(opts.Throttle)}
	s.domain = "contoso.example"
	for _, u := range opts.Tenant.Users() {
		if i := strings.LastIndexByte(u.Mail, '@'); i > 0 {
			s.domain = strings.ToLower(u.Mail[i+1:])
			break
		}
	}
	if opts.ServiceAccount == "" {
		opts.ServiceAccount = "svc-bascule@" + s.domain
	}
	if opts.ServicePassword == "" {
		opts.ServicePassword = "Service-Pa55!"
	}
	if opts.PlainAccount == "" {
		opts.PlainAccount = "svc-noimp@" + s.domain
	}
	if opts.PlainPassword == "" {
		opts.PlainPassword = "Plain-Pa55!"
	}
	s.opts = opts
	s.accts = newAccounts(s)
	s.syncs.init()
	s.SetFaults(opts.Faults)
	tlsCert, caPEM, err := makeCerts()
	if err != nil {
		return nil, err
	}
	s.caPEM = caPEM
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("ews: listen: %w", err)
	}
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{tlsCert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.url = "https://" + net.JoinHostPort(host, port)
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connState{})
		},
		ErrorLog: log.New(io.Discard, "", 0)}
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
		Subject:               pkix.Name{CommonName: "Bascule EWS emulator CA", Organization: []string{"Bascule"}},
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
		Subject:      pkix.Name{CommonName: "mail.contoso.example"},
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

// EWSURL returns the EWS endpoint, URL()+"/EWS/Exchange.asmx".
func (s *Server) EWSURL() string { return s.url + "/EWS/Exchange.asmx" }

// AutodiscoverURL returns the POX Autodiscover endpoint, URL()+"/autodiscover/autodiscover.xml"
// (the SOAP one is URL()+"/autodiscover/autodiscover.svc").
func (s *Server) AutodiscoverURL() string { return s.url + "/autodiscover/autodiscover.xml" }

// ServiceAccount returns the logon name and password of the account holding
// ApplicationImpersonation.
func (s *Server) ServiceAccount() (name, password string) {
	return s.opts.ServiceAccount, s.opts.ServicePassword
}

// PlainAccount returns the logon name and password of the mailbox-less account without
// ApplicationImpersonation.
func (s *Server) PlainAccount() (name, password string) {
	return s.opts.PlainAccount, s.opts.PlainPassword
}

// Password returns the password of the tenant user with that UPN or mail ("" for none).
func (s *Server) Password(upnOrMail string) string {
	if a := s.accts.lookup(upnOrMail); a != nil && a.hasUser {
		return a.password
	}
	return ""
}

// Domain returns the NetBIOS domain of NTLM and DOMAIN\user logons.
func (s *Server) Domain() string { return s.opts.Domain }

// Tenant returns the tenant served.
func (s *Server) Tenant() *tenant.Tenant { return s.ten }

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
	if f.BusyBackOff <= 0 {
		f.BusyBackOff = time.Second
	}
	s.faults = f
	s.frng = mrand.New(mrand.NewPCG(uint64(f.Seed), 0xe75))
}

// SetThrottle replaces the throttling policy (the request history is kept).
func (s *Server) SetThrottle(t Throttle) { s.lim.set(t) }

// Counts returns the number of requests received per operation since the last ResetCounts:
// the EWS operation's name ("GetItem", "SyncFolderItems"...; counted once authenticated),
// "autodiscover.xml", "autodiscover.svc" and "unknown" (an operation nobody registered).
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

// Throttled returns the number of requests refused by throttling (ErrorExceededConnectionCount
// or ErrorServerBusy from the budget; injected faults excluded).
func (s *Server) Throttled() int64 { return s.lim.throttled.Load() }

// BackOffViolations returns the number of requests for a budget key that arrived while a
// BackOffMilliseconds given for that key was still running (beyond a 100 ms grace).
func (s *Server) BackOffViolations() int64 { return s.lim.violations.Load() }

// Close stops the server and drops open connections.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.http.Close()
}

// ServeHTTP serves EWS and Autodiscover.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.ToLower(r.URL.Path)
	switch {
	case p == "/ews/exchange.asmx":
		s.serveEWS(w, r)
	case p == "/autodiscover/autodiscover.xml":
		s.serveAutodiscoverPOX(w, r)
	case p == "/autodiscover/autodiscover.svc":
		s.serveAutodiscoverSOAP(w, r)
	default:
		http.NotFound(w, r)
	}
}
