// Package transform holds the pure functions that turn source records into open-standard
// formats: Graph events into iCalendar, contacts into vCard, permissions into IMAP ACLs,
// inbox rules into Sieve (issues 3 and 4).
//
// Mail needs no transform: a message travels as the exact RFC 5322 bytes the source gives
// (Graph's $value), and Bascule never rewrites it. Folder naming on an IMAP target (mUTF-7,
// separators, localised special-use names) is the IMAP sink's job, in load/imap.
package transform
