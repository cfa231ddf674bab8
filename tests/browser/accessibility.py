"""
What the browser tests check on every page they visit: axe-core's WCAG 2.2
A and AA rules, reflow at 320 CSS pixels (a 1280 pixel window at 400% zoom),
a visible focus indicator on everything the keyboard reaches, and a
screenshot for a person to look at.
"""

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = ROOT / "var" / "browser-artefacts"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  // A rule can pass on some elements and need review on others: count it once.
  const ran = [...new Set([...result.passes, ...result.violations, ...result.incomplete, ...result.inapplicable]
    .map((r) => r.id))].sort();
  return {
    version: axe.version,
    rules: ran.length,
    ran: ran,
    violations: result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    })),
    incomplete: result.incomplete.map((v) => v.id),
  };
}"""

# Elements wider than a narrow screen that WCAG 1.4.10 lets scroll sideways
# (data tables, charts), or that are inside something scrolling on its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const exempt = (el) => {
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      if (["TABLE", "svg", "PRE"].includes(node.tagName)) return true;
      const style = getComputedStyle(node);
      if (node !== el && ["auto", "scroll", "hidden"].includes(style.overflowX)) return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!rect.width || style.visibility === "hidden" || style.position === "fixed") continue;
    if (rect.right > width + 1 || rect.left < -1) {
      if (el.closest(".nhsuk-u-visually-hidden, .visually-hidden, .app-honeypot, .nhsuk-skip-link")) continue;
      if (!exempt(el)) wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")} (${Math.round(rect.left)}..${Math.round(rect.right)})`);
    }
  }
  return {scroll: document.documentElement.scrollWidth - width, wide: wide.slice(0, 10)};
}"""

# The properties a focus indicator is drawn with (a change of text colour or
# underline alone is too faint to count), on the element and on the parts that
# show focus for the design system's hidden radios and checkboxes: their
# labels' ::before and ::after.
LOOK = """(el) => {
  const props = ["outline-style", "outline-width", "outline-color", "box-shadow", "background-color",
                 "border-color", "border-width"];
  const look = (node, pseudo) => {
    const style = getComputedStyle(node, pseudo);
    return props.map((p) => style.getPropertyValue(p)).join("|");
  };
  // An input drawn invisibly (opacity 0) shows its focus on its label only.
  const parts = getComputedStyle(el).opacity === "0" ? [] : [look(el, null)];
  for (const label of el.labels || []) parts.push(look(label, null), look(label, "::before"), look(label, "::after"));
  return parts.join("/");
}"""

REMEMBER_LOOKS = (
    """() => {
  const look = """
    + LOOK
    + """;
  window.__unfocusedLooks = new Map();
  const focusable = "a[href], button, input, select, textarea, summary, [tabindex]";
  for (const el of document.querySelectorAll(focusable)) window.__unfocusedLooks.set(el, look(el));
}"""
)

FOCUSED = (
    """() => {
  const look = """
    + LOOK
    + """;
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const before = window.__unfocusedLooks.get(el);
  const shown = (el.labels && el.labels[0] && getComputedStyle(el).opacity === "0") ? el.labels[0] : el;
  const rect = shown.getBoundingClientRect();
  const x = Math.min(Math.max(rect.left + Math.min(rect.width, 8) / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(rect.top + rect.height / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  return {
    name: `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${(el.innerText || el.value || el.name || "").trim().slice(0, 40)}"`,
    changed: before === undefined || before !== look(el),
    visible: rect.width > 0 && rect.height > 0,
    covered: !!top && !(shown.contains(top) || el.contains(top) || top.contains(shown) || (top.closest("label") && top.closest("label") === shown)),
  };
}"""
)


@dataclass
class Checked:
    page: str
    rules: int
    violations: list[str]


class Checker:
    """Checks and screenshots for one test; every page checked is kept for the run's summary."""

    checked: list[Checked] = []

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def screenshot(self, page, state: str) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{state}.png"
        page.screenshot(path=path, full_page=True)
        return path

    def axe(self, page, state: str) -> dict:
        """Run axe-core's WCAG 2.2 A and AA rules on the page as it is; fail on any violation."""
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(RUN_AXE, WCAG_22_AA)
        failures = result["violations"]
        self.checked.append(
            Checked(
                page=f"{state} ({page.url.split('//', 1)[-1].split('/', 1)[-1] or '/'})",
                rules=result["rules"],
                violations=[v["id"] for v in failures],
            )
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.count:02d}-{state}.axe.json").write_text(json.dumps(result, indent=2))
        assert not failures, f"axe found WCAG 2.2 AA violations on {state}:\n" + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']}; {len(v['nodes'])} element(s), e.g. "
            + "; ".join(n["target"] for n in v["nodes"][:3])
            + f"\n  {v['nodes'][0]['summary']}"
            for v in failures
        )
        return result

    def reflows(self, page, state: str) -> None:
        """At 320 CSS pixels wide nothing but tables and charts makes the page scroll sideways."""
        size = page.viewport_size
        page.set_viewport_size({"width": 320, "height": 256})
        try:
            overflow = page.evaluate(OVERFLOW)
            self.screenshot(page, f"{state}-320px")
        finally:
            page.set_viewport_size(size)
        assert overflow["wide"] == [], f"{state} does not reflow at 320px: {overflow}"

    def focus_is_always_visible(self, page, state: str, *, limit: int = 200) -> int:
        """Tab through the whole page: each stop looks different when focused, and nothing covers it."""
        page.evaluate(REMEMBER_LOOKS)
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
        problems, stops, seen = [], 0, set()
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None or focused["name"] in seen:
                break
            seen.add(focused["name"])
            stops += 1
            if not (focused["changed"] and focused["visible"]):
                problems.append(f"{focused['name']}: no visible focus indicator")
            elif focused["covered"]:
                problems.append(f"{focused['name']}: covered by another element when focused")
        assert stops, f"the keyboard reaches nothing on {state}"
        assert not problems, f"focus is not always visible on {state}:\n" + "\n".join(problems)
        return stops

    def page(
        self,
        page,
        state: str,
        *,
        javascript: bool = True,
    ) -> None:
        """
        Everything a page state gets: a screenshot, axe, focus visibility and
        reflow. axe is a script in the page, so it runs only where JavaScript
        is on; the other checks look from outside the page and run either way.
        """
        self.screenshot(page, state)
        if javascript:
            self.axe(page, state)
        self.focus_is_always_visible(page, state)
        self.reflows(page, state)

    @classmethod
    def summary(cls) -> list[str]:
        """What was checked, for the end of the run and var/browser-artefacts/accessibility.txt."""
        if not cls.checked:
            return []
        states = {}
        for checked in cls.checked:
            states.setdefault(checked.page, set()).update(checked.violations)
        rules = sorted({checked.rules for checked in cls.checked})
        lines = [
            f"axe-core ran {'/'.join(map(str, rules))} rules (tags {', '.join(WCAG_22_AA)}) "
            f"{len(cls.checked)} times on {len(states)} page states:",
            *(f"  {page}: {', '.join(sorted(found)) or 'no violations'}" for page, found in sorted(states.items())),
        ]
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        (ARTEFACTS / "accessibility.txt").write_text("\n".join(lines) + "\n")
        return lines
