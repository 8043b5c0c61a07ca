// Package memimap runs go-imap's in-memory IMAP server on loopback: the embedded target of
// `bascule demo`, so that the whole pipeline can be tried with nothing installed. It is a
// demonstration target, not a place to keep mail: everything is lost when it stops.
package memimap

import (
	"errors"
	"net"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Server is a running in-memory IMAP server.
type Server struct {
	ln  net.Listener
	srv *imapserver.Server
}

// Start listens on 127.0.0.1 (a free port) with the given users (login → password), each
// with INBOX and the usual special-use folders. Plaintext: loopback only.
func Start(users map[string]string) (*Server, error) {
	mem := imapmemserver.New()
	for login, pw := range users {
		u := imapmemserver.NewUser(login, pw)
		if err := u.Create("INBOX", nil); err != nil {
			return nil, err
		}
		for name, attr := range map[string]imap.MailboxAttr{
			"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash,
			"Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive,
		} {
			if err := u.Create(name, &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{attr}}); err != nil {
				return nil, err
			}
		}
		mem.AddUser(u)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapSpecialUse: {}, imap.CapCreateSpecialUse: {},
			imap.CapLiteralPlus: {}, imap.CapNamespace: {}, imap.CapMove: {}, imap.CapChildren: {},
			imap.CapListExtended: {}, imap.CapESearch: {},
		},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, srv: srv}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			_ = err // the listener closed: nothing to report to anyone
		}
	}()
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }
