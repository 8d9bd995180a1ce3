"""Views the tests drive through the full middleware stack."""

from __future__ import annotations

from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from qsessions.reauthentication import arecord_authentication, reauthentication_required


def session_only(request: HttpRequest) -> HttpResponse:
    """Reads the session and nothing else (no user lookup)."""
    return JsonResponse({"value": request.session.get("value")})


def read(request: HttpRequest) -> HttpResponse:
    """Reads the session and the user; writes nothing."""
    return JsonResponse({"user": request.user.get_username() or None, "value": request.session.get("value")})


@csrf_exempt
def write(request: HttpRequest) -> HttpResponse:
    request.session["value"] = request.GET.get("value", "x")
    return HttpResponse("ok")


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    user = get_user_model()._default_manager.get_by_natural_key(request.GET["username"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("ok")


@csrf_exempt
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("ok")


async def aread(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    value = await request.session.aget("value")
    return JsonResponse({"user": user.get_username() or None, "value": value})


@csrf_exempt
async def awrite(request: HttpRequest) -> HttpResponse:
    await request.session.aset("value", request.GET.get("value", "x"))
    return HttpResponse("ok")


@csrf_exempt
async def alogin_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import alogin

    user = await get_user_model()._default_manager.aget(username=request.GET["username"])
    await alogin(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("ok")


@csrf_exempt
async def alogout_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import alogout

    await alogout(request)
    return HttpResponse("ok")


@csrf_exempt
def change_password_view(request: HttpRequest) -> HttpResponse:
    """set_password + save, keeping this session signed in when ?keep=1 (update_session_auth_hash)."""
    from django.contrib.auth import update_session_auth_hash

    user = request.user
    user.set_password(request.GET.get("password", "new-password"))
    user.save()
    if request.GET.get("keep") == "1":
        update_session_auth_hash(request, user)  # type: ignore[arg-type]
    return HttpResponse("ok")


@csrf_exempt
async def achange_password_view(request: HttpRequest) -> HttpResponse:
    """The async twin of change_password_view."""
    from django.contrib.auth import aupdate_session_auth_hash

    user = await request.auser()
    request.user = user  # aupdate_session_auth_hash() compares with request.user, a lazy sync lookup
    user.set_password(request.GET.get("password", "new-password"))
    await user.asave()  # type: ignore[union-attr]
    if request.GET.get("keep") == "1":
        await aupdate_session_auth_hash(request, user)  # type: ignore[arg-type]
    return HttpResponse("ok")


@csrf_exempt
def own_reauthentication_view(request: HttpRequest) -> HttpResponse:
    """A site's own re-authentication (allauth, django-otp, ...) after it has checked the user: it records it."""
    from qsessions.reauthentication import record_authentication

    record_authentication(request)
    return HttpResponse("ok")


@csrf_exempt
def hijack_view(request: HttpRequest) -> HttpResponse:
    """What django-hijack's acquire view does: login() as the other user, then mark the session."""
    user = get_user_model()._default_manager.get_by_natural_key(request.GET["username"])
    history = request.session.get("hijack_history", [])
    hijacker = request.GET.get("hijacker") or (request.user.pk if request.user.is_authenticated else 1)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["hijack_history"] = [*history, str(hijacker)]
    return HttpResponse("ok")


@reauthentication_required
async def async_sudo_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("done")


@reauthentication_required(json=True, methods=["POST"])
async def async_sudo_api(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"done": True})


async def async_record_view(request: HttpRequest) -> HttpResponse:
    await arecord_authentication(request)
    return HttpResponse("ok")


def whoami(request: HttpRequest) -> HttpResponse:
    """The user (which loads the session), then the messages waiting for this browser."""
    from django.contrib.messages import get_messages

    user = request.user.get_username() or None
    return JsonResponse({"user": user, "messages": [str(message) for message in get_messages(request)]})


async def awhoami(request: HttpRequest) -> HttpResponse:
    from django.contrib.messages import get_messages

    user = (await request.auser()).get_username() or None
    return JsonResponse({"user": user, "messages": [str(message) for message in get_messages(request)]})
