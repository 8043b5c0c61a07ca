// Package exchangecsv writes, from a generated tenant, the CSV files Exchange
// administrators produce with Export-Csv, so that tests can read "real" exports of the
// permissions Microsoft Graph does not expose (mailbox FullAccess, SendAs, SendOnBehalf and
// folder permissions). The files are what these commands, run in Exchange Online
// PowerShell after Connect-ExchangeOnline, write:
//
//	Get-Mailbox -ResultSize Unlimited | Get-MailboxPermission | Where-Object { -not $_.IsInherited -and $_.User -notlike 'NT AUTHORITY\*' } | Export-Csv -NoTypeInformation -Encoding UTF8 mailbox-permissions.csv
//
//	Get-Mailbox -ResultSize Unlimited | Get-RecipientPermission | Where-Object { $_.Trustee -notlike 'NT AUTHORITY\*' } | Export-Csv -NoTypeInformation -Encoding UTF8 recipient-permissions.csv
//
//	Get-Mailbox -ResultSize Unlimited | Select-Object Identity,PrimarySmtpAddress,RecipientTypeDetails,@{n='GrantSendOnBehalfTo';e={$_.GrantSendOnBehalfTo -join ';'}} | Export-Csv -NoTypeInformation -Encoding UTF8 mailboxes.csv
//
//	Get-Mailbox -ResultSize Unlimited | ForEach-Object { $m = $_; Get-MailboxFolderStatistics $m.Identity | ForEach-Object { Get-MailboxFolderPermission -Identity ($m.PrimarySmtpAddress + ':' + ($_.FolderPath -replace '/','\')) } } | Select-Object Identity,FolderName,User,@{n='AccessRights';e={$_.AccessRights -join ', '}},SharingPermissionFlags | Export-Csv -NoTypeInformation -Encoding UTF8 folder-permissions.csv
//
// The last command joins AccessRights itself: Export-Csv writes a multi-valued property as
// its collection's type name ("System.Collections.ArrayList"), which loses the rights.
//
// What the files look like (and what a reader must cope with):
//   - Every field is double-quoted, quotes doubled inside; booleans are "True"/"False";
//     lines end with CRLF (LF when PowerShell 7 runs on Linux or macOS).
//   - PowerShell 7 writes "-Encoding UTF8" without a BOM; Windows PowerShell 5.1 with one,
//     and without -NoTypeInformation it writes a first line "#TYPE <type name>"
//     (Options.WindowsPowerShell, Options.TypeInformation).
//   - mailbox-permissions.csv columns, in the order Exchange Online gives them:
//     AccessRights, Deny, InheritanceType, User, UserSid, Identity, IsInherited, IsValid,
//     ObjectState. Identity is the mailbox's Name (a display name, or an alias such as
//     "accueil"); User the delegate's UPN, a group's name, or the bare SID of a deleted
//     account ("S-1-5-21-…").
//   - recipient-permissions.csv: Identity, Trustee, AccessControlType, AccessRights,
//     IsInherited, InheritanceType, IsValid, ObjectState; Trustee as User above.
//   - mailboxes.csv: Identity (the Name, as above), PrimarySmtpAddress,
//     RecipientTypeDetails (UserMailbox, SharedMailbox), GrantSendOnBehalfTo (Names joined
//     by ";"). It is the directory that resolves the Names the other files use.
//   - folder-permissions.csv: Identity ("<primary SMTP>:\<path>", "\"-separated; a "/" in
//     a folder name appears as U+F8FF, which is how FolderPath writes it), FolderName (the
//     real display name), User (a display name, "Default", "Anonymous", a group's name or
//     an external address), AccessRights ("Reviewer", or a custom list "ReadItems,
//     CreateItems, …"), SharingPermissionFlags ("Delegate, CanViewPrivateItems" on calendar
//     delegates, else empty). Every folder has a Default and an Anonymous row, usually
//     "None"; calendar folders restate the Graph calendarPermissions in Exchange roles.
//
// tenant.ExchangeGrants is exactly what these files state, tenant.Grants what they add to
// Graph.
package exchangecsv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// The files Write produces.
const (
	FileMailboxes            = "mailboxes.csv"
	FileMailboxPermissions   = "mailbox-permissions.csv"
	FileRecipientPermissions = "recipient-permissions.csv"
	FileFolderPermissions    = "folder-permissions.csv"
)

// Options choose which PowerShell wrote the files.
type Options struct {
	// WindowsPowerShell: Windows PowerShell 5.1, whose "-Encoding UTF8" writes a BOM.
	WindowsPowerShell bool
	// TypeInformation: the command was run without -NoTypeInformation, so Windows
	// PowerShell 5.1 wrote a "#TYPE" first line (PowerShell 7 never does by default).
	TypeInformation bool
	// LF: PowerShell 7 on Linux or macOS (lines end with LF, not CRLF).
	LF bool
}

// Write writes the four files into dir (which must exist) as Exchange Online PowerShell
// under PowerShell 7 on Windows writes them: UTF-8 without BOM, CRLF, no "#TYPE" line.
func Write(dir string, t *tenant.Tenant) error { return WriteOptions(dir, t, Options{}) }

