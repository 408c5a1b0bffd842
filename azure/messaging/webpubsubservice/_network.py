"""TLS and proxy choices shared by the sync and async transports."""

from __future__ import annotations

import ssl
import urllib.request
from typing import Any, Dict, Mapping, Optional, Tuple, Union

Cert = Union[None, str, Tuple[str, str]]


class NetworkSettings:
    """A transport's ``connection_verify``/``connection_cert`` (overridable per call) and proxies.

    Proxies come from ``proxies=`` or, by default, the ``*_PROXY``/``NO_PROXY`` environment variables.
    """

    def __init__(self, *, verify: Union[bool, str], cert: Cert, proxies: Optional[Mapping[str, str]],
                 use_env_settings: bool) -> None:
        self._verify = verify
        self._cert = cert
        self._proxies = dict(proxies) if proxies is not None else (
            urllib.request.getproxies() if use_env_settings else {})
        self._use_env = use_env_settings and proxies is None
        self._ssl_contexts: Dict[Tuple[Any, Any], ssl.SSLContext] = {}

    def ssl_context(self, verify: Optional[Union[bool, str]] = None, cert: Cert = None) -> ssl.SSLContext:
        verify = self._verify if verify is None else verify
        cert = cert or self._cert
        context = self._ssl_contexts.get((verify, cert))
        if context is None:
            context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if cert:
                certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
                context.load_cert_chain(certfile, keyfile)
            self._ssl_contexts[(verify, cert)] = context
        return context

    def proxy_for(self, scheme: str, host: str, proxies: Optional[Mapping[str, str]] = None) -> Optional[str]:
        if proxies:
            return proxies.get(scheme) or proxies.get("all")
        if not self._proxies:
            return None
        if self._use_env and urllib.request.proxy_bypass(host):
            return None
        return self._proxies.get(scheme) or self._proxies.get("all")
