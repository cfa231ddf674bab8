"""
The demo data's vocabulary: sentence templates per element and theme, names,
organisations, and how often each kind of respondent and answer turns up.
feedback/demo.py assembles respondents and their views from it.
"""

from zoneinfo import ZoneInfo

from .models import Element, Level, OrganisationType, Region, Role, Source, Stance, Status, answerable

LONDON = ZoneInfo("Europe/London")

# fmt: off
SLOTS = {
    "service": [
        "stroke care", "diabetes care", "maternity services", "urgent care", "community nursing",
        "mental health crisis care", "end of life care", "musculoskeletal services", "dementia care",
        "children's services", "cancer diagnostics", "outpatient follow-up", "falls prevention",
        "care for people with COPD", "cardiac rehabilitation", "sexual health services", "podiatry",
        "wheelchair services", "audiology", "palliative care at home",
    ],
    "staff": [
        "ward sisters", "junior doctors", "community matrons", "practice managers", "physiotherapists",
        "consultants", "district nurses", "pharmacists", "health visitors", "healthcare assistants",
        "paramedics", "occupational therapists", "GPs", "clinical directors", "porters and support staff",
        "midwives", "speech and language therapists",
    ],
    "partner": [
        "the county council", "adult social services", "the housing department", "the voluntary sector",
        "community pharmacies", "GP practices", "the ambulance service", "independent providers",
        "the local university", "district councils", "carers' organisations", "the police and fire service",
    ],
    "benefit": [
        "fewer avoidable admissions", "shorter stays in hospital", "less duplication of tests",
        "better use of clinicians' time", "lower unit costs", "safer discharges", "quicker diagnosis",
        "care closer to home", "more time with patients", "fewer missed appointments",
        "less variation between practices", "earlier help for people at risk", "fewer emergency readmissions",
    ],
    "barrier": [
        "a tariff that rewards activity rather than outcomes", "separate budgets for health and social care",
        "IT systems that cannot share a record", "annual planning cycles", "short-term targets",
        "fragmented commissioning", "cumbersome procurement rules", "rigid professional boundaries",
        "a fear of being blamed when something new does not work", "duplicated performance returns",
        "the time it takes to agree anything across organisations",
    ],
    "item": [
        "dressings and continence products", "hip and knee implants", "generic medicines", "agency staffing",
        "laundry and catering", "pathology tests", "imaging equipment", "energy", "office supplies",
        "software licences", "insurance", "vehicles and fuel",
    ],
    "years": ["two", "three", "five"],
    "share": ["a fifth", "a quarter", "a third", "nearly half"],
}

