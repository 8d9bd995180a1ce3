"""What people read about a session's client: its device and its place, from the stored user agent,
client hints and IP address. Shared by the Session model and the cache-only engine's read model."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from qsessions import devices, geo

if TYPE_CHECKING:
    from ua_parser import Result


class DeviceAndPlace:
    """Needs ``user_agent``, ``client_hints`` and ``ip`` attributes; each description is computed once."""

    user_agent: str | None
    client_hints: Any
    ip: str | None

    @cached_property
    def device_info(self) -> Result | None:
        """The ``ua_parser`` result for this session's user agent, or ``None`` without one."""
        return devices.parse_user_agent(self.user_agent) if self.user_agent else None

    @cached_property
    def device(self) -> str:
        """``"<device> / <os> <version> / <browser> <version>"`` (django-qsessions 2.x), ``""`` without a user agent."""
        info = self.device_info
        return devices.device_summary(info) if info is not None else ""

    @cached_property
    def device_description(self) -> devices.DeviceDescription | None:
        """A human description ("Chrome 118 on Android", is_mobile, ...), or ``None`` without a user agent.

        Uses the stored client hints when there are any (``QSESSIONS_CLIENT_HINTS``).
        """
        if not self.user_agent:
            return None
        hints = self.client_hints if isinstance(self.client_hints, dict) else None
        return devices.describe_device(self.user_agent, hints)

    @property
    def device_name(self) -> str:
        """The device as people read it ("Chrome 118 on Android"), ``""`` when unknown: pages, API, admin."""
        description = self.device_description
        return description.name if description is not None else ""

    @cached_property
    def location_info(self) -> dict[str, Any] | None:
        return geo.location_info(self.ip)

    @cached_property
    def location(self) -> str | None:
        """``"City, Country"``, ``"Country"`` or ``None``."""
        return geo.format_location(self.location_info)
