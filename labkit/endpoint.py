"""Parse and describe a vCenter address the way govc accepts it.

``vc.example.com``, ``https://vc.example.com``, ``https://vc:8443/sdk`` and
``https://user:password@vc/sdk`` all work. A malformed address raises
:class:`~labkit.errors.MalformedURL` with the form to use.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
from urllib.parse import unquote, urlsplit

from .errors import MalformedURL

FORM = "Write it as https://vcenter.example.com/sdk, or just vcenter.example.com."
_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    path: str
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The address without credentials, safe to print."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse(text: str) -> Endpoint:
    if not isinstance(text, str) or not text.strip():
        raise MalformedURL(f"The vCenter address is empty. {FORM}")
    raw = text.strip()
    if any(c.isspace() for c in raw):
        raise MalformedURL(f"'{_mask(raw)}' contains spaces, so it is not a vCenter address. {FORM}")
    if "://" not in raw:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", raw):
            raise MalformedURL(f"'{_mask(raw)}' is not a vCenter address (the scheme needs '://'). {FORM}")
        raw = "https://" + raw
    try:
        u = urlsplit(raw)
    except ValueError as e:  # "Invalid IPv6 URL": a bracket left open
        raise MalformedURL(f"'{_mask(text)}' is not a valid address ({e}). {FORM}") from None
    if u.scheme not in ("https", "http"):
        raise MalformedURL(f"'{_mask(text)}' uses '{u.scheme}://'; vCenter speaks https:// (or http:// to a simulator). {FORM}")
    try:
        port = u.port
    except ValueError:
        raise MalformedURL(f"'{_mask(text)}' has an invalid port; a port is a number from 1 to 65535. {FORM}") from None
    host = u.hostname or ""
    if not host:
        raise MalformedURL(f"'{_mask(text)}' names no host. {FORM}")
    if not _valid_host(host):
        raise MalformedURL(f"'{_mask(text)}': '{host}' is not a valid host name or IP address. {FORM}")
    if port == 0:
        raise MalformedURL(f"'{_mask(text)}' has port 0; a port is a number from 1 to 65535. {FORM}")
    path = u.path.rstrip("/") or "/sdk"
    return Endpoint(
        scheme=u.scheme,
        host=host,
        port=port or (443 if u.scheme == "https" else 80),
        path=path,
        user=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password is not None else None,
    )


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST.match(host)) and ".." not in host


def _mask(text: str) -> str:
    """The address with any password replaced by ***, for messages."""
    return re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", str(text))