# Theme name -> sentence templates. The theme names also make the demo codebook.
THEMES = {
    Element.PRIORITISATION: {
        "Buying once for the whole NHS": [
            "every trust negotiates its own contract for {item}, which wastes management time and money.",
            "a single national contract for {item} would give us buying power no trust has on its own.",
            "we compared what we pay for {item} with two neighbouring trusts and found differences of {share}.",
            "national buying should start with {item}, because the products hardly differ from one area to another.",
            "clinicians should still choose the products, but the price should be negotiated once.",
            "the savings from buying {item} nationally could be counted in the first year.",
            "local contracts for {item} tie up procurement staff who could be doing more useful work.",
        ],
        "Planning specialist services across a region": [
            "{service} needs enough patients in one place to keep clinicians' skills sharp.",
            "a regional network for {service} would stop each hospital trying to offer everything.",
            "regional planning of training places would help us fill gaps among {staff}.",
            "ambulance protocols for {service} only work if they are agreed across the whole region.",
            "patients will travel further for specialist {service} if the results are better.",
            "concentrating {service} in fewer centres needs a regional decision, or nobody will take it.",
            "the region could hold the list of scarce specialists and share them between trusts.",
        ],
        "Redesigning care pathways locally": [
            "the pathway for {service} has to be redesigned by the people who deliver it day to day.",
            "local teams know where the delays are in {service}, and they can fix them quickly.",
            "moving {service} into the community needs local agreement with {partner}.",
            "we redesigned {service} locally and saw {benefit} within a year.",
            "a local pathway for {service} can take account of the services that already exist here.",
            "each step of the pathway for {service} should be checked for whether it adds value for the patient.",
            "mapping the pathway for {service} showed that patients saw five people before anyone made a plan.",
        ],
        "Sharing estates and back office": [
            "payroll, finance and HR could be shared across organisations instead of run by each one.",
            "many buildings are half empty after five o'clock; sharing space with {partner} would save money.",
            "back-office services should be pooled so that the savings go into front-line care.",
            "empty clinic space could be let to {partner} rather than left unused.",
            "a shared estates plan would stop organisations building new premises next to empty ones.",
            "energy bills for old buildings are a hidden cost that a joint estates review would expose.",
            "shared support services need one system, not a set of local versions bolted together.",
        ],
        "Prevention in communities": [
            "spending on stopping smoking and on healthy weight pays back many times over.",
            "prevention work for {service} has to start in communities, long before people reach hospital.",
            "falls prevention is a clear case where a small investment brings {benefit}.",
            "public health campaigns should be designed once and delivered locally with {partner}.",
            "health checks for people over forty would bring {benefit}.",
            "prevention budgets are the first to be cut, although they save the most in the long run.",
            "schools and employers are natural partners for prevention work.",
        ],
    },
    Element.LEADERSHIP: {
        "Clinical leaders on boards": [
            "boards need clinicians who are given time and authority to lead change, not just to advise.",
            "when {staff} lead a redesign themselves, their colleagues trust it far more.",
            "our board meetings spend far more time on finance than on the quality of {service}.",
            "clinical directors should hold real budgets so they can act on what they see.",
            "job plans rarely include time for leadership, so clinicians do it in the evenings or not at all.",
            "a board that hears from {staff} directly understands the service far better.",
            "clinicians who take on leadership roles should not lose their clinical sessions entirely.",
        ],
        "Consistent signals from the top": [
            "staff hear one message about quality and another about targets, and they notice the gap.",
            "leaders at every level must say the same thing about why the changes are needed.",
            "mixed messages from the centre make it hard for local leaders to take difficult decisions.",
            "if efficiency is presented only as cuts, {staff} will resist it.",
            "chief executives should be seen on the wards and in the community, not only in meetings.",
            "the language of the challenge should be the same in the Department, the region and the trust.",
            "when a leader changes, the direction should not change with them.",
        ],
        "Permission to try new ways of working": [
            "people need permission to try something new in {service} without fear of blame if it fails.",
            "good ideas from {staff} are often lost because nobody has the authority to say yes.",
            "leaders should make it safe to stop doing things that add no value.",
            "small pilots in {service} should be allowed to run without a full business case.",
            "teams that improve {service} should keep some of the savings to reinvest.",
            "innovation needs a little protected time, and that has to be agreed by the board.",
            "staff should be told what happened to the suggestions they made.",
        ],
        "Developing managers and clinicians together": [
            "managers and clinicians are trained apart and then expected to lead together.",
            "joint leadership development for {staff} and managers would build a shared language.",
            "middle managers carry most of the change and get the least support.",
            "mentoring by experienced leaders would help new clinical directors a great deal.",
            "leadership programmes should bring people from health and social care into the same room.",
            "secondments between organisations help leaders understand each other's pressures.",
            "good leaders are developed over years, so training budgets should not be cut first.",
        ],
        "Accountability for quality": [
            "leaders should be judged on outcomes for patients, not only on balancing the books.",
            "boards should see quality data for {service} as often as they see financial reports.",
            "accountability must sit with the people who can change things, not with whoever filled in the return.",
            "publishing quality measures for {service} would focus leaders' attention quickly.",
            "an annual quality report that staff and patients can read would keep boards honest.",
            "when things go wrong, the question should be what we learn, not whom we blame.",
            "quality and cost should be reported together, so that one is never improved at the other's expense.",
        ],
    },
    Element.ENGAGEMENT: {
        "Explaining the challenge to staff": [
            "staff need an honest explanation of the financial position, told in plain language.",
            "{staff} want to know how savings will be made and what will happen to their jobs.",
            "the story has to be about better care first; the savings follow from that.",
            "team briefings work better than emails for explaining changes to {staff}.",
            "staff will accept hard decisions if they can see the reasoning behind them.",
            "front-line teams should be asked where the waste is, because they see it every day.",
            "trade unions should be involved early, not told once decisions are made.",
        ],
        "Working with local authorities": [
            "joint planning with {partner} should be the normal way of working, not an exception.",
            "our work with {partner} on {service} has brought {benefit}.",
            "shared targets with {partner} would stop each organisation shifting costs onto the other.",
            "councillors and NHS boards should meet regularly to agree local priorities.",
            "the joint strategic needs assessment should drive what both the council and the NHS spend.",
            "housing and health need to plan together for an older population.",
            "a shared director of public health has worked well for us.",
        ],
        "Primary and secondary care interface": [
            "GPs and consultants rarely meet, so referrals for {service} are often unnecessary or late.",
            "shared guidelines between GP practices and the hospital would reduce referrals for {service}.",
            "consultants running clinics in GP practices has cut waiting times for {service}.",
            "discharge letters arrive days late, which leaves GP practices in the dark.",
            "a telephone line for GPs to ask a consultant's advice would avoid many outpatient visits.",
            "tests done in hospital are often repeated in primary care because results are not shared.",
            "follow-up appointments for {service} could be handled in primary care with the right support.",
        ],
        "Health and social care interface": [
            "patients wait in hospital beds for social care assessments that could start earlier.",
            "joint discharge teams with adult social services would prevent delays.",
            "health and social care staff should be able to see the same care plan.",
            "reablement services run with {partner} help people stay at home longer.",
            "one assessment shared by health and social care would spare families from repeating their story.",
            "care homes need quicker access to GPs and community nurses to avoid admissions.",
            "arguments about who pays for continuing care hold up discharges for weeks.",
        ],
        "Involving patients and the public": [
            "patients should help design services from the start, not just be consulted at the end.",
            "local people need to understand why {service} might move, before decisions are made.",
            "carers know where services fail to join up and should be asked first.",
            "patient groups can explain changes to {service} in ways the public will trust.",
            "people with long-term conditions can manage much of their own care with the right support.",
            "public meetings reach the same few people; we need to go to where people already are.",
            "patient stories told at board meetings have changed decisions in our trust.",
        ],
    },
    Element.NATIONAL_POLICY: {
        "Payment by results and the tariff": [
            "the tariff should pay for whole pathways in {service}, not single episodes.",
            "payment by results rewards admissions, which works against prevention.",
            "a tariff for care out of hospital would let money follow patients into the community.",
            "best-practice tariffs should be extended to {service}.",
            "the tariff pays the same for a good outcome and a poor one, which cannot be right.",
            "emergency readmissions within a month should not be paid for twice.",
            "block contracts for community services hide what the money actually buys.",
        ],
        "Targets and performance management": [
            "too many national targets distort local priorities and crowd out {service}.",
            "performance returns take hours of {staff} time every month and change very little.",
            "targets should measure outcomes that patients care about, not only waiting times.",
            "a lighter national framework would free local leaders to act.",
            "the same information is asked for by three different bodies in three different formats.",
            "targets that are met by moving the problem elsewhere should be dropped.",
            "local targets agreed with patients would carry more weight than national ones.",
        ],
        "Pooled budgets and joint commissioning": [
            "pooled budgets with {partner} should be easier to set up and to run.",
            "joint commissioning of {service} with social care is held back by {barrier}.",
            "the operating framework should expect primary care trusts to pool budgets where it helps patients.",
            "legal barriers to sharing money between health and social care need removing.",
            "commissioners need the skills and data to commission for outcomes, not activity.",
            "a single budget for older people's services would end much of the cost shifting.",
            "commissioning for a whole population needs contracts longer than one year.",
        ],
        "Competition and procurement rules": [
            "procurement rules make it slow and costly to commission {service} from new providers.",
            "the rules on competition should not stop providers cooperating on {service}.",
            "tendering for small community services costs more than it saves.",
            "guidance on when to tender and when to work with existing providers should be clearer.",
            "voluntary organisations struggle with the paperwork that tenders demand.",
            "providers that work together on a pathway should not be treated as a cartel.",
            "national framework contracts would save each primary care trust running its own tender.",
        ],
        "Information and IT": [
            "national IT standards are needed so that systems can share records for {service}.",
            "clinicians need data about their own outcomes to improve {service}.",
            "information governance rules are applied so cautiously that they stop sensible sharing.",
            "the national programme for IT should allow local choice where national systems do not fit.",
            "a shared record between GP practices, hospitals and social care would bring {benefit}.",
            "benchmarking data should be published so that trusts can learn from the best.",
            "staff still key the same data into several systems, which wastes time and causes errors.",
        ],
        "Workforce and contracts": [
            "national contracts make it hard to change working patterns for {staff}.",
            "workforce planning should follow the shift of care into the community.",
            "staff should be able to move between organisations without losing their terms and conditions.",
            "spending on agency {staff} will fall only if national pay rules allow local flexibility.",
            "training commissions should match the services we will need in {years} years, not the ones we have now.",
            "extended roles for nurses and therapists need national backing to spread.",
            "sickness absence costs more than most savings schemes will ever deliver.",
        ],
    },
}

