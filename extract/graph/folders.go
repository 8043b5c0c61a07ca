package graph

import (
	"context"
	"fmt"
	"strings"
	"time"

	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/model"
)

var wellKnownNames = []string{
	model.WellKnownInbox, model.WellKnownSentItems, model.WellKnownDrafts, model.WellKnownDeletedItems,
	model.WellKnownJunkEmail, model.WellKnownArchive, model.WellKnownOutbox,
}

var folderSelect = []string{"id", "displayName", "parentFolderId", "childFolderCount", "totalItemCount"}

// Folders lists every mail folder of mbx (mailFolders, then childFolders recursively),
// parents before children, with Path made of display names and WellKnown resolved with
// one $batch. A mailbox that does not exist returns an error wrapping model.ErrNotFound;
// 401/403 model.ErrFatal; throttling or 5xx after retries model.ErrRetryable.
func (s *Source) Folders(ctx context.Context, mbx model.Mailbox) ([]model.Folder, error) {
	what := "listing folders of " + mbx.Address
	user := s.client.Users().ByUserId(mbx.ID)
	top := int32(250)
	var out []model.Folder
	paths := map[string][]string{}
	add := func(parent string, fs []models.MailFolderable) {
		for _, f := range fs {
			id := str(f.GetId())
			name := str(f.GetDisplayName())
			path := append(append([]string(nil), paths[parent]...), name)
			paths[id] = path
			var total int64
			if n := f.GetTotalItemCount(); n != nil {
				total = int64(*n)
			}
			out = append(out, model.Folder{ID: id, ParentID: parent, Path: path, TotalItems: total})
		}
	}

	page, err := user.MailFolders().Get(ctx, &users.ItemMailFoldersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMailFoldersRequestBuilderGetQueryParameters{Select: folderSelect, Top: &top}})
	for {
		if err != nil {
			return nil, classify(err, what, permMail)
		}
		add("", page.GetValue())
		next := str(page.GetOdataNextLink())
		if next == "" {
			break
		}
		page, err = user.MailFolders().WithUrl(next).Get(ctx, nil)
	}
	// Breadth first: out grows while we walk it, so parents always come first.
	for i := 0; i < len(out); i++ {
		f := out[i]
		cf := user.MailFolders().ByMailFolderId(f.ID).ChildFolders()
		page, err := cf.Get(ctx, &users.ItemMailFoldersItemChildFoldersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMailFoldersItemChildFoldersRequestBuilderGetQueryParameters{Select: folderSelect, Top: &top}})
		for {
			if err != nil {
				return nil, classify(err, what, permMail)
			}
			add(f.ID, page.GetValue())
			next := str(page.GetOdataNextLink())
			if next == "" {
				break
			}
			page, err = cf.WithUrl(next).Get(ctx, nil)
		}
	}

	wk, err := s.wellKnown(ctx, mbx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].WellKnown = wk[out[i].ID]
	}
	return out, nil
}

// wellKnown resolves the well-known folder names of mbx to ids in one $batch request
// (again for the items the server throttled inside it). A name the mailbox does not have
// (e.g. no archive folder) is left out.
func (s *Source) wellKnown(ctx context.Context, mbx model.Mailbox) (map[string]string, error) {
	what := "resolving well-known folders of " + mbx.Address
	pending := append([]string(nil), wellKnownNames...)
	byID := map[string]string{}
	for attempt := 1; len(pending) > 0; attempt++ {
		batch := msgraphgocore.NewBatchRequest(s.adapter)
		names := map[string]string{}
		for _, name := range pending {
			ri, err := s.client.Users().ByUserId(mbx.ID).MailFolders().ByMailFolderId(name).ToGetRequestInformation(ctx,
				&users.ItemMailFoldersMailFolderItemRequestBuilderGetRequestConfiguration{
					QueryParameters: &users.ItemMailFoldersMailFolderItemRequestBuilderGetQueryParameters{Select: []string{"id"}}})
			if err != nil {
				return nil, model.Permanent(fmt.Errorf("graph: %s: %w", what, err))
			}
			item, err := batch.AddBatchRequestStep(*ri)
			if err != nil {
				return nil, model.Permanent(fmt.Errorf("graph: %s: %w", what, err))
			}
			names[str(item.GetId())] = name
		}
		// The envelope carries no /users/ path: tell the transport whose budget it spends.
		resp, err := batch.Send(withMailbox(ctx, mbx.ID, len(pending)), s.adapter)
		if err != nil {
			return nil, classify(err, what, permMail)
		}
		var again []string
		var wait time.Duration
		for _, r := range resp.GetResponses() {
			name, ok := names[str(r.GetId())]
			if !ok {
				continue
			}
			status := 0
			if r.GetStatus() != nil {
				status = int(*r.GetStatus())
			}
			switch {
			case status >= 200 && status < 300:
				if id := anyString(r.GetBody()["id"]); id != "" {
					byID[id] = name
				}
			case status == 404:
				// The mailbox has no such folder.
			case status == 429 || status == 503 || status == 504:
				again = append(again, name)
				for k, v := range r.GetHeaders() {
					if strings.EqualFold(k, "Retry-After") {
						if d, ok := parseRetryAfter(v, time.Now()); ok && d > wait {
							wait = d
						}
					}
				}
			default:
				code, msg := "", ""
				if e, ok := r.GetBody()["error"].(map[string]any); ok {
					code, msg = anyString(e["code"]), anyString(e["message"])
				}
				return nil, classifyStatus(status, code, msg, 0, what+" ("+name+")", permMail)
			}
		}
		if len(again) > 0 && attempt >= 8 {
			return nil, model.Retryable(fmt.Errorf("graph: %s: still throttled after %d attempts", what, attempt))
		}
		if len(again) > 0 {
			if wait == 0 {
				wait = time.Duration(attempt) * 500 * time.Millisecond
			}
			// The fence makes the next envelope wait in the throttle transport.
			s.th.box(strings.ToLower(mbx.ID)).penalise(true, wait, true)
		}
		pending = again
	}
	return byID, nil
}

// anyString reads a string from a $batch body value, which the SDK decodes as string or
// *string.
func anyString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case *string:
		return str(v)
	}
	return ""
}
