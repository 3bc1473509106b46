"""Who may use the dashboard. Without a password it listens on loopback only (the machine's own users); any other
address needs one, asked by HTTP Basic authentication (any user name). The password comes from --password-file,
else from systemd's credential `dashboard-password` in $CREDENTIALS_DIRECTORY, as the daemon reads its MQTT
password (edge/sinks/mqtt_auth.py); it is never a command-line argument (the process list shows those)."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

CREDENTIAL = "dashboard-password"
REALM = 'Basic realm="dms dashboard", charset="UTF-8"'


class AuthError(Exception):
    """A listening address or password that cannot be used: a usage error, exit code 2."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"


def parse_listen(value: str) -> Listen:
    """HOST:PORT, [IPv6]:PORT; port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise AuthError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    return Listen(host, int(port))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def read_password(password_file: Path | None) -> str | None:
    """--password-file, else $CREDENTIALS_DIRECTORY/dashboard-password; None if neither. An empty one is an error."""
    if password_file is None:
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if not creds or not (Path(creds) / CREDENTIAL).is_file():
            return None
        password_file = Path(creds) / CREDENTIAL
    try:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as err:
        raise AuthError(f"cannot read the password file {password_file}: {err}") from None
    if not password:
        raise AuthError(f"the password file {password_file} is empty")
    return password


def check_listen(listen: Listen, password: str | None) -> None:
    if password is None and not is_loopback(listen.host):
        raise AuthError(f"--listen {listen.host}: listening beyond loopback needs a password (--password-file FILE, "
                        f"or the credential {CREDENTIAL} in $CREDENTIALS_DIRECTORY); without one, listen on "
                        "127.0.0.1 or ::1")


def authorized(header: str | None, password: str) -> bool:
    """An `Authorization: Basic ...` header with the password (compared in constant time)."""
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, sep, given = decoded.partition(":")
    return bool(sep) and hmac.compare_digest(given.encode(), password.encode())
