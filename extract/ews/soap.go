package ews

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// SOAP and EWS namespaces. Requests use the prefixes s:, m: and t: declared on the
// envelope; responses are decoded by local name, whatever prefixes the server chose.
const (
	NSSoap     = "http://schemas.xmlsoap.org/soap/envelope/"
	NSMessages = "http://schemas.microsoft.com/exchange/services/2006/messages"
	NSTypes    = "http://schemas.microsoft.com/exchange/services/2006/types"
	NSErrors   = "http://schemas.microsoft.com/exchange/services/2006/errors"
)

// Request body elements are Go structs whose tags carry the m: and t: prefixes, e.g.
//
//	type getFolder struct {
//		XMLName xml.Name `xml:"m:GetFolder"`
//		Shape   string   `xml:"m:FolderShape>t:BaseShape"`
//	}
//
// encoding/xml writes such names as they are; the envelope declares the prefixes.

// ResponseMessage is the common part of every EWS response message
// (…ResponseMessage ResponseClass="Success|Warning|Error"). Embed it in a response type:
//
//	type getItemMessage struct {
//		ews.ResponseMessage
//		Items []item `xml:"Items>Message"`
//	}
type ResponseMessage struct {
	ResponseClass string     `xml:"ResponseClass,attr"`
	MessageText   string     `xml:"MessageText"`
	ResponseCode  string     `xml:"ResponseCode"`
	MessageXML    MessageXML `xml:"MessageXml"`
	depth         int        // nesting, set by scanMessages
}

// MessageXML carries the details of an error, e.g.
// <t:Value Name="BackOffMilliseconds">297749</t:Value>.
type MessageXML struct {
	Values []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"Value"`
}

// BackOff returns the BackOffMilliseconds the server asked for, or 0.
func (x MessageXML) BackOff() time.Duration {
	for _, v := range x.Values {
		if v.Name == "BackOffMilliseconds" {
			if ms, err := strconv.ParseInt(strings.TrimSpace(v.Value), 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return 0
}

// Failed reports whether the message's ResponseClass is Error (Warning counts as success,
// as in EWS Managed API).
func (m ResponseMessage) Failed() bool { return m.ResponseClass == "Error" }

// Err returns nil for a Success or Warning message, else the classified error (see
// errors.go) for the operation op on mailbox.
func (m ResponseMessage) Err(op, mailbox string) error {
	if !m.Failed() {
		return nil
	}
	return (&Error{Op: op, Mailbox: mailbox, Code: m.ResponseCode, Message: m.MessageText, BackOff: m.MessageXML.BackOff()}).classify()
}

// ServerVersionInfo is the response header naming the server's build.
type ServerVersionInfo struct {
	MajorVersion     int    `xml:"MajorVersion,attr"`
	MinorVersion     int    `xml:"MinorVersion,attr"`
	MajorBuildNumber int    `xml:"MajorBuildNumber,attr"`
	MinorBuildNumber int    `xml:"MinorBuildNumber,attr"`
	Version          string `xml:"Version,attr"`
}

// envelopeHeader is what buildEnvelope writes in the SOAP header.
type envelopeHeader struct {
	Version     string // RequestServerVersion Version
	Impersonate string // ExchangeImpersonation PrimarySmtpAddress ("" = none)
	Extra       []any  // other header elements (e.g. t:TimeZoneContext)
}

type xmlServerVersion struct {
	XMLName xml.Name `xml:"t:RequestServerVersion"`
	Version string   `xml:"Version,attr"`
}

type xmlImpersonation struct {
	XMLName xml.Name `xml:"t:ExchangeImpersonation"`
	SMTP    string   `xml:"t:ConnectingSID>t:PrimarySmtpAddress"`
}

// buildEnvelope writes a SOAP 1.1 envelope around body. It returns the envelope and the
// local name of the body's element (the SOAPAction's operation).
func buildEnvelope(h envelopeHeader, body any) ([]byte, string, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<s:Envelope xmlns:s="` + NSSoap + `" xmlns:m="` + NSMessages + `" xmlns:t="` + NSTypes + `"><s:Header>`)
	enc := xml.NewEncoder(&b)
	if err := enc.Encode(xmlServerVersion{Version: h.Version}); err != nil {
		return nil, "", err
	}
	if h.Impersonate != "" {
		if err := enc.Encode(xmlImpersonation{SMTP: h.Impersonate}); err != nil {
			return nil, "", err
		}
	}
	for _, x := range h.Extra {
		if err := enc.Encode(x); err != nil {
			return nil, "", err
		}
	}
	b.WriteString(`</s:Header><s:Body>`)
	start := b.Len()
	if err := enc.Encode(body); err != nil {
		return nil, "", err
	}
	op := opName(b.Bytes()[start:])
	if op == "" {
		return nil, "", errors.New("ews: request body has no element name")
	}
	b.WriteString(`</s:Body></s:Envelope>`)
	return b.Bytes(), op, nil
}

