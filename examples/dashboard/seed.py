"""The dashboard's first data, in the shape of the course's seed but our own: one user,
six customers with avatars drawn here with Pillow, thirteen invoices and twelve months
of revenue. Deterministic: ids are UUIDv5 of fixed names, so every fresh database (and
every test run) holds the same rows.

Runs at start-up (``init``): creates the tables, draws the images that are not in
``public/`` yet, and fills an empty database. Workers and instances starting together
may race; the loser's insert fails on the primary key and is rolled back.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import date
from typing import TYPE_CHECKING

import bcrypt
from db import customers, engine, invoices, metadata, revenue, users
from sqlalchemy import exc, func, select

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = os.path.join(HERE, "public")
NAMESPACE = uuid.UUID("6f1d3c5e-4a7b-4e21-9a0c-2b8d7e5f1a90")

USER_EMAIL = "user@nextmail.com"
USER_PASSWORD = "123456"

# name, email, avatar colour (RGB)
CUSTOMERS = [
    ("Ada Brightwater", "ada@brightwater.example", (37, 99, 235)),
    ("Bram Okafor", "bram@okafor.example", (22, 163, 74)),
    ("Chiara Lindqvist", "chiara@lindqvist.example", (219, 39, 119)),
    ("Dmitri Navarro", "dmitri@navarro.example", (234, 88, 12)),
    ("Esme Takahashi", "esme@takahashi.example", (124, 58, 237)),
    ("Farid Halvorsen", "farid@halvorsen.example", (8, 145, 178)),
]

# customer index, amount in cents, status, date
INVOICES = [
    (0, 15795, "pending", date(2024, 12, 6)),
    (1, 20348, "pending", date(2024, 11, 14)),
    (4, 3040, "paid", date(2024, 10, 29)),
    (3, 44800, "paid", date(2024, 9, 10)),
    (5, 34577, "pending", date(2024, 8, 5)),
    (2, 54246, "pending", date(2024, 7, 16)),
    (0, 666, "pending", date(2024, 6, 27)),
    (3, 32545, "paid", date(2024, 6, 9)),
    (4, 1250, "paid", date(2024, 6, 17)),
    (5, 8546, "paid", date(2024, 6, 7)),
    (1, 500, "paid", date(2024, 8, 19)),
    (5, 8945, "paid", date(2024, 6, 3)),
    (2, 1000, "paid", date(2023, 6, 18)),
]

REVENUE = [
    ("Jan", 2100), ("Feb", 1750), ("Mar", 2300), ("Apr", 2600), ("May", 2250), ("Jun", 3100),
    ("Jul", 3600), ("Aug", 3900), ("Sep", 2700), ("Oct", 2900), ("Nov", 3300), ("Dec", 4700),
]  # fmt: skip


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def avatar_url(name: str) -> str:
    return f"/customers/{slug(name)}.png"


def draw_images(public: str = PUBLIC) -> list[str]:
    """The customers' avatars and the home page's two hero pictures, drawn once into
    ``public/`` (written under a temporary name, then renamed: a racing worker never
    sees half a file). Returns the files it wrote."""
    from PIL import Image, ImageDraw, ImageFont

    written: list[str] = []
    os.makedirs(os.path.join(public, "customers"), exist_ok=True)

    def save(image: PILImage, rel: str) -> None:
        target = os.path.join(public, rel)
        if os.path.exists(target):
            return
        temporary = f"{target}.{os.getpid()}.tmp"
        image.save(temporary, "PNG", optimize=True)
        os.replace(temporary, target)
        written.append(rel)

    font = ImageFont.load_default(size=52)
    for name, _email, colour in CUSTOMERS:
        image = Image.new("RGB", (128, 128), colour)
        draw = ImageDraw.Draw(image)
        initials = "".join(part[0] for part in name.split()[:2])
        draw.text((64, 64), initials, fill=(255, 255, 255), font=font, anchor="mm")
        save(image, avatar_url(name).lstrip("/"))
    for rel, size in (("hero-desktop.png", (1000, 760)), ("hero-mobile.png", (560, 620))):
        save(_hero(size), rel)
    return written


def _hero(size: tuple[int, int]) -> PILImage:
    """A drawn picture of the dashboard: side bar, four cards, a bar chart."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, (249, 250, 251))
    draw = ImageDraw.Draw(image)
    side = width // 5
    draw.rectangle((0, 0, side, height), fill=(255, 255, 255))
    draw.rounded_rectangle((12, 12, side - 12, 110), radius=10, fill=(47, 111, 235))
    for i in range(3):
        draw.rounded_rectangle((12, 130 + i * 52, side - 12, 170 + i * 52), radius=8, fill=(243, 244, 246))
    card_w = (width - side - 60) // 4
    for i in range(4):
        x = side + 20 + i * (card_w + 8)
        draw.rounded_rectangle((x, 24, x + card_w, 130), radius=10, fill=(255, 255, 255))
    chart_top, chart_bottom = 160, height - 30
    draw.rounded_rectangle((side + 20, chart_top, width - 20, chart_bottom), radius=10, fill=(255, 255, 255))
    bars = [month for _name, month in REVENUE]
    bar_w = (width - side - 80) // len(bars)
    for i, value in enumerate(bars):
        x = side + 40 + i * bar_w
        top = chart_bottom - 20 - int((chart_bottom - chart_top - 60) * value / max(bars))
        draw.rounded_rectangle((x, top, x + bar_w - 10, chart_bottom - 20), radius=6, fill=(147, 197, 253))
    return image


async def create_tables() -> None:
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            return
        except (exc.IntegrityError, exc.ProgrammingError, exc.OperationalError):
            if attempt == 2:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


def password_hash(password: str) -> str:
    """bcrypt, as the course's seed hashes it (cost 10)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


async def seed() -> bool:
    """Fill an empty database; False when it held data already."""
    async with engine.connect() as conn:
        if (await conn.execute(select(func.count()).select_from(users))).scalar_one():
            return False
    rows_users = [{"id": stable_id("user", USER_EMAIL), "name": "User", "email": USER_EMAIL,
                   "password": await asyncio.to_thread(password_hash, USER_PASSWORD)}]  # fmt: skip
    rows_customers = [
        {"id": stable_id("customer", email), "name": name, "email": email, "image_url": avatar_url(name)}
        for name, email, _colour in CUSTOMERS
    ]
    rows_invoices = [
        {"id": stable_id("invoice", str(i)), "customer_id": rows_customers[who]["id"], "amount": cents,
         "status": status, "date": day}
        for i, (who, cents, status, day) in enumerate(INVOICES)
    ]  # fmt: skip
    rows_revenue = [{"month": m, "revenue": r, "position": i} for i, (m, r) in enumerate(REVENUE)]
    try:
        async with engine.begin() as conn:
            await conn.execute(users.insert(), rows_users)
            await conn.execute(customers.insert(), rows_customers)
            await conn.execute(invoices.insert(), rows_invoices)
            await conn.execute(revenue.insert(), rows_revenue)
    except exc.IntegrityError:
        return False  # another worker seeded first
    return True


async def init() -> None:
    """Start-up: images, tables, first data."""
    await asyncio.to_thread(draw_images)
    await create_tables()
    await seed()
