package ews

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestThrottleConcurrency(t *testing.T) {
	s, ten := startCore(t, Options{Throttle: Throttle{MaxConcurrency: 1},
		Faults: Faults{RateSlow: 1, Slow: 1500 * time.Millisecond, Only: []string{"FindFolder"}}})
	users := regular(ten)
	u := users[0]
	c := userClient(t, s, u)
	var wg sync.WaitGroup
	wg.Add(1)
	var slowStatus int
	go func() {
		defer wg.Done()
		st, _, err := c.post("/EWS/Exchange.asmx", envelope(`<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`, ""))
		if err != nil {
			t.Errorf("slow request: %v", err)
		}
		slowStatus = st
	}()
	time.Sleep(300 * time.Millisecond)
	st, n := c.call(inboxReq)
	if st != 500 || n.first("ResponseCode").Text != "ErrorExceededConnectionCount" || n.first("faultcode").Text != "a:ErrorExceededConnectionCount" {
		t.Errorf("second concurrent request: %d %s", st, n.dump())
	}
	// Another mailbox has its own budget; a service account impersonating it is charged to it.
	svc := basicClient(t, s, "svc-bascule@"+s.domain, "Service-Pa55!")
	svc.impersonate = users[1].Mail
	svc.mustOK(inboxReq)
	wg.Wait()
	if slowStatus != 200 {
		t.Errorf("slow request: %d", slowStatus)
	}
	c.mustOK(inboxReq) // the slot is free again
	if s.Throttled() != 1 {
		t.Errorf("Throttled() = %d", s.Throttled())
	}
}

func TestThrottleBudget(t *testing.T) {
	s, ten := startCore(t, Options{Throttle: Throttle{Requests: 3, Window: time.Minute}})
	users := regular(ten)
	c := userClient(t, s, users[0])
	for range 3 {
		c.mustOK(inboxReq)
	}
	st, n := c.call(inboxReq)
	bo, _ := strconv.Atoi(n.first("Value").Text)
	if st != 500 || n.first("faultcode").Text != "a:ErrorServerBusy" || n.first("Value").Attr["Name"] != "BackOffMilliseconds" || bo <= 0 || bo > 60000 {
		t.Fatalf("over budget: %d %s", st, n.dump())
	}
	// Coming back at once, beyond the grace, is a violation.
	time.Sleep(150 * time.Millisecond)
	c.call(inboxReq)
	if s.BackOffViolations() != 1 {
		t.Errorf("BackOffViolations() = %d", s.BackOffViolations())
	}
	// Another mailbox is not affected.
	userClient(t, s, users[1]).mustOK(inboxReq)

	// Inside a response message instead of a fault.
	s.SetThrottle(Throttle{Requests: 3, Window: time.Minute, BusyInResponse: true})
	st, n = c.call(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="x"/></m:ItemIds></m:GetItem>`)
	rm := n.first("GetItemResponseMessage")
	if st != 200 || rm.Attr["ResponseClass"] != "Error" || rm.kid("ResponseCode").Text != "ErrorServerBusy" ||
		rm.kid("MessageXml").kid("Value").Attr["Name"] != "BackOffMilliseconds" || n.first("ServerVersionInfo").Attr["MajorVersion"] != "15" {
		t.Errorf("busy in a response message: %d %s", st, n.dump())
	}
	// PerCaller: a service account has one budget for every mailbox it impersonates.
	s.SetThrottle(Throttle{Requests: 2, Window: time.Minute, PerCaller: true})
	svc := basicClient(t, s, "svc-bascule@"+s.domain, "Service-Pa55!")
	svc.impersonate = users[0].Mail
	svc.mustOK(inboxReq)
	svc.impersonate = users[1].Mail
	svc.mustOK(inboxReq)
	if _, n = svc.call(inboxReq); n.first("ResponseCode").Text != "ErrorServerBusy" {
		t.Errorf("PerCaller: third request for another mailbox: %s", n.dump())
	}
	s.SetThrottle(Throttle{Disabled: true})
	c.mustOK(inboxReq)
	if got := s.Counts()["GetFolder"]; got < 6 {
		t.Errorf("Counts()[GetFolder] = %d (refused requests count too)", got)
	}
}

func TestFaults(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	body := envelope(inboxReq, "")

	s.SetFaults(Faults{Rate503: 1})
	if st, _, err := c.post("/EWS/Exchange.asmx", body); err != nil || st != 503 {
		t.Errorf("Rate503: %d %v", st, err)
	}
	s.SetFaults(Faults{RateBusy: 1, BusyBackOff: 2500 * time.Millisecond})
	st, n := c.call(inboxReq)
	if st != 500 || n.first("ResponseCode").Text != "ErrorServerBusy" || n.first("Value").Text != "2500" {
		t.Errorf("RateBusy: %d %s", st, n.dump())
	}
	s.SetFaults(Faults{RateTruncate: 1})
	if st, resp, err := c.post("/EWS/Exchange.asmx", body); err == nil {
		t.Errorf("RateTruncate: %d, no error, %d bytes", st, len(resp))
	}
	s.SetFaults(Faults{RateDrop: 1})
	if _, _, err := c.post("/EWS/Exchange.asmx", body); err == nil {
		t.Errorf("RateDrop: no error")
	}
	s.SetFaults(Faults{RateSlow: 1, Slow: 300 * time.Millisecond})
	t0 := time.Now()
	c.mustOK(inboxReq)
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("RateSlow: answered in %v", d)
	}
	// Only: other operations are spared.
	s.SetFaults(Faults{Rate503: 1, Only: []string{"GetItem"}})
	c.mustOK(inboxReq)
	if st, _, _ := c.post("/EWS/Exchange.asmx", envelope(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="x"/></m:ItemIds></m:GetItem>`, "")); st != 503 {
		t.Errorf("Only GetItem: %d", st)
	}
	// A seeded mix is reproducible.
	run := func() string {
		s.SetFaults(Faults{Seed: 7, Rate503: 0.5})
		var b strings.Builder
		for range 20 {
			st, _, err := c.post("/EWS/Exchange.asmx", body)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(strconv.Itoa(st) + " ")
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "503") || !strings.Contains(a, "200") {
		t.Errorf("seeded faults: %q then %q", a, b)
	}
	// Autodiscover is never faulted.
	s.SetFaults(Faults{Rate503: 1})
	if st, _, err := c.post("/autodiscover/autodiscover.xml", poxRequest(u.Mail)); err != nil || st != http.StatusOK {
		t.Errorf("autodiscover under faults: %d %v", st, err)
	}
}