GENERAL = [
    "the real obstacle is {barrier}.",
    "unless something is done about {barrier}, little will change.",
    "done well, this would mean {benefit} and {benefit}.",
    "we could expect {benefit} within {years} years.",
    "I have worked in the NHS for many years and have seen similar ideas stall for lack of follow-through.",
    "the same is true of {service}, in my experience.",
    "the evidence from other areas is encouraging, but it has to be adapted to local circumstances.",
    "savings would be modest at first and grow as the new approach beds in.",
    "in our area we tried this with {partner} and saw {benefit}.",
    "the money saved should stay in the local system to pay for {service}.",
    "none of this needs new money, only a willingness to work differently.",
    "the risk is that {barrier} will undo good work that is already happening.",
    "we measured the effect on {service} and the results were clear.",
    "I would not underestimate how tired staff are after years of reorganisation.",
    "it should be tested in a few areas first and then spread quickly if it works.",
    "patients tell us they want {benefit} more than anything else.",
]

CONNECTIVES = [
    "Also, ", "In my experience, ", "Equally, ", "At the same time, ", "Put simply, ", "From what I have seen, ",
    "More than that, ", "In practice, ",
]

OPENERS = {
    Level.NATIONAL: [
        "This should be done once, for the whole NHS.",
        "Doing this 152 times over is wasteful: it belongs at national level.",
        "Only a national approach will reach the scale needed here.",
        "Some things are best done once and well, and this is one of them.",
    ],
    Level.REGIONAL: [
        "The region is the right level for this.",
        "This is too big for one primary care trust and too local for the Department: the strategic health "
        "authority should lead it.",
        "Each region should organise this once for all its trusts.",
        "Regional leadership would give this the scale it needs without losing touch with local services.",
    ],
    Level.SEVERAL: [
        "No single primary care trust can do this alone, but a whole region is too far from patients.",
        "Neighbouring primary care trusts should do this together, across their shared hospitals.",
        "This needs several local health systems working as one, around the patients they share.",
        "A group of local systems pooling the work would get the scale without losing local knowledge.",
    ],
    Level.LOCAL: [
        "This has to be decided locally, by the primary care trust and its partners.",
        "Local health systems are best placed to do this.",
        "Any national blueprint for this would miss how different our communities are.",
        "The answer will differ from place to place, so it should be decided locally.",
    ],
    Element.LEADERSHIP: [
        "Leadership will decide whether this challenge is met.",
        "I want to comment on how leaders behave during the changes ahead.",
        "From my experience of leading change in a trust:",
        "How leaders act will matter more than any plan.",
    ],
    Element.ENGAGEMENT: [
        "Staff and partners will only support change they understand.",
        "I would like to say something about working across organisational boundaries.",
        "Engagement has to be more than a consultation exercise.",
        "Nothing will change unless the people affected are part of it.",
    ],
    Element.NATIONAL_POLICY: [
        "Some national rules stand in the way of local improvement.",
        "The operating framework for next year should change the following.",
        "Local change keeps running into national policy.",
        "A few changes to national policy would unlock a great deal locally.",
    ],
}

