package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Extended properties Graph v1.0 only exposes by MAPI tag.
const (
	propLastVerb = "Integer 0x1081" // PidTagLastVerbExecuted: 102 reply, 103 reply all, 104 forward
	propSize     = "Integer 0x0E08" // PidTagMessageSize
)

var deltaSelect = []string{"id", "changeKey", "receivedDateTime", "isRead", "isDraft", "flag",
	"internetMessageId", "subject", "parentFolderId"}

// deltaQuery selects the fields Bascule needs and expands the last verb and size.
var deltaQuery = "$select=" + strings.Join(deltaSelect, ",") + "&$expand=" +
	strings.ReplaceAll(url.QueryEscape(fmt.Sprintf("singleValueExtendedProperties($filter=id eq '%s' or id eq '%s')", propLastVerb, propSize)), "+", "%20")

// Changes streams the message delta of one folder
// (/users/{id}/mailFolders/{fid}/messages/delta) from cursor: "" starts an initial sync,
// otherwise cursor is a stored @odata.nextLink or @odata.deltaLink. Each page yields its
// Upserts and Deletes (@removed) and then a Checkpoint (Cursor = nextLink, or on the last
// page the deltaLink with Final set). An expired cursor (HTTP 410) yields an error
// wrapping model.ErrCursorExpired; a missing folder or mailbox model.ErrNotFound; 401/403
// model.ErrFatal; throttling or 5xx after retries model.ErrRetryable.
func (s *Source) Changes(ctx context.Context, mbx model.Mailbox, folder model.Folder, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) {
		what := fmt.Sprintf("delta of folder %q of %s", strings.Join(folder.Path, "/"), mbx.Address)
		b := s.client.Users().ByUserId(mbx.ID).MailFolders().ByMailFolderId(folder.ID).Messages().Delta()
		headers := abstractions.NewRequestHeaders()
		headers.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(s.cfg.PageSize))
		headers.Add("Prefer", `IdType="ImmutableId"`)
		link := cursor
		for {
			var page users.ItemMailFoldersItemMessagesDeltaGetResponseable
			var err error
			if link == "" {
				// The documented form .../messages/delta (the SDK's builder writes delta(),
				// which Graph also accepts but some Graph-compatible endpoints do not).
				link = s.rawURL("users", mbx.ID, "mailFolders", folder.ID, "messages", "delta") + "?" + deltaQuery
			}
			// The options of the first request are encoded in the links that follow.
			page, err = b.WithUrl(link).GetAsDeltaGetResponse(ctx,
				&users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{Headers: headers})
			if err != nil {
				code := errorCode(err)
				err = classify(err, what, permMail)
				if strings.EqualFold(code, "SyncStateNotFound") || strings.EqualFold(code, "SyncStateInvalid") {
					if !errors.Is(err, model.ErrCursorExpired) {
						err = fmt.Errorf("%w: %w", err, model.ErrCursorExpired)
					}
				}
				yield(extract.Change{}, err)
				return
			}
			for _, m := range page.GetValue() {
				if m == nil || m.GetId() == nil {
					continue
				}
				if _, removed := m.GetAdditionalData()["@removed"]; removed {
					if !yield(extract.Change{Kind: extract.Delete, Message: model.Message{ID: *m.GetId(), FolderID: folder.ID}}, nil) {
						return
					}
					continue
				}
				if !yield(extract.Change{Kind: extract.Upsert, Message: toMessage(m, folder.ID)}, nil) {
					return
				}
			}
			if next := str(page.GetOdataNextLink()); next != "" {
				if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: next}, nil) {
					return
				}
				link = next
				continue
			}
			delta := str(page.GetOdataDeltaLink())
			if delta == "" {
				yield(extract.Change{}, model.Retryable(fmt.Errorf("graph: %s: a page with neither nextLink nor deltaLink", what)))
				return
			}
			yield(extract.Change{Kind: extract.Checkpoint, Cursor: delta, Final: true}, nil)
			return
		}
	}
}

func toMessage(m models.Messageable, folderID string) model.Message {
	out := model.Message{
		ID:        str(m.GetId()),
		ChangeKey: str(m.GetChangeKey()),
		FolderID:  folderID,
		MessageID: str(m.GetInternetMessageId()),
		Subject:   str(m.GetSubject()),
	}
	if t := m.GetReceivedDateTime(); t != nil {
		out.Received = *t
	}
	if v := m.GetIsRead(); v != nil {
		out.Flags.Seen = *v
	}
	if v := m.GetIsDraft(); v != nil {
		out.Flags.Draft = *v
	}
	if f := m.GetFlag(); f != nil && f.GetFlagStatus() != nil {
		out.Flags.Flagged = *f.GetFlagStatus() == models.FLAGGED_FOLLOWUPFLAGSTATUS
	}
	for _, p := range m.GetSingleValueExtendedProperties() {
		id, v := str(p.GetId()), strings.TrimSpace(str(p.GetValue()))
		switch {
		case strings.EqualFold(id, propLastVerb):
			switch v {
			case "102", "103", "104":
				out.Flags.Answered = true
			}
		case strings.EqualFold(id, propSize):
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				out.Size = n
			}
		}
	}
	return out
}

// Open streams the RFC 5322 source of msg (GET /users/{id}/messages/{id}/$value) through
// the same authenticated, throttled transport as every other call. The body is not
// buffered: msgraph-sdk-go's Content().Get reads the whole body into a []byte, which for
// 30 MB attachments times the concurrency would make memory grow with message size.
// The mailbox's concurrency slot stays taken until the caller closes the reader.
// A missing message returns an error wrapping model.ErrNotFound; 401/403 model.ErrFatal;
// throttling or 5xx after retries model.ErrRetryable. A body cut short (shorter than its
// Content-Length, or a dropped connection) is a read error wrapping model.ErrRetryable.
func (s *Source) Open(ctx context.Context, mbx model.Mailbox, msg model.Message) (io.ReadCloser, error) {
	what := fmt.Sprintf("downloading message %s of %s", msg.ID, mbx.Address)
	req, err := s.rawGet(ctx, s.rawURL("users", mbx.ID, "messages", msg.ID, "$value"))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	resp, err := s.raw.Do(req)
	if err != nil {
		return nil, classify(err, what, permMail)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		code, message := parseErrorBody(body)
		ra, _ := parseRetryAfter(resp.Header.Get("Retry-After"), timeNow())
		return nil, classifyStatus(resp.StatusCode, code, message, ra, what, permMail)
	}
	return resp.Body, nil
}
