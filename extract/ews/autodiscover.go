package ews

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Autodiscover namespaces (the real ones are http://, whatever the docs render).
const (
	nsPOXRequest     = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	nsPOXResponse    = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	nsAutodiscover10 = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
)

// AutodiscoverOptions configure Autodiscover.
type AutodiscoverOptions struct {
	// Client gives the credentials, TLS settings and Transport (tests) to use.
	Client ClientConfig
	// URLs, when set, replace the candidate endpoints (each ending in autodiscover.xml for
	// POX or autodiscover.svc for SOAP); the redirect and SRV fallbacks are then skipped.
	URLs []string
	// LookupSRV resolves _autodiscover._tcp.<domain>; default net.DefaultResolver.
	LookupSRV func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	// Timeout bounds each candidate, default 30s.
	Timeout time.Duration
}

// Autodiscover finds the EWS URL of address the way Outlook does:
//  1. POX (POST autodiscover.xml) at https://<domain>/autodiscover/ then
//     https://autodiscover.<domain>/autodiscover/;
//  2. SOAP GetUserSettings (ExternalEwsUrl, InternalEwsUrl) at the same two hosts'
//     autodiscover.svc;
//  3. an unauthenticated GET of http://autodiscover.<domain>/autodiscover/autodiscover.xml
//     whose redirect (to https only) names the endpoint to POST to;
//  4. the DNS SRV record _autodiscover._tcp.<domain>.
//
// Answers that redirect to another address (redirectAddr, RedirectAddress) start again
// with it, at most 10 times; redirectUrl / RedirectUrl are tried next. The POX answer's EXPR
// (external) EwsUrl is preferred to EXCH's, as ExternalEwsUrl is to InternalEwsUrl.
// When nothing answers, the error wraps model.ErrFatal and lists what each endpoint said;
// credentials never appear in it.
func Autodiscover(ctx context.Context, address string, o AutodiscoverOptions) (string, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.LookupSRV == nil {
		o.LookupSRV = net.DefaultResolver.LookupSRV
	}
	ad := &autodiscoverer{o: o}
	if o.Client.Transport != nil {
		ad.auth, ad.plain = o.Client.Transport, o.Client.Transport
	} else {
		tc, err := tlsConfig(o.Client.CAFile, o.Client.InsecureSkipVerify)
		if err != nil {
			return "", model.Fatal(err)
		}
		ad.auth, err = newAuthTransport(strings.ToLower(o.Client.Auth), o.Client.Username, o.Client.Password, o.Client.Tokens, tc, 2)
		if err != nil {
			return "", model.Fatal(err)
		}
		ad.plain = newNetTransport(tc, 2)
	}
	for hop := 0; hop < 10; hop++ {
		u, next, err := ad.find(ctx, address)
		if err != nil {
			return "", err
		}
		if u != "" {
			return u, nil
		}
		if next == "" || strings.EqualFold(next, address) {
			break
		}
		address = next
	}
	return "", model.Fatal(fmt.Errorf("ews: autodiscover of %s found no EWS URL: %s; give the EWS URL instead", address, strings.Join(ad.tried, "; ")))
}

type autodiscoverer struct {
	o           AutodiscoverOptions
	auth, plain http.RoundTripper
	tried       []string
	refused     bool
}

// find tries every candidate for address; it returns the EWS URL, or another address to
// start again with.
func (ad *autodiscoverer) find(ctx context.Context, address string) (string, string, error) {
	at := strings.LastIndexByte(address, '@')
	if at < 0 || at == len(address)-1 {
		return "", "", model.Fatal(fmt.Errorf("ews: autodiscover needs an e-mail address, not %q", address))
	}
	domain := strings.ToLower(address[at+1:])
	cands := ad.o.URLs
	if len(cands) == 0 {
		cands = []string{
			"https://" + domain + "/autodiscover/autodiscover.xml",
			"https://autodiscover." + domain + "/autodiscover/autodiscover.xml",
			"https://" + domain + "/autodiscover/autodiscover.svc",
			"https://autodiscover." + domain + "/autodiscover/autodiscover.svc",
		}
	}
	var pending []string
	try := func(c string) (string, string, error) {
		u, redirAddr, redirURL, err := ad.one(ctx, c, address)
		if err != nil {
			if ctx.Err() != nil {
				return "", "", ctx.Err()
			}
			ad.tried = append(ad.tried, c+": "+err.Error())
			return "", "", nil
		}
		if redirURL != "" {
			pending = append(pending, redirURL)
		}
		return u, redirAddr, nil
	}
	for _, c := range cands {
		u, next, err := try(c)
		if err != nil || u != "" || next != "" {
			return u, next, err
		}
	}
	if len(ad.o.URLs) == 0 {
		if loc := ad.redirect(ctx, domain); loc != "" {
			pending = append(pending, loc)
		}
		if _, srvs, err := ad.o.LookupSRV(ctx, "autodiscover", "tcp", domain); err == nil {
			for _, s := range srvs {
				host := strings.TrimSuffix(s.Target, ".")
				if host == "" {
					continue
				}
				if s.Port != 443 && s.Port != 0 {
					host = net.JoinHostPort(host, fmt.Sprint(s.Port))
				}
				pending = append(pending, "https://"+host+"/autodiscover/autodiscover.xml")
			}
		} else {
			ad.tried = append(ad.tried, "SRV _autodiscover._tcp."+domain+": "+err.Error())
		}
	}
	for i := 0; i < len(pending) && i < 10; i++ {
		u, next, err := try(pending[i])
		if err != nil || u != "" || next != "" {
			return u, next, err
		}
	}
	if ad.refused {
		return "", "", model.Fatal(fmt.Errorf("ews: autodiscover of %s: the server refused the credentials (check the user name, password and authentication method): %s", address, strings.Join(ad.tried, "; ")))
	}
	return "", "", nil
}

// redirect makes the unauthenticated GET of the http:// autodiscover URL and returns the
// https Location it redirects to, or "".
func (ad *autodiscoverer) redirect(ctx context.Context, domain string) string {
	u := "http://autodiscover." + domain + "/autodiscover/autodiscover.xml"
	ctx, cancel := context.WithTimeout(ctx, ad.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ""
	}
	resp, err := ad.plain.RoundTrip(req)
	if err != nil {
		ad.tried = append(ad.tried, u+": "+err.Error())
		return ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		ad.tried = append(ad.tried, fmt.Sprintf("%s: HTTP %d without redirect", u, resp.StatusCode))
		return ""
	}
	l, err := url.Parse(loc)
	if err != nil || l.Scheme != "https" || l.Host == "" {
		ad.tried = append(ad.tried, fmt.Sprintf("%s: redirect to %q ignored (not https)", u, loc))
		return ""
	}
	return l.String()
}

// one asks one endpoint (POX or SOAP by its path).
func (ad *autodiscoverer) one(ctx context.Context, endpoint, address string) (ewsURL, redirAddr, redirURL string, err error) {
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" {
		return "", "", "", fmt.Errorf("bad URL")
	}
	if eu.Scheme != "https" && ad.o.Client.Transport == nil && len(ad.o.URLs) == 0 {
		return "", "", "", fmt.Errorf("not https")
	}
	soap := strings.HasSuffix(strings.ToLower(eu.Path), ".svc")
	var body []byte
	if soap {
		body = soapUserSettingsRequest(address, endpoint)
	} else {
		body = []byte(xml.Header + `<Autodiscover xmlns="` + nsPOXRequest + `"><Request><EMailAddress>` + xmlText(address) +
			`</EMailAddress><AcceptableResponseSchema>` + nsPOXResponse + `</AcceptableResponseSchema></Request></Autodiscover>`)
	}
	ctx, cancel := context.WithTimeout(ctx, ad.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", "", "", err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("User-Agent", "bascule")
	if soap {
		req.Header.Set("SOAPAction", `"`+nsAutodiscover10+`/Autodiscover/GetUserSettings"`)
	}
	resp, err := ad.auth.RoundTrip(req)
	if err != nil {
		return "", "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", "", err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		ad.refused = true
		return "", "", "", fmt.Errorf("HTTP 401 (credentials refused)")
	case resp.StatusCode/100 == 3:
		if l, err := url.Parse(resp.Header.Get("Location")); err == nil && l.Scheme == "https" {
			return "", "", l.String(), nil
		}
		return "", "", "", fmt.Errorf("HTTP %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return "", "", "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if soap {
		return ParseUserSettings(b)
	}
	return ParsePOX(b)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func soapUserSettingsRequest(address, endpoint string) []byte {
	return []byte(xml.Header + `<soap:Envelope xmlns:a="` + nsAutodiscover10 + `" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:soap="` + NSSoap + `">` +
		`<soap:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion>` +
		`<wsa:Action>` + nsAutodiscover10 + `/Autodiscover/GetUserSettings</wsa:Action><wsa:To>` + xmlText(endpoint) + `</wsa:To></soap:Header>` +
		`<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>` + xmlText(address) + `</a:Mailbox></a:User></a:Users>` +
		`<a:RequestedSettings><a:Setting>ExternalEwsUrl</a:Setting><a:Setting>InternalEwsUrl</a:Setting></a:RequestedSettings>` +
		`</a:Request></a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>`)
}

// poxResponse is the POX answer (responseschema/2006 wrapping outlook/responseschema/2006a).
type poxResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	Response struct {
		Error struct {
			ErrorCode string `xml:"ErrorCode"`
			Message   string `xml:"Message"`
		} `xml:"Error"`
		Account struct {
			Action       string `xml:"Action"`
			RedirectAddr string `xml:"RedirectAddr"`
			RedirectURL  string `xml:"RedirectUrl"`
			Protocols    []struct {
				Type     string `xml:"Type"`
				TypeAttr string `xml:"Type,attr"`
				EwsURL   string `xml:"EwsUrl"`
			} `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

// ParsePOX reads a POX autodiscover answer: the EWS URL (EXPR, then EXCH, then WEB), or a
// redirect to another address or URL, or an error.
func ParsePOX(b []byte) (ewsURL, redirAddr, redirURL string, err error) {
	var r poxResponse
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&r); err != nil {
		return "", "", "", fmt.Errorf("not a POX autodiscover answer: %w", err)
	}
	a := r.Response.Account
	switch strings.ToLower(strings.TrimSpace(a.Action)) {
	case "redirectaddr":
		if v := strings.TrimSpace(a.RedirectAddr); v != "" {
			return "", v, "", nil
		}
	case "redirecturl":
		if v := strings.TrimSpace(a.RedirectURL); strings.HasPrefix(strings.ToLower(v), "https://") {
			return "", "", v, nil
		}
	}
	for _, want := range []string{"EXPR", "EXCH", "WEB"} {
		for _, p := range a.Protocols {
			t := strings.TrimSpace(p.Type)
			if t == "" {
				t = strings.TrimSpace(p.TypeAttr)
			}
			if strings.EqualFold(t, want) && strings.TrimSpace(p.EwsURL) != "" {
				return strings.TrimSpace(p.EwsURL), "", "", nil
			}
		}
	}
	if e := r.Response.Error; e.ErrorCode != "" || e.Message != "" {
		return "", "", "", fmt.Errorf("autodiscover error %s: %s", strings.TrimSpace(e.ErrorCode), strings.TrimSpace(e.Message))
	}
	return "", "", "", errors.New("no EwsUrl in the POX answer")
}

type userSettingsResponse struct {
	Response struct {
		ErrorCode     string `xml:"ErrorCode"`
		ErrorMessage  string `xml:"ErrorMessage"`
		UserResponses []struct {
			ErrorCode      string `xml:"ErrorCode"`
			ErrorMessage   string `xml:"ErrorMessage"`
			RedirectTarget string `xml:"RedirectTarget"`
			Settings       []struct {
				Name  string `xml:"Name"`
				Value string `xml:"Value"`
			} `xml:"UserSettings>UserSetting"`
		} `xml:"UserResponses>UserResponse"`
	} `xml:"Response"`
}

// ParseUserSettings reads a SOAP GetUserSettings answer: ExternalEwsUrl (else
// InternalEwsUrl), or a redirect, or an error.
func ParseUserSettings(b []byte) (ewsURL, redirAddr, redirURL string, err error) {
	var r userSettingsResponse
	_, f, err := ParseEnvelope(bytes.NewReader(b), &r)
	if err != nil {
		return "", "", "", err
	}
	if f != nil {
		return "", "", "", fmt.Errorf("SOAP fault %s: %s", f.code(), strings.TrimSpace(f.String))
	}
	if c := strings.TrimSpace(r.Response.ErrorCode); c != "" && c != "NoError" {
		return "", "", "", fmt.Errorf("autodiscover error %s: %s", c, strings.TrimSpace(r.Response.ErrorMessage))
	}
	for _, u := range r.Response.UserResponses {
		switch c := strings.TrimSpace(u.ErrorCode); c {
		case "RedirectAddress":
			if v := strings.TrimSpace(u.RedirectTarget); v != "" {
				return "", v, "", nil
			}
		case "RedirectUrl":
			if v := strings.TrimSpace(u.RedirectTarget); strings.HasPrefix(strings.ToLower(v), "https://") {
				return "", "", v, nil
			}
		case "", "NoError":
			var internal string
			for _, s := range u.Settings {
				switch strings.TrimSpace(s.Name) {
				case "ExternalEwsUrl":
					if v := strings.TrimSpace(s.Value); v != "" {
						return v, "", "", nil
					}
				case "InternalEwsUrl":
					internal = strings.TrimSpace(s.Value)
				}
			}
			if internal != "" {
				return internal, "", "", nil
			}
		default:
			return "", "", "", fmt.Errorf("autodiscover error %s: %s", c, strings.TrimSpace(u.ErrorMessage))
		}
	}
	return "", "", "", errors.New("no EWS URL in the GetUserSettings answer")
}
