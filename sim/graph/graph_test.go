package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"encoding/pem"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	abs "github.com/microsoft/kiota-abstractions-go"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

const testSecret = "s3cret-for-tests"

func start(t *testing.T, o Options) (*Server, *tenant.Tenant) {
	t.Helper()
	if o.Tenant == nil {
		o.Tenant = tenant.Generate(tenant.Small())
	}
	o.ClientID, o.ClientSecret = "bascule-test", testSecret
	s, err := Start(o)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, o.Tenant
}

func transport(t *testing.T, s *Server, keepAlive bool) *http.Transport {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM() holds no certificate")
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: !keepAlive}
}

func clientOptions(t *testing.T, s *Server) azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
		Transport: &http.Client{Transport: transport(t, s, true)}}
}

func secretCred(t *testing.T, s *Server, secret string) azcore.TokenCredential {
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), "bascule-test", secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatalf("NewClientSecretCredential() = %v", err)
	}
	return cred
}

// sdk builds a msgraph-sdk-go client on the emulator; retries false removes the retry handler.
func sdk(t *testing.T, s *Server, cred azcore.TokenCredential, retries bool) (*msgraphsdk.GraphServiceClient, *msgraphsdk.GraphRequestAdapter) {
	t.Helper()
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	mw := msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)
	if !retries {
		mw = slices.DeleteFunc(mw, func(m khttp.Middleware) bool { _, ok := m.(*khttp.RetryHandler); return ok })
	}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(transport(t, s, true), mw...), Timeout: time.Minute}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(s.GraphEndpoint())
	return msgraphsdk.NewGraphServiceClient(adapter), adapter
}

