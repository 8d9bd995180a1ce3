"""Known devices: a long-lived cookie recognises a browser across sessions, so a sign-in from a new one stands out.

With ``QSESSIONS_KNOWN_DEVICES`` on and :class:`KnownDeviceMiddleware` installed, every login looks at the
browser's device cookie (a random token; only its SHA-256 digest is stored, per user, in
:class:`qsessions.models.KnownDevice`). A login from a browser this user never signed in from sends
``new_device_sign_in`` and, with ``QSESSIONS_NEW_DEVICE_EMAIL`` on, an e-mail with a signed "this wasn't me"
link. Never for: a browser the user signed in from before, the user's first recorded login (sign-up, or
the first login after the feature was turned on), an impersonation (django-hijack), or a device the user
forgot on the "Known devices" page and signs in from again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qsessions import geo
from qsessions.conf import conf
from qsessions.models import KnownDevice, Session, make_public_id
from qsessions.revocation import REASON_USER, revoke_sessions
from qsessions.signals import new_device_sign_in

COOKIE_NAME: Final = "qsessions_device"
COOKIE_MAX_AGE: Final = 400 * 24 * 3600  # the longest browsers keep a cookie (Chrome caps at 400 days)
# django-hijack keeps the impersonator's trail here while an admin acts as another user.
HIJACK_SESSION_KEY: Final = "hijack_history"
NOT_ME_SALT: Final = "qsessions.known_devices.not_me"
NOT_ME_MAX_AGE: Final = 7 * 24 * 3600
_NEW_TOKEN_ATTRIBUTE = "_qsessions_new_device_token"  # noqa: S105  (an attribute name)
_SIGNED_IN_ATTRIBUTE = "_qsessions_signed_in_user"


def enabled() -> bool:
    return conf.KNOWN_DEVICES


def email_enabled() -> bool:
    return conf.NEW_DEVICE_EMAIL


def token_digest(token: str) -> str:
    """What is stored for a device token: its SHA-256, so that the table cannot be turned into cookies."""
    return hashlib.sha256(f"qsessions.device:{token}".encode()).hexdigest()


_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def _valid_token(value: str | None) -> bool:
    """The shape of what ``secrets.token_urlsafe(32)`` makes; anything else is replaced."""
    return value is not None and _TOKEN_PATTERN.fullmatch(value) is not None


def _device_token(request: HttpRequest) -> str:
    """This browser's device token: from its cookie, else a new one the middleware will set."""
    token = getattr(request, _NEW_TOKEN_ATTRIBUTE, None) or request.COOKIES.get(COOKIE_NAME)
    if not _valid_token(token):
        token = secrets.token_urlsafe(32)
        setattr(request, _NEW_TOKEN_ATTRIBUTE, token)
    assert token is not None
    return token


def sign_in_started(request: HttpRequest, user: Any) -> None:
    """Called at login: the device is looked at when the view has finished (see KnownDeviceMiddleware).

    Only then, because django-hijack marks an impersonation in the session after its ``login()`` call.
    """
    setattr(request, _SIGNED_IN_ATTRIBUTE, user)


def note_sign_in(request: HttpRequest, user: Any) -> KnownDevice | None:
    """Record the browser of this login for ``user``; alert when it is new. Returns the device, if recorded."""
    session = request.session
    if session.get(HIJACK_SESSION_KEY):
        return None  # an administrator acting as the user: not the user's device
    digest = token_digest(_device_token(request))
    now = timezone.now()
    user_agent = getattr(session, "user_agent", None)
    ip = getattr(session, "ip", None)
    device = KnownDevice.objects.filter(user=user, token_digest=digest).first()
    if device is not None:
        # Known, or forgotten by the user and now back: the user's own browser either way.
        device.last_sign_in_at, device.user_agent, device.ip, device.forgotten_at = now, user_agent, ip, None
        device.save(update_fields=["last_sign_in_at", "user_agent", "ip", "forgotten_at"])
        return device
    first = not KnownDevice.objects.filter(user=user).exists()
    try:
        with transaction.atomic():
            device = KnownDevice.objects.create(
                user=user, token_digest=digest, user_agent=user_agent, ip=ip, created_at=now, last_sign_in_at=now
            )
    except IntegrityError:
        return None  # the same browser's other login, at the same moment, recorded it and alerted
    if first:
        return device  # sign-up, or the first login since known devices were turned on
    session_key = session.session_key or ""
    new_device_sign_in.send(sender=KnownDevice, user=user, device=device, request=request)
    if email_enabled():
        send_new_device_email(request, user, device, make_public_id(session_key))
    return device


# -- the e-mail and its "this wasn't me" link -------------------------------------------------------------


def not_me_token(device: KnownDevice, session_public_id: str) -> str:
    """A signed, expiring token naming the device and session; usable once (the device's nonce changes)."""
    return signing.dumps({"d": device.pk, "s": session_public_id, "n": device.alert_nonce}, salt=NOT_ME_SALT)


