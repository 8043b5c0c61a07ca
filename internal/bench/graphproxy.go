package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// GraphRecorder is a TLS reverse proxy in front of the Graph emulator that records, per
// mailbox (the path segment after /users/), when each request arrived and whether it was
// throttled (429). It measures how much of Microsoft's per-mailbox budget a run used, from
// the outside, without trusting the client's own counters.
type GraphRecorder struct {
	URL   string // base URL of the proxy (scheme://host:port)
	CAPEM []byte // the proxy's certificate, to trust

	srv *http.Server
	ln  net.Listener

	mu  sync.Mutex
	log map[string][]hit
}

type hit struct {
	at        time.Time
	throttled bool
}

// StartGraphRecorder proxies to target (the emulator's base URL), trusting targetCA.
func StartGraphRecorder(target string, targetCA []byte) (*GraphRecorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(targetCA)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false}
	rp.ErrorLog = nil
	g := &GraphRecorder{CAPEM: certPEM, log: map[string][]hit{}}
	rp.ModifyResponse = func(resp *http.Response) error {
		g.record(resp.Request.URL.Path, resp.StatusCode == http.StatusTooManyRequests)
		return nil
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	g.ln = ln
	g.URL = "https://" + ln.Addr().String()
	g.srv = &http.Server{Handler: rp}
	go g.srv.Serve(ln)
	return g, nil
}

// Close stops the proxy.
func (g *GraphRecorder) Close() error { return g.srv.Close() }

// Reset forgets what was recorded.
func (g *GraphRecorder) Reset() {
	g.mu.Lock()
	g.log = map[string][]hit{}
	g.mu.Unlock()
}

func (g *GraphRecorder) record(path string, throttled bool) {
	key := "(none)"
	segs := strings.Split(path, "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "users") && segs[i+1] != "" {
			key = strings.ToLower(segs[i+1])
			break
		}
	}
	g.mu.Lock()
	g.log[key] = append(g.log[key], hit{time.Now(), throttled})
	g.mu.Unlock()
}

// BudgetUse is what one mailbox did with its budget.
type BudgetUse struct {
	Mailbox   string
	Requests  int           // answered without throttling
	Throttled int           // 429s
	Span      time.Duration // first to last request
	// Windows is the number of whole budget windows the mailbox's run spans; Used is the
	// share of the budget of those windows that its accepted requests took (0 when Windows
	// is 0: a mailbox that finished within one window never waited for its budget).
	Windows int
	Used    float64
	// Burst429 is the largest number of 429s within any one second.
	Burst429 int
}

// Budget computes each mailbox's use of a budget of requests per window.
func (g *GraphRecorder) Budget(requests int, window time.Duration) []BudgetUse {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []BudgetUse
	for key, hits := range g.log {
		if key == "(none)" || len(hits) == 0 {
			continue
		}
		sort.Slice(hits, func(i, j int) bool { return hits[i].at.Before(hits[j].at) })
		b := BudgetUse{Mailbox: key, Span: hits[len(hits)-1].at.Sub(hits[0].at)}
		b.Windows = int(b.Span / window)
		end := hits[0].at.Add(time.Duration(b.Windows) * window)
		inWindows := 0
		var t429 []time.Time
		for _, h := range hits {
			if h.throttled {
				b.Throttled++
				t429 = append(t429, h.at)
				continue
			}
			b.Requests++
			if h.at.Before(end) {
				inWindows++
			}
		}
		if b.Windows > 0 {
			b.Used = float64(inWindows) / float64(b.Windows*requests)
		}
		for i := range t429 {
			n := 0
			for j := i; j < len(t429) && t429[j].Sub(t429[i]) < time.Second; j++ {
				n++
			}
			b.Burst429 = max(b.Burst429, n)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Requests > out[j].Requests })
	return out
}

func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "bascule bench proxy"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// String summarises budget use.
func (b BudgetUse) String() string {
	used := "n/a (finished within one window)"
	if b.Windows > 0 {
		used = fmt.Sprintf("%.0f%% over %d window(s)", 100*b.Used, b.Windows)
	}
	return fmt.Sprintf("%s: %d requests in %.1f s, budget used %s, %d×429 (max %d in one second)",
		b.Mailbox, b.Requests, b.Span.Seconds(), used, b.Throttled, b.Burst429)
}
