import uuid

import factory
from django.utils import timezone

from feedback.models import (
    Element,
    EmailKind,
    Level,
    OrganisationType,
    OutgoingEmail,
    Region,
    Role,
    Source,
    Submission,
    View,
    new_reference,
)


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission
        skip_postgeneration_save = True

    reference = factory.LazyFunction(new_reference)
    received_at = factory.LazyFunction(timezone.now)
    source = Source.WEB
    name = factory.Faker("name", locale="en_GB")
    email = factory.Sequence(lambda n: f"respondent{n}@example.nhs.uk")
    role = Role.NURSE_MIDWIFE
    organisation = factory.Faker("company", locale="en_GB")
    organisation_type = OrganisationType.FOUNDATION_TRUST
    region = Region.NORTH_WEST

    @classmethod
    def _create(cls, model_class, *args, views=None, **fields):
        """Through the portal's one way in for a submission, so it is counted as every arrival is."""
        drafts = [ViewFactory.build(**view) for view in views or [{"element": Element.LEADERSHIP}]]
        submission, _ = model_class.objects.record(
            token=uuid.uuid4(),
            views=[
                {
                    "element": view.element,
                    "level": view.level,
                    "text": view.text,
                    "example": view.example,
                    "question_version": view.question_version,
                }
                for view in drafts
            ],
            **fields,
        )
        return submission


class ViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = View

    element = Element.LEADERSHIP
    level = factory.LazyAttribute(lambda v: Level.LOCAL if v.element == Element.PRIORITISATION else "")
    text = factory.Faker("paragraph", nb_sentences=4)


class AcknowledgementFactory(factory.django.DjangoModelFactory):
    """A submission's acknowledgement in the outbox, as the form makes it."""

    class Meta:
        model = OutgoingEmail

    submission = factory.SubFactory(SubmissionFactory)
    kind = EmailKind.ACKNOWLEDGEMENT
    key = factory.LazyAttribute(lambda e: f"ack:{e.submission.pk}")
    recipient = factory.LazyAttribute(lambda e: e.submission.email)
