package reports

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HTML reports are checked in a real browser: Debian's chromium, headless, driven over
// the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, messages
// ended by NUL). No Go browser library is needed.

const chromiumPath = "/usr/bin/chromium"

// requireChromium skips loudly without Chromium, or fails when BASCULE_REQUIRE_SERVERS=1
// (CI), as internal/testenv does for servers.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	msg := "\n*** BROWSER MISSING: " + chromiumPath + " is not installed (apt-get install chromium): the HTML rendering test DID NOT RUN ***\n"
	if os.Getenv("BASCULE_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg + "(BASCULE_REQUIRE_SERVERS=1: failing instead of skipping)")
	}
	t.Skip(msg)
}

type cdpMsg struct {
	ID        int64                     `json:"id,omitempty"`
	Method    string                    `json:"method,omitempty"`
	Params    json.RawMessage           `json:"params,omitempty"`
	Result    json.RawMessage           `json:"result,omitempty"`
	Error     *struct{ Message string } `json:"error,omitempty"`
	SessionID string                    `json:"sessionId,omitempty"`
}

type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     *os.File // we write commands
	mu     sync.Mutex
	nextID int64
	waits  map[int64]chan cdpMsg
	events chan cdpMsg
	stderr bytes.Buffer
	done   chan struct{}
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	requireChromium(t)
	profile := t.TempDir()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless", "--disable-gpu", "--remote-debugging-pipe", "--user-data-dir=" + profile,
		"--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--mute-audio", "--font-render-hinting=none", "about:blank"}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...)
	}
	b := &browser{t: t, in: inW, waits: map[int64]chan cdpMsg{}, events: make(chan cdpMsg, 4096), done: make(chan struct{})}
	b.cmd = exec.Command(chromiumPath, args...)
	b.cmd.ExtraFiles = []*os.File{inR, outW} // fd 3: commands in, fd 4: answers out
	b.cmd.Stderr = &b.stderr
	b.cmd.Env = append(os.Environ(), "HOME="+profile)
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	inR.Close()
	outW.Close()
	go b.read(outR)
	t.Cleanup(func() {
		b.send("", "Browser.close", nil) //nolint:errcheck // it may be gone already
		exited := make(chan struct{})
		go func() { b.cmd.Wait(); close(exited) }() //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill() //nolint:errcheck
			<-exited
		}
		inW.Close()
		if t.Failed() {
			t.Logf("chromium stderr (last 3000 bytes):\n%s", tail(b.stderr.String(), 3000))
		}
	})
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (b *browser) read(r *os.File) {
	defer close(b.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMsg
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waits[m.ID]
			delete(b.waits, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // a flood of events we do not read: drop
		}
	}
}

// send runs one command and returns its result.
func (b *browser) send(session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMsg, 1)
	b.waits[id] = ch
	b.mu.Unlock()
	p, _ := json.Marshal(params)
	if params == nil {
		p = []byte("{}")
	}
	msg, _ := json.Marshal(cdpMsg{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	case <-b.done:
		return nil, fmt.Errorf("%s: chromium exited", method)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 60 s", method)
	}
}