CLOSERS = [
    "I would be glad to share more detail.",
    "Thank you for asking staff for their views.",
    "This is a personal view, but many colleagues share it.",
    "I hope this helps with the operating framework.",
    *[""] * 12,
]

FIRST_NAMES = [
    "Amira", "Ben", "Catrin", "Daniel", "Eleanor", "Farhan", "Grace", "Harjit", "Isla", "James", "Kwame",
    "Lucy", "Mohammed", "Niamh", "Oliver", "Priya", "Rhys", "Sarah", "Tomasz", "Usha", "Victoria", "Wei",
    "Yusuf", "Zoe", "Aled", "Bethan", "Chidi", "Deborah", "Euan", "Fiona", "Gareth", "Hannah",
]
LAST_NAMES = [
    "Adebayo", "Brennan", "Chowdhury", "Davies", "Evans", "Fletcher", "Gallagher", "Hughes", "Iqbal",
    "Jenkins", "Khan", "Lewis", "McAllister", "Nowak", "O'Neill", "Patel", "Quinn", "Roberts", "Singh",
    "Thompson", "Underwood", "Vaughan", "Walsh", "Young", "Zielinski", "Ashworth", "Bell", "Campbell",
]
# Invented places, so no demo organisation is mistaken for a real one.
PLACES = [
    "Northfield", "Eastbrook", "Westmoor", "Southdale", "Ashby Vale", "Brookhampton", "Carrow", "Denholm",
    "Elmbridge Vale", "Fernley", "Greyhaven", "Holmford", "Ivy Moor", "Kingsmead", "Larkhill Cross",
    "Millbourne", "Newstead Vale", "Oakworth", "Pennington", "Redcliffe Bay",
]
ORGANISATIONS = {
    OrganisationType.DEPARTMENT_OF_HEALTH: ["Department of Health"],
    OrganisationType.STRATEGIC_HEALTH_AUTHORITY: [],  # named after the region instead
    OrganisationType.PRIMARY_CARE_TRUST: ["{place} Primary Care Trust", "NHS {place}"],
    OrganisationType.ACUTE_TRUST: ["{place} Hospitals NHS Trust", "{place} General Hospital NHS Trust"],
    OrganisationType.FOUNDATION_TRUST: ["{place} NHS Foundation Trust", "{place} Teaching Hospitals NHS FT"],
    OrganisationType.MENTAL_HEALTH_TRUST: ["{place} Partnership NHS Trust", "{place} Mental Health NHS Trust"],
    OrganisationType.AMBULANCE_TRUST: ["{place} Ambulance Service NHS Trust"],
    OrganisationType.CARE_TRUST: ["{place} Care Trust"],
    OrganisationType.PRIMARY_CARE: ["{place} Medical Centre", "{place} Surgery", "{place} Health Centre"],
    OrganisationType.LOCAL_AUTHORITY: ["{place} County Council", "{place} City Council"],
    OrganisationType.VOLUNTARY: ["{place} Carers' Network", "{place} Older People's Forum", "{place} Community Trust"],
    OrganisationType.INDEPENDENT: ["{place} Healthcare Ltd", "{place} Diagnostics Ltd"],
    OrganisationType.PROFESSIONAL_BODY: ["{place} Branch, Union of Health Workers", "Society of Practice Staff"],
    OrganisationType.PATIENT_GROUP: ["{place} LINk", "{place} Patients' Forum"],
    OrganisationType.PUBLIC: ["None"],
    OrganisationType.OTHER: ["{place} Health Research Unit", "{place} Social Enterprise"],
}
NHS_TYPES = {
    OrganisationType.DEPARTMENT_OF_HEALTH, OrganisationType.STRATEGIC_HEALTH_AUTHORITY,
    OrganisationType.PRIMARY_CARE_TRUST, OrganisationType.ACUTE_TRUST, OrganisationType.FOUNDATION_TRUST,
    OrganisationType.MENTAL_HEALTH_TRUST, OrganisationType.AMBULANCE_TRUST, OrganisationType.CARE_TRUST,
    OrganisationType.PRIMARY_CARE,
}

