package ews

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/sim/internal/faultio"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// XML namespaces of EWS.
const (
	nsSoap     = "http://schemas.xmlsoap.org/soap/envelope/"
	nsMessages = "http://schemas.microsoft.com/exchange/services/2006/messages"
	nsTypes    = "http://schemas.microsoft.com/exchange/services/2006/types"
	nsErrors   = "http://schemas.microsoft.com/exchange/services/2006/errors"
)

// maxRequest bounds a request body.
const maxRequest = 32 << 20

// opFunc answers one operation: it writes the operation's response element into c.Out and
// returns nil, or returns a *Fault for a server-level SOAP fault. Any other error becomes a
// SOAP fault ErrorInternalServerError.
type opFunc func(c *Call) error

var (
	opsMu sync.RWMutex
	ops   = map[string]opFunc{}
)

// register makes fn answer the operation name (the local name of the element in the SOAP
// Body, e.g. "GetItem"). Files register their operations from init functions; registering
// a name twice panics (a programming error).
func register(name string, fn opFunc) {
	opsMu.Lock()
	defer opsMu.Unlock()
	if _, dup := ops[name]; dup {
		panic("ews: operation " + name + " registered twice")
	}
	ops[name] = fn
}

func lookupOp(name string) opFunc {
	opsMu.RLock()
	defer opsMu.RUnlock()
	return ops[name]
}

// Call is one EWS request being answered.
type Call struct {
	s   *Server
	ctx context.Context

	// Op is the operation's name; Body the operation element as sent (<m:GetItem>…), which
	// decode unmarshals (the envelope's namespace declarations are not in it: match on local
	// names).
	Op   string
	Body []byte

	// Caller is the authenticated account. Mailbox is the mailbox acted for: the impersonated
	// one (Impersonated true), else the caller's own; HasMailbox is false for a service
	// account that impersonates nobody.
	Caller       *account
	Mailbox      tenant.User
	HasMailbox   bool
	Impersonated bool

	// Version is RequestServerVersion@Version ("Exchange2016" when absent); TimeZone the
	// TimeZoneContext/TimeZoneDefinition@Id ("" when absent).
	Version  string
	TimeZone string

	// Out receives the response element (the SOAP Body's content).
	Out bytes.Buffer
}

// Server returns the server answering the call.
func (c *Call) Server() *Server { return c.s }

// Tenant returns the tenant served.
func (c *Call) Tenant() *tenant.Tenant { return c.s.ten }

// Context returns the request's context.
func (c *Call) Context() context.Context { return c.ctx }

// decode unmarshals c.Body into v; a malformed body is a SOAP fault ErrorSchemaValidation.
func (c *Call) decode(v any) error {
	if err := xml.Unmarshal(c.Body, v); err != nil {
		return &Fault{Code: "ErrorSchemaValidation", Text: "The request failed schema validation: " + err.Error()}
	}
	return nil
}

// begin opens the response element "<m:{Op}Response …><m:ResponseMessages>".
func (c *Call) begin() {
	fmt.Fprintf(&c.Out, `<m:%sResponse xmlns:m="%s" xmlns:t="%s"><m:ResponseMessages>`, c.Op, nsMessages, nsTypes)
}

// end closes what begin opened.
func (c *Call) end() {
	fmt.Fprintf(&c.Out, `</m:ResponseMessages></m:%sResponse>`, c.Op)
}

// ok writes one successful response message "<m:{Op}ResponseMessage>" whose content
// after ResponseCode is inner (XML, already escaped).
func (c *Call) ok(inner string) { c.okNamed(c.Op+"ResponseMessage", inner) }

func (c *Call) okNamed(msg, inner string) {
	fmt.Fprintf(&c.Out, `<m:%s ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>%s</m:%s>`, msg, inner, msg)
}

// fail writes one error response message with code (an EWS ResponseCode) and text.
func (c *Call) fail(code, text string) { c.failNamed(c.Op+"ResponseMessage", code, text, "") }