// opName is the local name of the first element in b ("<m:GetItem …" → "GetItem").
func opName(b []byte) string {
	i := bytes.IndexByte(b, '<')
	if i < 0 {
		return ""
	}
	b = b[i+1:]
	end := bytes.IndexAny(b, " />")
	if end < 0 {
		return ""
	}
	name := string(b[:end])
	if j := strings.LastIndexByte(name, ':'); j >= 0 {
		name = name[j+1:]
	}
	return name
}

// Fault is a SOAP 1.1 fault as EWS sends it (HTTP 500), e.g. ErrorServerBusy:
//
//	<s:Fault><faultcode>a:ErrorServerBusy</faultcode><faultstring>…</faultstring>
//	 <detail><e:ResponseCode>ErrorServerBusy</e:ResponseCode>
//	  <t:MessageXml><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml></detail></s:Fault>
type Fault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		ResponseCode string     `xml:"ResponseCode"`
		Message      string     `xml:"Message"`
		MessageXML   MessageXML `xml:"MessageXml"`
	} `xml:"detail"`
}

// code is the EWS error code of the fault: the detail's ResponseCode, else the faultcode
// without its prefix.
func (f *Fault) code() string {
	if c := strings.TrimSpace(f.Detail.ResponseCode); c != "" {
		return c
	}
	c := strings.TrimSpace(f.Code)
	if i := strings.LastIndexByte(c, ':'); i >= 0 {
		c = c[i+1:]
	}
	return c
}

// maxDepth bounds the nesting the parsers accept (hostile input).
const maxDepth = 256

// ParseEnvelope reads a SOAP response: the ServerVersionInfo header (if any), and either a
// Fault (returned, out untouched) or the Body's first element decoded into out (when out
// is not nil). A document that is not a SOAP envelope returns an error.
func ParseEnvelope(r io.Reader, out any) (*ServerVersionInfo, *Fault, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var sv *ServerVersionInfo
	depth := 0
	inBody := false
	seenEnvelope := false
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !seenEnvelope {
					return nil, nil, errors.New("ews: not a SOAP envelope")
				}
				return sv, nil, errors.New("ews: SOAP envelope without a body element")
			}
			return sv, nil, fmt.Errorf("ews: bad SOAP response: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return sv, nil, errors.New("ews: SOAP response nested too deep")
			}
			switch {
			case depth == 1:
				if t.Name.Local != "Envelope" {
					return nil, nil, fmt.Errorf("ews: not a SOAP envelope (root element %q)", t.Name.Local)
				}
				seenEnvelope = true
			case depth == 2 && t.Name.Local == "Body":
				inBody = true
			case depth == 3 && t.Name.Local == "ServerVersionInfo" && !inBody:
				var v ServerVersionInfo
				if err := d.DecodeElement(&v, &t); err != nil {
					return nil, nil, fmt.Errorf("ews: bad ServerVersionInfo: %w", err)
				}
				sv = &v
				depth--
			case depth == 3 && inBody:
				if t.Name.Local == "Fault" {
					var f Fault
					if err := d.DecodeElement(&f, &t); err != nil {
						return sv, nil, fmt.Errorf("ews: bad SOAP fault: %w", err)
					}
					return sv, &f, nil
				}
				if out == nil {
					return sv, nil, d.Skip()
				}
				if err := d.DecodeElement(out, &t); err != nil {
					return sv, nil, fmt.Errorf("ews: bad %s response: %w", t.Name.Local, err)
				}
				return sv, nil, nil
			}
		case xml.EndElement:
			depth--
			if depth == 1 && inBody {
				return sv, nil, errors.New("ews: empty SOAP body")
			}
		}
	}
}

