// Package graph is the Microsoft Graph v1.0 source: it reads Exchange Online (or a
// national cloud, or the sim/graph emulator) with msgraph-sdk-go and azidentity
// app-only credentials.
//
// Every request, SDK-made or raw, goes through one throttle transport (throttle.go) that
// keeps each mailbox within Microsoft's Outlook limits (4 concurrent requests and 10,000
// requests per 10 minutes per app and mailbox), honours Retry-After as a fence for the
// whole mailbox, and retries idempotent requests. kiota's own RetryHandler is left out of
// the middleware chain so that there is a single retry layer.
package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Config configures a Graph source. Zero values take the documented defaults.
type Config struct {
	// Endpoint is the Graph base URL, default "https://graph.microsoft.com/v1.0" (national
	// clouds and the emulator differ).
	Endpoint string
	// AuthorityHost is the Entra login host, default "https://login.microsoftonline.com/".
	AuthorityHost string
	// TenantID and ClientID identify the app registration.
	TenantID, ClientID string
	// ClientSecret authenticates the app, unless CertificatePEM is set.
	ClientSecret string
	// CertificatePEM is a PEM (certificate and private key) or PFX for certificate auth.
	CertificatePEM []byte
	// CertPassword decrypts CertificatePEM when it is protected.
	CertPassword string
	// CAFile is an extra PEM CA trusted for both the authority and Graph (private PKI, emulator).
	CAFile string
	// InsecureSkipVerify disables TLS verification; only when the user asks.
	InsecureSkipVerify bool
	// PerMailboxConcurrency caps concurrent requests per mailbox, default 4 (Outlook limit).
	PerMailboxConcurrency int
	// PerMailboxRequests is the request budget per mailbox per Window, default 10000.
	PerMailboxRequests int
	// Window is the budget's period, default 10 minutes.
	Window time.Duration
	// GlobalConcurrency caps concurrent requests across mailboxes, default 64.
	GlobalConcurrency int
	// PageSize is the delta page size asked with Prefer: odata.maxpagesize, default 100.
	PageSize int
	// Logger receives warnings (skipped users); default slog.Default().
	Logger *slog.Logger
}

// Source reads mailboxes from Microsoft Graph. It is safe for concurrent use.
type Source struct {
	cfg      Config
	log      *slog.Logger
	endpoint string // without trailing slash
	client   *msgraphsdk.GraphServiceClient
	adapter  *msgraphsdk.GraphRequestAdapter
	raw      *http.Client // throttled, no kiota middleware: MIME downloads
	th       *throttle
	// oneExpand is set once Graph refused two $expand in one event request (calendar.go).
	oneExpand atomic.Bool
}

var _ extract.Source = (*Source)(nil)

// microsoftAuthorities are the hosts MSAL knows; any other needs DisableInstanceDiscovery.
var microsoftAuthorities = map[string]bool{
	"login.microsoftonline.com": true, "login.microsoftonline.us": true,
	"login.chinacloudapi.cn": true, "login.partner.microsoftonline.cn": true,
	"login.windows.net": true, "login.microsoft.com": true, "sts.windows.net": true,
}

// New builds a Source and checks its credentials by getting a first token.
// Bad configuration, unreadable CA or certificate files and refused credentials return
// an error wrapping model.ErrFatal.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://graph.microsoft.com/v1.0"
	}
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = "https://login.microsoftonline.com/"
	}
	if !strings.HasSuffix(cfg.AuthorityHost, "/") {
		cfg.AuthorityHost += "/"
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, model.Fatal(errors.New("graph: tenant id and client id are required"))
	}
	ep, err := url.Parse(strings.TrimSuffix(cfg.Endpoint, "/"))
	if err != nil || ep.Host == "" {
		return nil, model.Fatal(fmt.Errorf("graph: bad endpoint %q", cfg.Endpoint))
	}
	auth, err := url.Parse(cfg.AuthorityHost)
	if err != nil || auth.Host == "" {
		return nil, model.Fatal(fmt.Errorf("graph: bad authority host %q", cfg.AuthorityHost))
	}

	tlsCfg := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // only on the user's request
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, model.Fatal(fmt.Errorf("graph: CA file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, model.Fatal(fmt.Errorf("graph: CA file %s holds no PEM certificate", cfg.CAFile))
		}
		tlsCfg.RootCAs = pool
	}
	netTransport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(cfg.GlobalConcurrency, 64),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 3 * time.Minute,
	}

	copts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost},
		Transport: &http.Client{Transport: netTransport},
	}
	noDiscovery := !microsoftAuthorities[strings.ToLower(auth.Hostname())]
	var cred azcore.TokenCredential
	if len(cfg.CertificatePEM) > 0 {
		certs, key, err := azidentity.ParseCertificates(cfg.CertificatePEM, []byte(cfg.CertPassword))
		if err != nil {
			return nil, model.Fatal(fmt.Errorf("graph: client certificate: %w", err))
		}
		cred, err = azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, model.Fatal(fmt.Errorf("graph: client certificate credential: %w", err))
		}
	} else {
		if cfg.ClientSecret == "" {
			return nil, model.Fatal(errors.New("graph: a client secret or a client certificate is required"))
		}
		cred, err = azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, model.Fatal(fmt.Errorf("graph: client secret credential: %w", err))
		}
	}
	scope := ep.Scheme + "://" + ep.Host + "/.default"
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}}); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, model.Fatal(fmt.Errorf("graph: getting a token for %s from %s as app %s failed (check the tenant id, client id and credential): %w",
			scope, cfg.AuthorityHost, cfg.ClientID, err))
	}
	// The provider attaches tokens only to allowed hosts, and silently sends nothing to
	// others: the Graph host must be in the list.
	authProvider, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{ep.Hostname()})
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("graph: auth provider: %w", err))
	}

	th := newThrottle(netTransport, throttleOptions{
		PerMailboxConcurrency: cfg.PerMailboxConcurrency, PerMailboxRequests: cfg.PerMailboxRequests,
		Window: cfg.Window, GlobalConcurrency: cfg.GlobalConcurrency,
	})
	var mws []khttp.Middleware
	for _, m := range msgraphgocore.GetDefaultMiddlewaresWithOptions(&msgraphgocore.GraphClientOptions{}) {
		if _, isRetry := m.(*khttp.RetryHandler); isRetry {
			continue // the throttle transport is the only retry layer
		}
		mws = append(mws, m)
	}
	sdkHTTP := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(th, mws...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(authProvider, nil, nil, sdkHTTP)
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("graph: request adapter: %w", err))
	}
	endpoint := strings.TrimSuffix(cfg.Endpoint, "/")
	adapter.SetBaseUrl(endpoint)
	return &Source{
		cfg: cfg, log: cfg.Logger, endpoint: endpoint, adapter: adapter,
		client: msgraphsdk.NewGraphServiceClient(adapter),
		raw:    &http.Client{Transport: th, CheckRedirect: sdkHTTP.CheckRedirect},
		th:     th,
	}, nil
}

