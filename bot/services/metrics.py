"""Prometheus metrics of this process (``GET /metrics`` of ``tcns serve``).

With several workers (``tcns serve --workers N``) the command line points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, and prometheus-client
then keeps each worker's values in a file there; ``/metrics`` (whichever worker answers)
merges them all. Figures read from the database (the outbox by status, live workers) are
added by the endpoint itself at each scrape, so they are the same whoever answers.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UPDATES = Counter("tcns_updates_received", "Updates a channel delivered, stored or redelivered",
                  ["channel", "outcome"])  # outcome: new | redelivered
HANDLED = Histogram("tcns_update_handle_seconds", "Time to handle one stored update (engine and replies)",
                    ["channel"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOK = Histogram("tcns_webhook_store_seconds", "Webhook request to durable store (the time before the 200)",
                    ["channel"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
GROUPS = Histogram("tcns_webhook_group_updates", "Webhook updates handled or stored together (one transaction)",
                   ["channel"], buckets=(1, 2, 4, 8, 16, 32, 64, 100))
REPLIES = Counter("tcns_replies_sent", "Replies sent in answer to an update", ["channel"])
PUSHED = Counter("tcns_outbox_deliveries", "Outbox rows settled by this process's sender", ["channel", "outcome"])
