package graph

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const tokenLifetime = time.Hour

// serveAuth serves the Entra-like endpoints:
// GET /{tenant}/v2.0/.well-known/openid-configuration and POST /{tenant}/oauth2/v2.0/token.
func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.Trim(r.URL.Path, "/"), "/", 2)
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	tn, rest := parts[0], parts[1]
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		s.count("openid")
		if !s.knownTenant(tn) {
			s.authError(w, http.StatusBadRequest, "invalid_tenant", 90002, "AADSTS90002: Tenant '"+tn+"' not found.")
			return
		}
		base := s.url + "/" + tn
		s.writeJSON(w, r, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                s.url + "/" + s.ten.TenantID() + "/v2.0",
			"request_uri_parameter_supported":       false,
			"userinfo_endpoint":                     s.url + "/oidc/userinfo",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"http_logout_supported":                 true,
			"frontchannel_logout_supported":         true,
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid"},
			"tenant_region_scope":                   "EU",
			"cloud_instance_name":                   "microsoftonline.com",
		})
	case "oauth2/v2.0/token":
		s.count("token")
		s.token(w, r, tn)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) knownTenant(tn string) bool {
	tn = strings.ToLower(tn)
	return tn == s.ten.TenantID() || tn == "contoso.example" || tn == "organizations"
}

func (s *Server) authError(w http.ResponseWriter, status int, code string, num int, desc string) {
	id := requestID()
	b := map[string]any{"error": code, "error_description": desc + "\r\nTrace ID: " + id + "\r\nTimestamp: " + time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"error_codes": []int{num}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": id, "correlation_id": requestID()}
	s.writeJSON(w, &http.Request{Header: http.Header{}}, status, b)
}

// token implements the client-credentials grant, with a client secret or a certificate
// assertion (RS256/PS256 JWT signed by the registered certificate's key).
func (s *Server) token(w http.ResponseWriter, r *http.Request, tn string) {
	if r.Method != http.MethodPost {
		s.authError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "AADSTS900561: The endpoint only accepts POST requests.")
		return
	}
	if !s.knownTenant(tn) {
		s.authError(w, http.StatusBadRequest, "invalid_tenant", 90002, "AADSTS90002: Tenant '"+tn+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.authError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		s.authError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "AADSTS70003: The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
		return
	}
	clientID := f.Get("client_id")
	secret := f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID != s.clientID {
		s.authError(w, http.StatusBadRequest, "unauthorized_client", 700016, "AADSTS700016: Application with identifier '"+clientID+"' was not found in the directory.")
		return
	}
	scope := f.Get("scope")
	if !strings.HasSuffix(strings.Fields(scope + " x")[0], "/.default") {
		s.authError(w, http.StatusBadRequest, "invalid_scope", 1002012, "AADSTS1002012: The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	switch {
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || !s.validAssertion(f.Get("client_assertion"), clientID, s.url+"/"+tn+"/oauth2/v2.0/token") {
			s.authError(w, http.StatusUnauthorized, "invalid_client", 700027, "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application, or the assertion is invalid.")
			return
		}
	case secret != "":
		if secret != s.secret {
			s.authError(w, http.StatusUnauthorized, "invalid_client", 7000215, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
			return
		}
	default:
		s.authError(w, http.StatusUnauthorized, "invalid_client", 7000216, "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := "eyJ0eXAiOiJKV1QiLCJzaW0iOnRydWV9." + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	now := time.Now()
	for k, exp := range s.tokens {
		if now.After(exp) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = now.Add(tokenLifetime)
	s.mu.Unlock()
	s.writeJSON(w, r, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds()),
		"ext_expires_in": int(tokenLifetime.Seconds()), "access_token": tok})
}

func (s *Server) validAssertion(assertion, clientID, audience string) bool {
	if s.cert == nil {
		return false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return s.cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithAudience(audience), jwt.WithExpirationRequired(),
		jwt.WithIssuer(clientID), jwt.WithSubject(clientID), jwt.WithLeeway(time.Minute))
	return err == nil
}

// authorized tells whether r carries a bearer token this server issued and that has not expired.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[strings.TrimSpace(tok)]
	return ok && time.Now().Before(exp)
}
