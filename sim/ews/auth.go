package ews

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// account is one identity that can log on: a tenant user (hasUser) or a service account.
type account struct {
	name        string // lower-case logon name (UPN)
	smtp        string
	password    string
	user        tenant.User
	hasUser     bool
	impersonate bool // holds ApplicationImpersonation
}

type accounts struct {
	byName map[string]*account // lower-case UPN, mail, and local part of the UPN
}

// DefaultPassword is the password of a tenant user that Options.Passwords does not list.
func DefaultPassword(u tenant.User) string {
	local, _, _ := strings.Cut(u.UPN, "@")
	return "Pa55-" + strings.ToLower(local) + "!"
}

func newAccounts(s *Server) *accounts {
	as := &accounts{byName: map[string]*account{}}
	pw := map[string]string{}
	for k, v := range s.opts.Passwords {
		pw[strings.ToLower(k)] = v
	}
	add := func(a *account) {
		for _, k := range []string{a.name, a.smtp} {
			if k != "" {
				as.byName[k] = a
			}
		}
		if local, _, ok := strings.Cut(a.name, "@"); ok {
			if _, taken := as.byName[local]; !taken {
				as.byName[local] = a
			}
		}
	}
	add(&account{name: strings.ToLower(s.opts.ServiceAccount), password: s.opts.ServicePassword, impersonate: true})
	add(&account{name: strings.ToLower(s.opts.PlainAccount), password: s.opts.PlainPassword})
	for _, u := range s.ten.Users() {
		p, ok := pw[strings.ToLower(u.UPN)]
		if !ok {
			p, ok = pw[strings.ToLower(u.Mail)]
		}
		if !ok {
			p = DefaultPassword(u)
		}
		add(&account{name: strings.ToLower(u.UPN), smtp: strings.ToLower(u.Mail), password: p, user: u, hasUser: true})
	}
	return as
}

// lookup finds an account by logon name: UPN, mail, DOMAIN\user or the bare user name.
func (as *accounts) lookup(name string) *account {
	name = strings.ToLower(name)
	if _, after, ok := strings.Cut(name, `\`); ok {
		name = after
	}
	return as.byName[name]
}

func (as *accounts) check(name, password string) *account {
	a := as.lookup(name)
	if a == nil || subtle.ConstantTimeCompare([]byte(a.password), []byte(password)) != 1 {
		return nil
	}
	return a
}

// connKey keys the per-connection state in a request's context.
type connKey struct{}

// connState is what IIS keeps per TCP connection: the NTLM handshake in progress and the
// account it authenticated.
type connState struct {
	mu        sync.Mutex
	challenge [8]byte
	pending   bool
	authed    *account
}

// authenticate returns the caller's account, or writes a 401 and returns nil.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *account {
	cs, _ := r.Context().Value(connKey{}).(*connState)
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case h == "":
		if cs != nil {
			cs.mu.Lock()
			a := cs.authed
			cs.mu.Unlock()
			if a != nil {
				return a
			}
		}
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err == nil {
			user, pass, _ := strings.Cut(string(raw), ":")
			if a := s.accts.check(user, pass); a != nil {
				return a
			}
		}
	case strings.EqualFold(scheme, "Bearer"):
		if s.opts.BearerToken != "" && subtle.ConstantTimeCompare([]byte(cred), []byte(s.opts.BearerToken)) == 1 {
			return s.accts.lookup(s.opts.ServiceAccount)
		}
	case strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Negotiate"):
		msg, err := base64.StdEncoding.DecodeString(cred)
		if err != nil || cs == nil {
			break
		}
		switch ntlmMessageType(msg) {
		case 1:
			chal, c := ntlmChallenge(s.opts.Domain, s.domain)
			cs.mu.Lock()
			cs.challenge, cs.pending, cs.authed = c, true, nil
			cs.mu.Unlock()
			w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(chal))
			s.unauthorized(w, false)
			return nil
		case 3:
			cs.mu.Lock()
			c, pending := cs.challenge, cs.pending
			cs.pending, cs.authed = false, nil // a failed attempt leaves the connection anonymous
			cs.mu.Unlock()
			a, err := parseNTLMAuth(msg)
			if err != nil || !pending {
				break
			}
			acct := s.accts.lookup(a.user)
			if acct != nil && verifyNTLMv2(a, acct.password, c) {
				cs.mu.Lock()
				cs.authed = acct
				cs.mu.Unlock()
				return acct
			}
		}
	}
	s.unauthorized(w, true)
	return nil
}

// unauthorized answers 401 as IIS does; offer lists the schemes accepted.
func (s *Server) unauthorized(w http.ResponseWriter, offer bool) {
	if offer {
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.Header().Add("WWW-Authenticate", `Basic realm="mail.`+s.domain+`"`)
		if s.opts.BearerToken != "" {
			w.Header().Add("WWW-Authenticate", `Bearer authorization_uri="", error="invalid_token"`)
		}
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("X-FEServer", "EXCH01")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 - Unauthorized: Access is denied due to invalid credentials."))
}

// actAs resolves the mailbox the call acts for: the ExchangeImpersonation header's when
// present (the caller must hold ApplicationImpersonation: else ErrorImpersonateUserDenied;
// an unknown address: ErrorNonExistentMailbox), else the caller's own mailbox.
func (s *Server) actAs(c *Call, env *reqEnvelope) *Fault {
	imp := env.Header.Impersonation
	if imp == nil {
		if c.Caller.hasUser {
			c.Mailbox, c.HasMailbox = c.Caller.user, true
		}
		return nil
	}
	id := imp.SID
	addr := firstNonEmpty(id.PrimarySmtpAddress, id.SmtpAddress, id.PrincipalName, id.SID)
	if addr == "" {
		return faultf("ErrorInvalidRequest", "The impersonation header does not name a user.")
	}
	if !c.Caller.impersonate {
		return faultf("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user.")
	}
	u, ok := s.userByAddress(addr)
	if !ok {
		return faultf("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
	}
	c.Mailbox, c.HasMailbox, c.Impersonated = u, true, true
	return nil
}

// userByAddress finds a tenant user by SMTP address, UPN or id.
func (s *Server) userByAddress(addr string) (tenant.User, bool) {
	addr = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(addr, "SMTP:"), "smtp:"))
	if addr == "" {
		return tenant.User{}, false
	}
	if u, ok := s.ten.User(addr); ok {
		return u, true
	}
	for _, u := range s.ten.Users() {
		if strings.EqualFold(u.Mail, addr) || strings.EqualFold(u.UPN, addr) {
			return u, true
		}
	}
	return tenant.User{}, false
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
