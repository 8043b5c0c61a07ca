package ews

import (
	"io"
	"strings"
	"testing"
)

// The fuzz tests feed the SOAP response parsers hostile documents: none may panic, hang
// or accept garbage as a success.

func FuzzParseEnvelope(f *testing.F) {
	f.Add(syncDocExample)
	f.Add(serverBusyFault("297749"))
	f.Add(getItemMIME([]byte("Subject: x\r\n\r\nbody")))
	f.Add(`<s:Envelope><s:Body><x/></s:Body></s:Envelope>`)
	f.Fuzz(func(t *testing.T, doc string) {
		var r syncFolderItemsResponse
		_, _, _ = ParseEnvelope(strings.NewReader(doc), &r)
		for _, m := range r.Messages {
			_ = m.Err("SyncFolderItems", "a")
			for _, c := range m.Changes.List {
				if c.Item != nil {
					_ = toMessage(*c.Item, "f")
				}
			}
		}
		var h syncFolderHierarchyResponse
		if _, _, err := ParseEnvelope(strings.NewReader(doc), &h); err == nil && len(h.Messages) > 0 {
			all := map[string]mailFolderXML{}
			var order []string
			for _, c := range h.Messages[0].Changes.List {
				if c.Folder != nil {
					all[c.Folder.FolderID.ID] = *c.Folder
					order = append(order, c.Folder.FolderID.ID)
				}
			}
			_ = buildTree("root", nil, all, order)
		}
		ms := scanMessages([]byte(doc))
		_ = callLevel(ms, "Op", "a")
	})
}

func FuzzParseMIME(f *testing.F) {
	f.Add(getItemMIME([]byte("Subject: x\r\n\r\nbody")))
	f.Add(serverBusyFault("10"))
	f.Add(getItemMIME(nil))
	f.Fuzz(func(t *testing.T, doc string) {
		mr, err := NewMIMEReader(io.NopCloser(strings.NewReader(doc)))
		if err != nil {
			return
		}
		// Reading must end (content, or an error), never panic.
		_, _ = io.Copy(io.Discard, io.LimitReader(mr, 1<<20))
		mr.Close()
	})
}

func FuzzParseAutodiscover(f *testing.F) {
	f.Add(`<Autodiscover><Response><Account><Protocol><Type>EXPR</Type><EwsUrl>https://x/EWS/Exchange.asmx</EwsUrl></Protocol></Account></Response></Autodiscover>`)
	f.Add(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetUserSettingsResponseMessage><Response><UserResponses><UserResponse><ErrorCode>RedirectAddress</ErrorCode><RedirectTarget>b@c</RedirectTarget></UserResponse></UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _, _, _ = ParsePOX([]byte(doc))
		_, _, _, _ = ParseUserSettings([]byte(doc))
	})
}
