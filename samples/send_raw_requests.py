"""Build a request with the `rest` module and send it with `send_request` (it never raises for a status).

    python samples/send_raw_requests.py

The original README's REPL session as a script: prints the request, the response and its status, sends
a file's JSON, and shows that a 404 comes back as a response. Starts the local emulator in-process, or
uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

import json
import tempfile

from _sample_support import web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.rest import build_send_to_all_request, build_user_exists_request


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string) as service:
        request = build_send_to_all_request("default", json={"Hello": "webpubsub!"})
        print(request)
        response = service.send_request(request)
        print(response, response.status_code)

        with tempfile.TemporaryFile("w+") as file:
            json.dump({"from": "a file"}, file)
            file.seek(0)
            request = build_send_to_all_request("ahub", content=file, content_type="application/json")
            print(service.send_request(request))

        response = service.send_request(build_user_exists_request("default", "nobody"))
        print("user exists:", response.status_code, response.headers.get("x-ms-error-code"))


if __name__ == "__main__":
    main()
