# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["date", "envelope", "relational", "vacation"];

# Out-of-office (scheduled from 2024-07-01 00:00 UTC to 2024-07-02 00:00 UTC; outside senders: contactsOnly). HTML messages are sent as plain text.
if allof(currentdate :zone "+0000" :value "ge" "iso8601" "2024-07-01T00:00:00",
      currentdate :zone "+0000" :value "lt" "iso8601" "2024-07-02T00:00:00") {
    if envelope :domain :is "from" ["contoso.com", "contoso.example"] {
        vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-internal" "I am away until July 15.

For urgent matters: bob@contoso.com & the team.";
    }
}

