"""The synchronous :class:`WebPubSubServiceClient`."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.pipeline import Pipeline
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RedirectPolicy, RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from typing_extensions import Unpack

from . import _operations as ops
from ._config import ClientClosedError, build_policies, transport_options
from ._keywords import CLIENT_KEYWORDS, ClientOptions, PipelineOptions
from ._pipeline import grouped
from ._shell import ClientBase, sync_operation, sync_pages
from ._transport import Urllib3Transport

Credential = Union[AzureKeyCredential, TokenCredential]


class WebPubSubServiceClient(ClientBase):
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
    :keyword int retry_total: and the other azure-core retry, redirect, user agent, header, tracing, timeout
        and policy keywords (``_keywords.ClientOptions``); a misspelt one raises ``TypeError``.
    """

    _KEYWORDS = CLIENT_KEYWORDS

    def __init__(self, endpoint: str, hub: Optional[str] = None, credential: Optional[Credential] = None,
                 **kwargs: Unpack[ClientOptions]) -> None:
        options = self._configure(endpoint, hub, credential, kwargs)
        transport = options.pop("transport", None) or Urllib3Transport(**transport_options(options))
        self._closed = False
        policies = build_policies(self._settings, options, bearer_policy=BearerTokenCredentialPolicy,
                                  retry_policy=RetryPolicy, redirect_policy=RedirectPolicy)
        self._pipeline: Pipeline[HttpRequest, HttpResponse] = Pipeline(
            transport=transport, policies=grouped(policies))

    def send_request(self, request: HttpRequest, *, stream: bool = False,
                     **kwargs: Unpack[PipelineOptions]) -> HttpResponse:
        """Sign and send a request (e.g. from :mod:`azure.messaging.webpubsubservice.rest`); never raises for
        an error status: the response is returned as it came.

        A relative URL is resolved against the endpoint; the caller's request object is left untouched.
        """
        return self._send(self._own_copy(request, kwargs), stream, dict(kwargs))

    def _send(self, request: HttpRequest, stream: bool, options: Dict[str, Any]) -> HttpResponse:
        if self._closed:
            raise ClientClosedError(self)
        return self._pipeline.run(request, stream=stream, **options).http_response

    def _run(self, call: "ops.Call[ops.T]") -> "ops.T":
        if call.request is None:
            return call.interpret(None)
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
    check_permission = sync_operation(ops.check_permission)
    get_service_status = sync_operation(ops.get_service_status)
    get_client_access_token = sync_operation(ops.get_client_access_token)
    generate_client_token = sync_operation(ops.generate_client_token)
    list_connections = sync_pages(ops.list_connections)
    list_connections_in_group = sync_pages(ops.list_connections_in_group)

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


__all__: List[str] = ["WebPubSubServiceClient"]
