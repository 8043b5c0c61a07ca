package imap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/extract/imap/imaptest"
	"github.com/bascule-migrate/bascule/model"
)

// TestConnectionLimit: a server that takes fewer connections per user than configured
// (Dovecot's mail_max_userip_connections lowered to 2) refuses the extra ones; the source
// goes on with those it has, and every body still arrives.
func TestConnectionLimit(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 30)
	conf := filepath.Join(d.dir, "etc", "dovecot.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "mail_max_userip_connections = 200", "mail_max_userip_connections = 2", 1))
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("doveadm", "-c", conf, "reload").CombinedOutput(); err != nil {
		t.Fatalf("doveadm reload: %v\n%s", err, out)
	}
	// The reload takes effect at its own pace: wait until a third connection is refused.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var cs []*imapclient.Client
		refused := false
		for range 3 {
			l, pw := d.loginAs("alice")
			c, err := imaptest.Dial(d.addr, l, pw)
			if err == nil {
				err = c.Noop().Wait()
				cs = append(cs, c)
			}
			refused = refused || err != nil
		}
		for _, c := range cs {
			c.Close()
		}
		if refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Dovecot still takes a third connection 10 s after the reload")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the probes' sessions end
	cfg := dovecotConfig(d)
	cfg.Connections, cfg.Pipeline = 6, 1
	src := d.source(t, cfg)
	mbx := model.Mailbox{ID: "alice", Address: "alice"}
	ctx := context.Background()
	var wg sync.WaitGroup
	ch := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				sum, _, err := openHash(ctx, src, mbx, id)
				if err != nil || sum != d.msgs["alice"][id].SHA256 {
					t.Errorf("Open(%s) = %s, %v", id, sum, err)
				}
			}
		}()
	}
	for id := range d.msgs["alice"] {
		ch <- id
	}
	close(ch)
	wg.Wait()
	p := src.pool(mbx)
	p.mu.Lock()
	max := p.max
	p.mu.Unlock()
	// Dovecot may let a login through and hang up right after it (BYE), so the pool can
	// learn a limit of 2 or 3: it must have lowered its own.
	if max >= 6 {
		t.Errorf("the pool still allows %d connections: it never noticed the server's limit", max)
	}
}
