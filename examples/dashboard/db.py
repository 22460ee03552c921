"""The dashboard's data: users, customers, invoices and revenue through SQLAlchemy (async).

SQLite beside this file by default; ``DATABASE_URL=postgresql://user@host/db`` moves
everything (sessions too) to PostgreSQL, and ``DATABASE_SCHEMA`` puts the tables in a
schema of their own. The queries are the course's (``app/lib/data.ts``) written with
SQLAlchemy's expression language, so they run unchanged on both: ``ILIKE`` is
SQLAlchemy's ``ilike`` and ``amount::text`` a ``CAST``.
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from nexpress.cache import cached

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_URL = f"sqlite+aiosqlite:///{os.path.join(HERE, 'dashboard.db')}"
ITEMS_PER_PAGE = 6
SQLITE_BUSY_MS = 5000


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """DATABASE_URL (or the SQLite file here), with the async driver filled in."""
    url = environ.get("DATABASE_URL") or DEFAULT_URL
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, schema: str | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        made = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        event.listen(made.sync_engine, "connect", _sqlite_pragmas)
        return made
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    return create_async_engine(url, pool_pre_ping=True, pool_timeout=5, connect_args=connect_args)


engine = make_engine(database_url(), os.environ.get("DATABASE_SCHEMA") or None)

metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255), nullable=False, unique=True),
    Column("password", String(255), nullable=False),
)
customers = Table(
    "customers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255), nullable=False),
    Column("image_url", String(255), nullable=False),
)
invoices = Table(
    "invoices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False, index=True),
    Column("amount", Integer, nullable=False),
    Column("status", String(255), nullable=False),
    Column("date", Date, nullable=False, index=True),
)
revenue = Table(
    "revenue",
    metadata,
    Column("month", String(4), primary_key=True),
    Column("revenue", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # the chart's order (the course relies on insertion order)
)

STATUSES = ("pending", "paid")


# --- formatting (the course's app/lib/utils.ts) ---------------------------------------


def format_currency(cents: int | float | None) -> str:
    """1234567 -> "$12,345.67" (en-US, as Intl.NumberFormat does)."""
    value = (cents or 0) / 100
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def format_date(day: date) -> str:
    """date(2023, 12, 6) -> "Dec 6, 2023"."""
    return f"{day:%b} {day.day}, {day.year}"


def y_axis(months: Sequence[Mapping[str, Any]]) -> tuple[list[str], int]:
    """The chart's y-axis labels in thousands, top first, and the top value."""
    highest = max((int(m["revenue"]) for m in months), default=0)
    top = math.ceil(highest / 1000) * 1000
    return [f"${i // 1000}K" for i in range(top, -1, -1000)], top


def pagination(current: int, total: int) -> list[int | str]:
    """The page numbers to show, with "..." gaps (all of them up to 7 pages)."""
    if total <= 7:
        return list(range(1, total + 1))
    if current <= 3:
        return [1, 2, 3, "...", total - 1, total]
    if current >= total - 2:
        return [1, 2, "...", total - 2, total - 1, total]
    return [1, "...", current - 1, current, current + 1, "...", total]


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


# --- queries (the course's app/lib/data.ts) --------------------------------------------

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
TAG = "invoices"
DATA_CACHE = os.environ.get("DASHBOARD_DATA_CACHE", "1") != "0"


def read(fn: F) -> F:
    """The reads are memoised in the app's cache under the tag "invoices" (every write
    calls ``revalidate_tag("invoices")``): a page view that changed nothing does not
    query again. DASHBOARD_DATA_CACHE=0 turns it off (every view queries, as the
    course's app does); with several workers or instances, point NEXPRESS_CACHE_URL at
    Redis so a write reaches them all."""
    return cached(ttl=3600, tags=[TAG])(fn) if DATA_CACHE else fn


DELAY = float(os.environ.get("DASHBOARD_DELAY", "0"))
"""Seconds the revenue chart and the invoices table wait beyond their queries: the
course's demo delay (its fetchRevenue sleeps 3 s to show streaming); 0 by default."""


async def demo_delay() -> None:
    """Stands for a slow query, outside the data cache: the skeleton shows meanwhile."""
    if DELAY > 0:
        await asyncio.sleep(DELAY)



@dataclass(frozen=True)
class CardData:
    invoices: int
    customers: int
    paid: str
    pending: str


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in result.mappings()]


@read
async def fetch_revenue() -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        query = select(revenue.c.month, revenue.c.revenue).order_by(revenue.c.position)
        return _rows(await conn.execute(query))


@read
async def fetch_latest_invoices() -> list[dict[str, Any]]:
    query = (
        select(invoices.c.amount, customers.c.name, customers.c.image_url, customers.c.email, invoices.c.id)
        .join(customers, invoices.c.customer_id == customers.c.id)
        .order_by(invoices.c.date.desc(), invoices.c.id)
        .limit(5)
    )
    async with engine.connect() as conn:
        rows = _rows(await conn.execute(query))
    return [{**row, "amount": format_currency(row["amount"])} for row in rows]


