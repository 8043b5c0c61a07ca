package ews

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Autodiscover namespaces (the real ones are http://, whatever the docs render).
const (
	nsAutodRequest  = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	nsAutodResponse = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsAutodOutlook  = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	nsAutodSOAP     = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
	nsAddressing    = "http://www.w3.org/2005/08/addressing"
)

// serveAutodiscoverPOX answers POST /autodiscover/autodiscover.xml (the Outlook schema) with
// the EXCH, EXPR and WEB protocols, each carrying EwsUrl; an unknown address gets the
// "email address can't be found" error response.
func (s *Server) serveAutodiscoverPOX(w http.ResponseWriter, r *http.Request) {
	if s.authenticate(w, r) == nil {
		return
	}
	s.count("autodiscover.xml")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Request struct {
			Email  string `xml:"EMailAddress"`
			Schema string `xml:"AcceptableResponseSchema"`
		} `xml:"Request"`
	}
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + nsAutodResponse + `">`)
	now := time.Now().UTC().Format("15:04:05.0000000")
	if err := xml.Unmarshal(data, &req); err != nil || req.Request.Email == "" {
		fmt.Fprintf(&b, `<Response><Error Time="%s" Id="1054084152"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message><DebugData /></Error></Response>`, now)
	} else if u, ok := s.userByAddress(req.Request.Email); !ok {
		fmt.Fprintf(&b, `<Response><Error Time="%s" Id="1054084152"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData /></Error></Response>`, now)
	} else {
		legacy := "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + esc(strings.ToLower(strings.SplitN(u.UPN, "@", 2)[0]))
		guid := mailboxGUID(u.ID)
		fmt.Fprintf(&b, `<Response xmlns="%s"><User><DisplayName>%s</DisplayName><LegacyDN>%s</LegacyDN><AutoDiscoverSMTPAddress>%s</AutoDiscoverSMTPAddress><DeploymentId>%s</DeploymentId></User>`,
			nsAutodOutlook, esc(u.DisplayName), legacy, esc(u.Mail), mailboxGUID(s.ten.TenantID()))
		b.WriteString(`<Account><AccountType>email</AccountType><Action>settings</Action><MicrosoftOnline>False</MicrosoftOnline>`)
		for _, typ := range []string{"EXCH", "EXPR"} {
			fmt.Fprintf(&b, `<Protocol><Type>%s</Type><Server>%s@%s</Server><ServerVersion>73C1C80B</ServerVersion><AuthPackage>Ntlm</AuthPackage><ASUrl>%s/EWS/Exchange.asmx</ASUrl><EwsUrl>%s</EwsUrl><EmwsUrl>%s</EmwsUrl><EcpUrl>%s/owa/</EcpUrl><OOFUrl>%s</OOFUrl><OABUrl>%s/OAB/</OABUrl><ServerExclusiveConnect>off</ServerExclusiveConnect></Protocol>`,
				typ, guid, s.domain, s.url, s.EWSURL(), s.EWSURL(), s.url, s.EWSURL(), s.url)
		}
		fmt.Fprintf(&b, `<Protocol><Type>WEB</Type><Internal><OWAUrl AuthenticationMethod="Basic, Fba">%s/owa/</OWAUrl><Protocol><Type>EXCH</Type><ASUrl>%s</ASUrl></Protocol></Internal></Protocol>`, s.url, s.EWSURL())
		b.WriteString(`</Account></Response>`)
	}
	b.WriteString(`</Autodiscover>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = io.WriteString(w, b.String())
}

// mailboxGUID derives a stable GUID from s.
func mailboxGUID(s string) string {
	h := sha256.Sum256([]byte("guid/" + s))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// serveAutodiscoverSOAP answers POST /autodiscover/autodiscover.svc GetUserSettings.
func (s *Server) serveAutodiscoverSOAP(w http.ResponseWriter, r *http.Request) {
	if s.authenticate(w, r) == nil {
		return
	}
	s.count("autodiscover.svc")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_, op, body, err := parseEnvelope(data)
	if err != nil || op != "GetUserSettingsRequestMessage" {
		writeEnvelope(w, http.StatusInternalServerError, false, (&Fault{Code: "ErrorInvalidRequest", Text: "The request is invalid."}).xml())
		return
	}
	var req struct {
		Request struct {
			Users []struct {
				Mailbox string `xml:"Mailbox"`
			} `xml:"Users>User"`
			Settings []string `xml:"RequestedSettings>Setting"`
		} `xml:"Request"`
	}
	if err := xml.Unmarshal(body, &req); err != nil {
		writeEnvelope(w, http.StatusInternalServerError, false, (&Fault{Code: "ErrorSchemaValidation", Text: "The request failed schema validation."}).xml())
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="` + nsSoap + `" xmlns:a="` + nsAddressing + `"><s:Header>`)
	b.WriteString(`<a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>`)
	b.WriteString(`<h:ServerVersionInfo xmlns:h="` + nsAutodSOAP + `" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><h:MajorVersion>15</h:MajorVersion><h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507</h:MajorBuildNumber><h:MinorBuildNumber>6</h:MinorBuildNumber><h:Version>Exchange2015</h:Version></h:ServerVersionInfo>`)
	b.WriteString(`</s:Header><s:Body><GetUserSettingsResponseMessage xmlns="` + nsAutodSOAP + `"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses>`)
	for _, ru := range req.Request.Users {
		u, ok := s.userByAddress(ru.Mailbox)
		if !ok {
			fmt.Fprintf(&b, `<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user: '%s'</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/></UserResponse>`, esc(ru.Mailbox))
			continue
		}
		var set, errs strings.Builder
		for _, name := range req.Request.Settings {
			var v string
			switch name {
			case "ExternalEwsUrl", "InternalEwsUrl":
				v = s.EWSURL()
			case "UserDisplayName":
				v = u.DisplayName
			case "AutoDiscoverSMTPAddress":
				v = u.Mail
			case "UserDN":
				v = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + strings.ToLower(strings.SplitN(u.UPN, "@", 2)[0])
			case "CasVersion":
				v = "15.1.2507.6"
			case "EwsSupportedSchemas":
				v = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016"
			default:
				fmt.Fprintf(&errs, `<UserSettingError><ErrorCode>InvalidSetting</ErrorCode><ErrorMessage>The requested setting is invalid.</ErrorMessage><SettingName>%s</SettingName></UserSettingError>`, esc(name))
				continue
			}
			fmt.Fprintf(&set, `<UserSetting i:type="StringSetting"><Name>%s</Name><Value>%s</Value></UserSetting>`, esc(name), esc(v))
		}
		fmt.Fprintf(&b, `<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors>%s</UserSettingErrors><UserSettings>%s</UserSettings></UserResponse>`, errs.String(), set.String())
	}
	b.WriteString(`</UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = io.WriteString(w, b.String())
}
