"""Every Redis key of contact-sync, in one place.

Per-account keys carry the account in a hash tag (``sync:{acme}:pending``), so all keys of one
account live in the same Redis Cluster slot and one Lua script may touch them together.
Scripts receive every key they touch in ``KEYS``.
"""

from __future__ import annotations

from redis.crc import key_slot

PREFIX = "sync"

# --- global keys -------------------------------------------------------------------------
EVENTS_STREAM = f"{PREFIX}:events"
"""Stream of accepted CRM contact events (webhook, import, publish())."""
COLLECTOR_GROUP = "collectors"
"""Consumer group of the collectors on :data:`EVENTS_STREAM`."""
ACCOUNTS_SET = f"{PREFIX}:accounts"
"""Set of the names of accounts stored in Redis (``default`` is implicit)."""
SCHEDULER_LOCK = f"{PREFIX}:scheduler:lock"
"""Held by the one scheduler that ticks at a time."""
DUE_PUSH = f"{PREFIX}:due:push"
"""Sorted set: account -> when the scheduler should look at it for a batch
(:mod:`workers.due_accounts`)."""
DUE_REVERSE = f"{PREFIX}:due:reverse"
"""Sorted set: account -> when the scheduler should look at it for list discovery and pulls."""
DRAMATIQ_NAMESPACE = "dramatiq"
"""Key prefix of the Dramatiq Redis broker."""
HEARTBEATS = f"{PREFIX}:heartbeats"
"""Sorted set: ``<kind>:<host>:<pid>`` -> its last heartbeat (``worker``: RabbitMQ only)."""
QUEUES = f"{PREFIX}:queues"
"""Set: the Dramatiq queues any process declared (in the state, whichever the broker), so
operator tools list queues without scanning the keyspace."""
REJECTING_ACCOUNTS = f"{PREFIX}:rejecting"
"""Set: accounts that have (or had) contacts Klaviyo refused; ``/metrics`` reads the
rejected count of these only."""
RATE_LIMIT_BLOCKS = f"{PREFIX}:ratelimit:blocks"
"""Sorted set: ``<klaviyo account>\t<operation>`` -> until when a 429 blocks it (epoch s)."""


def account_key(account: str, *parts: str) -> str:
    """``sync:{account}:part:part`` -- a key of one account (hash-tagged)."""
    return ":".join((f"{PREFIX}:{{{account}}}", *parts))


def account_config(account: str) -> str:
    """Hash: the stored settings of an account (filters, cap, list, interval, key)."""
    return account_key(account, "config")


def oauth_refresh_lock(account: str, connection: str) -> str:
    """String with TTL: the one process refreshing the tokens of the account's connection
    ``connection`` (its id, :data:`shared.accounts.CONNECTION_FIELD`) holds it."""
    return account_key(account, "oauth", "lock", connection)


def oauth_flow(flow: str) -> str:
    """String (JSON) with TTL: a connection started by the start route (the account and
    ``return_to``), until a browser opens its launch URL (once)."""
    return f"{PREFIX}:oauth:flow:{flow}"


def oauth_state(state: str) -> str:
    """String (JSON) with TTL: an OAuth ``state`` handed out to the browser that launched
    the flow, until its callback uses it (once) -- the account, ``return_to``, the
    encrypted PKCE verifier and the SHA-256 of the browser's cookie."""
    return f"{PREFIX}:oauth:state:{state}"


def account_config_log(account: str) -> str:
    """List: JSON lines of every change to an account's settings, with its time."""
    return account_key(account, "config", "log")


def contact(account: str, contact_id: str) -> str:
    """String (JSON): the newest known state of one CRM contact (the mirror)."""
    return account_key(account, "contact", contact_id)


def pending(account: str) -> str:
    """Sorted set: contact ids changed since the last batch; score = occurred_at (epoch s)."""
    return account_key(account, "pending")


def pending_bulk(account: str) -> str:
    """Sorted set: the subset of pending whose newest change came from a bulk export
    (a file import, a filter change): the cap applies to them."""
    return account_key(account, "pending", "bulk")


def state(account: str) -> str:
    """Hash: scheduling state (running batch id, last completed_at, next due)."""
    return account_key(account, "state")


def batch(account: str, batch_id: str) -> str:
    """Hash: one batch's status, counts and report."""
    return account_key(account, "batch", batch_id)


