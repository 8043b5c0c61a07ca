package graph

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// What an audit (extract.Inventory) asks of Graph, served here:
//
//   - folder statistics: mailFolders / childFolders with
//     $expand=singleValueExtendedProperties($filter=id eq 'Long 0x0E08') give each folder's
//     PR_MESSAGE_SIZE_EXTENDED (the sum of its messages' sizes) as a string value;
//   - counts: $count=true on …/events and …/contacts adds "@odata.count" (the whole
//     collection) to the first page (To Do tasks document no $count: ignored there);
//   - recurring series: …/events?$filter=type eq 'seriesMaster' lists the series masters
//     only (with $expand=exceptionOccurrences as every event request);
//   - large messages: /messages?$filter=singleValueExtendedProperties/any(ep: ep/id eq
//     'Integer 0x0E08' and cast(ep/value, Edm.Int32) gt N) lists the messages larger than N
//     bytes, with "@odata.count" when $count=true;
//   - the usage report: GET /reports/getMailboxUsageDetail(period='D7') answers 302 with a
//     preauthenticated download URL (/reports-download/{token}) serving the CSV whose columns
//     Microsoft documents; this tenant has no archive mailboxes (Has Archive False) and a
//     100 GB quota.
//
// Requests per mailbox are counted (MailboxCounts) for the audit's request-bound test.

// ReportQuota is the Prohibit Send/Receive quota the usage report gives every mailbox.
const ReportQuota int64 = 100 << 30

type inventory struct {
	mu      sync.Mutex
	byBox   map[string]int64 // user id → requests
	reports map[string]time.Time
}

// countMailbox counts one request for mailbox id (inside a $batch too).
func (s *Server) countMailbox(id string) {
	s.inv.mu.Lock()
	if s.inv.byBox == nil {
		s.inv.byBox = map[string]int64{}
	}
	s.inv.byBox[id]++
	s.inv.mu.Unlock()
}

// MailboxCounts returns the number of requests received per mailbox (user id) since the
// last ResetMailboxCounts. A request inside a $batch counts for its mailbox as Microsoft's
// per-mailbox limits do; the $batch envelope itself counts for none.
func (s *Server) MailboxCounts() map[string]int64 {
	s.inv.mu.Lock()
	defer s.inv.mu.Unlock()
	out := make(map[string]int64, len(s.inv.byBox))
	for k, v := range s.inv.byBox {
		out[k] = v
	}
	return out
}

// ResetMailboxCounts sets every per-mailbox count to zero.
func (s *Server) ResetMailboxCounts() {
	s.inv.mu.Lock()
	s.inv.byBox = nil
	s.inv.mu.Unlock()
}

// folderExtended adds the singleValueExtendedProperties a folder request $expand's:
// PR_MESSAGE_SIZE_EXTENDED ('Long 0x0E08') and PR_CONTENT_COUNT ('Integer 0x3602').
func (s *Server) folderExtended(obj map[string]any, u tenant.User, f tenant.Folder, q params) map[string]any {
	ex := q["expand"]
	if !strings.Contains(strings.ToLower(ex), "singlevalueextendedproperties") {
		return obj
	}
	low := strings.ToLower(ex)
	var props []any
	if strings.Contains(low, "0x0e08") {
		var size int64
		for _, m := range s.ten.Messages(u.ID) {
			if m.FolderID == f.ID {
				size += m.Size
			}
		}
		props = append(props, map[string]any{"id": "Long 0xe08", "value": strconv.FormatInt(size, 10)})
	}
	if strings.Contains(low, "0x3602") {
		total, _, _ := s.ten.FolderCounts(u.ID, f.ID)
		props = append(props, map[string]any{"id": "Integer 0x3602", "value": strconv.Itoa(total)})
	}
	if props != nil {
		obj["singleValueExtendedProperties"] = props
	}
	return obj
}

var sizeFilter = regexp.MustCompile(`(?i)^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+'Integer 0x0?E08'\s+and\s+cast\(\s*(\w+)/value\s*,\s*'?Edm\.Int32'?\s*\)\s+(gt|ge)\s+(\d+)\s*\)$`)

