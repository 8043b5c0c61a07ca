package ews

import (
	"strings"
	"testing"
)

func poxRequest(email string) string {
	return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>` + email +
		`</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
}

func TestAutodiscover(t *testing.T) {
	s, ten := startCore(t, Options{})
	users := regular(ten)
	c := userClient(t, s, users[0])

	st, body, err := c.post("/autodiscover/autodiscover.xml", poxRequest(users[1].Mail))
	if err != nil || st != 200 {
		t.Fatalf("POX: %d %v", st, err)
	}
	n, err := parseNode(body)
	if err != nil {
		t.Fatal(err)
	}
	if r := n.first("Response"); r.Space != nsAutodOutlook || n.Kids[0].Space != nsAutodResponse {
		t.Errorf("POX namespaces: %s / %s", n.Kids[0].Space, r.Space)
	}
	types := map[string]string{}
	for _, p := range n.first("Account").Kids {
		if p.Name == "Protocol" {
			types[p.kid("Type").Text] = p.kid("EwsUrl").Text
		}
	}
	if types["EXCH"] != s.EWSURL() || types["EXPR"] != s.EWSURL() || n.first("AutoDiscoverSMTPAddress").Text != users[1].Mail {
		t.Errorf("POX answer: %v\n%s", types, body)
	}
	_, body, _ = c.post("/autodiscover/autodiscover.xml", poxRequest("ghost@"+s.domain))
	if n, err := parseNode(body); err != nil || n.first("ErrorCode").Text != "500" {
		t.Errorf("POX unknown address: %s", body)
	}
	if st, _, _ := basicClient(t, s, users[0].UPN, "bad").post("/autodiscover/autodiscover.xml", poxRequest(users[0].Mail)); st != 401 {
		t.Errorf("POX with a wrong password: %d", st)
	}

	soap := `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion><wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings</wsa:Action><wsa:To>` + s.URL() + `/autodiscover/autodiscover.svc</wsa:To></soap:Header>` +
		`<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>` + users[0].Mail + `</a:Mailbox></a:User><a:User><a:Mailbox>ghost@` + s.domain + `</a:Mailbox></a:User></a:Users>` +
		`<a:RequestedSettings><a:Setting>ExternalEwsUrl</a:Setting><a:Setting>InternalEwsUrl</a:Setting><a:Setting>UserDisplayName</a:Setting><a:Setting>NoSuchSetting</a:Setting></a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>`
	st, body, err = c.post("/autodiscover/autodiscover.svc", soap)
	if err != nil || st != 200 {
		t.Fatalf("SOAP autodiscover: %d %v %s", st, err, body)
	}
	n, err = parseNode(body)
	if err != nil {
		t.Fatal(err)
	}
	resps := n.all("UserResponse")
	if len(resps) != 2 {
		t.Fatalf("%d UserResponses", len(resps))
	}
	got := map[string]string{}
	for _, us := range resps[0].all("UserSetting") {
		got[us.kid("Name").Text] = us.kid("Value").Text
	}
	if got["ExternalEwsUrl"] != s.EWSURL() || got["InternalEwsUrl"] != s.EWSURL() || got["UserDisplayName"] != users[0].DisplayName {
		t.Errorf("settings: %v", got)
	}
	if e := resps[0].first("UserSettingError"); e.kid("SettingName").Text != "NoSuchSetting" || e.kid("ErrorCode").Text != "InvalidSetting" {
		t.Errorf("unknown setting: %s", body)
	}
	if resps[1].kid("ErrorCode").Text != "InvalidUser" {
		t.Errorf("unknown user: %s", resps[1].kid("ErrorCode").Text)
	}
	if !strings.Contains(n.first("Action").Text, "GetUserSettingsResponse") {
		t.Errorf("wsa:Action %q", n.first("Action").Text)
	}
	if got := s.Counts(); got["autodiscover.xml"] < 2 || got["autodiscover.svc"] != 1 {
		t.Errorf("Counts() = %v", got)
	}
}
