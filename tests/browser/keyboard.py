"""Moving through a page as someone using the keyboard alone does."""

FOCUSED = "(el) => el === document.activeElement"


def tab_to(page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus: it must be reachable, in order, from where focus is."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate(FOCUSED):
            return
    raise AssertionError(f"the keyboard never reaches {selector} on {page.url}")


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def press_on(page, selector: str, key: str = "Enter") -> None:
    """Tab to a link or button and press it, waiting for the page it opens."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press(key)


def follow(page, selector: str) -> None:
    """Click a link or button and wait for the page it opens."""
    with page.expect_navigation():
        page.locator(selector).click()
