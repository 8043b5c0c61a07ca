# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["body", "comparator-i;ascii-numeric", "copy", "fileinto", "imap4flags", "mailbox", "relational"];

# Rule "From the boss" (sequence 1)
if address :is "from" ["boss@contoso.com", "boss@contoso.example", "ceo@fabrikam.com"] {
    addflag "\\Flagged";
    stop;
}

# Rule "Sent to the team" (sequence 2)
if address :is ["to", "cc"] ["team@contoso.com", "team@contoso.example"] {
    fileinto :create "Projects";
}

# Rule "Subject words" (sequence 3)
if header :contains "subject" ["[ALERT]", "Urgent \"now\"", "back\\slash"] {
    addflag "\\Seen";
}

# Rule "Body" (sequence 4)
if body :text :contains "unsubscribe" {
    fileinto :create "Newsletters/Tech";
}

# Rule "Body or subject" (sequence 5)
if anyof(header :contains "subject" ["invoice", "facture"], body :text :contains ["invoice", "facture"]) {
    fileinto :copy :create "Archive";
}

# Rule "Sender and recipient" (sequence 6)
if allof(header :contains "from" "newsletter",
      header :contains ["to", "cc"] "lists.") {
    fileinto :create "Newsletters/Tech";
}

# Rule "Header" (sequence 7)
if anyof(header :contains "x-spam-flag" ["YES", "yes"], header :contains "list-id" "dev.contoso.com") {
    fileinto :create "Trash";
}

# Rule "High importance" (sequence 8)
if anyof(header :is "importance" "high", header :matches "x-priority" ["1", "1 *", "2", "2 *"], header :is "priority" "urgent", header :is "x-msmail-priority" "high") {
    addflag "\\Flagged";
}

# Rule "Low importance" (sequence 9)
if anyof(header :is "importance" "low", header :matches "x-priority" ["4", "4 *", "5", "5 *"], header :is "priority" "non-urgent", header :is "x-msmail-priority" "low") {
    fileinto :create "Archive";
}

# Rule "Normal importance" (sequence 10)
if allof(not anyof(anyof(header :is "importance" "high", header :matches "x-priority" ["1", "1 *", "2", "2 *"], header :is "priority" "urgent", header :is "x-msmail-priority" "high"), anyof(header :is "importance" "low", header :matches "x-priority" ["4", "4 *", "5", "5 *"], header :is "priority" "non-urgent", header :is "x-msmail-priority" "low")),
      anyof(body :raw :contains "Content-Disposition: attachment", body :raw :contains "Content-Disposition:attachment")) {
    fileinto :copy :create "Archive";
}

# Rule "Size" (sequence 11)
if allof(size :over 102399,
      size :under 2097153) {
    fileinto :create "Archive";
}

# Rule "Size min only" (sequence 12)
if size :over 5242879 {
    discard;
}

# Rule "To me" (sequence 13)
if address :is "to" ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] {
    addflag "\\Seen";
}

# Rule "Cc me" (sequence 14)
if address :is "cc" ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] {
    fileinto :create "Boîte de réception/Été \"2024\"";
}

# Rule "Only me" (sequence 15)
if allof(address :is "to" ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"],
      address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "1") {
    addflag "\\Flagged";
}

# Rule "To or cc me, not" (sequence 16)
if allof(address :is ["to", "cc"] ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"],
      not not address :is "to" ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"]) {
    addflag "\\Seen";
}

# Rule "Auto replies" (sequence 17)
if anyof(header :matches "auto-submitted" "auto-replied*", header :is "x-autoreply" "yes") {
    fileinto :create "Trash";
    stop;
}

# Rule "Reports" (sequence 18)
if allof(header :contains "content-type" "report-type=delivery-status",
      not header :contains "content-type" "report-type=disposition-notification") {
    fileinto :create "Archive";
}

# Rule "Everything" (sequence 19)
if true {
    addflag "\\Seen";
}

