"""Routes: customer / order / event ingestion and the customer read model."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.errors import NotFound
from chalicelib.core.http import Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.schemas import ListQuery
from chalicelib.customers.schemas import (
    BatchResult,
    CustomerBatchIn,
    CustomerOut,
    EventBatchIn,
    OrderBatchIn,
    OrderOut,
    OrderPage,
)

bp = Blueprint(__name__)
TAG = "customers"


@route(bp, "/v1/customers/batch", "POST", summary="Upsert up to 500 customers", tag=TAG, roles=WRITERS,
       body=CustomerBatchIn, response=BatchResult)
def upsert_customers(req: Request) -> BatchResult:
    return wiring.ingest_service().upsert_customers(req.principal.merchant_id, req.body.items)


@route(bp, "/v1/orders/batch", "POST", summary="Ingest up to 500 orders (re-sending an id updates it)", tag=TAG,
       roles=WRITERS, body=OrderBatchIn, response=BatchResult)
def ingest_orders(req: Request) -> BatchResult:
    return wiring.ingest_service().ingest_orders(req.principal.merchant_id, req.body.items)


@route(bp, "/v1/events/batch", "POST", summary="Ingest up to 500 behaviour events", tag=TAG, roles=WRITERS,
       body=EventBatchIn, response=BatchResult)
def ingest_events(req: Request) -> BatchResult:
    return wiring.ingest_service().ingest_events(req.principal.merchant_id, req.body.items)


@route(bp, "/v1/customers/{customer_id}", "GET", summary="Profile (phone masked; e-mail and birthday only to "
       "admin / operator keys) and derived metrics now",
       tag=TAG, roles=READERS, response=CustomerOut)
def get_customer(req: Request, customer_id: str) -> CustomerOut:
    out = wiring.customer_reader().customer(req.principal.merchant_id, customer_id, req.principal.role)
    if out is None:
        raise NotFound(f"no customer {customer_id}", field="path.customer_id")
    return out


@route(bp, "/v1/customers/{customer_id}/orders", "GET", summary="The customer's orders, newest payment first (as "
       "last ingested: refunds and cancellations show their status), page by page; 404 for an unknown customer",
       tag=TAG, roles=READERS,
       query=ListQuery, response=OrderPage)
def customer_orders(req: Request, customer_id: str) -> OrderPage:
    q: ListQuery = req.query
    merchant = req.principal.merchant_id
    docs, last = wiring.activity_store().orders_of(merchant, customer_id, q.limit, decode_cursor(q.cursor, merchant))
    if not docs and not q.cursor and wiring.customer_store().get_row(merchant, customer_id) is None:
        raise NotFound(f"no customer {customer_id}", field="path.customer_id")
    return OrderPage(items=[OrderOut.model_validate(d) for d in docs], next_cursor=encode_cursor(last))
