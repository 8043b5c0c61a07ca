package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/model"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

const testSecret = "sourcetest-secret"

type env struct {
	ten *tenant.Tenant
	sim *simgraph.Server
	ca  string
}

func startSim(t *testing.T, cfg tenant.Config, o simgraph.Options) *env {
	t.Helper()
	ten := tenant.Generate(cfg)
	o.Tenant = ten
	if o.ClientID == "" {
		o.ClientID = "bascule-test"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = testSecret
	}
	sim, err := simgraph.Start(o)
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	return &env{ten: ten, sim: sim, ca: ca}
}

func (e *env) config() Config {
	return Config{Endpoint: e.sim.GraphEndpoint(), AuthorityHost: e.sim.AuthorityHost(), TenantID: e.sim.TenantID(),
		ClientID: "bascule-test", ClientSecret: testSecret, CAFile: e.ca}
}

func (e *env) source(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return src
}

// truth reads the generated tenant the emulator serves.
func (e *env) truth(t testing.TB) sourcetest.Truth {
	var tr sourcetest.Truth
	for _, u := range e.ten.Users() {
		addr := u.Mail
		if addr == "" {
			addr = u.UPN
		}
		mt := sourcetest.MailboxTruth{Mailbox: model.Mailbox{ID: u.ID, Address: addr, DisplayName: u.DisplayName, Kind: u.Purpose}}
		root := e.ten.RootFolderID(u.ID)
		paths := map[string][]string{}
		for _, f := range e.ten.Folders(u.ID) {
			parent := f.ParentID
			if parent == root {
				parent = ""
			}
			p := append(append([]string(nil), paths[parent]...), f.DisplayName)
			paths[f.ID] = p
			mt.Folders = append(mt.Folders, model.Folder{ID: f.ID, ParentID: parent, Path: p, WellKnown: f.WellKnown})
		}
		for _, m := range e.ten.Messages(u.ID) {
			mt.Messages = append(mt.Messages, sourcetest.MessageTruth{ID: m.ID, FolderID: m.FolderID, SHA256: m.SHA256, Size: m.Size,
				Flags: model.Flags{Seen: m.IsRead, Flagged: m.Flag == "flagged", Draft: m.IsDraft,
					Answered: m.LastVerb == 102 || m.LastVerb == 103 || m.LastVerb == 104}})
		}
		tr.Mailboxes = append(tr.Mailboxes, mt)
	}
	return tr
}

func (e *env) harness(src *Source) sourcetest.Harness {
	return sourcetest.Harness{
		Source: src,
		Truth:  e.truth,
		SetRead: func(t testing.TB, mbx model.Mailbox, id string, read bool) {
			if err := e.ten.SetRead(mbx.ID, id, read); err != nil {
				t.Fatalf("SetRead = %v", err)
			}
		},
		Add: func(t testing.TB, mbx model.Mailbox, folderID string) string {
			m, err := e.ten.AddMessage(mbx.ID, folderID)
			if err != nil {
				t.Fatalf("AddMessage = %v", err)
			}
			return m.ID
		},
		Delete: func(t testing.TB, mbx model.Mailbox, id string) {
			if err := e.ten.DeleteMessage(mbx.ID, id); err != nil {
				t.Fatalf("DeleteMessage = %v", err)
			}
		},
		ExpireCursors: func(testing.TB) { e.ten.ExpireDeltaTokens() },
	}
}

// TestConformance runs the source suite against the emulator through the real
// client-secret token flow.
func TestConformance(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	sourcetest.Run(t, e.harness(src))
	if st := src.Stats(); st.Requests == 0 {
		t.Errorf("Stats() = %+v: no request counted", st)
	}
}

// testCert makes a self-signed certificate and returns (cert PEM, cert+key PEM).
func testCert(t *testing.T) ([]byte, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bascule-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	return certPEM, append(append([]byte(nil), certPEM...), keyPEM...)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConformanceCertificate runs the suite with certificate credentials (a signed
// client assertion).
func TestConformanceCertificate(t *testing.T) {
	certPEM, bundle := testCert(t)
	cfg := tenant.Small()
	cfg.Seed = 2
	e := startSim(t, cfg, simgraph.Options{ClientCertPEM: certPEM})
	c := e.config()
	c.ClientSecret = ""
	c.CertificatePEM = bundle
	sourcetest.Run(t, e.harness(e.source(t, c)))
}

// TestBadCredentials: a wrong secret or an untrusted server is fatal at New.
func TestBadCredentials(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	c := e.config()
	c.ClientSecret = "wrong"
	if _, err := New(context.Background(), c); !errors.Is(err, model.ErrFatal) {
		t.Errorf("New(wrong secret) = %v, want an error wrapping model.ErrFatal", err)
	}
	c = e.config()
	c.CAFile = ""
	if _, err := New(context.Background(), c); !errors.Is(err, model.ErrFatal) {
		t.Errorf("New(CA not trusted) = %v, want an error wrapping model.ErrFatal", err)
	}
}

// everything lists every folder of every mailbox, runs a full pass and downloads every
// message, checking each body against the tenant. A read that fails with a retryable
// error is tried again (up to 5 times), as the runner does. It returns the final cursors.
func everything(t *testing.T, e *env, src *Source) map[[2]string]string {
	t.Helper()
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		t.Fatalf("Mailboxes = %v", err)
	}
	cursors := map[[2]string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, mbx := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			folders, err := src.Folders(ctx, mbx)
			if err != nil {
				t.Errorf("Folders(%s) = %v", mbx.Address, err)
				return
			}
			want := map[string]string{}
			for _, m := range e.ten.Messages(mbx.ID) {
				want[m.ID] = m.SHA256
			}
			var ids []string
			for _, f := range folders {
				for c, err := range src.Changes(ctx, mbx, f, "") {
					if err != nil {
						t.Errorf("Changes(%s, %s) = %v", mbx.Address, f.ID, err)
						break
					}
					if c.Kind == extract.Upsert {
						ids = append(ids, c.Message.ID)
					}
					if c.Final {
						mu.Lock()
						cursors[[2]string{mbx.ID, f.ID}] = c.Cursor
						mu.Unlock()
					}
				}
			}
			if len(ids) != len(want) {
				t.Errorf("%s: %d messages listed, want %d", mbx.Address, len(ids), len(want))
			}
			ch := make(chan string)
			var inner sync.WaitGroup
			for range 4 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for id := range ch {
						var sum string
						var err error
						for attempt := 0; attempt < 5; attempt++ {
							if sum, _, err = hashOpen(ctx, src, mbx, id); err == nil || !errors.Is(err, model.ErrRetryable) {
								break
							}
						}
						if err != nil || sum != want[id] {
							t.Errorf("Open(%s, %s) = %s, %v; want %s", mbx.Address, id, sum, err, want[id])
						}
					}
				}()
			}
			for _, id := range ids {
				ch <- id
			}
			close(ch)
			inner.Wait()
		}()
	}
	wg.Wait()
	return cursors
}

