package ews

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// startCore starts an emulator on a Small tenant (unless o.Tenant is set).
func startCore(t *testing.T, o Options) (*Server, *tenant.Tenant) {
	t.Helper()
	if o.Tenant == nil {
		o.Tenant = tenant.Generate(tenant.Small())
	}
	s, err := Start(o)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, o.Tenant
}

// coreClient sends raw SOAP requests.
type coreClient struct {
	t           *testing.T
	s           *Server
	hc          *http.Client
	user, pass  string // Basic (or NTLM with ntlm)
	bearer      string
	impersonate string // PrimarySmtpAddress of ExchangeImpersonation
	anchor      string
}

func tlsTransport(t *testing.T, s *Server) *http.Transport {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM() holds no certificate")
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxConnsPerHost: 4}
}

// basicClient logs on as user with Basic.
func basicClient(t *testing.T, s *Server, user, pass string) *coreClient {
	return &coreClient{t: t, s: s, hc: &http.Client{Transport: tlsTransport(t, s), Timeout: 20 * time.Second}, user: user, pass: pass}
}

// ntlmClient logs on as user with NTLM (go-ntlmssp), Basic refused.
func ntlmClient(t *testing.T, s *Server, user, pass string, rt http.RoundTripper) *coreClient {
	if rt == nil {
		rt = tlsTransport(t, s)
	}
	return &coreClient{t: t, s: s, hc: &http.Client{Transport: ntlmssp.Negotiator{RoundTripper: rt}, Timeout: 20 * time.Second}, user: user, pass: pass}
}

// userClient logs on as u with Basic and its default password.
func userClient(t *testing.T, s *Server, u tenant.User) *coreClient {
	return basicClient(t, s, u.UPN, DefaultPassword(u))
}

func envelope(body, impersonate string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="` + nsMessages + `" xmlns:t="` + nsTypes + `"><soap:Header><t:RequestServerVersion Version="Exchange2016"/>`)
	if impersonate != "" {
		b.WriteString(`<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>` + impersonate + `</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`)
	}
	b.WriteString(`</soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`)
	return b.String()
}

// post sends raw data to path and returns the status and body (err on transport errors).
func (c *coreClient) post(path, data string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, c.s.URL()+path, strings.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.anchor != "" {
		req.Header.Set("X-AnchorMailbox", c.anchor)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// call sends one operation and returns the status and the parsed answer; it fails the test
// on a transport error or an answer that is not well-formed XML (401s excepted).
func (c *coreClient) call(body string) (int, *node) {
	c.t.Helper()
	st, resp, err := c.post("/EWS/Exchange.asmx", envelope(body, c.impersonate))
	if err != nil {
		c.t.Fatalf("POST = %v", err)
	}
	if st == http.StatusUnauthorized {
		return st, &node{}
	}
	n, err := parseNode(resp)
	if err != nil {
		c.t.Fatalf("answer (status %d) is not XML: %v\n%s", st, err, resp)
	}
	return st, n
}

// mustOK calls and fails unless the answer is 200 and every response message is a success.
func (c *coreClient) mustOK(body string) *node {
	c.t.Helper()
	st, n := c.call(body)
	if st != http.StatusOK {
		c.t.Fatalf("status %d: %s", st, n.dump())
	}
	for _, m := range n.all("ResponseCode") {
		if m.Text != "NoError" {
			c.t.Fatalf("ResponseCode %s: %s", m.Text, n.dump())
		}
	}
	return n
}

// node is a tiny XML tree for assertions (local names only).
type node struct {
	Name  string
	Space string
	Attr  map[string]string
	Text  string
	Kids  []*node
	raw   string
}

func parseNode(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	root := &node{raw: s}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{Name: t.Name.Local, Space: t.Name.Space, Attr: map[string]string{}}
			for _, a := range t.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.Kids = append(top.Kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			stack[len(stack)-1].Text += string(t)
		}
	}
	if len(stack) != 1 || len(root.Kids) != 1 {
		return nil, fmt.Errorf("not one root element")
	}
	return root, nil
}

// all returns the descendants named name, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(x *node) {
		for _, k := range x.Kids {
			if k.Name == name {
				out = append(out, k)
			}
			walk(k)
		}
	}
	walk(n)
	return out
}

// first returns the first descendant named name, or an empty node.
func (n *node) first(name string) *node {
	if a := n.all(name); len(a) > 0 {
		return a[0]
	}
	return &node{Attr: map[string]string{}}
}

// kid returns the first child named name, or an empty node.
func (n *node) kid(name string) *node {
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return &node{Attr: map[string]string{}}
}

func (n *node) dump() string {
	if n.raw != "" {
		if len(n.raw) > 3000 {
			return n.raw[:3000] + "…"
		}
		return n.raw
	}
	var b bytes.Buffer
	_ = xml.NewEncoder(&b).Encode(n.Name)
	return b.String()
}

// regular returns the tenant's regular users.
func regular(ten *tenant.Tenant) []tenant.User {
	var out []tenant.User
	for _, u := range ten.Users() {
		if u.Purpose == "user" {
			out = append(out, u)
		}
	}
	return out
}

func TestServerVersionAndEnvelope(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	n := c.mustOK(`<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`)
	env := n.Kids[0]
	if env.Name != "Envelope" || env.Space != nsSoap {
		t.Fatalf("root = %s %s", env.Space, env.Name)
	}
	v := n.first("ServerVersionInfo")
	if v.Attr["MajorVersion"] != "15" || v.Attr["MinorVersion"] != "1" || v.Space != nsTypes {
		t.Errorf("ServerVersionInfo = %v (%s)", v.Attr, v.Space)
	}
	r := n.first("GetFolderResponse")
	if r.Space != nsMessages {
		t.Errorf("GetFolderResponse namespace %q", r.Space)
	}
	if m := n.first("GetFolderResponseMessage"); m.Attr["ResponseClass"] != "Success" {
		t.Errorf("ResponseClass = %q", m.Attr["ResponseClass"])
	}
	if f := n.first("Folder"); f.Space != nsTypes || f.kid("DisplayName").Text == "" {
		t.Errorf("Folder = %s", n.dump())
	}

	// An unknown operation and a malformed envelope are SOAP faults.
	st, n := c.call(`<m:NoSuchOperation/>`)
	if st != 500 || n.first("faultcode").Text != "a:ErrorInvalidRequest" {
		t.Errorf("unknown operation: %d %s", st, n.dump())
	}
	st, body, err := c.post("/EWS/Exchange.asmx", "<soap:Envelope")
	if err != nil || st != 500 || !strings.Contains(body, "ErrorSchemaValidation") {
		t.Errorf("malformed envelope: %d %v %s", st, err, body)
	}
	if got := s.Counts(); got["GetFolder"] != 1 || got["unknown"] != 1 {
		t.Errorf("Counts() = %v", got)
	}
	s.ResetCounts()
	if got := s.Counts(); len(got) != 0 {
		t.Errorf("Counts() after ResetCounts = %v", got)
	}
}
