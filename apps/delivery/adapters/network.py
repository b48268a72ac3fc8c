"""Where a destination may point: public addresses only, over TLS (SSRF).

A destination's endpoint is typed by a staff member, so without a check Candor would POST customers' permission
documents (and show the answer) to anything it can reach: 127.0.0.1, 10.0.0.0/8, the cloud metadata service at
169.254.169.254. The check runs when a destination is saved and again at every connection, on the addresses the
connection then uses (a name that resolved to a public address at save time may resolve to a private one later:
DNS rebinding). ``DELIVERY_ALLOW_PRIVATE_DESTINATIONS`` lifts both rules for development and the test suite, whose
receivers listen on 127.0.0.1; production refuses to start with it.
"""

import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import httpcore
import httpx
import pika
from django.conf import settings

SECURE_SCHEMES = {"webhook": "https", "braze": "https", "rabbitmq": "amqps"}
PLAIN_SCHEMES = {"webhook": "http", "braze": "http", "rabbitmq": "amqp"}


class RefusedAddress(Exception):
    """The endpoint is not a public address (or not one at all)."""


def private_allowed() -> bool:
    return settings.DELIVERY_ALLOW_PRIVATE_DESTINATIONS


def endpoint_problem(kind: str, endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be a destination of ``kind``, or None. Resolves the name (at save time)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as error:
        return f"Not a URL: {error}."
    allowed = {SECURE_SCHEMES[kind]} | ({PLAIN_SCHEMES[kind]} if private_allowed() else set())
    if parts.scheme not in allowed:
        return f"Use {SECURE_SCHEMES[kind]}:// (the documents are personal data and travel encrypted)."
    if not parts.hostname:
        return "The URL has no host."
    if private_allowed():
        return None  # any address will do: no need to resolve the name now
    try:
        public_addresses(parts.hostname, port or 443)
    except RefusedAddress as error:
        return str(error)
    return None


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now, if every one of them is public; else RefusedAddress."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedAddress(f"{host} does not resolve ({error}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not private_allowed():
        for address in addresses:
            if not is_public(address):
                raise RefusedAddress(f"{host} resolves to {address}, which is not a public address.")
    return addresses


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyBackend(httpcore.SyncBackend):
    """Resolves, checks, and connects to the address it checked (TLS still verifies the name: httpcore passes
    the URL's host as the server name)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = public_addresses(host, port)
        except RefusedAddress as error:
            raise httpcore.ConnectError(str(error)) from None
        last_error = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error


class PublicOnlyTransport(httpx.HTTPTransport):
    def __init__(self):
        super().__init__()
        # httpx has no argument for the network backend; the pool is built again with it (same defaults).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PublicOnlyBackend(),
        )


def http_client(**kwargs) -> httpx.Client:
    """An HTTP client for destinations: public addresses only, no redirects, no proxy from the environment (a
    proxy transport would connect without the check)."""
    return httpx.Client(
        transport=PublicOnlyTransport(),
        follow_redirects=False,
        trust_env=False,
        timeout=settings.DELIVERY_HTTP_TIMEOUT,
        **kwargs,
    )


def amqp_parameters(endpoint: str) -> pika.URLParameters:
    """Connection parameters that connect to a checked address of the endpoint's host (TLS keeps the name)."""
    parameters = pika.URLParameters(endpoint)
    host = parameters.host
    addresses = public_addresses(host, parameters.port)
    parameters.host = addresses[0]
    if parameters.ssl_options is not None or urlsplit(endpoint).scheme == "amqps":
        parameters.ssl_options = pika.SSLOptions(ssl.create_default_context(), server_hostname=host)
    return parameters
