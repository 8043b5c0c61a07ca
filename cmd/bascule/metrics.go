package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	ewssrc "github.com/bascule-migrate/bascule/extract/ews"
	graphsrc "github.com/bascule-migrate/bascule/extract/graph"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/state"
)

// metrics serves Prometheus metrics (--metrics-addr) for a long run. Item and byte counters
// are read at scrape time from the planner's own counters (planner.Observer), so they always
// equal what the run's result will say; throttling counters from the source's transport.
type metrics struct {
	reg *prometheus.Registry
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	live     map[string]*liveMailbox // by address
	finished planner.Counters        // mailboxes whose run ended
	fkinds   map[model.CollectionKind]planner.Counters
	mstatus  map[string]int64 // mailboxes ended, by status
	source   func() (name string, requests, retries int64, throttled map[string]int64)

	leases *prometheus.CounterVec
}

type liveMailbox struct {
	counters func() (planner.Counters, map[model.CollectionKind]planner.Counters)
	est      int64
	started  time.Time
}

var (
	descItems = prometheus.NewDesc("bascule_items_total",
		"Items handled, by kind (mail, calendar, contacts, tasks) and outcome (written, recovered, updated, deleted, skipped, failed, planned).",
		[]string{"kind", "outcome"}, nil)
	descBytes = prometheus.NewDesc("bascule_bytes_written_total",
		"Bytes written to the targets, by kind.", []string{"kind"}, nil)
	descErrors = prometheus.NewDesc("bascule_errors_total",
		"Errors: items recorded as failed (scope item) and mailboxes that failed as a whole (scope mailbox).", []string{"scope"}, nil)
	descMailboxes = prometheus.NewDesc("bascule_mailboxes_total",
		"Mailboxes whose run ended, by status (done, failed, interrupted).", []string{"status"}, nil)
	descRunning = prometheus.NewDesc("bascule_mailboxes_running",
		"Mailboxes being migrated now.", nil, nil)
	descMbxEst = prometheus.NewDesc("bascule_mailbox_items_estimated",
		"Items of a running mailbox, estimated from the source's folder counts (mail only).", []string{"mailbox"}, nil)
	descMbxDone = prometheus.NewDesc("bascule_mailbox_items_processed",
		"Items of a running mailbox handled so far (every outcome).", []string{"mailbox"}, nil)
	descMbxBytes = prometheus.NewDesc("bascule_mailbox_bytes_written",
		"Bytes of a running mailbox written so far.", []string{"mailbox"}, nil)
	descMbxStarted = prometheus.NewDesc("bascule_mailbox_started_timestamp_seconds",
		"When a running mailbox started (unix time).", []string{"mailbox"}, nil)
	descRequests = prometheus.NewDesc("bascule_source_requests_total",
		"HTTP requests sent to the source (every attempt).", []string{"source"}, nil)
	descRetries = prometheus.NewDesc("bascule_source_retries_total",
		"Source requests repeated after a failed attempt.", []string{"source"}, nil)
	descThrottled = prometheus.NewDesc("bascule_source_throttled_total",
		"Source answers that throttled or refused for load: reason 429 (Graph), 503 (503/504, EWS 502 too), server_busy (EWS ErrorServerBusy), connection_count (EWS ErrorExceededConnectionCount).",
		[]string{"source", "reason"}, nil)
)