// failNamed writes an error response message named msg; messageXML, when set, is the
// content of m:MessageXml.
func (c *Call) failNamed(msg, code, text, messageXML string) {
	fmt.Fprintf(&c.Out, `<m:%s ResponseClass="Error"><m:MessageText>%s</m:MessageText><m:ResponseCode>%s</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>`, msg, esc(text), code)
	if messageXML != "" {
		fmt.Fprintf(&c.Out, `<m:MessageXml>%s</m:MessageXml>`, messageXML)
	}
	fmt.Fprintf(&c.Out, `%s</m:%s>`, errorTrail[msg], msg)
}

// errorTrail is what an error response message must still hold per messages.xsd (an empty
// required element), by response message name.
var errorTrail = map[string]string{
	"GetItemResponseMessage":       `<m:Items/>`,
	"GetAttachmentResponseMessage": `<m:Attachments/>`,
}

// Fault is a server-level error answered as a SOAP fault (HTTP 500 unless Status is set).
type Fault struct {
	Code    string        // EWS ResponseCode, e.g. ErrorServerBusy
	Text    string        // faultstring
	BackOff time.Duration // > 0: MessageXml carries BackOffMilliseconds
	Status  int           // HTTP status, default 500
}

func (f *Fault) Error() string { return "ews: " + f.Code + ": " + f.Text }

// faultf makes a *Fault.
func faultf(code, format string, args ...any) *Fault {
	return &Fault{Code: code, Text: fmt.Sprintf(format, args...)}
}

// xml fragment of the fault, exchangelib's recorded shape.
func (f *Fault) xml() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<s:Fault><faultcode xmlns:a="%s">a:%s</faultcode><faultstring xml:lang="en-US">%s</faultstring><detail><e:ResponseCode xmlns:e="%s">%s</e:ResponseCode><e:Message xmlns:e="%s">%s</e:Message>`,
		nsTypes, f.Code, esc(f.Text), nsErrors, f.Code, nsErrors, esc(f.Text))
	if f.BackOff > 0 {
		fmt.Fprintf(&b, `<t:MessageXml xmlns:t="%s"><t:Value Name="BackOffMilliseconds">%d</t:Value></t:MessageXml>`, nsTypes, f.BackOff.Milliseconds())
	}
	b.WriteString(`</detail></s:Fault>`)
	return b.String()
}

// serverVersionInfo is the header of every EWS answer: Exchange 2016 CU23.
const serverVersionInfo = `<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="` + nsTypes + `" xmlns="` + nsTypes + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>`

// writeEnvelope sends body (the SOAP Body's content) in an envelope, with a
// ServerVersionInfo header when withVersion.
func writeEnvelope(w http.ResponseWriter, status int, withVersion bool, body string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="` + nsSoap + `">`)
	if withVersion {
		b.WriteString(`<s:Header>` + serverVersionInfo + `</s:Header>`)
	}
	b.WriteString(`<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">`)
	b.WriteString(body)
	b.WriteString(`</s:Body></s:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("X-FEServer", "EXCH01")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func writeFault(w http.ResponseWriter, f *Fault) {
	st := f.Status
	if st == 0 {
		st = http.StatusInternalServerError
	}
	writeEnvelope(w, st, false, f.xml())
}

// reqEnvelope is the part of a request envelope the dispatcher reads.
type reqEnvelope struct {
	XMLName xml.Name
	Header  struct {
		Version struct {
			Version string `xml:"Version,attr"`
		} `xml:"RequestServerVersion"`
		Impersonation *struct {
			SID struct {
				PrimarySmtpAddress string `xml:"PrimarySmtpAddress"`
				SmtpAddress        string `xml:"SmtpAddress"`
				PrincipalName      string `xml:"PrincipalName"`
				SID                string `xml:"SID"`
			} `xml:"ConnectingSID"`
		} `xml:"ExchangeImpersonation"`
		TimeZone struct {
			Def struct {
				ID string `xml:"Id,attr"`
			} `xml:"TimeZoneDefinition"`
		} `xml:"TimeZoneContext"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// parseEnvelope reads a request envelope: the header, the operation's name and element.
func parseEnvelope(data []byte) (env *reqEnvelope, op string, body []byte, err error) {
	env = &reqEnvelope{}
	if err := xml.Unmarshal(data, env); err != nil {
		return nil, "", nil, err
	}
	if env.XMLName.Local != "Envelope" {
		return nil, "", nil, errors.New("root element is not a SOAP Envelope")
	}
	d := xml.NewDecoder(bytes.NewReader(env.Body.Inner))
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, "", nil, errors.New("the SOAP Body holds no operation")
		}
		if se, ok := tok.(xml.StartElement); ok {
			if err := d.Skip(); err != nil {
				return nil, "", nil, err
			}
			return env, se.Name.Local, env.Body.Inner[start:d.InputOffset()], nil
		}
	}
}

