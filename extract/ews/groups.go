package ews

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bascule-migrate/bascule/model"
)

// A permission's UserId names a group exactly as it names a user (SID, primary SMTP
// address, display name): only the directory knows which it is. markGroups asks it, once
// per distinct address and source, with ResolveNames, whose answer carries the
// MailboxType (Mailbox, PublicDL, PrivateDL, GroupMailbox, Contact, PublicFolder…).

type gwResolveNames struct {
	XMLName     xml.Name `xml:"m:ResolveNames"`
	FullContact bool     `xml:"ReturnFullContactData,attr"`
	Scope       string   `xml:"SearchScope,attr"`
	Entry       string   `xml:"m:UnresolvedEntry"`
}

type gwResolveNamesResp struct {
	Msgs []struct {
		ResponseMessage
		Resolutions []struct {
			Address string `xml:"Mailbox>EmailAddress"`
			Type    string `xml:"Mailbox>MailboxType"`
		} `xml:"ResolutionSet>Resolution"`
	} `xml:"ResponseMessages>ResolveNamesResponseMessage"`
}

// groupTypes are the MailboxType values of a group.
var groupTypes = map[string]bool{"PublicDL": true, "PrivateDL": true, "GroupMailbox": true}

type groupCache struct {
	mu sync.Mutex
	m  map[string]bool
}

func (g *groupCache) get(addr string) (isGroup, known bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	isGroup, known = g.m[addr]
	return
}

func (g *groupCache) put(addr string, isGroup bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]bool{}
	}
	g.m[addr] = isGroup
}

// markGroups sets Group on the grants whose grantee address resolves to a group. An
// address the directory does not know (an external user) is no group.
func (s *Source) markGroups(ctx context.Context, mbx model.Mailbox, grants []model.Grant) error {
	for i := range grants {
		addr := strings.ToLower(grants[i].Grantee)
		if !strings.Contains(addr, "@") || strings.EqualFold(addr, mbx.Address) {
			continue
		}
		isGroup, known := s.groups.get(addr)
		if !known {
			var err error
			if isGroup, err = s.resolveGroup(ctx, mbx, addr); err != nil {
				return fmt.Errorf("ews: resolving %s (a permission of %s): %w", addr, mbx.Address, err)
			}
			s.groups.put(addr, isGroup)
		}
		grants[i].Group = isGroup
	}
	return nil
}

func (s *Source) resolveGroup(ctx context.Context, mbx model.Mailbox, addr string) (bool, error) {
	var resp gwResolveNamesResp
	err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: gwResolveNames{Scope: "ActiveDirectory", Entry: "smtp:" + addr}}, &resp)
	var e *Error
	if errors.As(err, &e) && e.Code == "ErrorNameResolutionNoResults" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, m := range resp.Msgs {
		for _, r := range m.Resolutions {
			if strings.EqualFold(r.Address, addr) {
				return groupTypes[r.Type], nil
			}
		}
	}
	return false, nil
}
