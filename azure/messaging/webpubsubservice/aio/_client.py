"""The asynchronous :class:`WebPubSubServiceClient`: the sync client's operations, awaited."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Union

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline import AsyncPipeline
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy, AsyncRedirectPolicy, AsyncRetryPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest
from typing_extensions import Unpack

from .. import _operations as ops
from .._config import ClientClosedError, build_policies, transport_options
from .._keywords import ASYNC_CLIENT_KEYWORDS, AsyncClientOptions, PipelineOptions
from .._pipeline import grouped
from .._shell import ClientBase, async_operation, async_pages
from ._transport import AiohttpSessionTransport

AsyncCredential = Union[AzureKeyCredential, AsyncTokenCredential]


class WebPubSubServiceClient(ClientBase):
    """Sends messages to Web PubSub connections and manages groups, users, connections and permissions,
    without blocking the event loop.

    :param endpoint: the service URL, e.g. ``https://<resource>.webpubsub.azure.com``.
    :param hub: the hub the convenience operations act on (``send_request`` works without one).
    :param credential: an ``AzureKeyCredential`` (requests are signed with short-lived JWTs) or a
        Microsoft Entra ID async token credential such as ``azure.identity.aio.DefaultAzureCredential``.
    :keyword str api_version: REST API version, default ``2024-12-01``.
    :keyword str reverse_proxy_endpoint: send requests through e.g. API Management; tokens keep the
        service URL as their audience.
    :keyword transport: an azure-core ``AsyncHttpTransport``; the default is a thin one on a single
        ``aiohttp.ClientSession``.
    :keyword int connection_limit: connections in use at once by the default transport (100); further calls
        wait for a free one.
    :keyword bool logging_enable: log requests and responses at DEBUG (secrets redacted).
    :keyword int retry_total: and the other azure-core retry, redirect, user agent, header, tracing, timeout
        and policy keywords (``_keywords.ClientOptions``); a misspelt one raises ``TypeError``.
    """

    _KEYWORDS = ASYNC_CLIENT_KEYWORDS

    def __init__(self, endpoint: str, hub: Optional[str] = None, credential: Optional[AsyncCredential] = None,
                 **kwargs: Unpack[AsyncClientOptions]) -> None:
        options = self._configure(endpoint, hub, credential, kwargs)
        transport = options.pop("transport", None) or AiohttpSessionTransport(
            connection_limit=options.pop("connection_limit", 100), **transport_options(options))
        policies = build_policies(self._settings, options, bearer_policy=AsyncBearerTokenCredentialPolicy,
                                  retry_policy=AsyncRetryPolicy, redirect_policy=AsyncRedirectPolicy)
        self._pipeline: AsyncPipeline[HttpRequest, AsyncHttpResponse] = AsyncPipeline(
            transport=transport, policies=grouped(policies, asynchronous=True))
        self._opened = self._closed = False

    async def send_request(self, request: HttpRequest, *, stream: bool = False,
                           **kwargs: Unpack[PipelineOptions]) -> AsyncHttpResponse:
        """Sign and send a request (e.g. from :mod:`azure.messaging.webpubsubservice.rest`); never raises for
        an error status: the response is returned as it came, its body loaded unless ``stream=True``.

        A relative URL is resolved against the endpoint; the caller's request object is left untouched.
        """
        return await self._send(self._own_copy(request, kwargs), stream, dict(kwargs))

    async def _send(self, request: HttpRequest, stream: bool, options: Dict[str, Any]) -> AsyncHttpResponse:
        if self._closed:
            raise ClientClosedError(self)
        self._opened = True
        return (await self._pipeline.run(request, stream=stream, **options)).http_response

    async def _run(self, call: "ops.Call[ops.T]") -> "ops.T":
        if call.request is None:
            return call.interpret(None)
        return call.interpret(await self._send(call.request, False, call.options))

    send_to_all = async_operation(ops.send_to_all)
    send_to_group = async_operation(ops.send_to_group)
    send_to_user = async_operation(ops.send_to_user)
    send_to_connection = async_operation(ops.send_to_connection)
    add_connection_to_group = async_operation(ops.add_connection_to_group)
    remove_connection_from_group = async_operation(ops.remove_connection_from_group)
    remove_connection_from_all_groups = async_operation(ops.remove_connection_from_all_groups)
    add_user_to_group = async_operation(ops.add_user_to_group)
    remove_user_from_group = async_operation(ops.remove_user_from_group)
    remove_user_from_all_groups = async_operation(ops.remove_user_from_all_groups)
    add_connections_to_groups = async_operation(ops.add_connections_to_groups)
    remove_connections_from_groups = async_operation(ops.remove_connections_from_groups)
    close_connection = async_operation(ops.close_connection)
    close_all_connections = async_operation(ops.close_all_connections)
    close_group_connections = async_operation(ops.close_group_connections)
    close_user_connections = async_operation(ops.close_user_connections)
    connection_exists = async_operation(ops.connection_exists)
    group_exists = async_operation(ops.group_exists)
    user_exists = async_operation(ops.user_exists)
    grant_permission = async_operation(ops.grant_permission)
    revoke_permission = async_operation(ops.revoke_permission)
    has_permission = async_operation(ops.has_permission)
    check_permission = async_operation(ops.check_permission)
    get_service_status = async_operation(ops.get_service_status)
    get_client_access_token = async_operation(ops.get_client_access_token)
    generate_client_token = async_operation(ops.generate_client_token)
    list_connections = async_pages(ops.list_connections)
    list_connections_in_group = async_pages(ops.list_connections_in_group)

    async def close(self) -> None:
        """Close the transport and every pooled connection; later calls raise ``ClientClosedError``."""
        self._closed = True
        await self._pipeline.__aexit__()

    async def __aenter__(self) -> "WebPubSubServiceClient":
        if self._closed:
            raise ClientClosedError(self)
        await self._pipeline.__aenter__()
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        await self.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Connections opened in an event loop can only be closed from it: `await close()` is the caller's job.
        if getattr(self, "_opened", False) and not self._closed:
            _warn(f"unclosed {self!r}: use `async with` or `await client.close()`", ResourceWarning, source=self)


__all__: List[str] = ["WebPubSubServiceClient"]
