# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["envelope", "vacation"];

# Out-of-office (always on; outside senders: none). HTML messages are sent as plain text.
if envelope :domain :is "from" ["contoso.com", "contoso.example"] {
    vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-internal" "I am away until July 15.

For urgent matters: bob@contoso.com & the team.";
}

