"""A small stand-in for Braze's REST API that checks requests against the documented shape of /users/track."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUBSCRIBE_VALUES = {"opted_in", "subscribed", "unsubscribed"}
MAX_ATTRIBUTES = 75


def problems(path: str, headers: dict, body: bytes, api_key: str) -> list[str]:
    found = []
    if path != "/users/track":
        found.append(f"unknown endpoint {path}")
    if headers.get("authorization") != f"Bearer {api_key}":
        found.append("missing or wrong bearer API key")
    if not headers.get("content-type", "").startswith("application/json"):
        found.append("body is not JSON")
    try:
        request = json.loads(body)
    except ValueError:
        return [*found, "body does not parse"]
    attributes = request.get("attributes")
    if not isinstance(attributes, list) or not 1 <= len(attributes) <= MAX_ATTRIBUTES:
        found.append(f"attributes must be a list of 1 to {MAX_ATTRIBUTES} objects")
        return found
    for index, item in enumerate(attributes):
        if not any(key in item for key in ("external_id", "braze_id", "user_alias", "email", "phone")):
            found.append(f"attributes[{index}] names no user")
        for key in ("email_subscribe", "push_subscribe"):
            if key in item and item[key] not in SUBSCRIBE_VALUES:
                found.append(f"attributes[{index}].{key} = {item[key]!r}")
        for group in item.get("subscription_groups", []):
            if set(group) != {"subscription_group_id", "subscription_state"} or group[
                "subscription_state"
            ] not in ("subscribed", "unsubscribed"):
                found.append(f"attributes[{index}].subscription_groups has {group!r}")
    return found


class FakeBraze:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.requests: list[dict] = []
        self.users: dict[str, dict] = {}
        self.rejected: list[list[str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                found = problems(self.path, headers, body, fake.api_key)
                if found:
                    fake.rejected.append(found)
                    status = 401 if any("API key" in p for p in found) else 400
                    answer = {"message": "; ".join(found)}
                else:
                    attributes = json.loads(body)["attributes"]
                    fake.requests.append({"attributes": attributes})
                    for item in attributes:
                        fake.users.setdefault(item["external_id"], {}).update(item)
                    status, answer = 201, {"message": "success", "attributes_processed": len(attributes)}
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
