package graph

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/sim/internal/faultio"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

const jsonType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// route is a parsed Graph path.
type route struct {
	class  string
	user   string
	folder string // id or well-known name, "" for mailbox-wide
	msg    string
	gw     bool   // a calendar, contacts or To Do route (groupware.go)
	coll   string // groupware: calendar, contact folder or task list id
	item   string // groupware: event, contact or task id
	sub    string // groupware: attachment or checklist item id
}

func parseRoute(escapedPath string) route {
	p := strings.TrimPrefix(escapedPath, "/v1.0")
	p = strings.Trim(p, "/")
	raw := strings.Split(p, "/")
	seg := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil {
			s = r
		}
		seg[i] = strings.TrimSuffix(s, "()") // kiota calls functions as "delta()"
	}
	unknown := route{class: "unknown"}
	if len(seg) == 1 && seg[0] == "$batch" {
		return route{class: "batch"}
	}
	if len(seg) == 2 && seg[0] == "reports" {
		return route{class: "reports"} // inventory.go
	}
	if len(seg) == 0 || seg[0] != "users" {
		return unknown
	}
	if len(seg) == 1 {
		return route{class: "users"}
	}
	r := route{user: seg[1]}
	rest := seg[2:]
	if len(rest) == 0 {
		r.class = "user"
		return r
	}
	switch rest[0] {
	case "mailboxSettings":
		switch {
		case len(rest) == 1:
			r.class = "mailboxSettings"
		case len(rest) == 2 && rest[1] == "automaticRepliesSetting":
			r.class = "mailboxSettings.automaticRepliesSetting"
		default:
			return unknown
		}
		return r
	case "messages":
		return messageRoute(r, rest)
	case "calendars", "calendar", "events", "calendarView", "contactFolders", "contacts", "todo":
		return gwRoute(r, rest)
	case "mailFolders":
	default:
		return unknown
	}
	if len(rest) == 1 {
		r.class = "mailFolders"
		return r
	}
	if rest[1] == "delta" && len(rest) == 2 {
		r.class = "mailFolders.delta"
		return r
	}
	r.folder = rest[1]
	rest = rest[2:]
	for len(rest) >= 2 && rest[0] == "childFolders" {
		r.folder = rest[1]
		rest = rest[2:]
	}
	switch {
	case len(rest) == 0:
		r.class = "mailFolder"
	case len(rest) == 1 && rest[0] == "childFolders":
		r.class = "childFolders"
	case rest[0] == "messages":
		return messageRoute(r, rest)
	case rest[0] == "messageRules" && len(rest) == 1:
		r.class = "messageRules"
	case rest[0] == "messageRules" && len(rest) == 2:
		r.class, r.item = "messageRule", rest[1]
	default:
		return unknown
	}
	return r
}

func messageRoute(r route, rest []string) route {
	switch {
	case len(rest) == 1:
		r.class = "messages"
	case len(rest) == 2 && rest[1] == "delta" && r.folder != "":
		r.class = "messages.delta"
	case len(rest) == 2:
		r.class, r.msg = "message", rest[1]
	case len(rest) == 3 && rest[2] == "$value":
		r.class, r.msg = "message.value", rest[1]
	default:
		r.class = "unknown"
	}
	return r
}

// ServeHTTP serves the Entra endpoints and Graph v1.0.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Encoding") == "gzip" && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid gzip request body.")
			return
		}
		r.Body = io.NopCloser(zr)
		r.Header.Del("Content-Encoding")
	}
	if strings.HasPrefix(r.URL.Path, "/reports-download/") {
		s.serveReportDownload(w, r)
		return
	}
	if r.URL.Path == "/v1.0" || strings.HasPrefix(r.URL.Path, "/v1.0/") {
		s.serveGraph(w, r, false)
		return
	}
	s.serveAuth(w, r)
}