// serveInventory serves the audit's queries that the ordinary handlers do not; it returns
// false for any other request.
func (s *Server) serveInventory(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) bool {
	counted := q["count"] == "true"
	switch rt.class {
	case "messages":
		f := q["filter"]
		if f == "" {
			return false
		}
		m := sizeFilter.FindStringSubmatch(strings.TrimSpace(f))
		if m == nil || m[1] != m[2] || m[1] != m[3] {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return true
		}
		n, err := strconv.ParseInt(m[5], 10, 64)
		if err != nil {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return true
		}
		if m[4] == "ge" {
			n--
		}
		var list []tenant.Message
		for _, msg := range s.ten.Messages(u.ID) {
			if rt.folder != "" && msg.FolderID != rt.folder {
				continue
			}
			if msg.Size > n {
				list = append(list, msg)
			}
		}
		sortByReceivedDesc(list)
		s.countedPage(w, r, q, "users('"+u.ID+"')/messages", len(list), counted, func(i int) map[string]any {
			return s.messageJSON(u, list[i], q)
		})
		return true
	case "events":
		filter := strings.ToLower(strings.Join(strings.Fields(q["filter"]), " "))
		series := filter == "type eq 'seriesmaster'"
		if !counted && !series {
			return false
		}
		if filter != "" && !series {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return true
		}
		coll := rt.coll
		cal, err := s.ten.Calendar(u.ID, coll)
		if err != nil {
			s.notFound(w, r)
			return true
		}
		var list []tenant.Event
		for _, e := range s.ten.Events(u.ID, cal.ID) {
			if !series || e.Type == "seriesMaster" {
				list = append(list, e)
			}
		}
		s.countedPage(w, r, q, "users('"+u.ID+"')/calendars('"+cal.ID+"')/events", len(list), counted, func(i int) map[string]any {
			obj := map[string]any{"id": list[i].ID, "type": list[i].Type, "subject": list[i].Subject}
			if expands(q, "exceptionOccurrences") && list[i].Type == "seriesMaster" {
				ex := []any{}
				for _, e := range list[i].Exceptions {
					ex = append(ex, map[string]any{"id": e.ID, "type": "exception"})
				}
				obj["exceptionOccurrences"] = ex
			}
			return obj
		})
		return true
	case "contacts":
		if !counted {
			return false
		}
		f, err := s.ten.ContactFolder(u.ID, rt.coll)
		if err != nil {
			s.notFound(w, r)
			return true
		}
		list := s.ten.Contacts(u.ID, f.ID)
		s.countedPage(w, r, q, "users('"+u.ID+"')/contactFolders('"+f.ID+"')/contacts", len(list), counted, func(i int) map[string]any {
			return map[string]any{"id": list[i].ID, "displayName": list[i].DisplayName}
		})
		return true
	}
	return false
}

// countedPage is page with "@odata.count" when counted.
func (s *Server) countedPage(w http.ResponseWriter, r *http.Request, q params, context string, n int, counted bool, render func(i int) map[string]any) {
	if !counted {
		s.page(w, r, q, context, n, 10, render)
		return
	}
	cw := &countWriter{ResponseWriter: w}
	s.page(cw, r, q, context, n, 10, render)
	cw.flush(n)
}

// countWriter holds a page's JSON to add "@odata.count" to it.
type countWriter struct {
	http.ResponseWriter
	status int
	buf    []byte
}

func (c *countWriter) WriteHeader(code int)        { c.status = code }
func (c *countWriter) Write(p []byte) (int, error) { c.buf = append(c.buf, p...); return len(p), nil }
func (c *countWriter) flush(n int) {
	body := c.buf
	if i := strings.IndexByte(string(body), '{'); i >= 0 && c.status == http.StatusOK {
		body = slices.Concat(body[:i+1], []byte(`"@odata.count":`+strconv.Itoa(n)+`,`), body[i+1:])
	}
	c.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.ResponseWriter.WriteHeader(c.status)
	_, _ = c.ResponseWriter.Write(body)
}

var reportPath = regexp.MustCompile(`^/v1\.0/reports/getMailboxUsageDetail\(period='(D7|D30|D90|D180)'\)$`)

// serveReport serves GET /reports/getMailboxUsageDetail(period='Dn') (after
// authentication): 302 to a download URL valid for five minutes; another report or method
// is an error.
func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.graphError(w, r, http.StatusMethodNotAllowed, "ErrorInvalidRequest", "The OData request is not supported.")
		return
	}
	if !reportPath.MatchString(r.URL.Path) {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+lastSegment(r.URL.Path)+"'.")
		return
	}
	tok := requestID()
	s.inv.mu.Lock()
	if s.inv.reports == nil {
		s.inv.reports = map[string]time.Time{}
	}
	s.inv.reports[tok] = time.Now().Add(5 * time.Minute)
	s.inv.mu.Unlock()
	s.stamp(w, r)
	w.Header().Set("Location", s.url+"/reports-download/"+tok)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusFound)
}

// serveReportDownload serves the preauthenticated CSV of a report (no Authorization).
func (s *Server) serveReportDownload(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.URL.Path, "/reports-download/")
	s.inv.mu.Lock()
	exp, ok := s.inv.reports[tok]
	s.inv.mu.Unlock()
	if !ok || time.Now().After(exp) {
		http.Error(w, "The report download link has expired.", http.StatusNotFound)
		return
	}
	s.count("reports.download")
	refresh := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte{0xEF, 0xBB, 0xBF})
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Report Refresh Date", "User Principal Name", "Display Name", "Is Deleted", "Deleted Date",
		"Created Date", "Last Activity Date", "Item Count", "Storage Used (Byte)", "Issue Warning Quota (Byte)",
		"Prohibit Send Quota (Byte)", "Prohibit Send/Receive Quota (Byte)", "Deleted Item Count",
		"Deleted Item Size (Byte)", "Deleted Item Quota (Byte)", "Has Archive", "Report Period"})
	for _, u := range s.ten.Users() {
		var items, bytes int64
		for _, m := range s.ten.Messages(u.ID) {
			items++
			bytes += m.Size
		}
		_ = cw.Write([]string{refresh, u.UPN, u.DisplayName, "False", "", "2019-01-01", refresh,
			fmt.Sprint(items), fmt.Sprint(bytes), fmt.Sprint(ReportQuota * 98 / 100), fmt.Sprint(ReportQuota * 99 / 100),
			fmt.Sprint(ReportQuota), "0", "0", fmt.Sprint(int64(30) << 30), "False", "7"})
	}
	cw.Flush()
}
