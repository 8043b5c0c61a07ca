// Package exchangecsv reads the permissions that Microsoft Graph does not expose — mailbox
// FullAccess, SendAs, SendOnBehalf and folder permissions — from the CSV files Exchange
// administrators export with PowerShell (the exact commands are in the README):
//
//	mailboxes.csv              Get-Mailbox: Identity, PrimarySmtpAddress, RecipientTypeDetails,
//	                           GrantSendOnBehalfTo joined by ";" (+ any naming column)
//	mailbox-permissions.csv    Get-MailboxPermission: Identity, User, AccessRights, IsInherited, Deny
//	recipient-permissions.csv  Get-RecipientPermission: Identity, Trustee, AccessControlType, AccessRights
//	folder-permissions.csv     Get-MailboxFolderPermission: Identity ("owner:\Folder\Sub"),
//	                           FolderName, User, AccessRights, SharingPermissionFlags
//
// Every file is optional. mailboxes.csv is also the directory: the other cmdlets name
// mailboxes and delegates by display name, name, alias, UPN, address, DN, GUID or
// DOMAIN\account, and each of these is resolved to the primary SMTP address through it.
// It resolves what its columns hold: with Identity and PrimarySmtpAddress alone, a
// delegate shown by a display name that differs from the mailbox's Name, or by a UPN that
// differs from its address, is not found. Exporting DisplayName, Alias,
// UserPrincipalName and EmailAddresses (joined by ";") as well avoids that:
//
//	Get-Mailbox -ResultSize Unlimited | Select-Object Identity,Name,DisplayName,Alias,UserPrincipalName,PrimarySmtpAddress,RecipientTypeDetails,@{n='EmailAddresses';e={$_.EmailAddresses -join ';'}},@{n='GrantSendOnBehalfTo';e={$_.GrantSendOnBehalfTo -join ';'}} | Export-Csv -NoTypeInformation -Encoding UTF8 mailboxes.csv
//
// A delegate written as an address that mailboxes.csv does not list is taken as it is.
//
// The files are read as PowerShell writes them: UTF-8 with or without BOM, UTF-16 with
// BOM (Windows PowerShell's -Encoding Unicode), Windows-1252; CRLF; a "#TYPE" first line;
// quoted fields with commas, quotes and line breaks; columns in any order, extra columns
// ignored; rights lists as "{Reviewer}", "ReadItems, CreateItems", "ReadItems,CreateItems"
// or "ReadItems CreateItems"; booleans "True"/"False". Without -Encoding, Windows
// PowerShell 5.1's Export-Csv writes ASCII, every accented letter a "?": such names no
// longer resolve, and the problem says so.
//
// Nothing is dropped silently: a line that does not parse, an owner or delegate that is
// not a mailbox (a group, an orphaned SID, a name two mailboxes share), a right Bascule
// does not know, each becomes a Problem naming the file and line. Only the entries
// Exchange sets on every mailbox itself (NT AUTHORITY\SELF, NT AUTHORITY\SYSTEM, the
// DOMAIN\Exchange Servers style system groups) are skipped without one.
package exchangecsv

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// The file names Load looks for (matched case-insensitively).
const (
	FileMailboxes            = "mailboxes.csv"
	FileMailboxPermissions   = "mailbox-permissions.csv"
	FileRecipientPermissions = "recipient-permissions.csv"
	FileFolderPermissions    = "folder-permissions.csv"
)

// files in the order they are read: mailboxes.csv first, it resolves the others.
var files = []string{FileMailboxes, FileMailboxPermissions, FileRecipientPermissions, FileFolderPermissions}

// Export is what a directory of exports holds.
type Export struct {
	mailboxes []Mailbox
	grants    []model.Grant
	problems  []string
	res       *resolver
}

