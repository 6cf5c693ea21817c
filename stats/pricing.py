"""Cost of a request from ModelPrice: the newest price for the upstream model valid at the time."""

from decimal import Decimal
from fnmatch import fnmatchcase

from gateway.snapshot import holder

__all__ = ["price_for", "cost_of"]

MILLION = Decimal(1_000_000)


def price_for(prices: list, model: str, at):
    """Prices are newest first; an exact name beats a glob valid at the same time."""
    best = None
    for price in prices:
        if price.valid_from > at or not fnmatchcase(model, price.model):
            continue
        if price.model == model:
            return price
        if best is None:
            best = price
    return best


def cost_of(values: dict) -> Decimal | None:
    """None when the model has no price (flagged as unpriced) or the snapshot is not loaded.
    Generated images cost their per-image price, when the model has one, on top of any tokens."""
    snapshot = holder.current
    if snapshot is None or not values["upstream_model"]:
        return None
    price = price_for(snapshot.prices, values["upstream_model"], values["created_at"])
    if price is None:
        return None
    cached = values["cached_tokens"]
    cached_price = price.cached_input_per_million if price.cached_input_per_million is not None else price.input_per_million
    total = (
        (values["prompt_tokens"] - cached) * price.input_per_million
        + cached * cached_price
        + values["completion_tokens"] * price.output_per_million
    ) / MILLION
    images = values.get("images")
    if images and price.per_image is not None:
        total += images * price.per_image
    return total.quantize(Decimal("0.00000001"))
