"""The sessions admin: who is signed in where, filters, and revocation that also clears the cache.

A session key is a login cookie, so the admin never shows one and never answers a question about one:
- every page, link, form, popup and log entry names a session by its opaque ``public_id``;
- the list answers only to its own filters (``active``, ``owner``) and to an owner's id; any other
  query-string lookup (``session_key__startswith``, ``pk``, ``session_data__contains``, ...) is refused
  with 400 before any query, whatever its value, so it cannot tell a real key prefix from a fake one;
- rows that sort equal are ordered by public id, never by key; ``_to_field`` accepts the public id only;
- site-wide actions (``AdminSite.add_action``, e.g. an export) are not offered: they would receive keys.
django-qsessions 2.x built change URLs from the key; such a URL still opens the session, found through
the key's public id (the exact key is needed, as with the cookie itself).

On the cache-only engine (``qsessions.backends.cache``) there are no rows: the same "Sessions" entry of the
admin is a search for a user, then that user's sessions read from their index (``qsessions.cache_sessions``),
revoked one by one or all together through ``qsessions.revocation``, with the same permissions, confirmation
pages and admin log entries. A session there is found through its owner, so its URLs carry the owner's id.
"""

from __future__ import annotations

from pprint import pformat
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model, logout
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, Value
from django.forms import CheckboxInput
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, register_converter, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language_bidi, ngettext
from django.utils.translation import gettext_lazy as _

from qsessions import cache_sessions, lifecycle
from qsessions.cache import sessions_are_cache_only
from qsessions.cache_sessions import CachedSession
from qsessions.models import EndedSession, Session, looks_like_public_id, make_public_id
from qsessions.revocation import REASON_ADMIN, revoke, revoke_all, revoke_sessions
from qsessions.sign_in import session_sign_in_method

# Unicode's first-strong isolate and pop directional isolate: they keep text from a client (a user agent
# with U+202E, say) from reordering what surrounds it where markup cannot (attributes, log entries).
FSI, PDI = "\u2068", "\u2069"
# Longest session key the model stores: a longer id in a URL is not a key.
KEY_MAX_LENGTH = Session._meta.get_field("session_key").max_length or 40
# How many sessions the bulk revocation page names before saying "and N more".
CONFIRMATION_LIST_LIMIT = 100


def isolate(text: str) -> str:
    """``text`` as one bidi-isolated run, for plain-text places (attributes, log entries)."""
    return f"{FSI}{text}{PDI}"


def describe(session: Session | CachedSession) -> str:
    """A plain-text label for a session, used where Django would print the object (its key)."""
    owner = str(session.user) if session.user_id else _("anonymous")
    device = session.device_name or _("unknown device")
    return f"{isolate(str(owner))} · {isolate(str(device))} · {session.ip or '-'}"


def local_time(value: Any) -> SafeString | str:
    """A time in the current time zone, with the zone named, and machine-readable in ``<time>``."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    # Date and time+zone may wrap onto two lines, each kept whole, so that time columns stay narrow.
    return format_html(
        '<time datetime="{}" title="{}"><span>{}</span> <span>{} {}</span></time>',
        local.isoformat(),
        date_format(local, "DATETIME_FORMAT"),
        date_format(local, "SHORT_DATE_FORMAT"),
        date_format(local, "TIME_FORMAT"),
        local.tzname(),
    )


class ActiveFilter(admin.SimpleListFilter):
    title = _("active")
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("1", _("Active")), ("0", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        if self.value() == "1":
            return queryset.filter(expire_date__gt=timezone.now())
        if self.value() == "0":
            return queryset.filter(expire_date__lte=timezone.now())
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    title = _("owner")
    parameter_name = "owner"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("my", _("Mine"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        if self.value() == "my":
            return queryset.filter(user_id=cast(int, request.user.pk))
        return queryset


class SessionChangeList(ChangeList):
    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        # A popup hands each row's `to_field` value to its opener (data-popup-opener): the public id.
        self.to_field = "public_id"

    def url_for_result(self, result: Any) -> str:
        opts = self.opts
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=(result.public_id,),
            current_app=self.model_admin.admin_site.name,
        )

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        # Django breaks ties by primary key: the order of rows that sort equal would compare their keys.
        by_key = {"pk": "public_id", "-pk": "-public_id", "session_key": "public_id", "-session_key": "-public_id"}
        return [
            by_key.get(field, field) if isinstance(field, str) else field
            for field in super().get_ordering(request, queryset)
        ]


class SessionIdConverter:
    """The id of a session in admin URLs: its public id. ``reverse()`` given a session key (as Django's
    "delete this user" page and code written for django-qsessions 2.x do) builds the URL with the key's
    public id instead, so the key never appears in a URL."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        text = str(value)
        return text if looks_like_public_id(text) else make_public_id(text)


