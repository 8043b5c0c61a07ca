package ews

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// soapEnv wraps a Body element the way Exchange 2016 answers.
func soapEnv(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header>` +
		`<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">` + body + `</s:Body></s:Envelope>`
}

const mt = `xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"`

// serverBusyFault is the fault of exchangelib's test_error_server_busy.
func serverBusyFault(ms string) string {
	return soapEnv(`<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
 <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
 <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
  <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
  <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">` + ms + `</t:Value></t:MessageXml></detail></s:Fault>`)
}

type getFolderReq struct {
	XMLName xml.Name `xml:"m:GetFolder"`
	Shape   string   `xml:"m:FolderShape>t:BaseShape"`
	Ids     []struct {
		ID string `xml:"Id,attr"`
	} `xml:"m:FolderIds>t:DistinguishedFolderId"`
}

type getFolderResp struct {
	Messages []struct {
		ResponseMessage
		Folders []struct {
			ID          ItemID `xml:"FolderId"`
			DisplayName string `xml:"DisplayName"`
		} `xml:"Folders>Folder"`
	} `xml:"ResponseMessages>GetFolderResponseMessage"`
}

func testClient(t *testing.T, h http.HandlerFunc, cfg ClientConfig) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + "/EWS/Exchange.asmx"
	if cfg.Auth == "" {
		cfg.Auth = AuthBasic
		cfg.Username, cfg.Password = "svc", "secret-pw"
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Millisecond
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient() = %v", err)
	}
	return c
}

func inboxReq() getFolderReq {
	r := getFolderReq{Shape: "IdOnly"}
	r.Ids = append(r.Ids, struct {
		ID string `xml:"Id,attr"`
	}{"inbox"})
	return r
}

func TestCallEnvelopeAndDecode(t *testing.T) {
	var got struct {
		body, action, anchor, auth string
	}
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.body, got.action, got.anchor, got.auth = string(b), r.Header.Get("SOAPAction"), r.Header.Get("X-AnchorMailbox"), r.Header.Get("Authorization")
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id="AAMkInbox" ChangeKey="AQAAAA=="/><t:DisplayName>Boîte de réception</t:DisplayName></t:Folder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{Impersonate: true})
	var out getFolderResp
	if err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, &out); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if len(out.Messages) != 1 || len(out.Messages[0].Folders) != 1 || out.Messages[0].Folders[0].DisplayName != "Boîte de réception" || out.Messages[0].Folders[0].ID.ID != "AAMkInbox" {
		t.Errorf("decoded %+v", out)
	}
	for _, want := range []string{`<t:RequestServerVersion Version="Exchange2016"></t:RequestServerVersion>`,
		`<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>anne@example.org</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`,
		`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("request body lacks %s:\n%s", want, got.body)
		}
	}
	if got.action != `"http://schemas.microsoft.com/exchange/services/2006/messages/GetFolder"` || got.anchor != "anne@example.org" || !strings.HasPrefix(got.auth, "Basic ") {
		t.Errorf("headers: SOAPAction %q, X-AnchorMailbox %q, Authorization %q", got.action, got.anchor, got.auth)
	}
}

func TestCallNoImpersonation(t *testing.T) {
	var body string
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{ServerVersion: "Exchange2013_SP1"})
	if err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "ExchangeImpersonation") || !strings.Contains(body, `Version="Exchange2013_SP1"`) {
		t.Errorf("request: %s", body)
	}
}

func TestCallUnauthorizedIsFatal(t *testing.T) {
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="mail.example.org"`)
		w.WriteHeader(http.StatusUnauthorized)
	}, ClientConfig{})
	err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil)
	if !errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), "check the user name") {
		t.Fatalf("Call() = %v, want a fatal error saying what to check", err)
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if st := c.Stats(); st.Requests != 1 {
		t.Errorf("a 401 was sent %d times", st.Requests)
	}
}

// TestServerBusyFence: the fault's BackOffMilliseconds holds every request of the mailbox
// back until it ends; other mailboxes go on (impersonation: budgets are per mailbox).
func TestServerBusyFence(t *testing.T) {
	var mu sync.Mutex
	var busyAt time.Time
	var times []time.Time
	var n atomic.Int32
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		if r.Header.Get("X-AnchorMailbox") == "anne@example.org" {
			times = append(times, time.Now())
		}
		mu.Unlock()
		if r.Header.Get("X-AnchorMailbox") == "anne@example.org" && n.Add(1) == 1 {
			mu.Lock()
			busyAt = time.Now()
			mu.Unlock()
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, serverBusyFault("300"))
			return
		}
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{Impersonate: true})
	ctx := context.Background()
	if err := c.Call(ctx, Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil); err != nil {
		t.Fatalf("Call() after ErrorServerBusy = %v", err)
	}
	// Another call for the same mailbox right away waits too; another mailbox does not.
	start := time.Now()
	if err := c.Call(ctx, Request{Mailbox: "bob@example.org", Body: inboxReq()}, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("another mailbox waited %v", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Fatalf("%d requests for the busy mailbox, want 2", len(times))
	}
	if gap := times[1].Sub(busyAt); gap < 300*time.Millisecond {
		t.Errorf("the retry left %v after ErrorServerBusy, before the 300ms back-off ended", gap)
	}
	if st := c.Stats(); st.ServerBusy != 1 || st.Retries != 1 {
		t.Errorf("Stats() = %+v", st)
	}
}

