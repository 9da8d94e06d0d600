"""Templates of the labelled recall set, continued: customer support, code review and scheduling."""

from __future__ import annotations

from .recall_templates import Domain, Event

__all__ = ["REVIEW", "SCHEDULING", "SUPPORT"]

SUPPORT = Domain(
    "support",
    (
        ("Acme Corp", ("the anvil maker", "our biggest manufacturing client")),
        ("Globex", ("the energy conglomerate", "that utility customer")),
        ("Initech", ("the printer-hating office", "the tps report people")),
        ("Umbrella Health", ("the hospital group", "the clinic chain")),
        ("Stark Logistics", ("the freight company", "the trucking firm")),
        ("Wayne Foods", ("the grocery chain", "the supermarket client")),
        ("Hooli", ("the search giant", "the big tech account")),
        ("Vandelay Imports", ("the latex importer", "the import export shop")),
        ("Soylent Labs", ("the nutrition startup", "the meal drink company")),
        ("Cyberdyne", ("the robotics firm", "the automation vendor")),
        ("Tyrell Realty", ("the property agency", "the real estate office")),
        ("Oscorp Bank", ("the regional lender", "the credit union")),
        ("Pied Piper", ("the compression startup", "the small video app company")),
        ("Massive Dynamic", ("the research lab", "the science contractor")),
    ),
    (
        Event(
            "refund",
            (
                "{e} was charged twice for the annual plan; a refund of {n} dollars was issued",
                "{e}: billing contact prefers refunds as credit notes",
            ),
            "handle double charge complaint from {e}",
            ("look up invoices of {e}", "duplicate charge confirmed", "issue refund", "email confirmation"),
            "refund issued and customer confirmed receipt",
            True,
            (
                "refund-{e}",
                "refund a duplicate charge for {e} and send the confirmation",
                ("find both invoices", "refund the second one", "send the receipt"),
            ),
            ("did we give {q} their money back?", "{q} got billed two times, how was it settled?", "{q} paid twice"),
            ("how do I reimburse {q} when they pay twice?", "process for returning a payment to {q}"),
        ),
        Event(
            "angry-escalation",
            (
                "{e} escalated to the CEO after {n} unanswered tickets; an account manager now calls them weekly",
                "{e}: always reply within four hours, they track it",
            ),
            "de-escalate complaint from {e}",
            ("read ticket history of {e}", "apologise by phone", "assign account manager", "weekly call"),
            "customer calmed down and renewed",
            True,
            (
                "deescalate-{e}",
                "calm an unhappy {e} contact after missed tickets",
                ("read the history", "call and apologise", "agree a follow-up plan"),
            ),
            ("why is {q} so upset with us?", "{q} went over our heads to the boss", "{q} furious about being ignored"),
            ("how should I handle {q} when they are furious?", "calming down {q} after we dropped the ball"),
        ),
        Event(
            "sso-setup",
            (
                "{e} could not sign in after their identity provider rotated its SAML certificate;"
                " {n} users were locked out",
                "{e}: their IT admin must send the new SAML metadata before each rotation",
            ),
            "restore login for {e} users",
            ("check SAML errors for {e}", "signature validation failed", "upload new metadata", "test login"),
            "uploaded the new metadata; users can log in",
            True,
            (
                "saml-update-{e}",
                "update the SAML metadata of {e} after their provider changes certificates",
                ("get metadata xml from their admin", "upload it", "test a login"),
            ),
            (
                "why were {q} staff unable to get into the product?",
                "{q} employees kept bouncing at the login screen",
                "{q} people locked out",
            ),
            (
                "how do I get {q} staff back in when their corporate login breaks?",
                "fixing {q} company-wide access problems",
            ),
        ),
        Event(
            "data-export",
            (
                "{e} asked for a full export of their records; the CSV of {n} thousand rows"
                " was sent through a secure link",
                "{e}: exports must be encrypted and links expire after 7 days",
            ),
            "export account data for {e}",
            ("run export job for {e}", "compress the CSV", "upload to secure share", "send expiring link"),
            "export delivered; link expired after a week",
            True,
            (
                "export-{e}",
                "produce a full data export for {e} and share it safely",
                ("run the export job", "encrypt the archive", "send a link that expires"),
            ),
            (
                "did {q} receive a copy of everything they stored with us?",
                "{q} wanted their information handed over",
                "{q} asked to download all their stuff",
            ),
            ("how do I hand {q} all of their information?", "giving {q} a dump of their account"),
        ),
    ),
    (
        "{e} sent a thank you card to the support team",
        "the {e} logo on our customer page is outdated",
        "holiday greetings to {e} went out by email",
        "{e} visited the office, lunch was good",
        "we were upset the {e} case study video got delayed by the agency",
        "{e} asked what went into our new pricing page design",
    ),
)

