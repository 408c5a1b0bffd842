"""The synchronous :class:`WebPubSubServiceClient`."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.paging import ItemPaged
from azure.core.pipeline import Pipeline
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RedirectPolicy, RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.tracing.decorator import distributed_trace
from azure.core.utils import case_insensitive_dict

from . import _operations as ops
from ._config import ClientClosedError, Settings, build_policies, transport_options
from ._pipeline import grouped
from ._shell import sync_operation
from ._transport import Urllib3Transport

Credential = Union[AzureKeyCredential, TokenCredential]


class WebPubSubServiceClient:
    """Sends messages to Web PubSub connections and manages groups, users, connections and permissions.

    :param endpoint: the service URL, e.g. ``https://<resource>.webpubsub.azure.com``.
    :param hub: the hub the convenience operations act on (``send_request`` works without one).
    :param credential: an ``AzureKeyCredential`` (requests are signed with short-lived JWTs) or a
        Microsoft Entra ID token credential such as ``DefaultAzureCredential``.
    :keyword str api_version: REST API version, default ``2024-12-01``.
    :keyword str reverse_proxy_endpoint: send requests through e.g. API Management; tokens keep the
        service URL as their audience.
    :keyword transport: an azure-core ``HttpTransport``; the default is a thin one on urllib3.
    :keyword bool logging_enable: log requests and responses at DEBUG (secrets redacted).
    :keyword int retry_total: and the other azure-core retry, user agent, header and timeout keywords.
    """

    def __init__(self, endpoint: str, hub: Optional[str] = None, credential: Optional[Credential] = None,
                 **kwargs: Any) -> None:
        if credential is None and hub is not None and not isinstance(hub, str):
            hub, credential = None, hub  # WebPubSubServiceClient(endpoint, credential), as early releases
        self._settings = Settings.create(endpoint, hub, credential, kwargs)
        self._target = self._settings.target
        transport = kwargs.pop("transport", None) or Urllib3Transport(**transport_options(kwargs))
        self._closed = False
        policies = build_policies(self._settings, kwargs, bearer_policy=BearerTokenCredentialPolicy,
                                  retry_policy=RetryPolicy, redirect_policy=RedirectPolicy)
        self._pipeline: Pipeline[HttpRequest, HttpResponse] = Pipeline(
            transport=transport, policies=grouped(policies))

    @classmethod
    def from_connection_string(cls, connection_string: str, hub: Optional[str] = None,
                               **kwargs: Any) -> "WebPubSubServiceClient":
        """Create a client from ``Endpoint=...;AccessKey=...;Version=1.0;`` (an optional ``Port=`` is honoured)."""
        endpoint, credential = Settings.from_connection_string(connection_string)
        return cls(endpoint, hub, credential, **kwargs)

    def __repr__(self) -> str:
        return f"<WebPubSubServiceClient endpoint:'{self._settings.endpoint}'>"

    def send_request(self, request: HttpRequest, *, stream: bool = False, **kwargs: Any) -> HttpResponse:
        """Sign and send a request (e.g. from :mod:`azure.messaging.webpubsubservice.rest`); never raises for
        an error status: the response is returned as it came.

        A relative URL is resolved against the endpoint; the caller's request object is left untouched.
        """
        return self._send(_resolved_copy(request, self._target.endpoint), stream, kwargs)

    def _send(self, request: HttpRequest, stream: bool, options: Dict[str, Any]) -> HttpResponse:
        if self._closed:
            raise ClientClosedError(self)
        return self._pipeline.run(request, stream=stream, **options).http_response

    def _run(self, call: "ops.Call[ops.T]") -> "ops.T":
        if call.request is None:
            return call.interpret(None)
        call.request.url = self._target.endpoint + call.request.url
        return call.interpret(self._send(call.request, False, call.options))

    send_to_all = sync_operation(ops.send_to_all)
    send_to_group = sync_operation(ops.send_to_group)
    send_to_user = sync_operation(ops.send_to_user)
    send_to_connection = sync_operation(ops.send_to_connection)
    add_connection_to_group = sync_operation(ops.add_connection_to_group)
    remove_connection_from_group = sync_operation(ops.remove_connection_from_group)
    remove_connection_from_all_groups = sync_operation(ops.remove_connection_from_all_groups)
    add_user_to_group = sync_operation(ops.add_user_to_group)
    remove_user_from_group = sync_operation(ops.remove_user_from_group)
    remove_user_from_all_groups = sync_operation(ops.remove_user_from_all_groups)
    add_connections_to_groups = sync_operation(ops.add_connections_to_groups)
    remove_connections_from_groups = sync_operation(ops.remove_connections_from_groups)
    close_connection = sync_operation(ops.close_connection)
    close_all_connections = sync_operation(ops.close_all_connections)
    close_group_connections = sync_operation(ops.close_group_connections)
    close_user_connections = sync_operation(ops.close_user_connections)
    connection_exists = sync_operation(ops.connection_exists)
    group_exists = sync_operation(ops.group_exists)
    user_exists = sync_operation(ops.user_exists)
    grant_permission = sync_operation(ops.grant_permission)
    revoke_permission = sync_operation(ops.revoke_permission)
    has_permission = sync_operation(ops.has_permission)
    get_service_status = sync_operation(ops.get_service_status)
    get_client_access_token = sync_operation(ops.get_client_access_token)

    def list_connections(self, *, group: str, top: Optional[int] = None,
                         **kwargs: Any) -> ItemPaged[ops.GroupMember]:
        """:meth:`list_connections_in_group` under the name (and keyword-only ``group``) of the official SDK."""
        return self.list_connections_in_group(group, top=top, **kwargs)

    @distributed_trace
    def list_connections_in_group(self, group: str, *, top: Optional[int] = None,
                                  maxpagesize: Optional[int] = None, **kwargs: Any) -> ItemPaged[ops.GroupMember]:
        """Every connection in ``group`` as a :class:`GroupMember` (``{"connectionId", "userId"}``), page by page.

        :keyword top: stop after this many connections.
        :keyword maxpagesize: connections per page (1 to 200).
        """
        pages = ops.list_connections_in_group(self._target, group, top=top, maxpagesize=maxpagesize, **kwargs)

        def get_next(next_link: Optional[str] = None) -> HttpResponse:
            request = pages.first if next_link is None else pages.next_request(next_link)
            return self._send(_resolved_copy(request, self._target.endpoint), False, dict(pages.options))

        def extract_data(response: HttpResponse) -> Tuple[Optional[str], Iterator[ops.GroupMember]]:
            next_link, items = pages.extract(response)
            return next_link, iter(items)

        return ItemPaged(get_next, extract_data)

    def close(self) -> None:
        """Close the transport and its pooled connections; later calls raise ``ClientClosedError``."""
        self._closed = True
        self._pipeline.__exit__()

    def __enter__(self) -> "WebPubSubServiceClient":
        if self._closed:
            raise ClientClosedError(self)
        self._pipeline.__enter__()
        return self

    def __exit__(self, *exc_details: Any) -> None:
        self.close()


def _resolved_copy(request: HttpRequest, endpoint: str) -> HttpRequest:
    """A shallow copy with an absolute URL and its own headers: policies never touch the caller's object."""
    resolved = copy.copy(request)
    # not copy.copy(headers): a CaseInsensitiveDict's shallow copy shares its store with the original
    resolved.headers = case_insensitive_dict(request.headers)
    if "://" not in request.url:
        resolved.url = endpoint + ("" if request.url.startswith("/") else "/") + request.url
    return resolved


__all__: List[str] = ["WebPubSubServiceClient"]