func TestSDKUsersFoldersMessages(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)

	// Users, two per page, through the PageIterator.
	top := int32(2)
	page, err := gc.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id", "userPrincipalName", "mail"}}})
	if err != nil {
		t.Fatalf("Users().Get() = %v", err)
	}
	if page.GetOdataNextLink() == nil || !strings.HasPrefix(*page.GetOdataNextLink(), s.GraphEndpoint()) {
		t.Fatalf("first users page has nextLink %v, want an absolute link on the emulator", page.GetOdataNextLink())
	}
	var upns []string
	it, err := msgraphcore.NewPageIterator[models.Userable](page, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Iterate(ctx, func(u models.Userable) bool { upns = append(upns, *u.GetUserPrincipalName()); return true }); err != nil {
		t.Fatalf("Iterate(users) = %v", err)
	}
	want := []string{}
	for _, u := range ten.Users() {
		want = append(want, u.UPN)
	}
	if !slices.Equal(upns, want) {
		t.Fatalf("users = %v, want %v", upns, want)
	}
	shared := ten.Users()[2]
	ms, err := gc.Users().ByUserId(shared.UPN).MailboxSettings().Get(ctx, nil)
	if err != nil || ms.GetUserPurpose() == nil || *ms.GetUserPurpose() != models.SHARED_USERPURPOSE {
		t.Fatalf("mailboxSettings(%s) = %v, %v; want userPurpose shared", shared.UPN, ms, err)
	}

	// Folders: top level, well-known name, children.
	u := ten.Users()[1]
	fp, err := gc.Users().ByUserId(u.ID).MailFolders().Get(ctx, nil)
	if err != nil {
		t.Fatalf("MailFolders().Get() = %v", err)
	}
	var topNames []string
	for _, f := range fp.GetValue() {
		topNames = append(topNames, *f.GetDisplayName())
	}
	if fp.GetOdataNextLink() != nil || len(topNames) != 10 || topNames[9] != "A/B tests" {
		t.Fatalf("top folders = %v (next %v), want the 10 of them", topNames, fp.GetOdataNextLink())
	}
	ftop := int32(4)
	fp, err = gc.Users().ByUserId(u.ID).MailFolders().Get(ctx, &users.ItemMailFoldersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMailFoldersRequestBuilderGetQueryParameters{Top: &ftop, IncludeHiddenFolders: ptr("true")}})
	if err != nil || len(fp.GetValue()) != 4 || fp.GetOdataNextLink() == nil {
		t.Fatalf("top folders, 4 per page: %v, %v", fp, err)
	}
	inbox, err := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId("inbox").Get(ctx, nil)
	if err != nil {
		t.Fatalf("MailFolders(inbox) = %v", err)
	}
	tin, _ := ten.Folder(u.ID, "inbox")
	if *inbox.GetId() != tin.ID || *inbox.GetDisplayName() != tin.DisplayName || *inbox.GetChildFolderCount() != 2 {
		t.Fatalf("inbox = %s %q children %d, want %s %q 2", *inbox.GetId(), *inbox.GetDisplayName(), *inbox.GetChildFolderCount(), tin.ID, tin.DisplayName)
	}
	kids, err := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId(tin.ID).ChildFolders().Get(ctx, nil)
	if err != nil || len(kids.GetValue()) != 2 || *kids.GetValue()[0].GetDisplayName() != "Clients & Partenaires" {
		t.Fatalf("childFolders(inbox) = %v, %v", kids, err)
	}

	// Messages of the inbox, 7 per page.
	mtop := int32(7)
	mp, err := gc.Users().ByUserId(u.UPN).MailFolders().ByMailFolderId("inbox").Messages().Get(ctx,
		&users.ItemMailFoldersItemMessagesRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemMailFoldersItemMessagesRequestBuilderGetQueryParameters{
			Top: &mtop, Select: []string{"id", "subject", "isRead", "flag", "receivedDateTime"}}})
	if err != nil {
		t.Fatalf("Messages().Get() = %v", err)
	}
	got := map[string]models.Messageable{}
	mit, err := msgraphcore.NewPageIterator[models.Messageable](mp, adapter, models.CreateMessageCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	if err := mit.Iterate(ctx, func(m models.Messageable) bool { got[*m.GetId()] = m; return true }); err != nil {
		t.Fatalf("Iterate(messages) = %v", err)
	}
	n := 0
	for _, m := range ten.Messages(u.ID) {
		if m.FolderID != tin.ID {
			continue
		}
		n++
		g := got[m.ID]
		if g == nil {
			t.Fatalf("message %s missing from the listing", m.ID)
		}
		if *g.GetIsRead() != m.IsRead || g.GetFlag().GetFlagStatus().String() != m.Flag || !g.GetReceivedDateTime().Equal(m.Received) {
			t.Errorf("message %s: isRead %v flag %v received %v; tenant %v %v %v", m.ID, *g.GetIsRead(), g.GetFlag().GetFlagStatus(), g.GetReceivedDateTime(), m.IsRead, m.Flag, m.Received)
		}
		if g.GetBodyPreview() != nil {
			t.Errorf("$select ignored: bodyPreview present")
		}
	}
	if n != len(got) || n < 8 {
		t.Fatalf("listed %d messages, inbox has %d (need more than one page)", len(got), n)
	}

	// Raw MIME, byte-exact.
	for _, m := range ten.Messages(u.ID)[:5] {
		b, err := gc.Users().ByUserId(u.ID).Messages().ByMessageId(m.ID).Content().Get(ctx, nil)
		if err != nil {
			t.Fatalf("$value(%s) = %v", m.ID, err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != m.SHA256 {
			t.Fatalf("$value(%s): %d bytes with another hash than the tenant's", m.ID, len(b))
		}
	}
	c := s.Counts()
	if c["users"] != 2 || c["message.value"] != 5 || c["mailFolder"] != 1 || c["token"] < 1 || c["openid"] < 1 {
		t.Errorf("Counts() = %v", c)
	}
	// Unknown message: a Graph error the SDK maps to ODataError.
	_, err = gc.Users().ByUserId(u.ID).Messages().ByMessageId("AAMkAnope").Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 404 || *oe.GetErrorEscaped().GetCode() != "ErrorItemNotFound" {
		t.Errorf("unknown message: err = %v, want a 404 ErrorItemNotFound", err)
	}
}

type deltaItem struct {
	removed bool
	msg     models.Messageable
}

// runDelta pages through one delta round and returns the items and the new deltaLink.
func runDelta(ctx context.Context, t *testing.T, gc *msgraphsdk.GraphServiceClient, user, folder, link string) (map[string]deltaItem, string, int, error) {
	t.Helper()
	b := gc.Users().ByUserId(user).MailFolders().ByMailFolderId(folder).Messages().Delta()
	headers := abs.NewRequestHeaders()
	headers.Add("Prefer", "odata.maxpagesize=20")
	headers.Add("Prefer", `IdType="ImmutableId"`)
	cfg := &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{Headers: headers,
		QueryParameters: &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetQueryParameters{
			Select: []string{"id", "changeKey", "isRead", "flag", "parentFolderId", "receivedDateTime"},
			Expand: []string{"singleValueExtendedProperties($filter=id eq 'Integer 0x1081' or id eq 'Integer 0x0E08')"}}}
	if link != "" {
		b = b.WithUrl(link)
		cfg.QueryParameters = nil
	}
	items := map[string]deltaItem{}
	pages := 0
	for {
		resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
		if err != nil {
			return nil, "", pages, err
		}
		pages++
		for _, m := range resp.GetValue() {
			_, removed := m.GetAdditionalData()["@removed"]
			items[*m.GetId()] = deltaItem{removed: removed, msg: m}
		}
		if next := resp.GetOdataNextLink(); next != nil {
			if resp.GetOdataDeltaLink() != nil {
				t.Fatalf("a delta page carries both nextLink and deltaLink")
			}
			b = b.WithUrl(*next)
			cfg.QueryParameters = nil
			continue
		}
		if resp.GetOdataDeltaLink() == nil {
			t.Fatalf("last delta page has no deltaLink")
		}
		return items, *resp.GetOdataDeltaLink(), pages, nil
	}
}

func TestSDKDelta(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[0]
	inbox, _ := ten.Folder(u.ID, "inbox")
	archive, _ := ten.Folder(u.ID, "archive")
	var inInbox []tenant.Message
	for _, m := range ten.Messages(u.ID) {
		if m.FolderID == inbox.ID {
			inInbox = append(inInbox, m)
		}
	}
	first, link, pages, err := runDelta(ctx, t, gc, u.ID, "inbox", "")
	if err != nil {
		t.Fatalf("initial delta = %v", err)
	}
	if len(first) != len(inInbox) || pages < 2 {
		t.Fatalf("initial delta: %d items in %d pages, inbox has %d", len(first), pages, len(inInbox))
	}
	for _, m := range inInbox {
		it := first[m.ID]
		if it.removed || it.msg == nil {
			t.Fatalf("initial delta lacks %s", m.ID)
		}
		props := map[string]string{}
		for _, p := range it.msg.GetSingleValueExtendedProperties() {
			props[strings.ToLower(*p.GetId())] = *p.GetValue()
		}
		if props["integer 0xe08"] != strconv.FormatInt(m.Size, 10) {
			t.Errorf("%s: size property %q, want %d", m.ID, props["integer 0xe08"], m.Size)
		}
		if verb := props["integer 0x1081"]; (m.LastVerb == 0) != (verb == "") || (verb != "" && verb != strconv.Itoa(m.LastVerb)) {
			t.Errorf("%s: last verb property %q, want %d", m.ID, verb, m.LastVerb)
		}
	}
	// Nothing changed: an empty round.
	none, link, _, err := runDelta(ctx, t, gc, u.ID, "inbox", link)
	if err != nil || len(none) != 0 {
		t.Fatalf("delta with no change = %d items, %v", len(none), err)
	}
	// Mutate: read, flag, delete, move out, add.
	a, b, c, d := inInbox[0], inInbox[1], inInbox[2], inInbox[3]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ten.SetRead(u.ID, a.ID, !a.IsRead))
	must(ten.SetFlag(u.ID, d.ID, "complete"))
	must(ten.DeleteMessage(u.ID, b.ID))
	must(ten.MoveMessage(u.ID, c.ID, archive.ID))
	added, err := ten.AddMessage(u.ID, inbox.ID)
	must(err)
	changes, link, _, err := runDelta(ctx, t, gc, u.ID, "inbox", link)
	if err != nil {
		t.Fatalf("delta after changes = %v", err)
	}
	if len(changes) != 5 {
		t.Errorf("delta after changes has %d items, want 5: %v", len(changes), changes)
	}
	if it := changes[a.ID]; it.removed || it.msg == nil || *it.msg.GetIsRead() == a.IsRead {
		t.Errorf("read change not reported: %+v", it)
	}
	if it := changes[d.ID]; it.msg == nil || it.msg.GetFlag().GetFlagStatus().String() != "complete" {
		t.Errorf("flag change not reported: %+v", it)
	}
	if !changes[b.ID].removed || !changes[c.ID].removed {
		t.Errorf("deleted or moved-out message not @removed: %+v %+v", changes[b.ID], changes[c.ID])
	}
	if it := changes[added.ID]; it.removed || it.msg == nil {
		t.Errorf("new message not reported")
	}
	// The archive's delta sees the moved message under the same id.
	arch, _, _, err := runDelta(ctx, t, gc, u.ID, archive.ID, "")
	if err != nil || arch[c.ID].msg == nil {
		t.Errorf("archive delta lacks the moved message %s (err %v)", c.ID, err)
	}
	// Expired tokens: 410.
	ten.ExpireDeltaTokens()
	_, _, _, err = runDelta(ctx, t, gc, u.ID, "inbox", link)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != http.StatusGone {
		t.Fatalf("delta with an expired token: err = %v, want 410", err)
	}
	if code := *oe.GetErrorEscaped().GetCode(); code != "SyncStateNotFound" {
		t.Errorf("410 code = %q", code)
	}
}

func TestSDKBatch(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[0]
	m := ten.Messages(u.ID)[3]
	batch := msgraphcore.NewBatchRequest(adapter)
	ri1, _ := gc.Users().ByUserId(u.ID).ToGetRequestInformation(ctx, nil)
	ri2, _ := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId("sentitems").ToGetRequestInformation(ctx, nil)
	ri3, _ := gc.Users().ByUserId(u.ID).Messages().ByMessageId("AAMkAmissing").ToGetRequestInformation(ctx, nil)
	s1, err := batch.AddBatchRequestStep(*ri1)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := batch.AddBatchRequestStep(*ri2)
	s3, _ := batch.AddBatchRequestStep(*ri3)
	s.ResetCounts()
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("batch.Send() = %v", err)
	}
	codes := resp.GetStatusCodes()
	if codes[*s1.GetId()] != 200 || codes[*s2.GetId()] != 200 || codes[*s3.GetId()] != 404 {
		t.Fatalf("batch statuses = %v", codes)
	}
	user, err := msgraphcore.GetBatchResponseById[models.Userable](resp, *s1.GetId(), models.CreateUserFromDiscriminatorValue)
	if err != nil || *user.GetUserPrincipalName() != u.UPN {
		t.Fatalf("batch user = %v, %v", user, err)
	}
	if c := s.Counts(); c["batch"] != 1 || c["user"] != 1 || c["mailFolder"] != 1 || c["message"] != 1 {
		t.Errorf("Counts() after batch = %v", c)
	}

	// Raw batches: $value base64, dependsOn → 424, duplicate ids → 400, gzip body.
	token := rawToken(t, s)
	call := func(body string, gz bool) (int, map[string]any) {
		var rd io.Reader = strings.NewReader(body)
		req, _ := http.NewRequest(http.MethodPost, s.GraphEndpoint()+"/$batch", nil)
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write([]byte(body))
			zw.Close()
			rd = &buf
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.Body = io.NopCloser(rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := (&http.Client{Transport: transport(t, s, false)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	status, out := call(`{"requests":[
		{"id":"1","method":"GET","url":"/users/`+u.ID+`/messages/`+m.ID+`/$value"},
		{"id":"2","method":"GET","url":"/users/`+u.ID+`/messages/AAMkAgone"},
		{"id":"3","method":"GET","url":"/users/`+u.ID+`","dependsOn":["2"]},
		{"id":"4","method":"GET","url":"/users/`+u.ID+`/mailboxSettings","dependsOn":["1"]}]}`, true)
	if status != 200 {
		t.Fatalf("batch status %d: %v", status, out)
	}
	byID := map[string]map[string]any{}
	for _, r := range out["responses"].([]any) {
		byID[r.(map[string]any)["id"].(string)] = r.(map[string]any)
	}
	raw, _ := base64.StdEncoding.DecodeString(byID["1"]["body"].(string))
	if h := sha256.Sum256(raw); hex.EncodeToString(h[:]) != m.SHA256 {
		t.Errorf("batch $value body does not decode to the message bytes")
	}
	if byID["2"]["status"].(float64) != 404 || byID["3"]["status"].(float64) != 424 || byID["4"]["status"].(float64) != 200 {
		t.Errorf("batch statuses: 2=%v 3=%v 4=%v, want 404 424 200", byID["2"]["status"], byID["3"]["status"], byID["4"]["status"])
	}
	status, out = call(`{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}`, false)
	if status != 400 {
		t.Errorf("duplicate ids: status %d, want 400 (%v)", status, out)
	}
	var many []string
	for i := range 21 {
		many = append(many, `{"id":"`+strconv.Itoa(i)+`","method":"GET","url":"/users"}`)
	}
	if status, _ = call(`{"requests":[`+strings.Join(many, ",")+`]}`, false); status != 400 {
		t.Errorf("21 requests: status %d, want 400", status)
	}
}

// rawToken gets a token with the client-credentials grant, as a plain HTTP client.
func rawToken(t *testing.T, s *Server) string {
	t.Helper()
	cred := secretCred(t, s, testSecret)
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken() = %v", err)
	}
	return tok.Token
}

func rawGet(t *testing.T, s *Server, token, path string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodGet, s.GraphEndpoint()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return (&http.Client{Transport: transport(t, s, false)}).Do(req)
}

func errorCode(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var e struct {
		Error struct {
			Code       string         `json:"code"`
			InnerError map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if e.Error.InnerError["request-id"] == nil {
		t.Errorf("error body without innerError.request-id")
	}
	return e.Error.Code
}

func TestThrottling(t *testing.T) {
	s, ten := start(t, Options{Throttle: Throttle{Concurrency: 1, Requests: 5, Window: 2 * time.Second}})
	token := rawToken(t, s)
	u := ten.Users()[0]
	for i := range 5 {
		res, err := rawGet(t, s, token, "/users/"+u.ID)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i, res.StatusCode, err)
		}
		res.Body.Close()
	}
	res, err := rawGet(t, s, token, "/users/"+u.ID+"/mailFolders")
	if err != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th request: %v %v, want 429", res.StatusCode, err)
	}
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After = %q, want 1 or 2 seconds", res.Header.Get("Retry-After"))
	}
	if code := errorCode(t, res); code != "TooManyRequests" {
		t.Errorf("429 code = %q", code)
	}
	// Another mailbox is not affected.
	if res, err := rawGet(t, s, token, "/users/"+ten.Users()[1].ID); err != nil || res.StatusCode != 200 {
		t.Errorf("other mailbox: %v %v, want 200", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
	// Coming back inside the Retry-After is a violation.
	time.Sleep(200 * time.Millisecond)
	if res, err := rawGet(t, s, token, "/users/"+u.ID); err == nil {
		res.Body.Close()
	}
	if v := s.RetryAfterViolations(); v != 1 {
		t.Errorf("RetryAfterViolations() = %d, want 1", v)
	}
	time.Sleep(time.Duration(ra)*time.Second + 100*time.Millisecond)
	res, err = rawGet(t, s, token, "/users/"+u.ID)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after Retry-After: %v %v, want 200", res.StatusCode, err)
	}
	res.Body.Close()
	if s.RetryAfterViolations() != 1 {
		t.Errorf("a request after the Retry-After counted as a violation")
	}

	// Concurrency: with one slot, a second request while the first is slow gets 429.
	s.SetThrottle(Throttle{Concurrency: 1})
	s.SetFaults(Faults{RateSlow: 1, Slow: 600 * time.Millisecond, Only: []string{"mailboxSettings"}})
	u2 := ten.Users()[2]
	var wg sync.WaitGroup
	wg.Go(func() {
		if res, err := rawGet(t, s, token, "/users/"+u2.ID+"/mailboxSettings"); err == nil {
			res.Body.Close()
		}
	})
	time.Sleep(100 * time.Millisecond)
	s.SetFaults(Faults{})
	res, err = rawGet(t, s, token, "/users/"+u2.ID+"/mailboxSettings")
	wg.Wait()
	if err != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second concurrent request: %v %v, want 429", res.StatusCode, err)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "MailboxConcurrency") {
		t.Errorf("concurrency 429 body = %s", body)
	}
	if s.Throttled() != 3 { // the window 429, the violating request's 429, the concurrency 429
		t.Errorf("Throttled() = %d, want 3", s.Throttled())
	}

	// The SDK (without its retry handler) sees the 429 with its Retry-After.
	s.SetThrottle(Throttle{Requests: 1, Window: time.Minute})
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), false)
	ctx := context.Background()
	u3 := ten.Users()[1]
	_, _ = gc.Users().ByUserId(u3.ID).Get(ctx, nil)
	_, err = gc.Users().ByUserId(u3.ID).Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 429 || oe.GetResponseHeaders().Get("Retry-After") == nil {
		t.Errorf("SDK over the limit: err = %v, want a 429 ODataError with Retry-After", err)
	}
}

