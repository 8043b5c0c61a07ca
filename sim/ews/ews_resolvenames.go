package ews

import (
	"fmt"
	"strings"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// ResolveNames (ambiguous name resolution) for an SMTP address: the tenant's mailboxes
// resolve with MailboxType Mailbox, the groups its Exchange permissions name with
// MailboxType PublicDL; anything else is ErrorNameResolutionNoResults. The emulator
// resolves exact addresses only (no prefix search, no contacts folder).
func resolveNames(c *Call) error {
	var req struct {
		Entry string `xml:"UnresolvedEntry"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	entry := strings.TrimPrefix(strings.TrimSpace(req.Entry), "smtp:")
	var name, addr, kind string
	if u, ok := c.Server().userByAddress(entry); ok {
		name, addr, kind = u.DisplayName, u.Mail, "Mailbox"
	} else if g, ok := tenantGroup(c.Tenant(), entry); ok {
		name, addr, kind = g.DisplayName, g.Address, "PublicDL"
	}
	c.begin()
	if kind == "" {
		c.fail("ErrorNameResolutionNoResults", "No results were found.")
	} else {
		c.ok(fmt.Sprintf(`<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>%s</t:Name><t:EmailAddress>%s</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>%s</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet>`,
			esc(name), esc(addr), kind))
	}
	c.end()
	return nil
}

// tenantGroup finds the group with address addr among the principals of the tenant's
// Exchange permissions.
func tenantGroup(t *tenant.Tenant, addr string) (tenant.Principal, bool) {
	if addr == "" {
		return tenant.Principal{}, false
	}
	for _, u := range t.Users() {
		for _, p := range t.ExchangePermissions(u.ID) {
			if p.Grantee.Kind == tenant.PrincipalGroup && strings.EqualFold(p.Grantee.Address, addr) {
				return p.Grantee, true
			}
		}
	}
	return tenant.Principal{}, false
}

func init() { register("ResolveNames", resolveNames) }
