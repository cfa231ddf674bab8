"""The fixed vocabularies: each defined once, as TextChoices."""

from django.db import models


class Element(models.TextChoices):
    """The four elements of the QIPP challenge: the axis every view is tagged on."""

    PRIORITISATION = "prioritisation", "Prioritisation by level"
    LEADERSHIP = "leadership", "Leadership focus and behaviours"
    ENGAGEMENT = "engagement", "Engaging staff, partners and the public"
    NATIONAL_POLICY = "national_policy", "National policy framework"

    @property
    def description(self) -> str:
        return ELEMENT_DESCRIPTIONS[self]


ELEMENT_DESCRIPTIONS = {
    Element.PRIORITISATION: (
        "What should be done once for the whole NHS, what by each of the 10 regions, "
        "what by each of the 152 local health systems, and what by several local systems together."
    ),
    Element.LEADERSHIP: (
        "The leadership signals sent at every level, clinical leadership, and how boards "
        "support clinical leaders to drive change."
    ),
    Element.ENGAGEMENT: (
        "How the challenge is explained to staff, joint working with local authorities and "
        "partners, and the links between primary and secondary care and between health and "
        "social care."
    ),
    Element.NATIONAL_POLICY: (
        "What needs to change in national policy so that change can happen locally. "
        "These views feed the 2010-11 operating framework directly."
    ),
}


class Level(models.TextChoices):
    """Where a prioritisation view says the work should be organised."""

    NATIONAL = "national", "Nationally, once for the whole NHS"
    REGIONAL = "regional", "Regionally, by each of the 10 strategic health authorities"
    # Above a single local health system, below a region (the letter raises organising some programmes there).
    SEVERAL = "several", "Across several local health systems together"
    LOCAL = "local", "Locally, by each of the 152 primary care trusts"

    @property
    def short_label(self) -> str:
        """The level in a table's heading: "National", "Several local systems"."""
        return "Several local systems" if self == Level.SEVERAL else self.value.capitalize()


class Principle(models.TextChoices):
    """The four working principles: optional secondary tags on a submission."""

    COPRODUCTION = "coproduction", "Coproduction"
    SUBSIDIARITY = "subsidiarity", "Subsidiarity"
    CLINICAL_LEADERSHIP = "clinical_leadership", "Clinical leadership"
    SYSTEM_ALIGNMENT = "system_alignment", "System alignment"


# Mail and imported spreadsheets do not always say who sent them: the
# respondent's role, organisation type and region may be "Not known" there.
# The web form never offers it (see answerable).
NOT_KNOWN = "not_known"


def answerable(choices: type[models.TextChoices]) -> list[tuple[str, str]]:
    """The choices a respondent picks from on the form: all but "Not known"."""
    return [(value, label) for value, label in choices.choices if value != NOT_KNOWN]


class Region(models.TextChoices):
    """The 10 strategic health authorities, plus views that are not about one region."""

    NORTH_EAST = "north_east", "North East"
    NORTH_WEST = "north_west", "North West"
    YORKSHIRE_HUMBER = "yorkshire_humber", "Yorkshire and the Humber"
    EAST_MIDLANDS = "east_midlands", "East Midlands"
    WEST_MIDLANDS = "west_midlands", "West Midlands"
    EAST_OF_ENGLAND = "east_of_england", "East of England"
    LONDON = "london", "London"
    SOUTH_EAST_COAST = "south_east_coast", "South East Coast"
    SOUTH_CENTRAL = "south_central", "South Central"
    SOUTH_WEST = "south_west", "South West"
    NATIONAL = "national", "National / not region-specific"
    NOT_KNOWN = NOT_KNOWN, "Not known"


class OrganisationType(models.TextChoices):
    DEPARTMENT_OF_HEALTH = "department_of_health", "Department of Health"
    STRATEGIC_HEALTH_AUTHORITY = "sha", "Strategic health authority"
    PRIMARY_CARE_TRUST = "pct", "Primary care trust"
    ACUTE_TRUST = "acute_trust", "NHS trust (acute)"
    FOUNDATION_TRUST = "foundation_trust", "NHS foundation trust"
    MENTAL_HEALTH_TRUST = "mental_health_trust", "Mental health trust"
    AMBULANCE_TRUST = "ambulance_trust", "Ambulance trust"
    CARE_TRUST = "care_trust", "Care trust"
    PRIMARY_CARE = "primary_care", "GP practice or other primary care contractor"
    LOCAL_AUTHORITY = "local_authority", "Local authority (including social care)"
    VOLUNTARY = "voluntary", "Voluntary or community sector"
    INDEPENDENT = "independent", "Independent sector provider"
    PROFESSIONAL_BODY = "professional_body", "Professional body or trade union"
    PATIENT_GROUP = "patient_group", "Patient or public representative group"
    PUBLIC = "public", "Individual member of the public"
    OTHER = "other", "Other"
    NOT_KNOWN = NOT_KNOWN, "Not known"


class Role(models.TextChoices):
    DOCTOR = "doctor", "Doctor"
    NURSE_MIDWIFE = "nurse_midwife", "Nurse or midwife"
    ALLIED_HEALTH = "allied_health", "Allied health professional"
    OTHER_CLINICAL = "other_clinical", "Other clinical"
    MANAGER = "manager", "Manager"
    BOARD = "board", "Board member or executive"
    COMMISSIONER = "commissioner", "Commissioner"
    FINANCE = "finance", "Finance"
    SOCIAL_CARE = "social_care", "Social care professional"
    PATIENT_CARER = "patient_carer", "Patient or carer"
    PUBLIC = "public", "Member of the public"
    OTHER = "other", "Other"
    NOT_KNOWN = NOT_KNOWN, "Not known"


class Source(models.TextChoices):
    WEB = "web", "Web form"
    EMAIL = "email", "Email to the mailbox"
    IMPORT = "import", "Import"


class Status(models.TextChoices):
    """Triage status, set by the policy team; or withdrawn, by the respondent alone and for good."""

    NEW = "new", "New"
    READ = "read", "Read"
    FLAGGED = "flagged", "Flagged"
    ACTIONED = "actioned", "Actioned"
    WITHDRAWN = "withdrawn", "Withdrawn by the respondent"


class Stance(models.TextChoices):
    """Whether a view argues for or against a theme, so themes never blur agreement and disagreement."""

    SUPPORTS = "supports", "Supports"
    OPPOSES = "opposes", "Opposes"
    MIXED = "mixed", "Mixed"


class DigestKind(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    # One, after the call closes: the whole call, from the weekly digests' rows.
    FINAL = "final", "Final"


class DigestStatus(models.TextChoices):
    PENDING = "pending", "Waiting to compile"
    COMPILING = "compiling", "Compiling"
    READY = "ready", "Ready for approval"
    APPROVED = "approved", "Approved"
    FAILED = "failed", "Failed"