REVIEW = Domain(
    "code review",
    (
        ("parser module", ("the tokenizer code", "input reading layer")),
        ("retry helper", ("backoff utility", "try-again wrapper")),
        ("auth middleware", ("login check layer", "permission filter")),
        ("cache layer", ("memoization code", "lookup shortcut store")),
        ("date utils", ("time formatting helpers", "calendar functions")),
        ("payment client", ("card processor wrapper", "charge sdk")),
        ("upload handler", ("file intake endpoint", "attachment receiver")),
        ("feature flags", ("toggle system", "switches for features")),
        ("rate limiter", ("throttle", "request quota guard")),
        ("csv importer", ("spreadsheet loader", "bulk file reader")),
        ("email templates", ("mail layouts", "message markup")),
        ("metrics exporter", ("stats emitter", "prometheus endpoint")),
        ("job queue", ("background worker queue", "task dispatcher")),
        ("config loader", ("settings reader", "env parsing")),
    ),
    (
        Event(
            "race-condition",
            (
                "review found a race condition in the {e}: two threads update the shared dict without a lock",
                "{e}: shared state is now guarded by a mutex and covered by a stress test",
            ),
            "review pull request {n} touching the {e}",
            ("read the diff of the {e}", "spot unsynchronised dict update", "request a lock", "approve after fix"),
            "change requested; merged after adding the lock",
            True,
            (
                "review-concurrency-{e}",
                "check the {e} for unsynchronised shared state during review",
                ("list shared objects", "look for missing locks", "ask for a stress test"),
            ),
            (
                "did anyone spot threads stepping on each other in the {q}?",
                "{q} had a concurrency bug, what was flagged?",
                "simultaneous access problem in the {q}",
            ),
            (
                "what should I look for about parallel access when checking {q} changes?",
                "reviewing the {q} for threading mistakes",
            ),
        ),
        Event(
            "missing-tests",
            (
                "pull request {n} changed the {e} with no unit tests; reviewer asked for coverage of the error paths",
                "{e}: CI now fails when coverage drops below 85 percent",
            ),
            "review untested change to the {e}",
            ("run coverage on the {e}", "error paths untested", "request tests", "re-review"),
            "author added tests; merged",
            True,
            (
                "coverage-check-{e}",
                "require tests for error paths of the {e} before approving",
                ("run coverage", "list untested branches", "request tests"),
            ),
            (
                "was the {q} change accepted without proof it works?",
                "{q} patch lacked checks, what did the reviewer say?",
                "nobody verified the {q} edit",
            ),
            ("what do I demand before signing off on {q} edits?", "checklist for accepting {q} patches"),
        ),
        Event(
            "sql-injection",
            (
                "the {e} built a query by string formatting user input; flagged as SQL injection in PR {n}",
                "{e}: all queries must use bound parameters, enforced by a lint rule",
            ),
            "security review of the {e}",
            ("grep the {e} for f-string queries", "user input concatenated into SQL", "use parameters", "approve"),
            "rewritten with bound parameters; merged",
            True,
            (
                "review-sql-{e}",
                "find SQL built from user input in the {e} and require bound parameters",
                ("search for string formatted queries", "trace the input", "require parameters"),
            ),
            (
                "could a visitor sneak commands into the database through the {q}?",
                "{q} glued user text into statements",
                "{q} let outsiders tamper with lookups",
            ),
            (
                "how do I make sure the {q} can't be tricked by crafted input?",
                "protecting the {q} from hostile strings",
            ),
        ),
        Event(
            "perf-regression",
            (
                "the {e} refactor in PR {n} turned a dict lookup into a list scan; p99 latency doubled",
                "{e}: benchmark job added to CI with a 10 percent regression budget",
            ),
            "find the latency regression after the {e} refactor",
            ("bisect commits to the {e}", "list scan instead of dict", "restore dict", "benchmark again"),
            "restored the dict lookup; latency back to normal",
            True,
            (
                "bench-{e}",
                "benchmark the {e} before and after a refactor to catch slowdowns",
                ("run the micro benchmark", "compare with main", "block merge on regression"),
            ),
            (
                "why did the {q} get sluggish after the cleanup?",
                "{q} rewrite made responses drag",
                "{q} tidy-up hurt speed",
            ),
            ("how do I catch the {q} getting slower before it ships?", "guarding {q} speed in reviews"),
        ),
    ),
    (
        "the {e} file has a typo in its header comment",
        "reviewer liked the naming in the {e}, nothing to change",
        "the {e} docs were moved to the new site",
        "{e} owners rotate reviewers every sprint",
        "someone asked whether anyone could sneak a donut into the {e} review meeting",
    ),
)