def _read_not_me_token(token: str) -> tuple[KnownDevice, str] | None:
    try:
        payload = signing.loads(token, salt=NOT_ME_SALT, max_age=NOT_ME_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), str) or not payload.get("n"):
        return None
    device_id = payload.get("d")
    if not isinstance(device_id, int):
        return None
    device = KnownDevice.objects.filter(pk=device_id, alert_nonce=payload["n"]).first()
    return (device, payload["s"]) if device is not None else None


def _device_name(device: KnownDevice) -> str:
    return device.device_name or _("an unknown device")


def send_new_device_email(request: HttpRequest, user: Any, device: KnownDevice, session_public_id: str) -> bool:
    """Send the "new sign-in" e-mail to the user's address; ``False`` when the user has none."""
    address = getattr(user, get_user_model().get_email_field_name(), "") or ""
    if not address:
        return False
    device.alert_nonce = secrets.token_urlsafe(16)
    device.save(update_fields=["alert_nonce"])
    link = request.build_absolute_uri(reverse("qsessions:not_me", args=[not_me_token(device, session_public_id)]))
    context = {
        "user": user,
        "device": _device_name(device),
        "location": geo.format_location(geo.location_info(device.ip)),
        "ip": device.ip,
        "time": device.last_sign_in_at,
        "not_me_url": link,
        "site_name": request.get_host(),
    }
    subject = render_to_string("qsessions/email/new_device_subject.txt", context, request).strip()
    body = render_to_string("qsessions/email/new_device_body.txt", context, request)
    send_mail(" ".join(subject.split()), body, None, [address])
    return True


def password_change_url() -> str:
    """Where "this wasn't me" leads: ``QSESSIONS_PASSWORD_CHANGE_URL``, else Django's ``password_change``."""
    return resolve_url(conf.PASSWORD_CHANGE_URL or "password_change")


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def not_me(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners follow links); POST signs that session out, forgets the device, and leads on."""
    found = _read_not_me_token(token)
    if found is None:
        return render(request, "qsessions/not_me.html", {"invalid": True}, status=404)
    device, public_id = found
    if request.method == "GET":
        context = {"device": _device_name(device), "time": device.last_sign_in_at, "invalid": False}
        return render(request, "qsessions/not_me.html", context)
    revoke_sessions(Session.objects.filter(user=device.user_id, public_id=public_id), REASON_USER, request)
    device.delete()  # its token is spent with it: the link works once
    return redirect(password_change_url())


# -- "Known devices" page ---------------------------------------------------------------------------------


def _this_browser_digest(request: HttpRequest) -> str | None:
    token = request.COOKIES.get(COOKIE_NAME)
    return token_digest(token) if token is not None and _valid_token(token) else None


@never_cache
@login_required
@require_GET
def device_list(request: HttpRequest) -> HttpResponse:
    current = _this_browser_digest(request)
    known = KnownDevice.objects.filter(user=cast(Any, request.user), forgotten_at__isnull=True).order_by(
        "-last_sign_in_at"
    )
    entries = [
        {
            "device": known_device,
            "name": _device_name(known_device),
            "location": geo.format_location(geo.location_info(known_device.ip)),
            "current": known_device.token_digest == current,
        }
        for known_device in known
    ]
    return render(request, "qsessions/known_devices.html", {"entries": entries})


@never_cache
@login_required
@require_POST
def forget_device(request: HttpRequest, device_id: int) -> HttpResponse:
    """Forget one of the user's devices: it leaves the list; a sign-in from it again is not alerted."""
    updated = KnownDevice.objects.filter(user=cast(Any, request.user), pk=device_id, forgotten_at__isnull=True).update(
        forgotten_at=timezone.now()
    )
    if not updated:
        raise Http404(_("No such device."))
    return redirect("qsessions:known_devices")


# -- the cookie ------------------------------------------------------------------------------------------


class KnownDeviceMiddleware:
    """Sets the device cookie chosen at login. Put it after ``qsessions.middleware.SessionMiddleware``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response: HttpResponseBase = self.get_response(request)
        user = request.__dict__.pop(_SIGNED_IN_ATTRIBUTE, None)
        if user is not None:
            note_sign_in(request, user)
        return self._set_cookie(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        user = request.__dict__.pop(_SIGNED_IN_ATTRIBUTE, None)
        if user is not None:
            await sync_to_async(note_sign_in)(request, user)
        return self._set_cookie(request, response)

    @staticmethod
    def _set_cookie(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        token = getattr(request, _NEW_TOKEN_ATTRIBUTE, None)
        if token:
            response.set_cookie(
                COOKIE_NAME,
                token,
                max_age=COOKIE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
            )
        return response