@read
async def fetch_card_data() -> CardData:
    """The four cards in one round trip (the course runs three queries in parallel)."""
    def total(status: str) -> Any:
        return select(func.coalesce(func.sum(case((invoices.c.status == status, invoices.c.amount), else_=0)), 0)).scalar_subquery()

    query = select(
        select(func.count()).select_from(invoices).scalar_subquery().label("invoices"),
        select(func.count()).select_from(customers).scalar_subquery().label("customers"),
        total("paid").label("paid"),
        total("pending").label("pending"),
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return CardData(int(row.invoices), int(row.customers), format_currency(row.paid), format_currency(row.pending))


def _matches(query: str) -> Any:
    """The course's search: name, email, amount, date or status contains ``query``
    (case-insensitive; % and _ in the query match themselves)."""
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        customers.c.name.ilike(pattern, escape="\\"),
        customers.c.email.ilike(pattern, escape="\\"),
        cast(invoices.c.amount, String).ilike(pattern, escape="\\"),
        cast(invoices.c.date, String).ilike(pattern, escape="\\"),
        invoices.c.status.ilike(pattern, escape="\\"),
    )


@read
async def fetch_filtered_invoices(query: str, page: int) -> list[dict[str, Any]]:
    offset = (page - 1) * ITEMS_PER_PAGE
    select_rows = (
        select(
            invoices.c.id, invoices.c.amount, invoices.c.date, invoices.c.status,
            customers.c.name, customers.c.email, customers.c.image_url,
        )
        .join(customers, invoices.c.customer_id == customers.c.id)
        .where(_matches(query))
        .order_by(invoices.c.date.desc(), invoices.c.id)
        .limit(ITEMS_PER_PAGE)
        .offset(offset)
    )
    async with engine.connect() as conn:
        rows = _rows(await conn.execute(select_rows))
    return [{**row, "amount": format_currency(row["amount"]), "date": format_date(row["date"])} for row in rows]


@read
async def fetch_invoice_pages(query: str) -> int:
    count = select(func.count()).select_from(invoices.join(customers, invoices.c.customer_id == customers.c.id))
    async with engine.connect() as conn:
        total = (await conn.execute(count.where(_matches(query)))).scalar_one()
    return math.ceil(int(total) / ITEMS_PER_PAGE)


async def fetch_invoice(invoice_id: str) -> dict[str, Any] | None:
    """The invoice for the edit form (amount in dollars), or None."""
    if not is_uuid(invoice_id):
        return None
    query = select(invoices.c.id, invoices.c.customer_id, invoices.c.amount, invoices.c.status)
    async with engine.connect() as conn:
        row = (await conn.execute(query.where(invoices.c.id == invoice_id))).mappings().first()
    if row is None:
        return None
    return {**row, "amount": _dollars(int(row["amount"]))}


def _dollars(cents: int) -> str:
    """15795 -> "157.95", 20000 -> "200" (what the number input shows)."""
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents / 100:.2f}"


@read
async def fetch_customers() -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return _rows(await conn.execute(select(customers.c.id, customers.c.name).order_by(customers.c.name)))


@read
async def fetch_filtered_customers(query: str) -> list[dict[str, Any]]:
    pattern = f"%{query}%"
    select_rows = (
        select(
            customers.c.id, customers.c.name, customers.c.email, customers.c.image_url,
            func.count(invoices.c.id).label("total_invoices"),
            func.sum(case((invoices.c.status == "pending", invoices.c.amount), else_=0)).label("total_pending"),
            func.sum(case((invoices.c.status == "paid", invoices.c.amount), else_=0)).label("total_paid"),
        )
        .select_from(customers.outerjoin(invoices, customers.c.id == invoices.c.customer_id))
        .where(or_(customers.c.name.ilike(pattern), customers.c.email.ilike(pattern)))
        .group_by(customers.c.id, customers.c.name, customers.c.email, customers.c.image_url)
        .order_by(customers.c.name)
    )
    async with engine.connect() as conn:
        rows = _rows(await conn.execute(select_rows))
    return [
        {**row, "total_pending": format_currency(row["total_pending"]), "total_paid": format_currency(row["total_paid"])}
        for row in rows
    ]


async def find_user(email: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.email == email))).mappings().first()
    return None if row is None else dict(row)


# --- writes (the course's app/lib/actions.ts) --------------------------------------------


async def create_invoice(customer_id: str, cents: int, status: str, day: date) -> str:
    new_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            invoices.insert().values(id=new_id, customer_id=customer_id, amount=cents, status=status, date=day)
        )
    return new_id


async def update_invoice(invoice_id: str, customer_id: str, cents: int, status: str) -> bool:
    async with engine.begin() as conn:
        done = await conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id)
            .values(customer_id=customer_id, amount=cents, status=status)
        )
    return done.rowcount > 0


async def delete_invoice(invoice_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(invoices.delete().where(invoices.c.id == invoice_id))


async def customer_exists(customer_id: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))
        return found.first() is not None
