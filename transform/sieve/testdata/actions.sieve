# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["body", "copy", "fileinto", "imap4flags", "mailbox"];

# Rule "Forward" (sequence 1)
if address :is "from" "client@fabrikam.com" {
    redirect :copy "assistant@contoso.example";
}

# Rule "Forward as attachment" (sequence 2)
if header :contains "subject" "report" {
    redirect :copy "audit@fabrikam.com";
}

# Rule "Redirect" (sequence 3)
if header :contains "subject" "ticket" {
    redirect :copy "helpdesk@contoso.example";
    stop;
}

# Rule "Move, read, flag, stop" (sequence 4)
if allof(address :is "from" ["boss@contoso.com", "boss@contoso.example"],
      not anyof(header :contains "subject" "lunch", anyof(header :is "importance" "low", header :matches "x-priority" ["4", "4 *", "5", "5 *"], header :is "priority" "non-urgent", header :is "x-msmail-priority" "low"))) {
    addflag "\\Seen";
    addflag "\\Flagged";
    fileinto :create "Projects";
    stop;
}

# Rule "Copy and delete" (sequence 5)
if body :text :contains "confidential" {
    fileinto :copy :create "Archive";
    fileinto :create "Trash";
}

# Rule "Permanent delete" (sequence 6)
if header :contains "from" "spam" {
    discard;
}

# Rule "Disabled rule" (sequence 7) is disabled in Exchange: not carried.

# Rule "Forward to many" (sequence 8)
if header :contains "subject" "all hands" {
    redirect :copy "a@contoso.example";
    redirect :copy "b@contoso.example";
    redirect :copy "c@contoso.example";
}