SCHEDULING = Domain(
    "scheduling",
    (
        ("Priya", ("the product lead", "our PM")),
        ("Marco", ("the backend tech lead", "the platform lead")),
        ("Lena", ("the designer", "our ux person")),
        ("Tom", ("the sales director", "head of sales")),
        ("Aiko", ("the data scientist", "our ml person")),
        ("Sam", ("the intern", "the new junior")),
        ("Fatima", ("the cfo", "finance chief")),
        ("Jonas", ("the support manager", "head of customer care")),
        ("Chen", ("the security officer", "our ciso")),
        ("Olga", ("the recruiter", "the hiring partner")),
        ("Diego", ("the ops engineer", "our sre")),
        ("Ines", ("the legal counsel", "company lawyer")),
        ("Kwame", ("the qa lead", "test manager")),
        ("Rosa", ("the office manager", "facilities person")),
    ),
    (
        Event(
            "timezone",
            (
                "{e} works from Singapore: meetings must start before {n} am Berlin time",
                "{e}: prefers async updates on Fridays",
            ),
            "schedule the weekly sync with {e}",
            ("check calendar of {e}", "convert time zones", "pick early slot", "send invite"),
            "weekly sync booked at 8 am Berlin",
            True,
            (
                "book-sync-{e}",
                "find a meeting slot that suits {e} in Singapore",
                ("convert to Singapore time", "pick a morning slot", "send the invite"),
            ),
            (
                "when can {q} actually attend a call?",
                "what hours suit {q} given where they live?",
                "{q} availability window",
            ),
            ("how do I set up a call that {q} can make?", "arranging a meeting time for {q}"),
        ),
        Event(
            "recurring-conflict",
            (
                "the recurring planning meeting clashed with {e}'s school pickup every Tuesday for {n} weeks",
                "{e}: no meetings after 3 pm on Tuesdays",
            ),
            "resolve the Tuesday clash for {e}",
            ("list recurring events of {e}", "clash with pickup", "move planning to Wednesday", "notify attendees"),
            "planning moved to Wednesday morning",
            True,
            (
                "move-recurring-{e}",
                "move a recurring meeting that clashes with {e}'s fixed commitments",
                ("find the clash", "propose a new slot", "update the series"),
            ),
            (
                "why does {q} keep skipping the weekly planning?",
                "{q} could never join that repeating session",
                "{q} missing every planning call",
            ),
            ("how do I shift a repeating session so {q} can come?", "rearranging the series for {q}"),
        ),
        Event(
            "leave",
            (
                "{e} is on parental leave for {n} weeks; approvals go to the deputy meanwhile",
                "{e}: out of office replies point to the deputy",
            ),
            "arrange cover while {e} is away",
            ("check leave dates of {e}", "name a deputy", "update approval rules", "tell the team"),
            "deputy named; approvals rerouted",
            True,
            (
                "cover-{e}",
                "reroute approvals and meetings while {e} is away",
                ("check the leave dates", "pick a deputy", "update approval rules"),
            ),
            (
                "who signs off on things while {q} is gone?",
                "{q} away with the baby, who stands in?",
                "{q} absent for a while",
            ),
            ("how do I reassign {q}'s approvals during time off?", "handling {q} being out for weeks"),
        ),
        Event(
            "double-booking",
            (
                "{e} was booked into two customer demos at {n} pm on the same day; one was moved",
                "{e}: demos are booked only through the shared sales calendar",
            ),
            "fix the double booking of {e}",
            ("open calendar of {e}", "two demos overlap", "move one demo", "apologise to customer"),
            "second demo moved to next morning",
            True,
            (
                "dedupe-bookings-{e}",
                "detect and resolve overlapping bookings in {e}'s calendar",
                ("list overlaps", "pick which to move", "notify the other party"),
            ),
            (
                "why did {q} have to cancel on a client?",
                "{q} was expected in two places at once",
                "{q} overlapping appointments",
            ),
            ("how do I avoid putting {q} in two places at once?", "preventing {q} clashing appointments"),
        ),
    ),
    (
        "{e} brought cake for the team on friday",
        "the {e} birthday card is going around, sign it",
        "{e} recommends the new ramen place",
        "when can we get {e}'s desk plant watered? it looks dry",
        "{e} moved to the third floor desk by the window",
        "who has the spare key? {e} lost theirs",
    ),
)