func totalCount(counts map[string]int64) int64 {
	var n int64
	for k, v := range counts {
		if k != "token" && k != "openid" {
			n += v
		}
	}
	return n
}

// TestThrottling: under limits far tighter than the source is configured for, a whole
// pass completes, every Retry-After is honoured and few requests are throttled.
func TestThrottling(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{
		Throttle: simgraph.Throttle{Concurrency: 4, Requests: 40, Window: 4 * time.Second}})
	src := e.source(t, e.config()) // default budget: 10,000 per 10 minutes
	start := time.Now()
	everything(t, e, src)
	total := totalCount(e.sim.Counts())
	t.Logf("%d requests in %v, %d throttled, Stats %+v", total, time.Since(start), e.sim.Throttled(), src.Stats())
	if v := e.sim.RetryAfterViolations(); v != 0 {
		t.Errorf("RetryAfterViolations() = %d, want 0", v)
	}
	if e.sim.Throttled() == 0 {
		t.Errorf("no 429 at all: the limits were not reached and the test proves nothing")
	}
	if th := e.sim.Throttled(); th*20 > total {
		t.Errorf("%d of %d requests throttled (more than 5%%)", th, total)
	}
}

// TestFaults: 503s, 504s, truncated and dropped responses; every body still arrives exact.
func TestFaults(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{
		Faults: simgraph.Faults{Seed: 3, Rate503: 0.05, Rate504: 0.03, RateTruncate: 0.05, RateDrop: 0.03}})
	src := e.source(t, e.config())
	everything(t, e, src)
	st := src.Stats()
	t.Logf("Stats %+v", st)
	if st.Retries == 0 || st.Unavailable == 0 {
		t.Errorf("Stats() = %+v: the faults were not seen", st)
	}
}

// TestNoChangeRequests: a delta pass with nothing new makes only delta requests.
func TestNoChangeRequests(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	cursors := everything(t, e, src)
	boxes, err := src.Mailboxes(context.Background(), extract.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	for _, mbx := range boxes {
		for k, cur := range cursors {
			if k[0] != mbx.ID {
				continue
			}
			for c, err := range src.Changes(context.Background(), mbx, model.Folder{ID: k[1]}, cur) {
				if err != nil {
					t.Fatalf("Changes = %v", err)
				}
				if c.Kind != extract.Checkpoint {
					t.Errorf("no-change pass yielded %+v", c)
				}
			}
		}
	}
	counts := e.sim.Counts()
	for class, n := range counts {
		if n != 0 && class != "messages.delta" && class != "token" && class != "openid" {
			t.Errorf("a no-change pass made %d %q requests", n, class)
		}
	}
	if counts["messages.delta"] != int64(len(cursors)) {
		t.Errorf("%d delta requests for %d folders", counts["messages.delta"], len(cursors))
	}
}

func TestClassifyStatus(t *testing.T) {
	for _, c := range []struct {
		status int
		want   error
		text   string
	}{
		{401, model.ErrFatal, "Mail.Read"},
		{403, model.ErrFatal, "Mail.Read"},
		{404, model.ErrNotFound, ""},
		{410, model.ErrCursorExpired, ""},
		{429, model.ErrRetryable, ""},
		{500, model.ErrRetryable, ""},
		{503, model.ErrRetryable, ""},
		{400, model.ErrPermanent, ""},
	} {
		err := classifyStatus(c.status, "Code", "msg", time.Second, "doing", permMail)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("classifyStatus(%d) = %v, want %v mentioning %q", c.status, err, c.want, c.text)
		}
	}
	var th *model.Throttled
	if err := classifyStatus(429, "", "", 3*time.Second, "x", permMail); !errors.As(err, &th) || th.RetryAfter != 3*time.Second {
		t.Errorf("classifyStatus(429) = %v, want a model.Throttled of 3s", err)
	}
}

func hashOpen(ctx context.Context, src *Source, mbx model.Mailbox, id string) (string, int64, error) {
	rc, err := src.Open(ctx, mbx, model.Message{ID: id})
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