// serveGraph serves one Graph request; inner is true for a request inside a $batch (no
// faults, no second authentication).
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, inner bool) {
	rt := parseRoute(r.URL.EscapedPath())
	s.count(rt.class)
	var slow time.Duration
	if !inner {
		var done bool
		w, done, slow = s.injectFault(w, r, rt.class)
		if done {
			return
		}
		if tw, ok := w.(*faultio.TruncWriter); ok {
			defer tw.Finish()
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
			s.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
			return
		}
	}
	if rt.class == "batch" {
		if r.Method != http.MethodPost {
			s.graphError(w, r, http.StatusMethodNotAllowed, "BadRequest", "Unsupported HTTP method for $batch.")
			return
		}
		s.serveBatch(w, r)
		return
	}
	if rt.class == "reports" {
		s.serveReport(w, r)
		return
	}
	if rt.class == "unknown" {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+lastSegment(r.URL.Path)+"'.")
		return
	}
	if r.Method != http.MethodGet {
		s.graphError(w, r, http.StatusMethodNotAllowed, "ErrorInvalidRequest", "The OData request is not supported.")
		return
	}
	var u tenant.User
	if rt.user != "" {
		var ok bool
		u, ok = s.ten.User(rt.user)
		if !ok {
			s.graphError(w, r, http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+rt.user+"' is invalid.")
			return
		}
		s.countMailbox(u.ID)
		release, ra, msg := s.lim.acquire(s.clientID + "|" + u.ID)
		if release == nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
			s.graphError(w, r, http.StatusTooManyRequests, "TooManyRequests", msg)
			return
		}
		defer release()
		w = &releaseWriter{ResponseWriter: w, release: release}
	}
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	q := query(r)
	if s.serveInventory(w, r, q, u, rt) {
		return
	}
	if rt.gw {
		s.serveGroupware(w, r, q, u, rt)
		return
	}
	switch rt.class {
	case "users":
		s.listUsers(w, r, q)
	case "user":
		s.writeJSON(w, r, http.StatusOK, s.userJSON(u, q, true))
	case "mailboxSettings", "mailboxSettings.automaticRepliesSetting":
		s.mailboxSettings(w, r, q, u, rt.class != "mailboxSettings")
	case "mailFolders":
		s.listFolders(w, r, q, u, s.ten.RootFolderID(u.ID))
	case "mailFolders.delta":
		s.folderDelta(w, r, q, u)
	default:
		var f tenant.Folder
		if rt.folder != "" {
			var err error
			if f, err = s.ten.Folder(u.ID, rt.folder); err != nil {
				s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
				return
			}
		}
		switch rt.class {
		case "mailFolder":
			s.writeJSON(w, r, http.StatusOK, s.selectFields(s.folderJSON(u, f), q))
		case "childFolders":
			s.listFolders(w, r, q, u, f.ID)
		case "messageRules", "messageRule":
			s.messageRules(w, r, u, f, rt.item)
		case "messages":
			s.listMessages(w, r, q, u, f.ID)
		case "messages.delta":
			s.messageDelta(w, r, q, u, f)
		case "message", "message.value":
			m, err := s.ten.Message(u.ID, rt.msg)
			if err != nil || (f.ID != "" && m.FolderID != f.ID) {
				s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
				return
			}
			if rt.class == "message" {
				s.writeJSON(w, r, http.StatusOK, s.messageJSON(u, m, q))
				return
			}
			s.mimeValue(w, r, u, m)
		}
	}
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// releaseWriter gives the mailbox's concurrency slot back just before the last bytes of the
// response leave, so a client that sends its next request as soon as it has the answer is
// not counted as over the limit.
type releaseWriter struct {
	http.ResponseWriter
	release func()
	length  int64
	written int64
}

func (rw *releaseWriter) WriteHeader(code int) {
	rw.length, _ = strconv.ParseInt(rw.Header().Get("Content-Length"), 10, 64)
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *releaseWriter) Write(p []byte) (int, error) {
	if rw.length > 0 && rw.written+int64(len(p)) >= rw.length {
		rw.release()
	}
	rw.written += int64(len(p))
	return rw.ResponseWriter.Write(p)
}

func (rw *releaseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// params are query options with "$" names normalised (both "%24select" and "select").
type params map[string]string

func query(r *http.Request) params {
	out := params{}
	vals, _ := url.ParseQuery(r.URL.RawQuery)
	for k, v := range vals {
		if len(v) == 0 {
			continue
		}
		out[strings.ToLower(strings.TrimPrefix(k, "$"))] = v[0]
	}
	return out
}

func prefer(r *http.Request) map[string]string {
	out := map[string]string{}
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return out
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func (s *Server) stamp(w http.ResponseWriter, r *http.Request) string {
	id := requestID()
	w.Header().Set("request-id", id)
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = id
	}
	w.Header().Set("client-request-id", crid)
	return id
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	s.stamp(w, r)
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// graphError writes a Graph error body {"error":{"code","message","innerError":{…}}}.
func (s *Server) graphError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	id := requestID()
	inner := map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": id}
	if status == http.StatusTooManyRequests {
		inner["code"] = "429"
		inner["status"] = "429"
	}
	if c := r.Header.Get("client-request-id"); c != "" {
		inner["client-request-id"] = c
	}
	s.writeJSON(w, r, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "innerError": inner}})
}

