"""Signals sent by qsessions. Receivers get ``sender`` (the Session model) and the keyword arguments listed."""

from __future__ import annotations

from django.dispatch import Signal

# session (the Session row), request (or None)
session_created = Signal()
# session (the Session row as it was), reason (one of models.END_REASONS but "expired"), request (or None)
session_revoked = Signal()
# session, old_ip, new_ip, old_user_agent, new_user_agent, request (or None)
session_client_changed = Signal()
# user, device (the KnownDevice just recorded), request: a sign-in from a browser the user never used before
new_device_sign_in = Signal()
# request, reason, message (what the user is told, in their language), public_id: the browser of
# ``request`` carried the cookie of a session that ended (or its session just timed out), and is told why
session_end_reported = Signal()
