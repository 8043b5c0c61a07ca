package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// Reader reads one account's collections back, read-only (bascule verify): it sends only
// PROPFIND and GET. It logs in as Open does (the account, or the admin acting for it).
type Reader struct {
	w *writer
}

// Object is one resource of a collection: its href (URL path, as the server spells it,
// decoded), its ETag exactly as the server sends it, and its body when read with Get.
type Object struct {
	Href string
	ETag string
	Data []byte
}

// Reader discovers account's homes and returns a reader. Errors are classified as Open's.
func (s *Sink) Reader(ctx context.Context, account string) (*Reader, error) {
	w, err := s.open(ctx, account)
	if err != nil {
		return nil, err
	}
	return &Reader{w: w}, nil
}

// List returns the members of the collection at href (not the collection itself), with their
// ETags, from one Depth 1 PROPFIND. A collection that is not there wraps model.ErrNotFound.
func (r *Reader) List(ctx context.Context, href string) ([]Object, error) {
	what := "dav: PROPFIND " + href
	ex, data, err := r.w.c.do(ctx, "PROPFIND", r.w.url(dirPath(href)), http.Header{"Depth": {"1"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(etagPropfind))
	if err != nil {
		return nil, classify(what, ex, err)
	}
	if ex.status == http.StatusNotFound {
		return nil, model.Permanent(fmt.Errorf("%w: %s", model.ErrNotFound, what))
	}
	if ex.status != http.StatusMultiStatus {
		return nil, statusErr(what, ex)
	}
	var ms multistatus
	if err := xml.Unmarshal(data, &ms); err != nil {
		return nil, model.Retryable(fmt.Errorf("%s: unreadable answer: %w", what, err))
	}
	self := strings.TrimSuffix(normHref(dirPath(href)), "/")
	var out []Object
	for _, resp := range ms.Responses {
		h := normHref(resp.Href)
		if h == "" || strings.TrimSuffix(h, "/") == self || strings.HasSuffix(h, "/") {
			continue // the collection itself, or a sub-collection
		}
		if c := statusCode(resp.Status); c != 0 && c != http.StatusOK {
			continue
		}
		o := Object{Href: h}
		for _, ps := range resp.Propstats {
			if ps.ok() && ps.Prop.ETag != "" {
				o.ETag = strings.TrimSpace(ps.Prop.ETag)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// Get reads one resource: its body and ETag. A resource that is not there wraps
// model.ErrNotFound.
func (r *Reader) Get(ctx context.Context, href string) (Object, error) {
	what := "dav: GET " + href
	ex, data, err := r.w.c.do(ctx, http.MethodGet, r.w.url(href), nil, nil)
	if err != nil {
		return Object{}, classify(what, ex, err)
	}
	if ex.status == http.StatusNotFound || ex.status == http.StatusGone {
		return Object{}, model.Permanent(fmt.Errorf("%w: %s", model.ErrNotFound, what))
	}
	if ex.status != http.StatusOK {
		return Object{}, statusErr(what, ex)
	}
	return Object{Href: normHref(href), ETag: strings.TrimSpace(ex.header.Get("ETag")), Data: data}, nil
}

// NormHref is the form of an href List and Get return: the URL path, percent-decoded, so
// that hrefs from the state store and from the server compare equal.
func NormHref(h string) string { return normHref(h) }

func normHref(h string) string {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil {
		return strings.TrimSpace(h)
	}
	return u.Path
}