func (b *browser) must(session, method string, params any) json.RawMessage {
	b.t.Helper()
	r, err := b.send(session, method, params)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// chartBox is where a chart lies on the page, in CSS pixels.
type chartBox struct {
	ID         string
	X, Y, W, H float64
	Shapes     int
}

// pageCheck is what loading one report found.
type pageCheck struct {
	Console    []string // console messages, exceptions, log entries of level warning or error
	Requests   []string // every URL requested other than the report itself
	Charts     []chartBox
	Screenshot image.Image
	PDF        int // bytes of the printed PDF
	Title      string
	Width      float64 // the document's scroll width, CSS pixels
}

// load opens a report file in a fresh tab, waits for it to load, collects what the page
// logged and requested, measures the charts, takes a full-page screenshot and prints it.
func (b *browser) load(path string, width int) *pageCheck {
	b.t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		b.t.Fatal(err)
	}
	url := "file://" + abs
	var tgt struct{ TargetID string }
	json.Unmarshal(b.must("", "Target.createTarget", map[string]any{"url": "about:blank"}), &tgt) //nolint:errcheck
	var att struct{ SessionID string }
	json.Unmarshal(b.must("", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}), &att) //nolint:errcheck
	s := att.SessionID
	defer b.send("", "Target.closeTarget", map[string]any{"targetId": tgt.TargetID}) //nolint:errcheck
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable", "Network.enable"} {
		b.must(s, m, nil)
	}
	b.must(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	// Drain what about:blank said.
	for len(b.events) > 0 {
		<-b.events
	}
	b.must(s, "Page.navigate", map[string]any{"url": url})
	pc := &pageCheck{}
	deadline := time.After(60 * time.Second)
	loaded := false
	collect := func(m cdpMsg) {
		if m.SessionID != s {
			return
		}
		switch m.Method {
		case "Page.loadEventFired":
			loaded = true
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string
				Args []struct {
					Value       any
					Description string
				}
			}
			json.Unmarshal(m.Params, &p) //nolint:errcheck
			pc.Console = append(pc.Console, fmt.Sprintf("console.%s %v", p.Type, p.Args))
		case "Runtime.exceptionThrown":
			pc.Console = append(pc.Console, "exception "+string(m.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Source, Text, URL string }
			}
			json.Unmarshal(m.Params, &p) //nolint:errcheck
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				pc.Console = append(pc.Console, fmt.Sprintf("log %s (%s): %s %s", p.Entry.Level, p.Entry.Source, p.Entry.Text, p.Entry.URL))
			}
		case "Network.requestWillBeSent":
			var p struct{ Request struct{ URL string } }
			json.Unmarshal(m.Params, &p) //nolint:errcheck
			if u := p.Request.URL; u != url && !strings.HasPrefix(u, "data:") {
				pc.Requests = append(pc.Requests, u)
			}
		}
	}
	for !loaded {
		select {
		case m := <-b.events:
			collect(m)
		case <-deadline:
			b.t.Fatalf("%s: no load event in 60 s", path)
		}
	}
	// Let late messages (CSP reports, image errors) arrive.
	quiet := time.After(700 * time.Millisecond)
drain:
	for {
		select {
		case m := <-b.events:
			collect(m)
		case <-quiet:
			break drain
		}
	}
	const measure = `JSON.stringify({title: document.title, w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight,
	  charts: Array.from(document.querySelectorAll('svg.chart')).map(e => { const r = e.getBoundingClientRect();
	    return {ID: e.id, X: r.left + window.scrollX, Y: r.top + window.scrollY, W: r.width, H: r.height,
	      Shapes: e.querySelectorAll('rect,circle,polyline,polygon,line,path').length}; })})`
	var ev struct{ Result struct{ Value string } }
	json.Unmarshal(b.must(s, "Runtime.evaluate", map[string]any{"expression": measure, "returnByValue": true}), &ev) //nolint:errcheck
	var dims struct {
		Title  string
		W, H   float64
		Charts []chartBox
	}
	if err := json.Unmarshal([]byte(ev.Result.Value), &dims); err != nil {
		b.t.Fatalf("measuring %s: %v (%q)", path, err, ev.Result.Value)
	}
	pc.Charts, pc.Title, pc.Width = dims.Charts, dims.Title, dims.W
	var shot struct{ Data string }
	json.Unmarshal(b.must(s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": dims.W, "height": dims.H, "scale": 1}}), &shot) //nolint:errcheck
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", path, err)
	}
	pc.Screenshot = img
	if dir := os.Getenv("BASCULE_REPORT_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(filepath.Dir(path)), "/")+"-"+strings.TrimSuffix(filepath.Base(path), ".html")+".png"), raw, 0o644) //nolint:errcheck
	}
	var pdf struct{ Data string }
	json.Unmarshal(b.must(s, "Page.printToPDF", map[string]any{"paperWidth": 8.27, "paperHeight": 11.69}), &pdf) //nolint:errcheck
	pc.PDF = base64.StdEncoding.DecodedLen(len(pdf.Data))
	return pc
}

// chartPixels counts, inside box, the pixels within a small distance of one of the palette
// colours (anti-aliasing and the light fills under lines are not counted).
func chartPixels(img image.Image, box chartBox) int {
	type rgb struct{ r, g, b int }
	var cols []rgb
	for _, h := range palette {
		var c rgb
		fmt.Sscanf(h, "#%02x%02x%02x", &c.r, &c.g, &c.b) //nolint:errcheck
		cols = append(cols, c)
	}
	n := 0
	bnd := img.Bounds()
	for y := int(box.Y); y < int(box.Y+box.H) && y < bnd.Max.Y; y++ {
		for x := int(box.X); x < int(box.X+box.W) && x < bnd.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			for _, c := range cols {
				dr, dg, db := int(r>>8)-c.r, int(g>>8)-c.g, int(bb>>8)-c.b
				if dr*dr+dg*dg+db*db < 300 {
					n++
					break
				}
			}
		}
	}
	return n
}
