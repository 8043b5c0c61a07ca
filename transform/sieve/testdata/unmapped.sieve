# Inbox rules and out-of-office carried from Exchange by Bascule.
require "imap4flags";

# Rule "Categories" (sequence 1) is not carried: "condition categories has no Sieve form (categories are an Exchange item property)"

# Rule "Sensitivity" (sequence 2) is not carried: "condition sensitivity has no Sieve form (Exchange's sensitivity is an item property)"

# Rule "Meeting requests" (sequence 3) is not carried: "condition isMeetingRequest has no Sieve form (the message class is Exchange's)"

# Rule "Assign categories" (sequence 4) is not carried: "action assignCategories has no Sieve form (categories are an Exchange item property)"

# Rule "Flag for follow-up" (sequence 5) is not carried: "condition messageActionFlag has no Sieve form (the follow-up flag Outlook sets is an item property)"

# Rule "Unknown folder" (sequence 6) is not carried: "moveToFolder names folder "AAMk-gone", which is not among the migrated folders"

# Rule "Low importance action" (sequence 7) is not carried: "action markImportance low has no Sieve form (IMAP has no importance; only high is carried, as \Flagged)"

# Rule "Header block" (sequence 8) is not carried: "condition headerContains "contoso" has no Sieve form (Sieve tests a named header: only "Name: value" strings are carried)"

# Rule "Bad forward" (sequence 9) is not carried: "forwardTo holds "", which is not an e-mail address"

# Rule "Exception with category" (sequence 10) is not carried: "exception categories has no Sieve form (categories are an Exchange item property)"

# Rule "Unknown property" (sequence 11) is not carried: "unknown condition isFromOuterSpace"

# Rule "Malformed" (sequence 12) is not carried: "malformed Graph JSON: not an object"

# Rule "No actions" (sequence 13) is not carried: "the rule has no actions"

# Rule "Signed" (sequence 14) is not carried: "condition isSigned has no Sieve form (the message class is Exchange's)"

# Rule "Kept" (sequence 15)
if header :contains "subject" "kept" {
    addflag "\\Seen";
}

