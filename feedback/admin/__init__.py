"""
The policy team's workspace: the Django admin behind two-factor sign-in, one
module per screen, on the portal's own site (`site.py`).

The screens register themselves when FeedbackConfig.ready() imports them,
after every app's own admin module: some of them take over pages that
django.contrib.auth, django-otp and django-axes registered first. (Importing
them from here would run while the admin site itself is being created.)
"""

SCREENS = [
    "submissions",
    "mailbox",
    "themes",
    "decisions",
    "digests",
    "subscriptions",
    "outbox",
    "audit",
    "accounts",
    "call",
]