# Relative frequencies, roughly as replies to a letter sent through the NHS would come in.
ORG_TYPE_WEIGHTS = {
    OrganisationType.DEPARTMENT_OF_HEALTH: 1, OrganisationType.STRATEGIC_HEALTH_AUTHORITY: 3,
    OrganisationType.PRIMARY_CARE_TRUST: 18, OrganisationType.ACUTE_TRUST: 16,
    OrganisationType.FOUNDATION_TRUST: 14, OrganisationType.MENTAL_HEALTH_TRUST: 8,
    OrganisationType.AMBULANCE_TRUST: 3, OrganisationType.CARE_TRUST: 2, OrganisationType.PRIMARY_CARE: 10,
    OrganisationType.LOCAL_AUTHORITY: 6, OrganisationType.VOLUNTARY: 5, OrganisationType.INDEPENDENT: 2,
    OrganisationType.PROFESSIONAL_BODY: 3, OrganisationType.PATIENT_GROUP: 3, OrganisationType.PUBLIC: 4,
    OrganisationType.OTHER: 2,
}
CLINICAL_ROLES = [Role.DOCTOR, Role.NURSE_MIDWIFE, Role.ALLIED_HEALTH, Role.OTHER_CLINICAL]
NHS_ROLES = [*CLINICAL_ROLES, *CLINICAL_ROLES, Role.MANAGER, Role.MANAGER, Role.BOARD, Role.FINANCE, Role.OTHER]
ROLES_BY_ORG_TYPE = {
    OrganisationType.PRIMARY_CARE_TRUST: [*NHS_ROLES, Role.COMMISSIONER, Role.COMMISSIONER],
    OrganisationType.LOCAL_AUTHORITY: [Role.SOCIAL_CARE, Role.SOCIAL_CARE, Role.MANAGER, Role.COMMISSIONER],
    OrganisationType.VOLUNTARY: [Role.SOCIAL_CARE, Role.MANAGER, Role.PATIENT_CARER, Role.OTHER],
    OrganisationType.PATIENT_GROUP: [Role.PATIENT_CARER, Role.PATIENT_CARER, Role.PUBLIC],
    OrganisationType.PUBLIC: [Role.PUBLIC, Role.PUBLIC, Role.PATIENT_CARER],
}
REGION_WEIGHTS = {region: 10 for region, _ in answerable(Region)} | {Region.LONDON: 16, Region.NATIONAL: 4}
ELEMENT_WEIGHTS = {
    Element.PRIORITISATION: 30, Element.LEADERSHIP: 22, Element.ENGAGEMENT: 26, Element.NATIONAL_POLICY: 22,
}
LEVEL_WEIGHTS = {Level.NATIONAL: 28, Level.REGIONAL: 24, Level.SEVERAL: 12, Level.LOCAL: 36}
SOURCE_WEIGHTS = {Source.WEB: 85, Source.EMAIL: 11, Source.IMPORT: 4}
TRIAGED_WEIGHTS = {Status.READ: 60, Status.ACTIONED: 25, Status.FLAGGED: 15}
VIEW_COUNT_WEIGHTS = {1: 50, 2: 32, 3: 18}
STANCE_WEIGHTS = {Stance.SUPPORTS: 45, Stance.OPPOSES: 15, Stance.MIXED: 15, "": 25}
# Monday first; then local hours 0 to 23. Views mostly come in office hours on weekdays.
DAY_WEIGHTS = [1.0, 1.05, 1.0, 0.95, 0.8, 0.25, 0.2]
HOUR_WEIGHTS = [
    0.03, 0.02, 0.02, 0.02, 0.03, 0.05, 0.1, 0.3, 0.7, 1.0, 1.0, 1.0,
    0.9, 0.8, 1.0, 1.0, 0.9, 0.7, 0.45, 0.4, 0.4, 0.3, 0.15, 0.08,
]
# fmt: on

SENTENCES_PER_TEMPLATE = 40
# Views that are someone's copy of a template letter (a few letters per element, each edited by its sender).
CAMPAIGN_SHARE = 0.03
CAMPAIGN_LETTERS = 2
OPENER_SHARE = 0.35
TAGGED_SHARE = 0.2
MAX_WORDS = 250
# The first submissions of a run take these in turn, so even a small run covers every value.
ORG_TYPE_ORDER = [OrganisationType(value) for value, _ in answerable(OrganisationType)]
ROLE_ORDER = [Role(value) for value, _ in answerable(Role)]
REGION_ORDER = [Region(value) for value, _ in answerable(Region)]
ELEMENT_ORDER = list(Element)
LEVEL_ORDER = list(Level)