register_converter(SessionIdConverter, "qsessions_id")


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # Few, compact columns so that the list fits a 1280 px screen; the detail page has every field.
    list_display = ("owner", "device_column", "where", "signed_in", "last_active", "active")
    list_display_links = ("owner",)
    list_select_related = ("user", "impersonator")
    list_filter = (ActiveFilter, OwnerFilter)
    # Most recently active first, as on "Your sessions" (an expression: Django accepts them).
    ordering = (F("last_activity").desc(nulls_last=True),)
    actions = ["revoke_selected"]
    search_help_text = _("Search by IP address, user agent, username or email.")
    detail_template = "admin/qsessions/session/detail.html"
    revoke_template = "admin/qsessions/session/revoke_confirmation.html"
    revoke_selected_template = "admin/qsessions/session/revoke_selected_confirmation.html"

    class Media:
        css = {"all": ["qsessions/admin.css"]}

    # -- listing -----------------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # Whether each row is the session making this request, compared in the database.
        key = getattr(getattr(request, "session", None), "session_key", None)
        current = ExpressionWrapper(Q(pk=key), output_field=BooleanField()) if key else Value(False)
        return cast("QuerySet[Session]", super().get_queryset(request).annotate(is_current=current))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SessionChangeList

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        user_model = get_user_model()
        fields = ["ip", "user_agent", f"user__{user_model.USERNAME_FIELD}"]
        email_field = user_model.get_email_field_name()
        if email_field != user_model.USERNAME_FIELD and _has_field(user_model, email_field):
            fields.append(f"user__{email_field}")
        return fields

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Django allows any lookup on the model's own fields, the key and the data included: allow only
        # the list's filters and one owner (the parameters Django's own `user` filter would use).
        # (Django 5.0 added `request`; 6.0 always passes it.)
        allowed = {f"user__{get_user_model()._meta.pk.name}__exact", "user__isnull"}
        for list_filter in self.get_list_filter(request) if request is not None else self.list_filter:
            if isinstance(list_filter, type) and issubclass(list_filter, admin.SimpleListFilter):
                allowed.add(cast(str, list_filter.parameter_name))
        return lookup in allowed

    def to_field_allowed(self, request: HttpRequest, to_field: str) -> bool:
        # Popups, raw-id widgets and autocomplete of models pointing here would otherwise hand out keys.
        return to_field == "public_id"

    @admin.display(description=_("user"), ordering="user")
    def owner(self, obj: Session) -> str:
        return format_html("<bdi>{}</bdi>", obj.user) if obj.user_id else "-"

    @admin.display(description=_("device"))
    def device_column(self, obj: Session) -> str:
        name = obj.device_name
        badge = (
            format_html(' <strong class="qsessions-badge">{}</strong>', _("This session"))
            if getattr(obj, "is_current", False)
            else ""
        )
        if obj.impersonator_id is not None:
            badge = format_html(
                '{} <strong class="qsessions-badge qsessions-impersonation">{}</strong>',
                badge,
                _("Impersonated by %(user)s") % {"user": isolate(str(obj.impersonator))},
            )
        if not name:
            return format_html("{}{}", _("Unknown device"), badge)
        # The 2.x summary ("Other / Windows 10 / Chrome 131.0.0.0") stays at hand as a tooltip.
        # In a right-to-left language the name is a phrase of that language: laid out right to left.
        if get_language_bidi():
            return format_html('<bdi dir="rtl" title="{}">{}</bdi>{}', isolate(obj.device), name, badge)
        return format_html('<bdi title="{}">{}</bdi>{}', isolate(obj.device), name, badge)

    @admin.display(description=_("location / IP"), ordering="ip")
    def where(self, obj: Session) -> str:
        ip = format_html('<span class="qsessions-ip">{}</span>', obj.ip) if obj.ip else "-"
        if not obj.location:
            return ip
        return format_html("<bdi>{}</bdi><br>{}", obj.location, ip)

    @admin.display(description=_("signed in"), ordering="created_at")
    def signed_in(self, obj: Session) -> str:
        method = session_sign_in_method(obj).description
        if not method:
            return local_time(obj.created_at)
        return format_html("{}<br>{}", local_time(obj.created_at), method)

    @admin.display(description=_("last active"), ordering="last_activity")
    def last_active(self, obj: Session) -> str:
        return local_time(obj.last_activity)

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj: Session) -> bool:
        return obj.is_active

    @admin.display(description=_("sign-in method"))
    def sign_in_method(self, obj: Session) -> str:
        return session_sign_in_method(obj).description or "-"

    def action_checkbox(self, obj: Session) -> SafeString:
        attrs = {"class": "action-select", "aria-label": _("Select this session: %s") % describe(obj)}
        return CheckboxInput(attrs, lambda value: False).render(helpers.ACTION_CHECKBOX_NAME, obj.public_id)

    action_checkbox.short_description = format_html(  # type: ignore[attr-defined]
        '<input type="checkbox" id="action-toggle" aria-label="{}">', _("Select all objects on this page for an action")
    )

    # -- actions -----------------------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Only this admin's own actions: a site-wide one (an export, say) would be handed the keys.
        # (Django 6.1 adds `action_location` and makes actions objects; names are what all versions share.)
        extra = () if action_location is None else (action_location,)
        actions = super().get_actions(request, *extra)
        own = {action if isinstance(action, str) else action.__name__ for action in self.actions or []}
        return {name: action for name, action in actions.items() if name in own}

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Session], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Django 6.1 adds an action_location argument: passed on as given.
        # The checkboxes carry public ids; Django's action machinery selects by primary key.
        public_ids = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if public_ids:
            wellformed = [public_id for public_id in public_ids if looks_like_public_id(public_id)]
            keys = Session.objects.filter(public_id__in=wellformed).values_list("pk", flat=True)
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, list(keys))
            request.POST = post  # type: ignore[assignment]
        return super().response_action(request, queryset, *args, **kwargs)

    # -- permissions: read-only; revocation is the one action ---------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        # This admin's delete page is the revocation (delete_view), and its delete_selected action is not
        # offered (get_actions). The permission itself is what deleting a *user* needs: Django's page for it
        # lists the user's sessions, by public id (SessionIdConverter, Session.__str__), and the CASCADE
        # removes them through the same eviction as any revocation.
        return self.has_revoke_permission(request)

    def get_urls(self) -> list[URLPattern]:
        # The cache-only engine's pages first (Django's last pattern takes any path as an object id), then
        # Django's own patterns, with the object id read and written by SessionIdConverter.
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        urls = [
            path("user/<str:user_id>/", wrap(self.user_sessions_view), name=f"{info}_user"),
            path("user/<str:user_id>/revoke/", wrap(self.revoke_user_sessions_view), name=f"{info}_user_revoke_all"),
            path(
                "user/<str:user_id>/<str:public_id>/revoke/",
                wrap(self.revoke_user_session_view),
                name=f"{info}_user_revoke",
            ),
        ]
        for pattern in super().get_urls():
            route = str(pattern.pattern)
            if "<path:object_id>" in route:
                route = route.replace("<path:object_id>", "<qsessions_id:object_id>")
                pattern = path(route, pattern.callback, name=cast(str, pattern.name))  # None stays None
            urls.append(pattern)
        return urls

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Session]) -> HttpResponse | None:
        if request.POST.get("post") != "yes":
            return self._revoke_selected_confirmation(request, queryset)
        sessions = list(queryset.select_related("user").defer("session_data"))
        self._log_revocations(request, sessions)
        count = revoke_sessions(Session.objects.filter(pk__in=[s.pk for s in sessions]), REASON_ADMIN, request)
        self.message_user(
            request,
            ngettext("Revoked %d session.", "Revoked %d sessions.", count) % count,
            messages.SUCCESS,
        )
        return None  # Django redirects to the list with its filters

    def _revoke_selected_confirmation(self, request: HttpRequest, queryset: QuerySet[Session]) -> HttpResponse:
        select_across = request.POST.get("select_across") == "1"
        count = queryset.count()
        sessions = list(queryset.select_related("user").defer("session_data")[:CONFIRMATION_LIST_LIMIT])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Are you sure?"),
            "sessions": [(session, session.device_name) for session in sessions],
            "count": count,
            "more": count - len(sessions),
            "select_across": select_across,
            "includes_current": any(getattr(session, "is_current", False) for session in sessions),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": request.get_full_path(),
            "media": self.media,
        }
        return TemplateResponse(request, self.revoke_selected_template, context)

    def _log_revocations(self, request: HttpRequest, sessions: list[Session] | list[CachedSession]) -> None:
        content_type = ContentType.objects.get_for_model(Session, for_concrete_model=False)
        LogEntry.objects.bulk_create(
            [
                LogEntry(
                    user_id=cast(int, request.user.pk),
                    content_type=content_type,
                    object_id=session.public_id,
                    object_repr=describe(session)[:200],
                    action_flag=DELETION,
                    change_message="Revoked",
                )
                for session in sessions
            ]
        )

    # -- one session ---------------------------------------------------------------------------------------

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Session | None:
        if not looks_like_public_id(object_id):
            return None
        return self.get_queryset(request).filter(public_id=object_id).first()

    def _get_by_public_id_or_key(self, request: HttpRequest, object_id: str) -> Session | None:
        """The session ``object_id`` names, as a public id or (django-qsessions 2.x links) as its key.

        The key is never queried: its public id is. Only the exact key finds its session, and an unknown
        key costs the same single query and gets the same answer as an unknown public id.
        """
        candidates = [make_public_id(object_id)] if 0 < len(object_id) <= KEY_MAX_LENGTH else []
        if looks_like_public_id(object_id):
            candidates.insert(0, object_id)
        if not candidates:
            return None
        found = {session.public_id: session for session in self.get_queryset(request).filter(public_id__in=candidates)}
        return next((found[candidate] for candidate in candidates if candidate in found), None)

    def _with_preserved_filters(self, request: HttpRequest, url: str) -> str:
        """``url`` carrying the list's filters, so that going back (or revoking) keeps them."""
        context: dict[str, Any] = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return add_preserved_filters(context, url)

    def _changelist_url(self, request: HttpRequest) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return self._with_preserved_filters(request, url)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])  # revocation has its own confirmation page
        if not self.has_view_permission(request) or sessions_are_cache_only():
            raise Http404  # the cache-only engine finds a session through its owner: user_sessions_view
        session = self._get_by_public_id_or_key(request, object_id)
        if session is None:
            raise Http404(_("No session with this id."))
        revoke_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_delete", args=[session.public_id])
        fields = [
            (_("user"), format_html("<bdi>{}</bdi>", session.user) if session.user_id else "-"),
            (_("device"), format_html("<bdi>{}</bdi>", session.device_name) if session.user_agent else "-"),
            (_("user agent"), format_html("<bdi>{}</bdi>", session.user_agent) if session.user_agent else "-"),
            (_("IP"), session.ip or "-"),
            (_("location"), format_html("<bdi>{}</bdi>", session.location) if session.location else "-"),
            (_("signed in"), local_time(session.created_at)),
            (_("sign-in method"), session_sign_in_method(session).description or "-"),
            (_("last active"), local_time(session.last_activity)),
            (_("updated at"), local_time(session.updated_at)),
            (_("expires"), local_time(session.expire_date)),
            (_("active"), _("yes") if session.is_active else _("no")),
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Session"),
            "subtitle": describe(session),
            "session": session,
            "is_current": getattr(session, "is_current", False),
            "fields": fields,
            # The decoded data can hold anything the site stores (tokens, carts): superusers only.
            "session_data": pformat(session.get_decoded()) if request.user.is_superuser else None,
            "can_revoke": self.has_revoke_permission(request),
            "revoke_url": self._with_preserved_filters(request, revoke_url),
            "changelist_url": self._changelist_url(request),
            "media": self.media,
            **(extra_context or {}),
        }
        response = TemplateResponse(request, self.detail_template, context)
        if session.public_id != object_id:
            # Opened by its key (a 2.x link): links from this page must not carry that URL along.
            response["Referrer-Policy"] = "no-referrer"
        return response

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """Django's delete URL is the revocation: a confirmation page (GET), then the revocation (POST)."""
        if not (self.has_view_permission(request) and self.has_revoke_permission(request)):
            raise PermissionDenied
        if sessions_are_cache_only():
            raise Http404(_("No session with this id."))  # see revoke_user_session_view
        session = self.get_object(request, object_id)
        if session is None:
            raise Http404(_("No session with this id."))
        changelist_url = self._changelist_url(request)
        if request.method == "POST":
            self._log_revocations(request, [session])
            revoke_sessions(Session.objects.filter(pk=session.pk), REASON_ADMIN, request)
            self.message_user(request, _("The session was revoked."), messages.SUCCESS)
            return HttpResponseRedirect(changelist_url)
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[session.public_id])
        return self._revoke_confirmation(
            request,
            session,
            is_current=getattr(session, "is_current", False),
            change_url=self._with_preserved_filters(request, change_url),
            changelist_url=changelist_url,
            extra_context=extra_context,
        )

    def _revoke_confirmation(
        self,
        request: HttpRequest,
        session: Session | CachedSession,
        *,
        is_current: bool,
        change_url: str,
        changelist_url: str,
        extra_context: Any = None,
    ) -> HttpResponse:
        """The page that asks whether to revoke one session (its POST revokes it)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Are you sure?"),
            "session": session,
            "subtitle": describe(session),
            "device": session.device_name,
            "is_current": is_current,
            "change_url": change_url,
            "changelist_url": changelist_url,
            "media": self.media,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.revoke_template, context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        raise Http404  # Django's history page prints the object (its key); revocations are in the admin log.

    # -- the cache-only engine: no rows; a user's sessions, read from the user's index ----------------------

    cache_users_template = "admin/qsessions/session/cache_users.html"
    cache_user_sessions_template = "admin/qsessions/session/cache_user_sessions.html"
    cache_revoke_all_template = "admin/qsessions/session/cache_revoke_all_confirmation.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if sessions_are_cache_only():
            return self.cache_users_view(request)
        return super().changelist_view(request, extra_context)

    def _cache_only_or_404(self) -> None:
        if not sessions_are_cache_only():
            raise Http404  # on db and cached_db the list itself filters by owner (?user__id__exact=)

    def _user_url(self, user: Any, name: str = "user", *args: str) -> str:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return reverse(f"admin:{info}_{name}", args=[user.pk, *args], current_app=self.admin_site.name)

    def cache_users_view(self, request: HttpRequest) -> HttpResponse:
        """The cache-only engine's "Sessions": find a user (by username or email), then see their sessions.

        Redis keeps a list of sessions per user, not one of everyone's; the list's owner parameters
        (``?user__id__exact=<id>``, ``?owner=my``) lead straight to that user's sessions.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        user_model = get_user_model()
        owner = request.GET.get(f"user__{user_model._meta.pk.name}__exact")
        if owner is not None:
            return HttpResponseRedirect(self._user_url(_user_or_404(owner)))
        if request.GET.get(OwnerFilter.parameter_name) == "my":
            return HttpResponseRedirect(self._user_url(request.user))
        query = request.GET.get("q", "").strip()
        email_field = user_model.get_email_field_name()
        has_email = email_field != user_model.USERNAME_FIELD and _has_field(user_model, email_field)
        users: list[tuple[Any, str, str]] = []
        if query:
            condition = Q(**{f"{user_model.USERNAME_FIELD}__icontains": query})
            if has_email:
                condition |= Q(**{f"{email_field}__icontains": query})
            found = user_model._default_manager.filter(condition).order_by(user_model.USERNAME_FIELD)
            users = [
                (user, self._user_url(user), str(getattr(user, email_field, "") or "") if has_email else "")
                for user in found[: self.list_per_page]
            ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Find a user’s sessions"),  # noqa: RUF001 (the typographic apostrophe)
            "query": query,
            "users": users,
            "email_label": getattr(user_model._meta.get_field(email_field), "verbose_name", email_field)
            if has_email
            else None,
            "own_url": self._user_url(request.user),
            "media": self.media,
        }
        return TemplateResponse(request, self.cache_users_template, context)

    def user_sessions_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """One user's live sessions on the cache-only engine, the most recently active first."""
        self._cache_only_or_404()
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        user = _user_or_404(user_id)
        sessions = sorted(cache_sessions.user_sessions(user), key=cache_sessions.most_recent_first)
        page_number = request.GET.get("p", "1")
        if not (page_number.isascii() and page_number.isdigit() and len(page_number) <= 6):
            raise Http404
        paginator = Paginator(sessions, self.list_per_page)
        if int(page_number) > max(1, paginator.num_pages) or int(page_number) < 1:
            raise Http404
        page = paginator.page(int(page_number))
        can_revoke = self.has_revoke_permission(request)
        current_key = getattr(getattr(request, "session", None), "session_key", None)
        rows = [
            {
                "session": session,
                "device": session.device_name,
                "summary": isolate(session.device) if session.device else "",
                "is_current": current_key is not None and session.session_key == current_key,
                "signed_in": local_time(session.created_at),
                "sign_in_method": session_sign_in_method(session).description,
                "last_active": local_time(session.last_activity),
                "expires": local_time(session.expire_date),
                "revoke_url": self._user_url(user, "user_revoke", session.public_id) if can_revoke else None,
            }
            for session in page.object_list
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Sessions of %(user)s") % {"user": isolate(str(user))},
            "owner": user,
            "rows": rows,
            "bidi": get_language_bidi(),
            "page": page,
            "count": len(sessions),
            "can_revoke": can_revoke,
            "revoke_all_url": self._user_url(user, "user_revoke_all") if can_revoke and sessions else None,
            "changelist_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
            "media": self.media,
        }
        return TemplateResponse(request, self.cache_user_sessions_template, context)

    def _revocation_allowed(self, request: HttpRequest) -> None:
        self._cache_only_or_404()
        if not (self.has_view_permission(request) and self.has_revoke_permission(request)):
            raise PermissionDenied

    def _after_revocation(self, request: HttpRequest, revoked: list[CachedSession], user: Any) -> HttpResponse:
        current_key = getattr(getattr(request, "session", None), "session_key", None)
        if current_key is not None and any(session.session_key == current_key for session in revoked):
            logout(request)  # the admin's own session: nothing may be saved into it any more
        return HttpResponseRedirect(self._user_url(user))

    def revoke_user_session_view(self, request: HttpRequest, user_id: str, public_id: str) -> HttpResponse:
        """A confirmation page (GET), then the revocation of that one session (POST)."""
        self._revocation_allowed(request)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        user = _user_or_404(user_id)
        found = (
            [s for s in cache_sessions.user_sessions(user) if s.public_id == public_id]
            if looks_like_public_id(public_id)
            else []
        )
        if not found:
            raise Http404(_("No session with this id."))
        session = found[0]
        user_url = self._user_url(user)
        if request.method == "POST":
            self._log_revocations(request, [session])
            revoke(session, REASON_ADMIN, request)
            self.message_user(request, _("The session was revoked."), messages.SUCCESS)
            return self._after_revocation(request, [session], user)
        current_key = getattr(getattr(request, "session", None), "session_key", None)
        return self._revoke_confirmation(
            request,
            session,
            is_current=session.session_key == current_key,
            change_url=user_url,
            changelist_url=reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        )

    def revoke_user_sessions_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """A confirmation page (GET), then the revocation of every session of the user (POST)."""
        self._revocation_allowed(request)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        user = _user_or_404(user_id)
        sessions = sorted(cache_sessions.user_sessions(user), key=cache_sessions.most_recent_first)
        if request.method == "POST":
            self._log_revocations(request, sessions)
            count = revoke_all(user, REASON_ADMIN, request=request)
            self.message_user(
                request, ngettext("Revoked %d session.", "Revoked %d sessions.", count) % count, messages.SUCCESS
            )
            return self._after_revocation(request, sessions, user)
        current_key = getattr(getattr(request, "session", None), "session_key", None)
        shown = sessions[:CONFIRMATION_LIST_LIMIT]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Are you sure?"),
            "owner": user,
            "owner_name": isolate(str(user)),
            "user_url": self._user_url(user),
            "sessions": [(session, session.device_name, session.session_key == current_key) for session in shown],
            "count": len(sessions),
            "more": len(sessions) - len(shown),
            "includes_current": any(session.session_key == current_key for session in sessions),
            "changelist_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
            "media": self.media,
        }
        return TemplateResponse(request, self.cache_revoke_all_template, context)