// WriteOptions is Write with the PowerShell variant chosen by o.
func WriteOptions(dir string, t *tenant.Tenant, o Options) error {
	for _, f := range []struct {
		name, typ string
		rows      func(*tenant.Tenant) [][]string
	}{
		{FileMailboxes, "Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox", mailboxRows},
		{FileMailboxPermissions, "Deserialized.Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject", mailboxPermRows},
		{FileRecipientPermissions, "Deserialized.Microsoft.Exchange.Management.RecipientTasks.RecipientPermissionPresentationObject", recipientPermRows},
		{FileFolderPermissions, "Selected.Deserialized.Microsoft.Exchange.Management.StoreTasks.MailboxFolderPermission", folderPermRows},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), render(o, f.typ, f.rows(t)), 0o644); err != nil {
			return fmt.Errorf("exchangecsv: %w", err)
		}
	}
	return nil
}

// render writes rows (the first is the header) as Export-Csv does.
func render(o Options, typ string, rows [][]string) []byte {
	var b bytes.Buffer
	eol := "\r\n"
	if o.LF {
		eol = "\n"
	}
	if o.WindowsPowerShell {
		b.WriteString("\ufeff")
		if o.TypeInformation {
			b.WriteString("#TYPE " + typ + eol)
		}
	}
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		b.WriteString(eol)
	}
	return b.Bytes()
}

func boolStr(v bool) string {
	if v {
		return "True"
	}
	return "False"
}

// sid makes a stable account SID for a principal of the tenant's domain.
func sid(t *tenant.Tenant, who string) string {
	d := sha256.Sum256([]byte("domain/" + t.TenantID()))
	h := sha256.Sum256([]byte("sid/" + t.TenantID() + "/" + strings.ToLower(who)))
	n := func(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
	return fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", n(d[0:]), n(d[4:]), n(d[8:]), 1100+n(h[:])%900000)
}

func recipientType(u tenant.User) string {
	if u.Purpose == "shared" {
		return "SharedMailbox"
	}
	return "UserMailbox"
}

func mailboxRows(t *tenant.Tenant) [][]string {
	rows := [][]string{{"Identity", "PrimarySmtpAddress", "RecipientTypeDetails", "GrantSendOnBehalfTo"}}
	for _, u := range t.Users() {
		var sob []string
		for _, p := range t.ExchangePermissions(u.ID) {
			if p.Kind == tenant.PermSendOnBehalf {
				sob = append(sob, p.Grantee.Name)
			}
		}
		rows = append(rows, []string{t.ExchangeName(u.ID), u.Mail, recipientType(u), strings.Join(sob, ";")})
	}
	return rows
}

// who is how Get-MailboxPermission and Get-RecipientPermission name a grantee.
func who(p tenant.Principal) string {
	switch p.Kind {
	case tenant.PrincipalUser, tenant.PrincipalExternal:
		return p.Address // the UPN, which is the address in this tenant
	case tenant.PrincipalSID:
		return p.SID
	}
	return p.Name
}

func whoSID(t *tenant.Tenant, p tenant.Principal) string {
	if p.Kind == tenant.PrincipalSID {
		return p.SID
	}
	return sid(t, p.Address)
}

func mailboxPermRows(t *tenant.Tenant) [][]string {
	rows := [][]string{{"AccessRights", "Deny", "InheritanceType", "User", "UserSid", "Identity", "IsInherited", "IsValid", "ObjectState"}}
	for _, u := range t.Users() {
		for _, p := range t.ExchangePermissions(u.ID) {
			if p.Kind != tenant.PermFullAccess {
				continue
			}
			rows = append(rows, []string{"FullAccess", boolStr(p.Deny), "All", who(p.Grantee), whoSID(t, p.Grantee),
				t.ExchangeName(u.ID), "False", "True", "Unchanged"})
		}
	}
	return rows
}

func recipientPermRows(t *tenant.Tenant) [][]string {
	rows := [][]string{{"Identity", "Trustee", "AccessControlType", "AccessRights", "IsInherited", "InheritanceType", "IsValid", "ObjectState"}}
	for _, u := range t.Users() {
		for _, p := range t.ExchangePermissions(u.ID) {
			if p.Kind != tenant.PermSendAs {
				continue
			}
			ctl := "Allow"
			if p.Deny {
				ctl = "Deny"
			}
			rows = append(rows, []string{t.ExchangeName(u.ID), who(p.Grantee), ctl, "SendAs", "False", "None", "True", "Unchanged"})
		}
	}
	return rows
}

// folderPathSep is what FolderPath writes for a "/" inside a folder name.
const folderPathSep = "\uf8ff"

func folderPermRows(t *tenant.Tenant) [][]string {
	rows := [][]string{{"Identity", "FolderName", "User", "AccessRights", "SharingPermissionFlags"}}
	for _, u := range t.Users() {
		for _, p := range t.ExchangePermissions(u.ID) {
			if p.Kind != tenant.PermFolder || len(p.FolderPath) == 0 {
				continue
			}
			segs := make([]string, len(p.FolderPath))
			for i, s := range p.FolderPath {
				segs[i] = strings.ReplaceAll(s, "/", folderPathSep)
			}
			user := p.Grantee.DisplayName
			if p.Grantee.Kind == tenant.PrincipalSID {
				user = "NT:" + p.Grantee.SID
			}
			rights := p.Role
			if len(p.Rights) > 0 {
				rights = strings.Join(p.Rights, ", ")
			}
			rows = append(rows, []string{u.Mail + `:\` + strings.Join(segs, `\`), p.FolderPath[len(p.FolderPath)-1], user, rights,
				strings.Join(p.SharingFlags, ", ")})
		}
	}
	return rows
}
