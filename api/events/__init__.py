"""PURE: the events dealdesk publishes, their envelope, and Standard Webhooks signing.

An event is built once, serialised once (`Envelope.body`), and those exact bytes are what
every delivery attempt sends and signs. Nothing here does I/O; storage/outbox.py writes it.
"""