def batch_members(account: str, batch_id: str) -> str:
    """Sorted set: the contact ids moved from pending into this batch."""
    return account_key(account, "batch", batch_id, "members")


def batch_members_bulk(account: str, batch_id: str) -> str:
    """Sorted set: the members of the batch that came through a bulk export."""
    return account_key(account, "batch", batch_id, "bulk")


def batches(account: str) -> str:
    """List: batch ids of the account, newest first (capped)."""
    return account_key(account, "batches")


def chunk(account: str, batch_id: str, chunk_id: str) -> str:
    """Hash: one chunk's payload reference, Klaviyo job id and progress."""
    return account_key(account, "batch", batch_id, "chunk", chunk_id)


def identity_by_contact(account: str) -> str:
    """Hash: CRM contact id -> Klaviyo profile id."""
    return account_key(account, "identity", "contact")


def identity_by_email(account: str) -> str:
    """Hash: normalised email -> Klaviyo profile id."""
    return account_key(account, "identity", "email")


def synced_contacts(account: str) -> str:
    """Hash: CRM contact id -> JSON of what was last sent to Klaviyo (email, lists)."""
    return account_key(account, "synced")


def held_back(account: str) -> str:
    """Sorted set: contact ids held back by the cap (score = when)."""
    return account_key(account, "held_back")


def rejected(account: str) -> str:
    """Hash: contact id -> JSON of Klaviyo's refusal (code, detail, when)."""
    return account_key(account, "rejected")


def subscribers_stream(account: str) -> str:
    """Stream: list members pulled from Klaviyo, for the CRM."""
    return account_key(account, "subscribers")


def lists(account: str) -> str:
    """Hash: Klaviyo list id -> JSON (name, found_at, gone_at, last pull...)."""
    return account_key(account, "lists")


def list_members(account: str, list_id: str) -> str:
    """Set: profile ids known to be members of a Klaviyo list."""
    return account_key(account, "list", list_id, "members")


def list_cursor(account: str, list_id: str) -> str:
    """Hash: pull cursor of a list (joined_group_at, ids seen at it)."""
    return account_key(account, "list", list_id, "cursor")


def pull_state(account: str) -> str:
    """Hash: reverse-sync state of the account (last discovery, last pull, full pass)."""
    return account_key(account, "pull")


def rate_limit(klaviyo_account: str, operation: str, window: str) -> str:
    """String counter: calls of one Klaviyo account to one operation in one window."""
    return f"{PREFIX}:{{ratelimit:{klaviyo_account}}}:{operation}:{window}"


def rate_limit_block(klaviyo_account: str, operation: str) -> str:
    """String with TTL: set after a 429, until Retry-After has passed."""
    return f"{PREFIX}:{{ratelimit:{klaviyo_account}}}:{operation}:blocked"


# --- collector, scheduler, accounts (appended) -------------------------------------------
EVENTS_DEAD = f"{PREFIX}:events:dead"
"""Stream: entries of :data:`EVENTS_STREAM` that could not be parsed (entry id, raw fields,
error locations), kept for inspection instead of being lost -- for
:data:`EVENTS_DEAD_RETENTION_S`: each append trims the entries older than that (their raw
fields may hold personal data, and the stream would otherwise grow with time)."""
EVENTS_DEAD_RETENTION_S = 14 * 24 * 3600
"""How long an unparseable stream entry stays in :data:`EVENTS_DEAD` (14 days)."""


def contact_times(account: str) -> str:
    """Sorted set: contact id -> occurred_at (epoch s) of its mirrored state: the index of
    every mirrored contact of an account (there is no separate id set). A filter change
    re-queues every contact from it; the collector compares with it for mirrors stored
    before the compact form (which carries its own time)."""
    return account_key(account, "contacts", "times")


def contact_facets(account: str) -> str:
    """Hash: facet of contacts (role, company type, marketing, email valid; JSON) -> how
    many live mirrored contacts have it, kept by ``apply_event.lua``
    (:mod:`shared.state.contact_facets`); ``~ready`` once every mirror is counted."""
    return account_key(account, "facets")


SCHEDULER_HEARTBEAT = f"{PREFIX}:scheduler:heartbeat"
"""String with TTL: the time of the last scheduler tick (absent = no scheduler running)."""


