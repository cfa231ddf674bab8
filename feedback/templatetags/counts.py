from django import template

from ..admin.base import MoreThanCap

register = template.Library()


@register.filter
def capped(count: int) -> str:
    """A list's count as people read it: "more than 10,000" once its paginator stopped counting."""
    return str(count) if isinstance(count, MoreThanCap) else f"{count:,}"


@register.filter
def thousands(count: int) -> str:
    """A whole number with commas between the thousands: 1,048,575."""
    return f"{count:,}"
