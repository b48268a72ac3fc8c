"""Braze, through its REST API's ``POST /users/track`` (https://www.braze.com/docs/api/endpoints/user_data/post_user_track/).

One request carries up to 75 attribute objects (Braze's batch limit); Braze allows 3,000 ``/users/track``
requests per 3 seconds per workspace, so the default rate limit is 1,000 per second. Auth is
``Authorization: Bearer <REST API key>`` (the destination's secret); the endpoint is the instance's REST URL,
e.g. ``https://rest.fra-02.braze.eu``.

Mapping: email and push channel permission → ``email_subscribe`` / ``push_subscribe`` (``opted_in`` or
``unsubscribed``); topics → Braze subscription groups, configured as ``options.subscription_groups``
(``{"email:news": "<subscription group id>", "sms:offers": "…"}``); location level, personalization depth,
pause and document version → custom attributes prefixed ``candor_``; for a destination configured with
``profile``, each answer the customer shared → ``candor_profile_<question>`` (an array of option codes; null
deletes it) and the inferences in use → ``candor_inferences`` (an array of codes).
"""

import httpx
from django.utils import timezone

from . import Message, Outcome, failed, outcome_from_response
from .network import http_client

SUBSCRIBE_ATTRIBUTE = {"email": "email_subscribe", "push": "push_subscribe"}
IDENTIFIER_ATTRIBUTES = {"email": "email", "phone": "phone"}


def user_attributes(message: Message, subscription_groups: dict) -> dict:
    data = message.payload["data"]
    attributes = {
        "external_id": data["customer"]["external_id"],
        "candor_permissions_version": data["version"],
    }
    for key, attribute in IDENTIFIER_ATTRIBUTES.items():
        if key in data["customer"]:
            attributes[attribute] = data["customer"][key]
    groups = []
    for code, rules in data["channels"].items():
        if code in SUBSCRIBE_ATTRIBUTE:
            attributes[SUBSCRIBE_ATTRIBUTE[code]] = "opted_in" if rules["allowed"] else "unsubscribed"
        attributes[f"candor_{code}_paused_until"] = rules["paused_until"]
        for key, group_id in subscription_groups.items():
            channel, _, topic = key.partition(":")
            if channel == code:
                subscribed = rules["allowed"] and (
                    topic in rules["topics"] or topic in rules["required_topics"]
                )
                groups.append(
                    {
                        "subscription_group_id": group_id,
                        "subscription_state": "subscribed" if subscribed else "unsubscribed",
                    }
                )
    if groups:
        attributes["subscription_groups"] = groups
    if "location" in data:
        attributes["candor_location_level"] = data["location"]["level"]
    if "personalization" in data:
        attributes["candor_personalization"] = data["personalization"]
    if "profile" in data:
        # Null deletes a custom attribute in Braze; the inference list is replaced whole.
        for question, answer in data["profile"]["answers"].items():
            attributes[f"candor_profile_{question}"] = answer
        attributes["candor_inferences"] = [item["code"] for item in data["profile"]["inferences"]]
    return attributes


class BrazeAdapter:
    per_request = 75
    thread_safe = True  # httpx clients are
    default_rate_limit = 1000.0
    default_batch_size = 75

    def __init__(self):
        self._client = http_client()

    def send(self, destination, messages: list[Message]) -> list[Outcome]:
        groups = destination.options.get("subscription_groups", {})
        try:
            response = self._client.post(
                destination.endpoint.rstrip("/") + "/users/track",
                json={"attributes": [user_attributes(message, groups) for message in messages]},
                headers={"authorization": f"Bearer {destination.secret}"},
            )
        except httpx.HTTPError as error:
            return failed(messages, f"{type(error).__name__}: {error}")
        if response.status_code == 429 and "x-ratelimit-reset" in response.headers:
            wait = float(response.headers["x-ratelimit-reset"]) - timezone.now().timestamp()
            outcome = Outcome(delivered=False, status_code=429, error="HTTP 429", retry_after=max(0.0, wait))
            return [outcome for _ in messages]
        outcome = outcome_from_response(response)
        if not outcome.delivered:
            return [outcome for _ in messages]
        # 201 with "errors": the objects at those indexes were refused (bad data); the rest were applied.
        refused = {
            error.get("index"): error.get("type", "error")
            for error in (response.json().get("errors") or [])
            if error.get("input_array") == "attributes"
        }
        return [
            Outcome(
                delivered=False,
                status_code=response.status_code,
                error=f"Braze: {refused[i]}",
                permanent=True,
            )
            if i in refused
            else outcome
            for i in range(len(messages))
        ]

    def close(self) -> None:
        self._client.close()