// serveEWS authenticates, parses and dispatches one EWS request.
func (s *Server) serveEWS(w http.ResponseWriter, r *http.Request) {
	acct := s.authenticate(w, r)
	if acct == nil {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		return
	}
	if len(data) > maxRequest {
		writeFault(w, faultf("ErrorInvalidRequest", "The request is too large."))
		return
	}
	env, op, body, err := parseEnvelope(data)
	if err != nil {
		s.count("invalid")
		writeFault(w, &Fault{Code: "ErrorSchemaValidation", Text: "The request failed schema validation: " + err.Error()})
		return
	}
	fn := lookupOp(op)
	if fn == nil {
		s.count("unknown")
		writeFault(w, faultf("ErrorInvalidRequest", "The request is invalid: the operation %s is not supported.", op))
		return
	}
	s.count(op)
	w, done, slow := s.injectFault(w, op)
	if done {
		return
	}
	if tw, ok := w.(*faultio.TruncWriter); ok {
		defer tw.Finish()
	}
	c := &Call{s: s, ctx: r.Context(), Op: op, Body: body, Caller: acct, Version: env.Header.Version.Version,
		TimeZone: env.Header.TimeZone.Def.ID}
	if c.Version == "" {
		c.Version = "Exchange2016"
	}
	if f := s.actAs(c, env); f != nil {
		writeFault(w, f)
		return
	}
	s.countMailbox(c)
	key := acct.name
	if c.HasMailbox && !s.lim.perCaller() {
		key = strings.ToLower(c.Mailbox.ID)
	}
	release, f := s.lim.acquire(key)
	if f != nil {
		// Availability-style operations (GetUserOofSettingsRequest...) have no
		// ResponseMessages list: they get the fault.
		if f.Code == "ErrorServerBusy" && s.lim.busyInResponse() && !strings.HasSuffix(op, "Request") {
			c.begin()
			c.failNamed(op+"ResponseMessage", "ErrorServerBusy", f.Text,
				fmt.Sprintf(`<t:Value Name="BackOffMilliseconds">%d</t:Value>`, f.BackOff.Milliseconds()))
			c.end()
			writeEnvelope(w, http.StatusOK, true, c.Out.String())
			return
		}
		writeFault(w, f)
		return
	}
	defer release()
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	if err := safeCall(fn, c); err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			f = faultf("ErrorInternalServerError", "An internal server error occurred. The operation failed.")
		}
		writeFault(w, f)
		return
	}
	release()
	writeEnvelope(w, http.StatusOK, true, c.Out.String())
}

// safeCall runs fn, turning a panic into an error: bad input never crashes the emulator.
func safeCall(fn opFunc, c *Call) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ews: %s panicked: %v", c.Op, p)
		}
	}()
	return fn(c)
}

// esc escapes s for XML text and attribute values; invalid XML characters are dropped.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(strings.Map(func(r rune) rune {
		if r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return -1
	}, s)))
	return b.String()
}

// isoTime formats t as EWS does (UTC, seconds, "Z").
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