// TestServerBusyGivesUp: after MaxAttempts the error is a model.Throttled with the
// server's back-off.
func TestServerBusyGivesUp(t *testing.T) {
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		// In a response message this time (HTTP 200).
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>The server cannot service this request right now. Try again later.</m:MessageText><m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:MessageXml><t:Value Name="BackOffMilliseconds">20</t:Value></m:MessageXml></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{MaxAttempts: 3, Impersonate: true})
	err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil)
	var th *model.Throttled
	if !errors.As(err, &th) || th.RetryAfter != 20*time.Millisecond || !errors.Is(err, model.ErrRetryable) || ErrorCode(err) != "ErrorServerBusy" {
		t.Fatalf("Call() = %v, want model.Throttled 20ms", err)
	}
	if st := c.Stats(); st.Requests != 3 {
		t.Errorf("%d requests, want 3", st.Requests)
	}
}

func TestCallErrorsClassified(t *testing.T) {
	cases := []struct {
		code string
		is   error
		text string
	}{
		{"ErrorImpersonateUserDenied", model.ErrFatal, "New-ManagementRoleAssignment -Role ApplicationImpersonation"},
		{"ErrorNonExistentMailbox", model.ErrNotFound, ""},
		{"ErrorItemNotFound", model.ErrNotFound, ""},
		{"ErrorInvalidSyncStateData", model.ErrCursorExpired, ""},
		{"ErrorSchemaValidation", model.ErrPermanent, ""},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>text</m:MessageText><m:ResponseCode>`+tc.code+`</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
			}, ClientConfig{Impersonate: true})
			err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.text) || ErrorCode(err) != tc.code {
				t.Errorf("Call() = %v, want %v containing %q", err, tc.is, tc.text)
			}
			if st := c.Stats(); st.Requests != 1 {
				t.Errorf("%d requests, want 1", st.Requests)
			}
		})
	}
}

// TestCallPartialFailure: a batch where one item failed is the caller's to read.
func TestCallPartialFailure(t *testing.T) {
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages>`+
			`<m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>The specified folder could not be found in the store.</m:MessageText><m:ResponseCode>ErrorFolderNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetFolderResponseMessage>`+
			`<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id="AAMkInbox" ChangeKey="AQ=="/><t:DisplayName>Inbox</t:DisplayName></t:Folder></m:Folders></m:GetFolderResponseMessage>`+
			`</m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{})
	var out getFolderResp
	if err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, &out); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if len(out.Messages) != 2 || !errors.Is(out.Messages[0].Err("GetFolder", "anne"), model.ErrNotFound) || out.Messages[1].Err("GetFolder", "anne") != nil {
		t.Errorf("messages: %+v", out.Messages)
	}
}

func TestCall503Retried(t *testing.T) {
	var n atomic.Int32
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{})
	if err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if st := c.Stats(); st.Unavailable != 2 || st.Requests != 3 {
		t.Errorf("Stats() = %+v", st)
	}
}

// TestConnectionCountLowersConcurrency: ErrorExceededConnectionCount takes a slot off the
// mailbox and the call goes through.
func TestConnectionCountLowersConcurrency(t *testing.T) {
	var n atomic.Int32
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>You have exceeded the available concurrent connections for your account.  Try again once your other requests have completed.</m:MessageText><m:ResponseCode>ErrorExceededConnectionCount</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
			return
		}
		io.WriteString(w, soapEnv(`<m:GetFolderResponse `+mt+`><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`))
	}, ClientConfig{Impersonate: true})
	if err := c.Call(context.Background(), Request{Mailbox: "anne@example.org", Body: inboxReq()}, nil); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if got := c.th.box("anne@example.org").currentLimit(); got != 3 {
		t.Errorf("mailbox concurrency = %d after ErrorExceededConnectionCount, want 3", got)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{URL: "mail.example.org"},
		{URL: "https://mail.example.org/EWS/Exchange.asmx"}, // NTLM without user
		{URL: "https://mail.example.org/EWS/Exchange.asmx", Auth: AuthOAuth},
		{URL: "https://mail.example.org/EWS/Exchange.asmx", Auth: "kerberos", Username: "u"},
		{URL: "https://mail.example.org/EWS/Exchange.asmx", Auth: AuthBasic, Username: "u", CAFile: "/nonexistent.pem"},
	} {
		if _, err := NewClient(cfg); !errors.Is(err, model.ErrFatal) {
			t.Errorf("NewClient(%+v) = %v, want fatal", cfg, err)
		}
	}
}
