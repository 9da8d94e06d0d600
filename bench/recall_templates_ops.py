"""Templates of the labelled recall set, continued: data pipelines and security."""

from __future__ import annotations

from .recall_templates import Domain, Event

__all__ = ["PIPELINES", "SECURITY"]

PIPELINES = Domain(
    "pipelines",
    (
        ("daily-sales-etl", ("nightly revenue load", "sales rollup job")),
        ("clickstream-ingest", ("web events intake", "page view feed")),
        ("crm-sync", ("salesforce import", "contacts copy job")),
        ("fx-rates-loader", ("currency conversion feed", "exchange rate import")),
        ("churn-features", ("attrition model inputs", "customer leaving signals job")),
        ("inventory-snapshot", ("stock level export", "warehouse count dump")),
        ("ad-spend-import", ("marketing cost feed", "campaign budget load")),
        ("support-tickets-etl", ("helpdesk export", "ticket history load")),
        ("partner-catalog-feed", ("supplier product import", "vendor listing ingest")),
        ("payroll-export", ("salary file job", "wages transfer extract")),
        ("iot-telemetry", ("sensor readings stream", "device signal intake")),
        ("search-logs-etl", ("query log rollup", "search terms aggregation")),
        ("email-engagement", ("newsletter opens feed", "mail click tracking job")),
        ("geo-enrichment", ("address lookup step", "location tagging job")),
    ),
    (
        Event(
            "schema-drift",
            (
                "{e} broke when the upstream source renamed a column; {n} rows were loaded with nulls",
                "{e}: schema contract test now runs before each load",
            ),
            "investigate null values loaded by {e}",
            ("compare source schema for {e}", "column renamed upstream", "update mapping", "reload partition"),
            "fixed the column mapping and reloaded the affected partition",
            True,
            (
                "schema-check-{e}",
                "detect upstream column changes before {e} loads data",
                ("fetch source schema", "diff against the contract", "stop the load on mismatch"),
            ),
            (
                "why did {q} produce empty fields?",
                "the provider changed their format and {q} choked",
                "blank values coming out of {q}",
            ),
            ("how do I catch format changes before {q} ingests them?", "guard {q} against provider format changes"),
        ),
        Event(
            "late-data",
            (
                "{e} finished {n} hours late because the upstream export arrived after the scheduled start",
                "{e}: now triggered by a sensor on the upstream file instead of a fixed time",
            ),
            "explain why {e} missed its deadline",
            ("check {e} run times", "upstream file arrived late", "job started on empty input", "rerun"),
            "rerun after the upstream file landed; report delivered late",
            False,
            (
                "wait-for-input-{e}",
                "start {e} only when its upstream file has landed",
                ("add a file sensor", "set a timeout", "notify the owner when input is missing"),
            ),
            (
                "why were the numbers from {q} delayed this morning?",
                "{q} output not ready on time",
                "{q} missed the morning deadline",
            ),
            ("how do I make {q} wait for its inputs?", "have {q} begin only once the source shows up"),
        ),
        Event(
            "duplicate-rows",
            (
                "a retried task in {e} appended the same batch twice, doubling {n} thousand rows",
                "{e}: loads are now idempotent with a merge on the natural key",
            ),
            "deduplicate rows written by {e}",
            ("count duplicate keys in {e} output", "retry appended twice", "delete duplicates", "switch to merge"),
            "removed duplicates and made the load idempotent",
            True,
            (
                "dedupe-{e}",
                "remove duplicate rows from {e} output and make reruns safe",
                ("find repeated natural keys", "delete extra copies", "use merge instead of insert"),
            ),
            (
                "why do the totals from {q} look twice as big?",
                "{q} counted things double",
                "inflated figures after {q} reran",
            ),
            ("how do I make {q} safe to run again?", "keep {q} from writing the same records twice"),
        ),
        Event(
            "backfill",
            (
                "backfill of {e} for the last {n} days overloaded the warehouse and slowed every dashboard",
                "{e}: backfills now run one day at a time at night",
            ),
            "backfill {e} history",
            ("launch backfill of {e}", "warehouse queue saturated", "dashboards slow", "split into daily chunks"),
            "split the backfill into nightly chunks; dashboards recovered",
            True,
            (
                "backfill-{e}",
                "reprocess past days of {e} without saturating the warehouse",
                ("list missing dates", "run one date per job", "schedule outside business hours"),
            ),
            (
                "why did recomputing old {q} results hurt the reports?",
                "{q} history rerun made charts crawl",
                "regenerating past {q} output made everything laggy",
            ),
            ("how do I recompute past {q} results gently?", "redo history of {q} without hurting reports"),
        ),
    ),
    (
        "the {e} owner is on holiday, emails are forwarded",
        "coffee order for the {e} sync was late again",
        "{e} diagram redrawn with the new colour palette",
        "half the {e} team attended the conference, talks were good",
        "the meeting about {e} naming was moved to thursday",
    ),
)

