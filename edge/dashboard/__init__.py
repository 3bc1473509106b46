"""`dms dashboard`: a fleet web page fed by MQTT (docs/dashboard.md).

messages (topic and payload checks, pure) -> fleet (per-device state, de-duplicated events, chart history, pure)
-> store (event history, SQLite) and web (JSON, Server-Sent Events, acknowledgement); link is the MQTT client,
auth the listening/password policy, command wires it all together.
"""