def _user_or_404(user_id: str) -> Any:
    """The user whose primary key is ``user_id`` (as written in a URL), or 404 for anything else."""
    user_model = get_user_model()
    try:
        pk = user_model._meta.pk.to_python(user_id)
        user = user_model._default_manager.filter(pk=pk).first()
    except (ValidationError, ValueError, TypeError, OverflowError):
        user = None
    if user is None:
        raise Http404
    return user


def _has_field(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


@admin.register(EndedSession)
class EndedSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The history of ended sessions: read-only (it is a record), by public id; no key was ever kept."""

    list_display = ["public_id", "owner", "device_column", "where", "signed_in", "ended", "why"]
    list_filter = ["reason", "ended_at"]
    list_select_related = ["user", "impersonator"]
    ordering = ["-ended_at", "-pk"]
    fields = readonly_fields = (
        "public_id",
        "user",
        "why",
        "user_agent",
        "ip",
        "location",
        "created_at",
        "last_activity",
        "ended_at",
        "told",
        "impersonator",
    )

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["public_id", "ip", f"user__{get_user_model().USERNAME_FIELD}"]

    @admin.display(description=_("owner"), ordering="user")
    def owner(self, obj: EndedSession) -> str:
        if obj.impersonator_id is not None:
            return format_html(
                "<bdi>{}</bdi><br>{}",
                obj.user,
                _("impersonated by %(user)s") % {"user": isolate(str(obj.impersonator))},
            )
        return format_html("<bdi>{}</bdi>", obj.user)

    @admin.display(description=_("device"))
    def device_column(self, obj: EndedSession) -> str:
        description = obj.device_description
        name = description.name if description is not None else ""
        return format_html("<bdi>{}</bdi>", name) if name else str(_("Unknown device"))

    @admin.display(description=_("location / IP"), ordering="ip")
    def where(self, obj: EndedSession) -> str:
        ip = obj.ip or "-"
        return format_html("<bdi>{}</bdi><br>{}", obj.location, ip) if obj.location else ip

    @admin.display(description=_("signed in"), ordering="created_at")
    def signed_in(self, obj: EndedSession) -> str:
        return local_time(obj.created_at)

    @admin.display(description=_("ended"), ordering="ended_at")
    def ended(self, obj: EndedSession) -> str:
        return local_time(obj.ended_at)

    @admin.display(description=_("reason"), ordering="reason")
    def why(self, obj: EndedSession) -> str:
        return lifecycle.reason_label(obj.reason)

    @admin.display(description=_("location"))
    def location(self, obj: EndedSession) -> str:
        return obj.location or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EndedSession | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EndedSession | None = None) -> bool:
        return False  # clearsessions keeps the history to QSESSIONS_HISTORY_RETENTION; deleting a user deletes theirs