func TestFaults(t *testing.T) {
	s, ten := start(t, Options{})
	token := rawToken(t, s)
	u := ten.Users()[0]
	m := ten.Messages(u.ID)[0]
	valuePath := "/users/" + u.ID + "/messages/" + m.ID + "/$value"

	s.SetFaults(Faults{Seed: 1, Rate503: 1})
	res, err := rawGet(t, s, token, "/users/"+u.ID)
	if err != nil || res.StatusCode != 503 || errorCode(t, res) != "ServiceUnavailable" {
		t.Fatalf("Rate503=1: %v %v", res, err)
	}
	// Faults never touch the token endpoint.
	if _, err := secretCred(t, s, testSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		t.Errorf("token endpoint affected by faults: %v", err)
	}
	s.SetFaults(Faults{Seed: 1, Rate504: 1})
	if res, err := rawGet(t, s, token, "/users/"+u.ID); err != nil || res.StatusCode != 504 {
		t.Fatalf("Rate504=1: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	s.SetFaults(Faults{Seed: 1, RateDrop: 1})
	if res, err := rawGet(t, s, token, "/users/"+u.ID); err == nil {
		res.Body.Close()
		t.Fatalf("RateDrop=1: got status %d, want a dropped connection", res.StatusCode)
	}
	s.SetFaults(Faults{Seed: 1, RateTruncate: 1, Only: []string{"message.value"}})
	if res, err := rawGet(t, s, token, "/users/"+u.ID); err != nil || res.StatusCode != 200 {
		t.Fatalf("Only=message.value affected another class: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	res, err = rawGet(t, s, token, valuePath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil || res.ContentLength != m.Size || int64(len(b)) >= m.Size {
		t.Fatalf("truncated $value: read %d of %d (announced %d), err %v", len(b), m.Size, res.ContentLength, err)
	}
	// Deterministic: the same seed gives the same sequence.
	seq := func() []int {
		s.SetFaults(Faults{Seed: 42, Rate503: 0.5})
		var out []int
		for range 12 {
			res, err := rawGet(t, s, token, "/users/"+u.ID)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			out = append(out, res.StatusCode)
		}
		return out
	}
	a, b2 := seq(), seq()
	if !slices.Equal(a, b2) || !slices.Contains(a, 503) || !slices.Contains(a, 200) {
		t.Errorf("fault sequences %v and %v: want equal, mixing 200 and 503", a, b2)
	}
	s.SetFaults(Faults{})
	res, err = rawGet(t, s, token, valuePath)
	if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("$value without faults: %v %v", res, err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != m.SHA256 {
		t.Errorf("$value bytes differ from the tenant's")
	}
}

func TestAuth(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bascule-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	s, ten := start(t, Options{ClientCertPEM: certPEM})
	ctx := context.Background()
	u := ten.Users()[0]

	// No token: 401 InvalidAuthenticationToken.
	res, err := rawGet(t, s, "", "/users/"+u.ID)
	if err != nil || res.StatusCode != 401 || errorCode(t, res) != "InvalidAuthenticationToken" {
		t.Fatalf("no token: %v %v", res, err)
	}
	res, err = rawGet(t, s, "forged", "/users/"+u.ID)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("forged token: %v %v", res, err)
	}
	res.Body.Close()
	// Wrong secret: refused by the token endpoint.
	_, err = secretCred(t, s, "wrong").GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err == nil || !strings.Contains(err.Error(), "7000215") {
		t.Fatalf("wrong secret: err = %v, want AADSTS7000215", err)
	}
	// Certificate credential: signed assertion accepted, SDK call works.
	certs, pk, err := azidentity.ParseCertificates(append(certPEM, keyPEM...), nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := azidentity.NewClientCertificateCredential(s.TenantID(), "bascule-test", certs, pk,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	gc, _ := sdk(t, s, cc, true)
	got, err := gc.Users().ByUserId(u.UPN).Get(ctx, nil)
	if err != nil || *got.GetId() != u.ID {
		t.Fatalf("user via certificate credential = %v, %v", got, err)
	}
	// Assertions signed by another key, for another audience or expired: refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	tokenURL := s.URL() + "/" + s.TenantID() + "/oauth2/v2.0/token"
	assert := func(k *rsa.PrivateKey, aud string, exp time.Time) int {
		a, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": aud, "iss": "bascule-test", "sub": "bascule-test",
			"exp": exp.Unix(), "nbf": time.Now().Add(-time.Minute).Unix(), "jti": "x"}).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"bascule-test"}, "scope": {"https://graph.microsoft.com/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
		res, err := (&http.Client{Transport: transport(t, s, false)}).PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := assert(key, tokenURL, time.Now().Add(time.Minute)); c != 200 {
		t.Errorf("hand-made valid assertion: status %d, want 200", c)
	}
	if c := assert(other, tokenURL, time.Now().Add(time.Minute)); c != 401 {
		t.Errorf("assertion signed by another key: status %d, want 401", c)
	}
	if c := assert(key, "https://login.microsoftonline.com/x/oauth2/v2.0/token", time.Now().Add(time.Minute)); c != 401 {
		t.Errorf("assertion for another audience: status %d, want 401", c)
	}
	if c := assert(key, tokenURL, time.Now().Add(-time.Hour)); c != 401 {
		t.Errorf("expired assertion: status %d, want 401", c)
	}
}

func ptr[T any](v T) *T { return &v }