# --- Dramatiq broker keys (read by the operator tools; written by Dramatiq) --------------
def dramatiq_queue(queue: str, namespace: str = DRAMATIQ_NAMESPACE) -> str:
    """List: ids of the messages waiting on a Dramatiq queue (``default``, ``default.DQ``)."""
    return f"{namespace}:{queue}"


def dramatiq_queue_messages(queue: str, namespace: str = DRAMATIQ_NAMESPACE) -> str:
    """Hash: message id -> encoded message, for the messages of a queue (waiting or held)."""
    return f"{namespace}:{queue}.msgs"


def dramatiq_dead(queue: str, namespace: str = DRAMATIQ_NAMESPACE) -> str:
    """Sorted set: dead-lettered message ids of a queue, scored by when (epoch ms)."""
    return f"{namespace}:{queue}.XQ"


def dramatiq_dead_messages(queue: str, namespace: str = DRAMATIQ_NAMESPACE) -> str:
    """Hash: dead-lettered message id -> encoded message."""
    return f"{namespace}:{queue}.XQ.msgs"


# --- telemetry (appended) ------------------------------------------------------------------
METRICS = f"{PREFIX}:metrics"
"""Hash: cluster-wide counters and histogram buckets (field = JSON [metric, labels, part]),
written by any process, exposed by ``web`` on ``/metrics``."""
THROTTLE_LOG = f"{PREFIX}:metrics:throttled"
"""List (capped, newest first): JSON ``{at, operation}`` of recent Klaviyo 429 answers."""


# --- push batches (appended) ----------------------------------------------------------------
def batch_details(account: str, batch_id: str) -> str:
    """Hash: contact id -> JSON ``{outcome, reason}`` for the batch's contacts that were not
    sent (excluded_filter, invalid_email, held_back, conflict)."""
    return account_key(account, "batch", batch_id, "details")


# --- reverse sync (appended) ----------------------------------------------------------------
def list_pushed(account: str, list_id: str) -> str:
    """Set: normalised emails the push side itself put in a Klaviyo list (recorded before
    the import is sent), so a pull does not echo them back as sign-ups."""
    return account_key(account, "list", list_id, "pushed")


def crm_delivered(account: str) -> str:
    """Sorted set: ids of :func:`subscribers_stream` entries the CRM accepted (score = when);
    a redelivered message does not POST the same entry twice."""
    return account_key(account, "crm", "delivered")


def crm_member_queue(account: str, list_id: str, profile_id: str) -> str:
    """List: one list member's undelivered :func:`subscribers_stream` entry ids, oldest
    first; only the head is being delivered (workers/reverse/crm_order.py)."""
    return account_key(account, "crm", "queue", list_id, profile_id)


def crm_member_last(account: str, list_id: str, profile_id: str) -> str:
    """String: the newest entry id of that member the delivery settled (delivered or given
    up); an older one is not delivered after it."""
    return account_key(account, "crm", "last", list_id, profile_id)


# --- account health and phones (appended) ------------------------------------------------
REFUSED_ACCOUNTS = f"{PREFIX}:accounts:refused"
"""Set: names of the accounts whose Klaviyo refuses their credentials (401/403) right now
(the ``contact_sync_accounts_refused`` gauge is its size)."""


def list_owed(account: str) -> str:
    """Set: contact ids synced while the account's default list was missing in Klaviyo; they
    join the default list once one is set again."""
    return account_key(account, "list", "owed")


def phone_owners(account: str) -> str:
    """Hash: E.164 phone -> the contact id that was sent with it, or ``*`` once two or more
    contacts of the account share it (a shared phone is never sent as an identifier)."""
    return account_key(account, "phones")


def rate_limit_strikes(klaviyo_account: str, operation: str) -> str:
    """String counter with TTL: consecutive 429s without ``Retry-After`` (the wait grows)."""
    return f"{PREFIX}:{{ratelimit:{klaviyo_account}}}:{operation}:strikes"


def dramatiq_heartbeats(namespace: str = DRAMATIQ_NAMESPACE) -> str:
    """Sorted set (Dramatiq's): worker process id -> its last heartbeat (epoch ms)."""
    return f"{namespace}:__heartbeats__"


# --- streaming batch planning (appended) ---------------------------------------------------
def batch_plan(account: str, batch_id: str) -> str:
    """Hash: planning progress of a batch (members read, cap taken, chunks written, the
    partly filled chunks carried to the next slice); deleted once the plan is complete."""
    return account_key(account, "batch", batch_id, "plan")


