"""Hand-written templates of the labelled recall set (`bench.recall_data`): domains, entities, events.

Records are written in the words a log or a note uses ("deployment failed: health check timed out"); questions
in the words an agent asks with ("what went wrong with the rollout?"). ``{a|b}`` picks one alternative,
``{e}`` is the entity's own name (records), ``{q}`` the name a question uses (its own name or an alias),
``{n}`` a number. Distractors reuse the questions' words about something else.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATABASES", "INFRA", "Domain", "Event"]


@dataclass(frozen=True)
class Event:
    """One thing that happens to an entity; a story is one event of one entity."""

    key: str
    facts: tuple[str, str]  # the fact learned (grade 2) and a follow-up note (grade 1)
    task: str
    steps: tuple[str, ...]
    outcome: str
    success: bool
    skill: tuple[str, str, tuple[str, ...]]  # name, description, steps
    ask: tuple[str, ...]  # questions answered by the facts and the episode
    howto: tuple[str, ...]  # questions answered by the skill


@dataclass(frozen=True)
class Domain:
    """Entities (own name, aliases a question may use instead), events and distractor templates."""

    name: str
    entities: tuple[tuple[str, tuple[str, ...]], ...]
    events: tuple[Event, ...]
    distractors: tuple[str, ...]


INFRA = Domain(
    "deployments",
    (
        ("payments-api", ("billing service", "card charging backend")),
        ("checkout-web", ("storefront", "shop frontend")),
        ("auth-gateway", ("login proxy", "sign-in front door")),
        ("search-indexer", ("catalog crawler", "product lookup worker")),
        ("notification-svc", ("push sender", "email and sms dispatcher")),
        ("inventory-api", ("stock service", "warehouse counts backend")),
        ("image-resizer", ("thumbnail maker", "picture scaler")),
        ("ledger-core", ("accounting engine", "bookkeeping backend")),
        ("geo-router", ("location lookup", "maps proxy")),
        ("session-cache", ("cookie store", "login state holder")),
        ("report-builder", ("pdf exporter", "statement generator")),
        ("ml-scorer", ("fraud model server", "risk prediction endpoint")),
        ("webhook-relay", ("callback forwarder", "partner hook sender")),
        ("cdn-edge", ("static asset layer", "content edge nodes")),
    ),
    (
        Event(
            "deploy-healthcheck",
            (
                "deployment of {e} failed: the health check timed out after {n} seconds"
                " and the release was rolled back",
                "{e}: readiness probe timeout raised to {n} seconds before the next deploy",
            ),
            "deploy {e} version 2.{n}",
            ("apply manifest for {e}", "wait for health check", "health check timed out", "roll back release"),
            "deploy failed, health check timeout, rolled back to previous version",
            False,
            (
                "rollback-{e}",
                "revert {e} to the previous release when a deploy fails its health check",
                ("find the last good release", "run kubectl rollout undo", "confirm pods are ready"),
            ),
            (
                "what went wrong with the {q} rollout?",
                "why did shipping the new {q} build break?",
                "did pushing {q} to production go badly last time?",
                "{q} launch trouble: what happened?",
            ),
            ("how do I undo a bad {q} rollout?", "steps to go back to the old {q} build"),
        ),
        Event(
            "disk-full",
            (
                "{e} nodes ran out of disk space: log volume filled to 100 percent and writes stopped",
                "{e}: log rotation now keeps {n} files to stop the volume filling up",
            ),
            "investigate {e} write errors",
            ("check disk usage on {e} hosts", "volume at 100 percent", "delete old logs", "enable log rotation"),
            "freed disk space by deleting old logs; writes resumed",
            True,
            (
                "free-disk-{e}",
                "clean up a full log volume on {e} hosts",
                ("run df -h", "remove rotated logs older than a week", "restart the log shipper"),
            ),
            (
                "why could {q} no longer save anything to storage?",
                "{q} machines had no room left, what did we do?",
                "storage exhausted on {q} boxes",
            ),
            ("how do I make room when {q} storage is exhausted?", "procedure when {q} machines have no space left"),
        ),
        Event(
            "cert-expiry",
            (
                "the TLS certificate of {e} expired and clients got handshake errors for {n} minutes",
                "{e}: certificate renewal is now automated with a cron job {n} days before expiry",
            ),
            "fix handshake errors on {e}",
            ("inspect certificate chain of {e}", "certificate expired", "issue new certificate", "reload proxy"),
            "renewed the expired certificate; handshakes succeed again",
            True,
            (
                "renew-cert-{e}",
                "renew and install the TLS certificate of {e}",
                ("request certificate from the ACME issuer", "install key and chain", "reload the proxy"),
            ),
            (
                "why did https stop working for {q}?",
                "secure connections to {q} were refused, what was the cause?",
                "{q} padlock error in browsers",
            ),
            ("how do I refresh the https credentials of {q}?", "what to do when the {q} ssl thing lapses"),
        ),
        Event(
            "oom-kill",
            (
                "{e} pods were OOM killed: memory limit of {n} MiB too low under peak traffic",
                "{e}: memory limit raised to {n} MiB and a heap alert added",
            ),
            "investigate {e} restarts",
            ("list restarts of {e} pods", "exit code 137 OOMKilled", "raise memory limit", "redeploy"),
            "raised the memory limit; restarts stopped",
            True,
            (
                "raise-memory-{e}",
                "increase the memory limit of {e} pods when they are OOM killed",
                ("edit resources.limits.memory", "apply the manifest", "watch restarts for an hour"),
            ),
            (
                "why does {q} keep crashing and coming back?",
                "{q} containers were being killed at busy times, why?",
                "{q} restarting over and over",
            ),
            ("how do I give {q} more ram?", "fix for {q} dying from lack of ram"),
        ),
        Event(
            "dns-misconfig",
            (
                "a wrong DNS record sent {e} traffic to the old load balancer for {n} minutes",
                "{e}: DNS changes now go through review with a TTL of {n} seconds",
            ),
            "find why {e} requests reach the old load balancer",
            ("dig the {e} hostname", "record points to retired balancer", "update the A record", "flush caches"),
            "corrected the DNS record; traffic reaches the new load balancer",
            True,
            (
                "fix-dns-{e}",
                "correct a wrong DNS record of {e} and flush resolver caches",
                ("dig the hostname", "update the record in the zone", "flush resolver caches"),
            ),
            (
                "why were {q} users landing on the retired servers?",
                "name resolution mix-up for {q}",
                "{q} requests hitting decommissioned machines",
            ),
            ("how do I repoint the {q} hostname?", "procedure to change where the {q} address resolves"),
        ),
    ),
    (
        "what went wrong with the team lunch order for the {e} group was a missing salad",
        "the {e} rollout of the new office chairs is planned for next week",
        "shipping label printer near the {e} desks is broken again",
        "{e} launch party photos are in the shared drive",
        "new build of the coffee machine firmware went in without trouble",
        "storage room keys for the {e} floor are at reception",
        "{e} team offsite: the hotel ran out of rooms, we booked another",
    ),
)

DATABASES = Domain(
    "databases",
    (
        ("orders-db", ("purchase records store", "sales database")),
        ("users-pg", ("customer accounts postgres", "member profile store")),
        ("analytics-warehouse", ("reporting datastore", "bi tables")),
        ("catalog-mysql", ("product listing store", "item details database")),
        ("events-cassandra", ("activity stream store", "clickstream cluster")),
        ("billing-pg", ("invoice database", "payment history store")),
        ("audit-log-db", ("compliance trail store", "who-did-what records")),
        ("chat-history-db", ("conversation archive", "message transcript store")),
        ("metrics-tsdb", ("time series store", "graph data backend")),
        ("feature-store", ("model input tables", "ml attribute repository")),
        ("tenant-config-db", ("customer settings store", "per-client options database")),
        ("shipments-db", ("delivery tracking store", "parcel status database")),
        ("ratings-db", ("review scores store", "star rating tables")),
        ("coupons-db", ("discount code store", "voucher database")),
    ),
    (
        Event(
            "slow-query",
            (
                "a missing index on {e} made the order lookup query scan the whole table and take {n} seconds",
                "{e}: composite index added on customer_id and created_at",
            ),
            "diagnose slow queries on {e}",
            ("run explain analyze on {e}", "sequential scan found", "create index concurrently", "re-run query"),
            "added the missing index; query time fell from seconds to milliseconds",
            True,
            (
                "add-index-{e}",
                "find a sequential scan in {e} and add the missing index",
                ("read the slow query log", "run explain analyze", "create index concurrently"),
            ),
            (
                "why were lookups against {q} so sluggish?",
                "{q} requests crawling, what made them drag?",
                "{q} taking ages to answer",
            ),
            ("how do I speed up a crawling lookup in {q}?", "method to make {q} reads snappier"),
        ),
        Event(
            "replica-lag",
            (
                "read replica of {e} fell {n} minutes behind the primary during the nightly batch",
                "{e}: reads that need fresh data now go to the primary",
            ),
            "investigate stale reads from {e}",
            ("check replication lag on {e}", "replica behind primary", "pause nightly batch", "lag recovered"),
            "paused the batch job; replication caught up",
            True,
            (
                "check-lag-{e}",
                "measure and reduce replication delay of {e} replicas",
                ("query pg_stat_replication", "throttle the bulk writer", "wait until lag is under a second"),
            ),
            (
                "why did {q} show outdated numbers?",
                "copies of {q} were out of date, what happened?",
                "{q} secondary not keeping up",
            ),
            ("how do I tell whether the {q} copies are behind?", "what to run when {q} followers trail the leader"),
        ),
        Event(
            "migration-lock",
            (
                "schema migration on {e} held an exclusive lock for {n} minutes and blocked all writes",
                "{e}: migrations now set lock_timeout and run in small batches",
            ),
            "run schema migration on {e}",
            ("alter table on {e}", "exclusive lock acquired", "writes blocked", "cancel and retry in batches"),
            "migration blocked writes; rerun later in batches with lock_timeout",
            False,
            (
                "safe-migrate-{e}",
                "apply a schema change to {e} without blocking writes",
                ("set lock_timeout", "add column without default", "backfill in batches"),
            ),
            (
                "why did changing the {q} table layout freeze everything?",
                "{q} structure update stalled inserts",
                "{q} became read only while we altered columns",
            ),
            ("how do I alter {q} columns without a freeze?", "safe way to change the {q} layout"),
        ),
        Event(
            "backup-restore",
            (
                "nightly backup of {e} had been failing silently for {n} days: the dump job lacked permission",
                "{e}: backup job now alerts on failure and a restore is tested weekly",
            ),
            "restore {e} to yesterday",
            ("look for the latest dump of {e}", "no dump since {n} days", "grant read permission", "take new dump"),
            "no recent dump existed; fixed permissions and took a fresh one",
            False,
            (
                "restore-{e}",
                "restore {e} from the newest dump into a scratch instance",
                ("download the dump", "pg_restore into scratch", "compare row counts"),
            ),
            (
                "were the {q} snapshots actually being saved?",
                "could we recover {q} data from last week?",
                "{q} safety copies missing",
            ),
            ("how do I bring back {q} data from a snapshot?", "recovering an earlier copy of {q}"),
        ),
        Event(
            "connection-pool",
            (
                "{e} hit max_connections: the pool of {n} per worker exhausted the server and new clients were refused",
                "{e}: pgbouncer put in front with transaction pooling",
            ),
            "investigate refused connections to {e}",
            ("count connections to {e}", "too many clients", "lower pool size", "add pgbouncer"),
            "reduced pool size and added pgbouncer; clients connect again",
            True,
            (
                "tune-pool-{e}",
                "size the client pools of {e} below max_connections",
                ("count workers", "set pool size", "deploy pgbouncer in transaction mode"),
            ),
            ("why were apps turned away by {q}?", "{q} said too many clients, why?", "{q} refusing new sessions"),
            ("how do I stop {q} from turning apps away?", "what should the {q} client limits be"),
        ),
    ),
    (
        "the {e} owners changed, ask the new team why questions go to them",
        "slow lunch queue today, the {e} team skipped the standup",
        "{e} dashboard colours were updated to match the new brand",
        "copies of the {e} onboarding doc were printed for new hires",
        "layout of the {e} wiki page was changed, nothing else",
        "the {e} team will freeze the office plant watering schedule",
    ),
)