// scanMessages lists every element of b that carries a ResponseClass attribute (every
// response message, and the root of GetDelegate / GetInboxRules answers) with its
// ResponseCode, MessageText and BackOffMilliseconds, outermost first. It reads b with a
// token decoder and stops at the first syntax error (returning what it found).
func scanMessages(b []byte) []ResponseMessage {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []ResponseMessage
	type open struct {
		idx   int // index in out, or -1
		depth int
	}
	var stack []open
	depth := 0
	var field string // ResponseCode / MessageText / BackOffMilliseconds being read
	var text strings.Builder
	cur := func() int {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].idx >= 0 {
				return stack[i].idx
			}
		}
		return -1
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return out
			}
			idx := -1
			for _, a := range t.Attr {
				if a.Name.Local == "ResponseClass" {
					out = append(out, ResponseMessage{ResponseClass: a.Value, depth: depth})
					idx = len(out) - 1
				}
			}
			stack = append(stack, open{idx: idx, depth: depth})
			switch t.Name.Local {
			case "ResponseCode", "MessageText":
				field = t.Name.Local
				text.Reset()
			case "Value":
				for _, a := range t.Attr {
					if a.Name.Local == "Name" && a.Value == "BackOffMilliseconds" {
						field = "BackOffMilliseconds"
						text.Reset()
					}
				}
			}
		case xml.CharData:
			if field != "" && text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if field != "" {
				if i := cur(); i >= 0 {
					v := strings.TrimSpace(text.String())
					switch field {
					case "ResponseCode":
						if out[i].ResponseCode == "" {
							out[i].ResponseCode = v
						}
					case "MessageText":
						if out[i].MessageText == "" {
							out[i].MessageText = v
						}
					case "BackOffMilliseconds":
						out[i].MessageXML.Values = append(out[i].MessageXML.Values, struct {
							Name  string `xml:"Name,attr"`
							Value string `xml:",chardata"`
						}{Name: "BackOffMilliseconds", Value: v})
					}
				}
				field = ""
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			depth--
		}
	}
}

// ItemID is an item or folder id as EWS gives and takes it (t:ItemId, t:FolderId,
// t:ParentFolderId): the tag of the field that holds it names the element.
type ItemID struct {
	ID        string `xml:"Id,attr"`
	ChangeKey string `xml:"ChangeKey,attr,omitempty"`
}

// DistinguishedFolderID names a well-known folder (msgfolderroot, inbox, calendar,
// contacts, tasks…) of a mailbox; Mailbox is set for delegate access (see
// Client.Distinguished).
type DistinguishedFolderID struct {
	ID      string       `xml:"Id,attr"`
	Mailbox *MailboxAddr `xml:"t:Mailbox,omitempty"`
}

// MailboxAddr is t:Mailbox in a request.
type MailboxAddr struct {
	EmailAddress string `xml:"t:EmailAddress"`
}

// FolderRef is one of the choices of a folder id list in a request (exactly one is set).
// It marshals as the chosen element alone, so a field holding it names no element of its
// own: put it in a list, e.g. `xml:"m:SyncFolderId>x"` with a []FolderRef of one.
type FolderRef struct {
	Folder        *ItemID                `xml:"t:FolderId,omitempty"`
	Distinguished *DistinguishedFolderID `xml:"t:DistinguishedFolderId,omitempty"`
}

