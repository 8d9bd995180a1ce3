from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from qsessions.models import Session


def home(request: HttpRequest) -> HttpResponse:
    sessions = []
    if request.user.is_authenticated:
        sessions = list(Session.objects.filter(user=request.user).active().order_by("-updated_at"))
    return render(request, "demo/home.html", {"sessions": sessions})
