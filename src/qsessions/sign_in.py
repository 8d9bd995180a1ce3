"""How a session signed in: the authentication backend Django recorded, and whether a second factor was used.

Read from the session's own data, where the sites' packages already write it: ``django.contrib.auth.login``
stores the backend's dotted path under ``_auth_user_backend``; django-otp (and django-two-factor-auth, built
on it) stores the verified device under ``otp_device_id``; django-allauth lists the steps of the sign-in
under ``account_authentication_methods``. Nothing is written by qsessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from django.contrib.auth import BACKEND_SESSION_KEY
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qsessions.conf import conf

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from qsessions.cache_sessions import CachedSession
    from qsessions.models import Session

# django-otp's DEVICE_ID_SESSION_KEY (django_otp/__init__.py), written by django_otp.login().
OTP_DEVICE_SESSION_KEY: Final = "otp_device_id"
# django-allauth's record of the steps of a sign-in: [{"method": "password", "at": ...}, {"method": "mfa", ...}].
ALLAUTH_RECORDS_SESSION_KEY: Final = "account_authentication_methods"

DEFAULT_LABELS: Final[Mapping[str, _StrPromise]] = {
    "django.contrib.auth.backends.ModelBackend": gettext_lazy("Password"),
    "django.contrib.auth.backends.AllowAllUsersModelBackend": gettext_lazy("Password"),
    "django.contrib.auth.backends.RemoteUserBackend": gettext_lazy("Single sign-on"),
    "django.contrib.auth.backends.AllowAllUsersRemoteUserBackend": gettext_lazy("Single sign-on"),
}
_ALLAUTH_METHOD_LABELS: Final[Mapping[str, _StrPromise]] = {
    "password": gettext_lazy("Password"),
    "code": gettext_lazy("Sign-in code"),
    "socialaccount": gettext_lazy("Social account"),
}


@dataclass(frozen=True)
class SignInMethod:
    """How a session signed in."""

    backend: str | None  # the dotted path Django stored, None for a session without a signed-in user
    label: str  # the human name of the method ("Password"), "" when unknown
    second_factor: bool  # a second factor was verified in this session (django-otp, allauth's MFA)

    @property
    def description(self) -> str:
        """One phrase for pages: "Password", "Password and a second factor", "" when nothing is known."""
        if self.second_factor:
            return _("%(method)s and a second factor") % {"method": self.label} if self.label else _("A second factor")
        return self.label


def configured_labels() -> dict[str, Any]:
    """The built-in labels, overridden and extended by ``QSESSIONS_SIGN_IN_METHODS`` (dotted path -> label)."""
    labels: dict[str, Any] = dict(DEFAULT_LABELS)
    labels.update(conf.SIGN_IN_METHODS)
    return labels


def _fallback_label(backend: str) -> str:
    """A backend nobody named: its class name, without a "Backend" suffix ("LDAPBackend" -> "LDAP")."""
    name = backend.rsplit(".", 1)[-1]
    return name.removesuffix("Backend") or name


def _allauth_records(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = data.get(ALLAUTH_RECORDS_SESSION_KEY)
    if not isinstance(records, list):
        return []
    return [record for record in records if isinstance(record, Mapping)]


def sign_in_method(data: Mapping[str, Any]) -> SignInMethod:
    """How the session with this (decoded) data signed in."""
    backend = data.get(BACKEND_SESSION_KEY)
    if not isinstance(backend, str) or not backend:
        backend = None
    records = _allauth_records(data)
    labels = configured_labels()
    label = ""
    if backend is not None:
        label = str(labels[backend]) if backend in labels else ""
        if not label:
            # allauth signs every method in through one backend: its records say which method it was.
            first = next((record.get("method") for record in records if record.get("method") != "mfa"), None)
            if isinstance(first, str) and first in _ALLAUTH_METHOD_LABELS:
                label = str(_ALLAUTH_METHOD_LABELS[first])
        if not label and backend not in labels:
            label = _fallback_label(backend)
    second_factor = bool(data.get(OTP_DEVICE_SESSION_KEY)) or any(record.get("method") == "mfa" for record in records)
    return SignInMethod(backend=backend, label=label, second_factor=second_factor)


def session_sign_in_method(session: Session | CachedSession) -> SignInMethod:
    """How a stored session signed in (decodes its data: one signature check and JSON parse)."""
    return sign_in_method(session.get_decoded())