// NewMIMEReader reads a GetItem answer (with IncludeMimeContent, one item) from body and
// returns a reader of the decoded MimeContent, which streams: the XML before MimeContent
// is read with a token decoder, the base64 text is decoded as it is read, and the XML
// after it is checked for completeness when the content ends. If the answer is a
// response message with ResponseClass="Error" (or a fault) before any content, the
// returned error is an *Error with the code. Closing the reader closes body.
func NewMIMEReader(body io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	// br implements io.ByteReader, so the decoder reads it byte by byte and leaves it
	// positioned right after the tokens it returned.
	d := xml.NewDecoder(br)
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return nil, errors.New("ews: GetItem answer nested too deep")
			}
			if depth == 1 && t.Name.Local != "Envelope" {
				return nil, fmt.Errorf("ews: not a SOAP envelope (root element %q)", t.Name.Local)
			}
			switch t.Name.Local {
			case "Fault":
				var f Fault
				if err := d.DecodeElement(&f, &t); err != nil {
					return nil, err
				}
				return nil, &Error{Code: f.code(), Message: strings.TrimSpace(f.String), BackOff: f.Detail.MessageXML.BackOff()}
			case "MimeContent":
				raw := &untilTag{br: br}
				return &mimeReader{body: body, d: d, raw: raw, dec: base64.NewDecoder(base64.StdEncoding, raw), depth: depth}, nil
			}
			for _, a := range t.Attr {
				if a.Name.Local == "ResponseClass" && a.Value == "Error" {
					var m ResponseMessage
					if err := d.DecodeElement(&m, &t); err != nil {
						return nil, err
					}
					return nil, &Error{Code: m.ResponseCode, Message: m.MessageText, BackOff: m.MessageXML.BackOff()}
				}
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				return nil, errors.New("ews: GetItem answer without MimeContent")
			}
		}
	}
}

// untilTag reads raw bytes up to (not including) the next '<'; the end of the input
// before it is io.ErrUnexpectedEOF.
type untilTag struct {
	br   *bufio.Reader
	done bool
}

func (u *untilTag) Read(p []byte) (int, error) {
	if u.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := u.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, err
	}
	buf, _ := u.br.Peek(min(len(p), u.br.Buffered()))
	n := len(buf)
	if i := bytes.IndexByte(buf, '<'); i >= 0 {
		n = i
		u.done = true
	}
	copy(p, buf[:n])
	_, _ = u.br.Discard(n)
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// mimeReader decodes the base64 MimeContent and, at its end, reads the rest of the
// answer to check it is complete.
type mimeReader struct {
	body  io.ReadCloser
	d     *xml.Decoder
	raw   *untilTag
	dec   io.Reader
	depth int
	err   error
}

func (m *mimeReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.dec.Read(p)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = m.finish()
		if err == nil {
			err = io.EOF
		}
	} else {
		var ce base64.CorruptInputError
		if !errors.As(err, &ce) || !m.raw.done {
			// Cut short (connection dropped, truncated answer): the same call may come back whole.
			err = model.Retryable(fmt.Errorf("ews: reading MimeContent: %w", err))
		} else {
			err = model.Permanent(fmt.Errorf("ews: MimeContent is not base64: %w", err))
		}
	}
	m.err = err
	return n, err
}

// finish reads the end of the envelope after the content.
func (m *mimeReader) finish() error {
	depth := m.depth
	for {
		tok, err := m.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && depth == 0 {
				return nil
			}
			return model.Retryable(fmt.Errorf("ews: the GetItem answer ends badly after MimeContent: %w", err))
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return model.Permanent(errors.New("ews: GetItem answer nested too deep"))
			}
		case xml.EndElement:
			depth--
		}
	}
}

func (m *mimeReader) Close() error { return m.body.Close() }