// startMetrics listens on addr and serves /metrics until the process ends.
func startMetrics(addr string) (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry(), live: map[string]*liveMailbox{},
		fkinds: map[model.CollectionKind]planner.Counters{}, mstatus: map[string]int64{}}
	m.leases = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bascule_worker_leases_total",
		Help: "Fleet leases this worker ended, by outcome (done, failed, pending = given back, lost = taken over by another worker)."},
		[]string{"outcome"})
	m.reg.MustRegister(m, m.leases, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.ln = ln
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// Addr is where the metrics are served.
func (m *metrics) Addr() string { return m.ln.Addr().String() }

// watchSource makes the source's throttling counters part of the metrics (Graph and EWS).
func (m *metrics) watchSource(src any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch s := src.(type) {
	case *graphsrc.Source:
		m.source = func() (string, int64, int64, map[string]int64) {
			st := s.Stats()
			return "graph", st.Requests, st.Retries, map[string]int64{"429": st.Throttled, "503": st.Unavailable}
		}
	case *ewssrc.Source:
		m.source = func() (string, int64, int64, map[string]int64) {
			st := s.Stats()
			return "ews", st.Requests, st.Retries, map[string]int64{"server_busy": st.ServerBusy,
				"connection_count": st.ConnectionCount, "503": st.Unavailable}
		}
	}
}

func (m *metrics) leaseEnded(outcome state.LeaseStatus) {
	if outcome == "" {
		outcome = "lost"
	}
	m.leases.WithLabelValues(string(outcome)).Inc()
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descItems, descBytes, descErrors, descMailboxes, descRunning, descMbxEst,
		descMbxDone, descMbxBytes, descMbxStarted, descRequests, descRetries, descThrottled} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the counters of the ended mailboxes plus the live
// counters of the running ones.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	total := m.finished
	kinds := map[model.CollectionKind]planner.Counters{}
	for k, c := range m.fkinds {
		kinds[k] = c
	}
	mstatus := map[string]int64{}
	for k, v := range m.mstatus {
		mstatus[k] = v
	}
	type liveRow struct {
		addr string
		lm   *liveMailbox
	}
	var live []liveRow
	for a, lm := range m.live {
		live = append(live, liveRow{a, lm})
	}
	source := m.source
	m.mu.Unlock()

	for _, r := range live {
		t, ks := r.lm.counters()
		addCounters(&total, t)
		for k, c := range ks {
			kc := kinds[k]
			addCounters(&kc, c)
			kinds[k] = kc
		}
		processed := t.Written + t.Recovered + t.Updated + t.Deleted + t.Skipped + t.Failed + t.Planned
		ch <- prometheus.MustNewConstMetric(descMbxEst, prometheus.GaugeValue, float64(r.lm.est), r.addr)
		ch <- prometheus.MustNewConstMetric(descMbxDone, prometheus.GaugeValue, float64(processed), r.addr)
		ch <- prometheus.MustNewConstMetric(descMbxBytes, prometheus.GaugeValue, float64(t.Bytes), r.addr)
		ch <- prometheus.MustNewConstMetric(descMbxStarted, prometheus.GaugeValue, float64(r.lm.started.UnixNano())/1e9, r.addr)
	}
	ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(len(live)))
	// Mail is the mailbox totals less the groupware kinds.
	mail := total
	for _, c := range kinds {
		subCounters(&mail, c)
	}
	emit := func(kind string, c planner.Counters) {
		for _, o := range []struct {
			name string
			v    int64
		}{{"written", c.Written}, {"recovered", c.Recovered}, {"updated", c.Updated}, {"deleted", c.Deleted},
			{"skipped", c.Skipped}, {"failed", c.Failed}, {"planned", c.Planned}} {
			ch <- prometheus.MustNewConstMetric(descItems, prometheus.CounterValue, float64(o.v), kind, o.name)
		}
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(c.Bytes), kind)
	}
	emit("mail", mail)
	for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts, model.KindTasks} {
		emit(string(k), kinds[k])
	}
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(total.Failed), "item")
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(mstatus["failed"]), "mailbox")
	for _, s := range []string{"done", "failed", "interrupted"} {
		ch <- prometheus.MustNewConstMetric(descMailboxes, prometheus.CounterValue, float64(mstatus[s]), s)
	}
	if source != nil {
		name, req, retries, th := source()
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(req), name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(retries), name)
		for reason, n := range th {
			ch <- prometheus.MustNewConstMetric(descThrottled, prometheus.CounterValue, float64(n), name, reason)
		}
	}
}

func addCounters(a *planner.Counters, b planner.Counters) {
	a.Written += b.Written
	a.Recovered += b.Recovered
	a.Updated += b.Updated
	a.Deleted += b.Deleted
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	a.Bytes += b.Bytes
	a.Planned += b.Planned
	a.PlannedBytes += b.PlannedBytes
}

func subCounters(a *planner.Counters, b planner.Counters) {
	a.Written -= b.Written
	a.Recovered -= b.Recovered
	a.Updated -= b.Updated
	a.Deleted -= b.Deleted
	a.Skipped -= b.Skipped
	a.Failed -= b.Failed
	a.Bytes -= b.Bytes
	a.Planned -= b.Planned
	a.PlannedBytes -= b.PlannedBytes
}

// observed wraps a run's Progress so that the metrics see every mailbox (planner.Observer).
type observed struct {
	progress
	m *metrics
}

var _ planner.Observer = observed{}

func (o observed) ObserveMailbox(addr string, counters func() (planner.Counters, map[model.CollectionKind]planner.Counters)) {
	o.m.mu.Lock()
	o.m.live[addr] = &liveMailbox{counters: counters, started: time.Now()}
	o.m.mu.Unlock()
}

func (o observed) MailboxStart(addr string, est int64) {
	o.m.mu.Lock()
	if lm := o.m.live[addr]; lm != nil {
		lm.est = est
	}
	o.m.mu.Unlock()
	o.progress.MailboxStart(addr, est)
}

func (o observed) MailboxDone(addr string, err error) {
	o.m.mu.Lock()
	if lm := o.m.live[addr]; lm != nil {
		t, ks := lm.counters()
		addCounters(&o.m.finished, t)
		for k, c := range ks {
			kc := o.m.fkinds[k]
			addCounters(&kc, c)
			o.m.fkinds[k] = kc
		}
		delete(o.m.live, addr)
		switch {
		case err != nil && errors.Is(err, context.Canceled):
			o.m.mstatus["interrupted"]++
		case err != nil:
			o.m.mstatus["failed"]++
		default:
			o.m.mstatus["done"]++
		}
	}
	o.m.mu.Unlock()
	o.progress.MailboxDone(addr, err)
}

// observe returns prog as the run should see it: wrapped for the metrics when they are on.
func (g *GlobalOptions) observe(prog progress) progress {
	if g.metrics == nil {
		return prog
	}
	return observed{progress: prog, m: g.metrics}
}

// lingerMetrics keeps serving the metrics for --metrics-linger after a run, so that the last
// values are scraped (an interrupt ends the wait).
func (g *GlobalOptions) lingerMetrics(ctx context.Context) {
	if g.metrics == nil || g.MetricsLinger <= 0 {
		return
	}
	g.logger.Info("run ended; still serving metrics", "addr", g.metrics.Addr(), "for", g.MetricsLinger)
	select {
	case <-ctx.Done():
	case <-time.After(g.MetricsLinger):
	}
}
