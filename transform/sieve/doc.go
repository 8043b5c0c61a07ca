// Package sieve writes a mailbox's Exchange inbox rules (Graph messageRule JSON, read with
// msgraph-sdk-go's models through kiota's JSON parse node) and its out-of-office
// (automaticRepliesSetting) as one Sieve script (RFC 5228), for Dovecot Pigeonhole and
// Cyrus alike: it uses only extensions both have (fileinto, copy RFC 3894, imap4flags
// RFC 5232, body RFC 5173, relational RFC 5231 with comparator-i;ascii-numeric, envelope,
// date RFC 5260, vacation RFC 5230, mailbox RFC 5490), and the tests compile every golden
// script with both servers' own compilers.
//
// A rule is carried whole or not at all: one condition or action without a faithful Sieve
// form (categories, sensitivity, the follow-up flag, meeting requests and other Exchange
// message classes, assignCategories, importance low/normal as an action, a folder that was
// not migrated, an address that is not one) leaves the rule out and lists it in
// Result.Unmapped with the reason. Disabled rules are written as comments only
// (Result.Skipped). Rules run in Exchange's sequence order; a rule's conditions must all
// hold, its exceptions none.
//
// Conditions:
//   - fromAddresses: address :is "from"; sentToAddresses: address :is ["to","cc"]; both
//     match the old and the rewritten address (--rewrite-domain).
//   - subjectContains: header :contains "subject"; bodyContains: body :text :contains;
//     bodyOrSubjectContains: either; senderContains: the whole From header (display name and
//     address, as Exchange); recipientContains: the To and Cc headers.
//   - headerContains: only "Name: value" strings are carried, as header :contains "Name"
//     "value" (Sieve tests named headers, Exchange the whole header block); others make
//     the rule unmapped.
//   - importance: the headers Exchange reads it from — Importance, X-Priority (1–2 high,
//     4–5 low), Priority, X-MSMail-Priority; normal is neither high nor low.
//   - hasAttachments: a MIME part header "Content-Disposition: attachment" found in the raw
//     body (body :raw). Sieve's mime extension would be exact, but Cyrus lacks it.
//   - withinSizeRange: Graph's KB are 1024 bytes, bounds included: size :over min*1024-1,
//     size :under max*1024+1.
//   - sentToMe / sentCcMe / sentToOrCcMe / notSentToMe: the mailbox's addresses
//     (Options.Addresses) in To, Cc, either, neither; sentOnlyToMe: in To, and To and Cc
//     hold one address in all (relational :count).
//   - isAutomaticReply: Auto-Submitted: auto-replied* or X-Autoreply: yes;
//     isNonDeliveryReport and isReadReceipt: the report-type of a multipart/report.
//
// Actions, in the order Sieve needs them within a rule: markAsRead → addflag "\\Seen";
// markImportance high → addflag "\\Flagged" (IMAP has no importance; a warning says so);
// copyToFolder → fileinto :copy :create; forwardTo, forwardAsAttachmentTo and redirectTo →
// redirect :copy (Exchange keeps the message in the mailbox; the recipient gets the original
// message, neither a new forward nor an attachment: warned); moveToFolder → fileinto
// :create; delete → fileinto :create Options.Trash; permanentDelete → discard;
// stopProcessingRules → stop. :create makes a folder that is gone from the target rather
// than fail the delivery. Flags set by a rule also apply to the folders later rules file into.
//
// Out-of-office: placed before the rules, so a rule's stop or discard does not silence it.
// vacation :days 1 (one answer per sender a day) with :addresses the mailbox's addresses;
// HTML messages are sent as plain text (not :mime: one text part reads everywhere).
// "scheduled" is bounded by currentdate in UTC ("ge" the start, "lt" the end, compared as
// ISO 8601 strings); "alwaysEnabled" has no bounds. Senders whose envelope domain is one of
// the organisation's (Options.InternalDomains, else the domains of Options.Addresses, old and
// rewritten) get the internal message; others get the external one when externalAudience is
// "all", nothing when it is "none" — and nothing when it is "contactsOnly", which Sieve
// cannot express (a warning says so: the safe side).
package sieve
