"""manage.py train_suggestions [--element E]: retrain theme suggestions now, and say how they did."""

from django.core.management.base import BaseCommand

from feedback.models import Element, SuggestionModel
from feedback.suggestions import train_and_suggest

TEXT_MODELS = {
    SuggestionModel.ELEMENT: "The element of a text",
    SuggestionModel.LEVEL: "The level of a prioritisation text",
}


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


class Command(BaseCommand):
    help = (
        "Train each element's theme classifier on the tags people confirmed, measure it against the people on a "
        "held-out share, and write suggestions for the views nobody has coded. Without --element, also the "
        "models that propose the element and level of a text that has none (mail being sorted)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--element", choices=Element.values, help="Only this element.")

    def handle(self, *args, element: str | None, **options):
        for name, outcome in train_and_suggest([element] if element else None).items():
            if name in (SuggestionModel.ELEMENT, SuggestionModel.LEVEL):
                what = (
                    "The element of a text"
                    if name == SuggestionModel.ELEMENT
                    else "The level of a prioritisation text"
                )
                if outcome["model"] is None:
                    self.stdout.write(f"{what}: too few views to learn from yet.")
                else:
                    self.stdout.write(
                        f"{what}: model {outcome['model']}; held out: accuracy {_figure(outcome['accuracy'])}, "
                        f"kappa {_figure(outcome['kappa'])} on {outcome['held_out']:,} views."
                    )
                continue
            label = Element(name).label
            emerging = f" {outcome['proposals']} emerging theme(s) proposed among the views no theme fits."
            if outcome["model"] is None:
                self.stdout.write(f"{label}: no theme has enough confirmed examples yet; no suggestions.{emerging}")
                continue
            self.stdout.write(
                f"{label}: model {outcome['model']} from {outcome['views']:,} coded views, {outcome['themes']} "
                f"theme(s); held out: positive agreement {_figure(outcome['positive_agreement'])}, "
                f"kappa {_figure(outcome['kappa'])}; {outcome['suggestions']:,} suggestion(s) written.{emerging}"
            )
