"""The Celery application both sides share: the submitter sends visits, workers run them.

Celery's habits for work that must survive a dead worker: `task_acks_late` (a message is
acknowledged after the visit, not when it is taken), `task_reject_on_worker_lost` (a pool child
that dies hands its message back at once), `worker_prefetch_multiplier=1` (a worker reserves one
message per visit slot, so a dead worker strands few and a busy one hoards none), and the Redis
transport's `visibility_timeout`: a message taken but never acknowledged (its worker was killed,
ran out of memory, or its machine vanished) goes back to the queue that many seconds after it
was taken. A live worker renews that clock for its running visits (webscan.scale.worker.
LeaseKeeper, every quarter of the timeout), so the timeout need not exceed the longest visit:
it is how long a dead worker's visits wait before another worker takes them.

No result backend: results travel in the crawl's own Redis keys (webscan.scale.state), keyed by
(crawl, site) rather than by task id, which is what makes them idempotent and lets a submitter
that was stopped pick them up again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery

if TYPE_CHECKING:
    from webscan.crawl.runner import CrawlOptions

QUEUE = "webscan.visits"
VISIT_TASK = "webscan.visit"
VISIBILITY_TIMEOUT_S = 120.0
"""Default: a dead worker's visits are visited again about two minutes later; live workers renew
their running visits' leases every 30 s, so a long visit is not delivered twice."""


def make_app(broker: str, *, visibility_timeout_s: float = VISIBILITY_TIMEOUT_S) -> Celery:
    app = Celery("webscan", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # the task writes its own error result first
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_routes={VISIT_TASK: {"queue": QUEUE}},
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            # Look for a dead worker's messages every few seconds (kombu's default sweep is
            # every 100 s), so recovery takes about the visibility timeout, not much more.
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a Redis restart is waited out, not fatal
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        task_send_sent_event=False,
    )
    return app


def task_options(options: "CrawlOptions", max_deliveries: int) -> dict:
    """The crawl-level options that travel in every task (the submitter controls the crawl);
    machine options (Chromium path, concurrency, signatures) stay on the worker."""
    return {"window_s": options.window_s, "nav_timeout_s": options.nav_timeout_s,
            "visit_timeout_s": options.visit_timeout_s,
            "browser_args": list(options.browser_args),
            "file_timeout_s": options.file_timeout_s, "max_deliveries": max_deliveries}


def crawl_options(payload: dict, *, browser: str | None,
                  sig_dirs: tuple[str, ...]) -> tuple["CrawlOptions", int]:
    from webscan.crawl.runner import CrawlOptions

    return CrawlOptions(window_s=float(payload["window_s"]),
                        nav_timeout_s=float(payload["nav_timeout_s"]),
                        visit_timeout_s=payload.get("visit_timeout_s"),
                        browser=browser, browser_args=tuple(payload.get("browser_args") or ()),
                        sig_dirs=sig_dirs, file_timeout_s=payload.get("file_timeout_s"),
                        ), int(payload.get("max_deliveries") or 3)
