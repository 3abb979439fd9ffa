"""PURE: mail as people receive it. Who is told of an event, what the subject says, and the
message itself (text and HTML, built with the standard library's `email`); no sockets and no
database here: api/dispatch/mail.py sends what this builds."""
