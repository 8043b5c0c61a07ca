# Inbox rules and out-of-office carried from Exchange by Bascule.
require ["date", "envelope", "relational", "vacation"];

# Out-of-office (scheduled from 2024-07-01 08:00 UTC to 2024-07-15 15:00 UTC; outside senders: all). HTML messages are sent as plain text.
if allof(currentdate :zone "+0000" :value "ge" "iso8601" "2024-07-01T08:00:00",
      currentdate :zone "+0000" :value "lt" "iso8601" "2024-07-15T15:00:00") {
    if envelope :domain :is "from" ["contoso.com", "contoso.example"] {
        vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-internal" "I am away until July 15.

For urgent matters: bob@contoso.com & the team.";
    } else {
        vacation :days 1 :addresses ["alice@contoso.com", "alice@contoso.example", "alice.martin@contoso.com", "alice.martin@contoso.example"] :handle "bascule-oof-external" "Thank you for your message. I am out of the office <until 15 July>.";
    }
}

