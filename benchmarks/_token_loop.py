"""``get_client_access_token`` N times and nothing else: run under ``valgrind --tool=callgrind`` by
``bench_token.py --instructions``, once with N=0 and once with N>0, so the difference is the instructions
of N calls alone (interpreter start-up and imports cancel out)."""
from __future__ import annotations

import sys

from _common import connection_string
from _worker import TOKEN_ARGS

from azure.messaging.webpubsubservice import WebPubSubServiceClient

if __name__ == "__main__":
    client = WebPubSubServiceClient.from_connection_string(connection_string(1), hub="bench")
    client.get_client_access_token(**TOKEN_ARGS)  # lazy set-up happens in both runs, outside the difference
    for _ in range(int(sys.argv[1])):
        client.get_client_access_token(**TOKEN_ARGS)
