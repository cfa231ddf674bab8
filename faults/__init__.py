"""
The fault suite (`make faults`): the portal's web, worker and beat run against
a PostgreSQL, a Redis and an SMTP sink of the suite's own on spare loopback
ports; each scenario drives load, injects one fault and checks the outcome
against the database and the sink.
"""
