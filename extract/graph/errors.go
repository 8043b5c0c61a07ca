package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/bascule-migrate/bascule/model"
)

// Application permissions each call family needs; named in 401/403 errors.
const (
	permUsers    = "User.Read.All"
	permSettings = "MailboxSettings.Read"
	permMail     = "Mail.Read"
)

// errorCode is the Graph error code ("ErrorItemNotFound", "MailboxNotEnabledForRESTAPI"…)
// of an SDK error, or "".
func errorCode(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if m := oe.GetErrorEscaped(); m != nil {
			return str(m.GetCode())
		}
	}
	return ""
}

func errorMessage(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if m := oe.GetErrorEscaped(); m != nil {
			return str(m.GetMessage())
		}
	}
	return err.Error()
}

// classify turns an SDK or transport error into Bascule's classes:
// 401/403 → fatal naming the missing permission; 404 → not found (permanent);
// 410 → cursor expired; 429 → model.Throttled; 5xx → retryable; other 4xx → permanent;
// network errors → retryable. Context cancellation stays as it is.
func classify(err error, what, perm string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ae abstractions.ApiErrorable
	if !errors.As(err, &ae) {
		if errors.Is(err, model.ErrRetryable) || errors.Is(err, model.ErrPermanent) || errors.Is(err, model.ErrFatal) {
			return fmt.Errorf("graph: %s: %w", what, err)
		}
		return model.Retryable(fmt.Errorf("graph: %s: %w", what, err))
	}
	var retryAfter time.Duration
	if h := ae.GetResponseHeaders(); h != nil {
		if v := h.Get("Retry-After"); len(v) > 0 {
			retryAfter, _ = parseRetryAfter(v[0], time.Now())
		}
	}
	return classifyStatus(ae.GetStatusCode(), errorCode(err), errorMessage(err), retryAfter, what, perm)
}

func classifyStatus(status int, code, msg string, retryAfter time.Duration, what, perm string) error {
	detail := fmt.Sprintf("graph: %s: HTTP %d", what, status)
	if code != "" {
		detail += " " + code
	}
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return model.Fatal(fmt.Errorf("%s (the app registration needs the %s application permission with admin consent, and must not be excluded by an RBAC for Applications scope or an application access policy)", detail, perm))
	case status == http.StatusNotFound:
		return model.Permanent(fmt.Errorf("%s: %w", detail, model.ErrNotFound))
	case status == http.StatusGone:
		return fmt.Errorf("%s: %w", detail, model.ErrCursorExpired)
	case status == http.StatusTooManyRequests:
		return &model.Throttled{RetryAfter: retryAfter, Err: errors.New(detail)}
	case status >= 500:
		return model.Retryable(errors.New(detail))
	default:
		return model.Permanent(errors.New(detail))
	}
}

var timeNow = time.Now

// parseErrorBody reads a Graph JSON error body {"error":{"code","message"}}.
func parseErrorBody(b []byte) (code, message string) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		return e.Error.Code, e.Error.Message
	}
	return "", ""
}