// Load reads the export files found in dir; missing ones are fine. It fails only when dir
// or a file in it cannot be read (the error wraps the fs error, e.g. fs.ErrNotExist for a
// missing directory); anything wrong inside a file is a Problem. Files are read whole
// into memory.
func Load(dir string) (*Export, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("exchangecsv: %w", err)
	}
	data := map[string][]byte{}
	for _, want := range files {
		for _, e := range ents {
			if e.IsDir() || !strings.EqualFold(e.Name(), want) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("exchangecsv: %w", err)
			}
			if _, dup := data[want]; dup {
				return nil, fmt.Errorf("exchangecsv: %s: two files named %s (different case): %w", dir, want, fs.ErrExist)
			}
			data[want] = b
		}
	}
	return parse(data), nil
}

// parse builds an Export from file contents keyed by their canonical names.
func parse(data map[string][]byte) *Export {
	e := &Export{res: newResolver()}
	var sendOnBehalf []pending
	if b, ok := data[FileMailboxes]; ok {
		t := parseCSV(FileMailboxes, b)
		sendOnBehalf = e.readMailboxes(t)
		e.problems = append(e.problems, t.messages()...)
	}
	if b, ok := data[FileMailboxPermissions]; ok {
		t := parseCSV(FileMailboxPermissions, b)
		e.readMailboxPermissions(t)
		e.problems = append(e.problems, t.messages()...)
	}
	if b, ok := data[FileRecipientPermissions]; ok {
		t := parseCSV(FileRecipientPermissions, b)
		e.readRecipientPermissions(t)
		e.problems = append(e.problems, t.messages()...)
	}
	if b, ok := data[FileFolderPermissions]; ok {
		t := parseCSV(FileFolderPermissions, b)
		e.readFolderPermissions(t)
		e.problems = append(e.problems, t.messages()...)
	}
	// GrantSendOnBehalfTo names other mailboxes: resolved once the directory is whole,
	// reported after the other files' problems but still with its own line.
	for _, p := range sendOnBehalf {
		p.resolve(e)
	}
	e.grants = dedupe(e.grants)
	return e
}

// Grants returns the grants owner (a primary SMTP address, case-insensitive) gives, in
// file order; nil when there are none.
func (e *Export) Grants(owner string) []model.Grant {
	var out []model.Grant
	for _, g := range e.grants {
		if strings.EqualFold(g.Owner, strings.TrimSpace(owner)) {
			out = append(out, g)
		}
	}
	return out
}

// AllGrants returns every grant of every owner, in file order.
func (e *Export) AllGrants() []model.Grant { return slices.Clone(e.grants) }

// Owners returns the addresses that give at least one grant, in first-seen order.
func (e *Export) Owners() []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range e.grants {
		if k := strings.ToLower(g.Owner); !seen[k] {
			seen[k] = true
			out = append(out, g.Owner)
		}
	}
	return out
}

// Mailboxes returns the lines of mailboxes.csv that had an address.
func (e *Export) Mailboxes() []Mailbox { return slices.Clone(e.mailboxes) }

// Resolve returns the primary SMTP address of a mailbox named in any way mailboxes.csv
// knows (display name, alias, UPN, …), or false.
func (e *Export) Resolve(name string) (string, bool) {
	a, r := e.res.lookup(name)
	return a, r == resolved
}

// Problems returns what could not be read or resolved, each as "<file> line <n>: …",
// in file order. Each is something an administrator must look at (a manual action).
func (e *Export) Problems() []string { return slices.Clone(e.problems) }

func origin(t *table, line int, cmdlet string) string {
	return fmt.Sprintf("%s %s line %d", cmdlet, t.name, line)
}

// dedupe drops grants repeated with the same meaning (an export appended twice, a SendAs
// in both permission files), keeping the first.
func dedupe(gs []model.Grant) []model.Grant {
	seen := map[string]bool{}
	out := gs[:0]
	for _, g := range gs {
		k := strings.Join([]string{strings.ToLower(g.Owner), strings.ToLower(g.Grantee), string(g.Scope),
			strings.ToLower(g.FolderPath), g.FolderID, strings.ToLower(g.Role), strings.Join(g.Rights, ","),
			strings.Join(g.Flags, ","), fmt.Sprint(g.Deny)}, "\x00")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, g)
	}
	return out
}
