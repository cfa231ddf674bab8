from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def figure(value: int, url: str, can_follow_links: bool) -> str:
    """A digest figure, linked to the submissions behind it for those who may open them."""
    if can_follow_links and value:
        return format_html('<a href="{}">{}</a>', url, value)
    return str(value)