SECURITY = Domain(
    "security",
    (
        ("vpn-gateway", ("remote access box", "tunnel endpoint")),
        ("ci-runner", ("build machines", "pipeline workers")),
        ("admin-portal", ("back office site", "staff console")),
        ("s3-exports", ("object storage bucket", "file dump bucket")),
        ("sso-provider", ("single sign-on", "identity service")),
        ("jump-host", ("bastion", "ssh entry box")),
        ("secrets-vault", ("password manager", "credential store")),
        ("mobile-app", ("phone client", "ios and android app")),
        ("partner-api", ("b2b interface", "external integrations endpoint")),
        ("wiki", ("internal docs site", "knowledge base")),
        ("mail-server", ("smtp relay", "outgoing email host")),
        ("laptop-fleet", ("staff computers", "employee notebooks")),
        ("registry", ("container image store", "docker image host")),
        ("dns-zone", ("domain records", "company domain settings")),
    ),
    (
        Event(
            "leaked-key",
            (
                "an AWS access key for {e} was committed to a public repository and used {n} times by a stranger",
                "{e}: secret scanning now blocks pushes that contain keys",
            ),
            "respond to exposed credential for {e}",
            ("revoke the key of {e}", "audit cloudtrail usage", "rotate dependent secrets", "enable push scanning"),
            "key revoked within the hour; no data taken",
            True,
            (
                "rotate-key-{e}",
                "revoke and replace an exposed access key of {e}",
                ("disable the key", "issue a new key", "update consumers", "review access logs"),
            ),
            (
                "did someone outside get hold of the {q} password?",
                "{q} token ended up on github, what happened?",
                "{q} credentials visible to the public",
            ),
            ("how do I replace a {q} token that went public?", "what to do when {q} credentials get out"),
        ),
        Event(
            "phishing",
            (
                "{n} employees entered their passwords on a fake {e} login page sent by email",
                "{e}: hardware security keys are now required for sign in",
            ),
            "contain the phishing campaign against {e}",
            ("block the sender domain", "reset passwords of affected users", "revoke sessions", "warn all staff"),
            "affected accounts reset; no further logins by the attacker",
            True,
            (
                "phishing-response-{e}",
                "contain a credential phishing campaign aimed at {e} users",
                ("block sender", "reset credentials", "revoke sessions", "send a warning"),
            ),
            (
                "were people tricked into giving away {q} logins?",
                "bogus {q} sign in page in the inbox",
                "scam mail imitating {q}",
            ),
            ("how do I react when staff fall for a fake {q} page?", "playbook for a {q} impersonation email"),
        ),
        Event(
            "open-port",
            (
                "a scan found port {n} open to the internet on {e}; the firewall rule allowed any source",
                "{e}: firewall rules are now reviewed in code with a deny-by-default policy",
            ),
            "close the exposed port on {e}",
            ("run nmap against {e}", "port open to any address", "restrict security group", "re-scan"),
            "rule restricted to the office range; port no longer reachable",
            True,
            (
                "close-port-{e}",
                "restrict an internet-exposed port on {e} to known addresses",
                ("find the rule", "limit source ranges", "scan again from outside"),
            ),
            (
                "was {q} reachable by anyone on the web?",
                "{q} listening to the whole world",
                "outsiders could connect to {q}",
            ),
            ("how do I lock down who can reach {q}?", "limit outside access to {q}"),
        ),
        Event(
            "vuln-patch",
            (
                "{e} ran a library with a critical remote code execution CVE for {n} days before it was patched",
                "{e}: dependency updates are now applied weekly by a bot",
            ),
            "patch the critical CVE on {e}",
            ("check dependency versions of {e}", "vulnerable version found", "upgrade library", "redeploy"),
            "upgraded the vulnerable library; scanner clean",
            True,
            (
                "patch-{e}",
                "upgrade a vulnerable dependency of {e} and verify the scanner is clean",
                ("read the advisory", "bump the version", "run the scanner", "redeploy"),
            ),
            (
                "was {q} exposed to that serious hole everyone talked about?",
                "{q} running buggy exploitable code",
                "attackers could take over {q}",
            ),
            ("how do I fix a dangerous flaw in {q} software?", "steps to close a security hole in {q}"),
        ),
    ),
    (
        "the {e} team security training slides are in the wiki",
        "password for the {e} guest wifi is on the whiteboard",
        "someone left the {e} office door open, facilities fixed the latch",
        "{e} stickers were handed out at the all hands",
        "the {e} quiz on safe email habits closes friday",
    ),
)
