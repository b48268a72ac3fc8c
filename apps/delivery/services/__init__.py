"""Every write of the delivery side: destinations, fan-out of the outbox, sending, retries, replay, resync.

Nothing here hands work to Celery; the tasks do that after these functions have committed. The ordering rule
lives in ``send_due``: a sender holds a lease on the (destination, customer) cursor while it sends, sends only
the newest pending version, and never one older than what the destination has already acknowledged.
"""

from .destinations import (
    add_destination,
    replay_dead,
    restart_resync,
    resync_batch,
    rotate_secret,
    set_destination_enabled,
)
from .fan_out import FanOut, fan_out_outbox
from .payloads import payload, visible_part
from .sandbox import SANDBOX_KEEP, receive_in_sandbox
from .sending import Lease, SendReport, note_sweep, retry_delay, send_due, throttle

__all__ = [
    "SANDBOX_KEEP",
    "FanOut",
    "Lease",
    "SendReport",
    "add_destination",
    "fan_out_outbox",
    "note_sweep",
    "payload",
    "receive_in_sandbox",
    "replay_dead",
    "restart_resync",
    "resync_batch",
    "retry_delay",
    "rotate_secret",
    "send_due",
    "set_destination_enabled",
    "throttle",
    "visible_part",
]
