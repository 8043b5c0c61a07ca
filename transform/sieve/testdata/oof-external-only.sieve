# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["envelope", "vacation"];

# Out-of-office (always on; outside senders: all). HTML messages are sent as plain text.
if not envelope :domain :is "from" ["contoso.com", "contoso.example"] {
    vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-external" "Thank you for your message. I am out of the office <until 15 July>.";
}