func (s *Server) link(r *http.Request, q url.Values) string {
	return s.url + r.URL.Path + "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}

func (s *Server) context(what string) string { return s.url + "/v1.0/$metadata#" + what }

func pageSize(q params, def, maxSize int) int {
	n, err := strconv.Atoi(q["top"])
	if err != nil || n <= 0 {
		return def
	}
	return min(n, maxSize)
}

// selectFields keeps the $select'ed properties (and id, @odata.*).
func (s *Server) selectFields(obj map[string]any, q params) map[string]any {
	sel := q["select"]
	if sel == "" {
		return obj
	}
	keep := map[string]bool{}
	for _, f := range strings.Split(sel, ",") {
		keep[strings.ToLower(strings.TrimSpace(f))] = true
	}
	out := map[string]any{}
	for k, v := range obj {
		if k == "id" || strings.HasPrefix(k, "@odata.") || keep[strings.ToLower(k)] || k == "singleValueExtendedProperties" {
			out[k] = v
		}
	}
	return out
}

func (s *Server) userJSON(u tenant.User, q params, withContext bool) map[string]any {
	given, sur, _ := strings.Cut(u.DisplayName, " ")
	obj := map[string]any{
		"id": u.ID, "userPrincipalName": u.UPN, "mail": u.Mail, "displayName": u.DisplayName,
		"givenName": given, "surname": sur, "preferredLanguage": u.Language, "businessPhones": []string{},
		"jobTitle": nil, "mobilePhone": nil, "officeLocation": nil,
	}
	if u.Purpose == "shared" {
		obj["givenName"], obj["surname"] = nil, nil
	}
	if withContext {
		obj["@odata.context"] = s.context("users/$entity")
	}
	return s.selectFields(obj, q)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, q params) {
	users := s.ten.Users()
	top := pageSize(q, 100, 999)
	off := 0
	if tok := q["skiptoken"]; tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "RFNwdAIAAQAAAB"))
		if err != nil || n < 0 {
			s.graphError(w, r, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		off = n
	}
	var vals []any
	for i := off; i < len(users) && i < off+top; i++ {
		vals = append(vals, s.userJSON(users[i], q, false))
	}
	resp := map[string]any{"@odata.context": s.context("users"), "value": nonNil(vals)}
	if off+top < len(users) {
		v, _ := url.ParseQuery(r.URL.RawQuery)
		v.Del("$skiptoken")
		v.Del("%24skiptoken")
		v.Set("$skiptoken", "RFNwdAIAAQAAAB"+strconv.Itoa(off+top))
		resp["@odata.nextLink"] = s.link(r, v)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func (s *Server) folderJSON(u tenant.User, f tenant.Folder) map[string]any {
	total, unread, children := s.ten.FolderCounts(u.ID, f.ID)
	obj := map[string]any{
		"id": f.ID, "displayName": f.DisplayName, "parentFolderId": f.ParentID,
		"childFolderCount": children, "unreadItemCount": unread, "totalItemCount": total,
		"sizeInBytes": 0, "isHidden": false,
	}
	if f.WellKnown == "msgfolderroot" {
		obj["parentFolderId"] = f.ID[:len(f.ID)-4] + "AAAB"
	}
	return obj
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request, q params, u tenant.User, parent string) {
	var list []tenant.Folder
	for _, f := range s.ten.Folders(u.ID) {
		if f.ParentID == parent {
			list = append(list, f)
		}
	}
	top := pageSize(q, 10, 1000)
	off, _ := strconv.Atoi(q["skip"])
	off = max(off, 0)
	var vals []any
	for i := off; i < len(list) && i < off+top; i++ {
		vals = append(vals, s.selectFields(s.folderExtended(s.folderJSON(u, list[i]), u, list[i], q), q))
	}
	resp := map[string]any{"@odata.context": s.context("users('" + u.ID + "')/mailFolders"), "value": nonNil(vals)}
	if off+top < len(list) {
		v, _ := url.ParseQuery(r.URL.RawQuery)
		v.Del("%24skip")
		v.Set("$skip", strconv.Itoa(off+top))
		resp["@odata.nextLink"] = s.link(r, v)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

func addrJSON(a tenant.Address) map[string]any {
	return map[string]any{"emailAddress": map[string]any{"name": a.Name, "address": a.Address}}
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// messageJSON renders a message as Graph does, honouring $select and the
// singleValueExtendedProperties $expand (PidTagLastVerbExecuted 0x1081, PidTagMessageSize
// 0x0E08).
func (s *Server) messageJSON(u tenant.User, m tenant.Message, q params) map[string]any {
	var to []any
	for _, a := range m.To {
		to = append(to, addrJSON(a))
	}
	obj := map[string]any{
		"@odata.etag":                `W/"` + m.ChangeKey + `"`,
		"id":                         m.ID,
		"createdDateTime":            isoTime(m.Received),
		"lastModifiedDateTime":       isoTime(m.Modified),
		"changeKey":                  m.ChangeKey,
		"categories":                 []string{},
		"receivedDateTime":           isoTime(m.Received),
		"sentDateTime":               isoTime(m.Sent),
		"hasAttachments":             m.HasAttachments,
		"internetMessageId":          nilIfEmpty(m.InternetMessageID),
		"subject":                    m.Subject,
		"bodyPreview":                m.Preview,
		"importance":                 "normal",
		"parentFolderId":             m.FolderID,
		"conversationId":             "AAQkA" + m.ID[5:min(len(m.ID), 40)],
		"isDeliveryReceiptRequested": false,
		"isReadReceiptRequested":     false,
		"isRead":                     m.IsRead,
		"isDraft":                    m.IsDraft,
		"inferenceClassification":    "focused",
		"webLink":                    "https://outlook.office365.com/owa/?ItemID=" + url.QueryEscape(m.ID) + "&exvsurl=1&viewmodel=ReadMessageItem",
		"body":                       map[string]any{"contentType": "text", "content": m.Preview},
		"sender":                     addrJSON(m.From),
		"from":                       addrJSON(m.From),
		"toRecipients":               nonNil(to),
		"ccRecipients":               []any{},
		"bccRecipients":              []any{},
		"replyTo":                    []any{},
		"flag":                       map[string]any{"flagStatus": m.Flag},
	}
	if props := expandedProps(q["expand"]); props != nil {
		var vals []any
		for _, p := range props {
			switch p {
			case "0x1081":
				if m.LastVerb != 0 {
					vals = append(vals, map[string]any{"id": "Integer 0x1081", "value": strconv.Itoa(m.LastVerb)})
				}
			case "0x0e08":
				vals = append(vals, map[string]any{"id": "Integer 0xe08", "value": strconv.FormatInt(m.Size, 10)})
			}
		}
		obj["singleValueExtendedProperties"] = nonNil(vals)
	}
	return s.selectFields(obj, q)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// expandedProps returns the property tags named in
// $expand=singleValueExtendedProperties($filter=id eq 'Integer 0x1081' or ...), lower-case
// and zero-padded to four hex digits; nil when there is no such $expand.
func expandedProps(expand string) []string {
	i := strings.Index(strings.ToLower(expand), "singlevalueextendedproperties")
	if i < 0 {
		return nil
	}
	rest := strings.ToLower(expand[i:])
	out := []string{}
	for {
		j := strings.Index(rest, "integer 0x")
		if j < 0 {
			return out
		}
		rest = rest[j+len("integer 0x"):]
		k := 0
		for k < len(rest) && strings.ContainsRune("0123456789abcdef", rune(rest[k])) {
			k++
		}
		tag := rest[:k]
		for len(tag) < 4 {
			tag = "0" + tag
		}
		out = append(out, "0x"+tag)
	}
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, q params, u tenant.User, folderID string) {
	all := s.ten.Messages(u.ID)
	var list []tenant.Message
	for _, m := range all {
		if folderID == "" || m.FolderID == folderID {
			list = append(list, m)
		}
	}
	sortByReceivedDesc(list)
	top := pageSize(q, 10, 1000)
	off, _ := strconv.Atoi(q["skip"])
	off = max(off, 0)
	vals := []any{}
	for i := off; i < len(list) && i < off+top; i++ {
		vals = append(vals, s.messageJSON(u, list[i], q))
	}
	resp := map[string]any{"@odata.context": s.context("users('" + u.ID + "')/messages"), "value": vals}
	if off+top < len(list) {
		v, _ := url.ParseQuery(r.URL.RawQuery)
		v.Del("%24skip")
		v.Del("%24top")
		v.Set("$top", strconv.Itoa(top))
		v.Set("$skip", strconv.Itoa(off+top))
		resp["@odata.nextLink"] = s.link(r, v)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

func sortByReceivedDesc(list []tenant.Message) {
	slices.SortStableFunc(list, func(a, b tenant.Message) int {
		if c := b.Received.Compare(a.Received); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (s *Server) mimeValue(w http.ResponseWriter, r *http.Request, u tenant.User, m tenant.Message) {
	rc, n, err := s.ten.MIME(u.ID, m.ID)
	if err != nil {
		s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	defer rc.Close()
	s.stamp(w, r)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}
