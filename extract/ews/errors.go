package ews

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Error is an EWS failure: a response message with ResponseClass="Error", a SOAP fault,
// or an HTTP status without either. Errors returned by this package wrap it (find it with
// errors.As) inside Bascule's classes:
//
//   - ErrorServerBusy: *model.Throttled with RetryAfter = BackOffMilliseconds;
//   - ErrorExceededConnectionCount, ErrorTooManyObjectsOpened, ErrorInternalServerTransientError,
//     ErrorMailboxStoreUnavailable, ErrorTimeoutExpired, HTTP 5xx…: model.ErrRetryable;
//   - HTTP 401/403, ErrorImpersonateUserDenied, ErrorImpersonationDenied, ErrorAccessDenied,
//     ErrorInvalidServerVersion: model.ErrFatal, with what to check;
//   - ErrorNonExistentMailbox, ErrorItemNotFound, ErrorFolderNotFound, ErrorMailboxNotEnabled…:
//     model.ErrPermanent and model.ErrNotFound;
//   - ErrorInvalidSyncStateData (and the other sync state errors): model.ErrCursorExpired;
//   - anything else: model.ErrPermanent.
type Error struct {
	// Op is the EWS operation ("GetItem"), or a description of the call.
	Op string
	// Mailbox is the mailbox the call acted for ("" = the account itself).
	Mailbox string
	// Code is the EWS ResponseCode ("ErrorItemNotFound"), or "" for a bare HTTP error.
	Code string
	// Message is the server's MessageText or faultstring.
	Message string
	// HTTPStatus is the HTTP status when the error came as one (0 for a response message
	// inside a 200 answer).
	HTTPStatus int
	// BackOff is the BackOffMilliseconds of an ErrorServerBusy.
	BackOff time.Duration
	// hint says what to check, for fatal errors.
	hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ews: ")
	b.WriteString(e.Op)
	if e.Mailbox != "" {
		b.WriteString(" for ")
		b.WriteString(e.Mailbox)
	}
	b.WriteString(":")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.hint != "" {
		b.WriteString(" (")
		b.WriteString(e.hint)
		b.WriteString(")")
	}
	return b.String()
}

// retryableCodes are the response codes after which the same call may succeed.
var retryableCodes = map[string]bool{
	"ErrorServerBusy": true, "ErrorExceededConnectionCount": true, "ErrorTooManyObjectsOpened": true,
	"ErrorInternalServerTransientError": true, "ErrorMailboxStoreUnavailable": true, "ErrorTimeoutExpired": true,
	"ErrorConnectionFailed": true, "ErrorMailboxMoveInProgress": true, "ErrorBatchProcessingStopped": true,
	"ErrorInternalServerError": true, "ErrorExceededSubscriptionCount": true, "ErrorProxyRequestProcessingFailed": true,
	"ErrorNoRespondingCASInDestinationSite": true, "ErrorCrossSiteRequest": false,
}

// notFoundCodes are the response codes of a mailbox, folder or item that does not exist.
var notFoundCodes = map[string]bool{
	"ErrorNonExistentMailbox": true, "ErrorItemNotFound": true, "ErrorFolderNotFound": true,
	"ErrorMailboxNotEnabled": true, "ErrorInvalidSmtpAddress": false, "ErrorCalendarOccurrenceIsDeletedFromRecurrence": true,
}

// cursorCodes say that a sync state can no longer be used.
var cursorCodes = map[string]bool{
	"ErrorInvalidSyncStateData": true, "ErrorSyncFolderNotFound": false, "ErrorInvalidSyncStateDataNotFound": true,
}

// retryable reports whether the call may be sent again as it is.
func (e *Error) retryable() bool {
	if e.Code != "" {
		return retryableCodes[e.Code]
	}
	switch e.HTTPStatus {
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout,
		http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusRequestTimeout:
		return true
	}
	return false
}

// classify wraps e in its class (see Error).
func (e *Error) classify() error {
	switch {
	case e.Code == "ErrorServerBusy" || (e.Code == "" && e.HTTPStatus == http.StatusTooManyRequests):
		return &model.Throttled{RetryAfter: e.BackOff, Err: e}
	case e.Code == "ErrorImpersonateUserDenied" || e.Code == "ErrorImpersonationDenied":
		e.hint = "the service account lacks the ApplicationImpersonation role: New-ManagementRoleAssignment -Role ApplicationImpersonation -User <service account> (optionally -CustomRecipientWriteScope <scope> covering " + orAny(e.Mailbox) + ")"
		return model.Fatal(e)
	case e.Code == "ErrorAccessDenied":
		e.hint = "the account has no right on this mailbox: give it the ApplicationImpersonation role and use impersonation, or FullAccess on the mailbox (Add-MailboxPermission -AccessRights FullAccess)"
		return model.Fatal(e)
	case e.Code == "ErrorInvalidServerVersion" || e.Code == "ErrorIncorrectSchemaVersion":
		e.hint = "the server does not accept this RequestServerVersion: set the EWS server version (Exchange2013, Exchange2016…) to the server's"
		return model.Fatal(e)
	case e.Code == "ErrorInvalidExchangeImpersonationHeaderData":
		e.hint = "the impersonated address is not a mailbox the server knows"
		return model.Permanent(fmt.Errorf("%w: %w", e, model.ErrNotFound))
	case notFoundCodes[e.Code]:
		return model.Permanent(fmt.Errorf("%w: %w", e, model.ErrNotFound))
	case cursorCodes[e.Code]:
		return fmt.Errorf("%w: %w", e, model.ErrCursorExpired)
	case e.Code == "" && e.HTTPStatus == http.StatusUnauthorized:
		e.hint = "the server refused the credentials: check the user name (DOMAIN\\user or user@domain), the password, and that the EWS virtual directory accepts the chosen authentication (ntlm, basic or oauth); a locked or expired account is refused the same way"
		return model.Fatal(e)
	case e.Code == "" && e.HTTPStatus == http.StatusForbidden:
		e.hint = "the account may not use EWS: check Get-CASMailbox -EwsEnabled / EwsApplicationAccessPolicy and the client certificate settings of the EWS virtual directory"
		return model.Fatal(e)
	case e.Code == "" && e.HTTPStatus == http.StatusNotFound:
		e.hint = "no EWS endpoint at this URL: it usually ends in /EWS/Exchange.asmx"
		return model.Fatal(e)
	case e.retryable():
		return model.Retryable(e)
	}
	return model.Permanent(e)
}

func orAny(s string) string {
	if s == "" {
		return "the mailboxes to migrate"
	}
	return s
}

// ErrorCode returns the EWS response code carried by err ("" when there is none).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