// Stats returns what the source's transport did so far: requests sent, 429/503/504
// answers seen, retries and time waited on Retry-After.
func (s *Source) Stats() Stats { return s.th.stats() }

// Mailboxes lists the users chosen by sel that have a mailbox, with Kind from
// mailboxSettings.userPurpose. An address in sel that matches no user (UPN or mail,
// case-insensitive) or a user without an Exchange mailbox returns an error wrapping
// model.ErrNotFound; users without a mailbox are skipped with a warning when sel is empty.
// 401/403 return model.ErrFatal; throttling or 5xx after retries, model.ErrRetryable.
func (s *Source) Mailboxes(ctx context.Context, sel extract.Selection) ([]model.Mailbox, error) {
	want := map[string]bool{}
	for _, a := range sel.Addresses {
		want[strings.ToLower(strings.TrimSpace(a))] = false
	}
	top := int32(999)
	cfg := &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
		Select: []string{"id", "userPrincipalName", "mail", "displayName"}, Top: &top,
	}}
	var chosen []model.Mailbox
	page, err := s.client.Users().Get(ctx, cfg)
	for {
		if err != nil {
			return nil, classify(err, "listing users", permUsers)
		}
		for _, u := range page.GetValue() {
			upn, mail := str(u.GetUserPrincipalName()), str(u.GetMail())
			if len(want) > 0 {
				_, a := want[strings.ToLower(upn)]
				_, b := want[strings.ToLower(mail)]
				if !a && !b {
					continue
				}
				if a {
					want[strings.ToLower(upn)] = true
				}
				if b {
					want[strings.ToLower(mail)] = true
				}
			}
			addr := mail
			if addr == "" {
				addr = upn
			}
			chosen = append(chosen, model.Mailbox{ID: str(u.GetId()), Address: addr, DisplayName: str(u.GetDisplayName())})
		}
		next := str(page.GetOdataNextLink())
		if next == "" {
			break
		}
		page, err = s.client.Users().WithUrl(next).Get(ctx, nil)
	}
	var missing []string
	for a, found := range want {
		if !found {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return nil, model.Permanent(fmt.Errorf("graph: no such user: %s: %w", strings.Join(missing, ", "), model.ErrNotFound))
	}

	// Kinds, a few users at a time.
	errs := make([]error, len(chosen))
	skip := make([]bool, len(chosen))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range chosen {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ms, err := s.client.Users().ByUserId(chosen[i].ID).MailboxSettings().Get(ctx, nil)
			if err != nil {
				if errorCode(err) == "MailboxNotEnabledForRESTAPI" {
					skip[i] = true
					return
				}
				errs[i] = classify(err, "reading mailboxSettings of "+chosen[i].Address, permSettings)
				return
			}
			if p := ms.GetUserPurpose(); p != nil {
				chosen[i].Kind = p.String()
			}
		}()
	}
	wg.Wait()
	out := chosen[:0:0]
	for i, m := range chosen {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if skip[i] {
			if len(want) > 0 {
				return nil, model.Permanent(fmt.Errorf("graph: %s has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI): %w", m.Address, model.ErrNotFound))
			}
			s.log.Warn("skipping a user without an Exchange Online mailbox", "user", m.Address)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// rawURL builds an absolute URL under the endpoint from escaped path segments.
func (s *Source) rawURL(segs ...string) string {
	var b strings.Builder
	b.WriteString(s.endpoint)
	for _, seg := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}

// rawGet makes an authenticated GET for url through the same auth provider the SDK uses.
func (s *Source) rawGet(ctx context.Context, rawURL string) (*http.Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, model.Permanent(fmt.Errorf("graph: bad URL: %w", err))
	}
	ri := abstractions.NewRequestInformation()
	ri.Method = abstractions.GET
	ri.SetUri(*u)
	native, err := s.adapter.ConvertToNativeRequest(ctx, ri)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, model.Fatal(fmt.Errorf("graph: authenticating request: %w", err))
	}
	return native.(*http.Request), nil
}
