"""Composition root: the Chalice app, its blueprints, and the event handlers' wiring."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, DynamoDBEvent, SQSEvent

from chalicelib.activity.handlers import on_activity_stream
from chalicelib.audiences.api import bp as audiences_bp
from chalicelib.campaigns.api import bp as campaigns_bp
from chalicelib.channels.api import bp as inbox_bp
from chalicelib.contents.api import bp as contents_bp
from chalicelib.core.authorizer import auth_blueprint
from chalicelib.core.config import get_config
from chalicelib.core.fallback import add_method_fallbacks
from chalicelib.core.resources import STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW_SECONDS
from chalicelib.coupons.api import bp as coupons_bp
from chalicelib.coupons.wallet_api import bp as wallet_bp
from chalicelib.customers.api import bp as customers_bp
from chalicelib.dispatch.api import bp as runs_bp
from chalicelib.dispatch.handlers import on_dispatch_message, on_plan_message, on_tick
from chalicelib.openapi.api import bp as openapi_bp
from chalicelib.reports.api import bp as reports_bp
from chalicelib.staff.api import bp as staff_bp
from chalicelib.tenancy.api import bp as tenancy_bp

app = Chalice(app_name="precision-marketing")
app.api.binary_types = []  # every body is text (JSON or CSV)
_cfg = get_config()

app.register_blueprint(auth_blueprint)
for blueprint in (tenancy_bp, customers_bp, openapi_bp, coupons_bp, wallet_bp, contents_bp, inbox_bp, staff_bp,
                  campaigns_bp, audiences_bp, runs_bp, reports_bp):
    app.register_blueprint(blueprint)
add_method_fallbacks(app)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="tick")
def tick(event: CloudWatchEvent) -> dict[str, Any]:
    return on_tick(event.to_dict())


@app.on_sqs_message(queue=_cfg.queue("plan"), batch_size=1, name="plan_worker")
def plan_worker(event: SQSEvent) -> dict[str, Any]:
    return on_plan_message(event.to_dict(), event.context)


@app.on_sqs_message(queue=_cfg.queue("dispatch"), batch_size=5, name="dispatch_worker")
def dispatch_worker(event: SQSEvent) -> dict[str, Any]:
    return on_dispatch_message(event.to_dict(), event.context)


@app.on_dynamodb_record(stream_arn=_cfg.activity_stream_arn, batch_size=STREAM_BATCH_SIZE,
                        maximum_batching_window_in_seconds=STREAM_BATCHING_WINDOW_SECONDS,
                        starting_position="TRIM_HORIZON", name="activity_stream")
def activity_stream(event: DynamoDBEvent) -> dict[str, Any]:
    return on_activity_stream(event.to_dict(), event.context)