def batch_plan_emails(account: str, batch_id: str) -> str:
    """Hash: normalised email -> ``contact id <TAB> outcome <TAB> fingerprint`` of the row
    an earlier slice planned for it (shared emails merge across slices)."""
    return account_key(account, "batch", batch_id, "plan", "emails")


def batch_plan_joins(account: str, batch_id: str) -> str:
    """Sorted set (by lex): ``email NUL JSON`` of members that join a row of an earlier
    slice; folded into that row's chunk when planning ends."""
    return account_key(account, "batch", batch_id, "plan", "joins")


def batch_plan_joined_emails(account: str, batch_id: str) -> str:
    """Set: the emails of :func:`batch_plan_joins` (one membership test per chunk)."""
    return account_key(account, "batch", batch_id, "plan", "joined")


def batch_plan_shared_phones(account: str, batch_id: str) -> str:
    """Set: E.164 phones that became shared while the batch was planned: no chunk of the
    batch sends them."""
    return account_key(account, "batch", batch_id, "plan", "phones")


def batch_email_changes(account: str, batch_id: str) -> str:
    """List: JSON email changes the batch applies before its chunks (deleted with it)."""
    return account_key(account, "batch", batch_id, "email_changes")


def batch_plan_keys(account: str, batch_id: str) -> list[str]:
    """Every record only the planning of a batch uses (dropped once it is planned, or
    when the batch ends)."""
    return [batch_plan(account, batch_id), batch_plan_emails(account, batch_id),
            batch_plan_joins(account, batch_id), batch_plan_joined_emails(account, batch_id),
            batch_plan_shared_phones(account, batch_id)]


# --- Redis Cluster: the ingest stream in shards (appended) ---------------------------------
CLUSTER_SLOTS = 16_384


def ingest_stream(shard: int, shards: int) -> str:
    """Stream of ingest shard ``shard`` (0-based) of ``shards`` (shared/ingest_shards.py):
    :data:`EVENTS_STREAM` itself when there is one shard, else
    ``sync:events:<shard>:{<tag>}``, the tag chosen (the first that fits) so that the key's
    slot lies in the shard's own share of the 16,384 slots: the shards of a cluster whose
    masters hold equal slot ranges (as ``redis-cli --cluster create`` makes them) land on
    different masters."""
    if shards <= 1:
        return EVENTS_STREAM
    low, high = CLUSTER_SLOTS * shard // shards, CLUSTER_SLOTS * (shard + 1) // shards
    tag = 0
    while True:
        key = f"{EVENTS_STREAM}:{shard}:{{s{shard}-{tag}}}"
        if low <= key_slot(key.encode()) < high:
            return key
        tag += 1
# --- the console (producers/console) ---------------------------------------------------------
def console_account_index(column: str) -> str:
    """Sorted set with TTL: account -> its value of ``column`` (``name``: every score 0,
    members in name order), the console's overview pages through it
    (:mod:`shared.state.account_index`). Under one hash tag (``{:console}``, which no
    account name can be) with its staged copies: a Redis Cluster renames within one slot."""
    return f"{PREFIX}:{{:console}}:accounts:{column}"


def console_account_index_staged(column: str, build: str) -> str:
    """Sorted set with TTL: :func:`console_account_index` while one build writes it, renamed
    into place when complete."""
    return f"{PREFIX}:{{:console}}:accounts:{column}:building:{build}"


def console_link_used(nonce: str) -> str:
    """String with TTL (the link's remaining life): a console link already opened; a link
    opens once."""
    return f"{PREFIX}:console:link:{nonce}"


def console_login_failures(client: str) -> str:
    """String with TTL (:data:`producers.console.login_throttle.WINDOW_S`): failed operator
    logins from one client address in the current window; ``client`` is a hash of the
    address, never the address itself."""
    return f"{PREFIX}:console:login-failures:{client}"


# --- consent both ways (appended) ----------------------------------------------------------
def consent_ledger(account: str) -> str:
    """Hash: normalised email of a contact the CRM sent -> JSON of the consent the sync last
    knew in Klaviyo (shared/consent/ledger.py)."""
    return account_key(account, "consent")


def dry_run(account: str, connection: str, lock: bool = False) -> str:
    """String with TTL: a next-sync dry run (JSON), or its lock: shared/state/dry_run_cache.py."""
    return account_key(account, "dry-run", connection, *(["lock"] if lock else []))
