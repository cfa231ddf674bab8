from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def moment(value) -> str:
    """A date and time as the NHS writes them, in London time: "5:30pm on Friday 29 January 2010"."""
    if not value:
        return ""
    local = timezone.localtime(value)
    if (local.hour, local.minute) == (0, 0):
        clock = "midnight"
    elif (local.hour, local.minute) == (12, 0):
        clock = "midday"
    else:
        hour = local.hour % 12 or 12
        minutes = f":{local.minute:02d}" if local.minute else ""
        clock = f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"
    return f"{clock} on {local:%A} {local.day} {local:%B %Y}"
