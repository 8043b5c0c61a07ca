# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["date", "envelope", "fileinto", "mailbox", "relational", "vacation"];

# Out-of-office (scheduled from 2024-12-20 17:00 UTC to 2025-01-06 08:00 UTC; outside senders: all). HTML messages are sent as plain text.
if allof(currentdate :zone "+0000" :value "ge" "iso8601" "2024-12-20T17:00:00",
      currentdate :zone "+0000" :value "lt" "iso8601" "2025-01-06T08:00:00") {
    if envelope :domain :is "from" ["contoso.com", "contoso.example", "contoso-group.com"] {
        vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-internal" "Plain text
second line \"quoted\" \\ back";
    } else {
        vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-external" "Thank you for your message. I am out of the office <until 15 July>.";
    }
}

# Rule "Stop everything" (sequence 1)
if true {
    fileinto :create "Archive";
    stop;
}

