"""Settings from `frontdesk.yaml`, overridden by `FRONTDESK_*` environment variables.

Nested fields use a double underscore: FRONTDESK_SERVER__PORT=9000.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from frontdesk.config.channel_settings import ChannelSettings
from frontdesk.config.handoff_settings import HandoffSettings, ToolSettings
from frontdesk.config.observability_settings import ObservabilitySettings
from frontdesk.config.ops_settings import OpsSettings
from frontdesk.config.voice_settings import VoiceSettings


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Processes serving the address (`frontdesk serve --workers N`), each with its own models
    # and its own listening socket (SO_REUSEPORT), so the kernel spreads connections, keep-alive
    # ones included. Over 1, `limits.storage_url` must be Redis: limits are shared through it.
    workers: int = Field(default=1, ge=1, le=64)


class AssistantSettings(BaseModel):
    name: str = "frontdesk"
    company: str = "our company"
    greeting: str = "Hi! How can I help you today?"
    fallback_reply: str = (
        "Sorry, something went wrong on our side while handling your message. "
        "A member of our team has been notified; please try again in a moment."
    )
    no_answer_reply: str = (
        "I could not find an answer to that in our help articles. "
        "I can pass your question to a member of our team."
    )
    max_message_chars: int = Field(default=4000, ge=1)
    history_turns: int = Field(default=10, ge=0)


class MemorySettings(BaseModel):
    """The running summary of each conversation and the customer profile across
    conversations (frontdesk/memory). The summary is extractive unless `llm.models.summarise`
    names a model, which then writes it (extractive again when that model fails)."""

    model_config = ConfigDict(extra="forbid")
    summary_tokens: int = Field(default=200, ge=20)  # the running summary's budget
    profiles: bool = True  # keep customer profiles (conversations with a customer_ref)
    # Entity types remembered as facts about the customer (a form need not ask them again).
    profile_facts: list[str] = Field(default_factory=lambda: ["order_id", "customer_id"])
    # A form's slot the profile knows (a returning customer's order id) is not asked for
    # again: the reply names the value used, and "no, it's ..." replaces it.
    prefill_forms: bool = True
    greet_by_name: bool = True  # a new conversation's first reply greets a known name
    # The name a customer gives ("my name is ...") is kept on their profile, the one place a
    # name is stored unredacted (exported, erased and purged with the profile); false: never.
    remember_names: bool = True


class AnswerabilitySettings(BaseModel):
    """Whether the knowledge base answers a question (frontdesk/knowledge/answerability.py)."""

    model_config = ConfigDict(extra="forbid")
    # Off: every retrieved passage counts as an answer, as before answerability existed.
    enabled: bool = True
    # P(answerable) below this: the rules see `answerable: false` and, by default, the turn
    # says it does not know and hands off. None: the model's own (built-in, or the workspace's
    # calibration in .frontdesk/models/answerability.json from `evaluate answers --calibrate`).
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ParsingSettings(BaseModel):
    """Limits on reading one file into the knowledge base (uploads, `kb ingest`, `kb lint`,
    the workspace's folder at start-up). HTML, PDF and DOCX are read in worker processes, at
    most `workers` at once; a file over a limit is rejected with its own code and the rest of
    the batch is indexed (docs/operations.md, *Reading uploaded files*)."""

    model_config = ConfigDict(extra="forbid")
    timeout_s: float = Field(default=30.0, gt=0)  # then the worker is killed: parse_timeout
    workers: int = Field(default=2, ge=1, le=32)
    # A worker's address space (RLIMIT_AS, where the system has it); 0: no limit.
    max_memory_mb: int = Field(default=2048, ge=0)
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)  # too_large
    # DOCX, from its zip directory before unpacking: all parts together, and each part over
    # 1 MiB unpacked against its packed size (decompression_bomb).
    max_unpacked_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_compression_ratio: float = Field(default=100.0, ge=1.0)
    max_pages: int = Field(default=2000, ge=1)  # PDF (too_large)
    max_paragraphs: int = Field(default=50_000, ge=1)  # DOCX (too_large)
    max_text_chars: int = Field(default=2_000_000, ge=1)  # any format, once read (too_large)


class KnowledgeSettings(BaseModel):
    retriever: Literal["hybrid", "fulltext"] = "hybrid"
    # `minilm`: all-MiniLM-L6-v2 with integer MatMuls derived once from the packaged file
    # (SciFact: a query 1.6x, ingestion 2x faster); `minilm-packaged`: the packaged file.
    # Changing it re-embeds the knowledge and retrains the intent model on the next start.
    embedder: str = "minilm"
    candidates: int = Field(default=100, ge=1, le=1000)
    # How the keyword and vector lists join. `convex`: each list's scores divided by its best,
    # then (1 - dense_share) * keyword + dense_share * vector (SciFact train: nDCG@10 0.743).
    # `rrf`: reciprocal-rank fusion, sum of weight / (rrf_k + rank) (0.732).
    fusion: Literal["convex", "rrf"] = "convex"
    dense_share: float = Field(default=0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0.0)
    # How the keyword list is ranked. `memory`: BM25 with FTS5's formula, scored in process
    # from the full-text index's term counts (FTS5's vocabulary; PostgreSQL's tsvector), kept
    # per tenant and rebuilt in the background when the index changes (the database's own
    # ranking answers meanwhile). `fts5`: the database ranks each query (FTS5's bm25();
    # PostgreSQL's ts_rank_cd, which has no idf: SciFact nDCG@10 0.401 against 0.694).
    keyword_scoring: Literal["memory", "fts5"] = "memory"
    # From 1,000 chunks, keyword search leaves out query terms found in more than
    # this share of the chunks: they add almost nothing to BM25 but make most of the index
    # match. Chosen on SciFact's train queries (bench/retrieval.py). None: keep every term.
    keyword_max_share: float | None = Field(default=0.2, gt=0.0, le=1.0)
    # Hybrid search holds a tenant's passages in memory (loaded once per index version, like
    # the vectors) up to this many chunks, so results need no database read; 0: never.
    cached_passages: int = Field(default=20_000, ge=0)
    context_tokens: int = Field(default=1200, ge=100)
    top_k: int = Field(default=5, ge=1, le=50)
    min_score: float = Field(default=0.0, ge=0.0)
    chunk_words: int = Field(default=350, ge=50)
    overlap_words: int = Field(default=40, ge=0)
    # Sections of a plain document under this many words join their neighbours (an atom's
    # stay as written); 0: every section is a chunk of its own.
    merge_words: int = Field(default=40, ge=0)
    answerability: AnswerabilitySettings = Field(default_factory=AnswerabilitySettings)
    parsing: ParsingSettings = Field(default_factory=ParsingSettings)


class NluExtractorSettings(BaseModel):
    """The training data's `regex:` and `lookup:` sections are features of the entity model
    (as Rasa's RegexFeaturizer); the ones named here also extract entities on their own, as
    Rasa's RegexEntityExtractor does (`nlu.extractors: {lookup: [product], regex: [zip]}`)."""

    model_config = ConfigDict(extra="forbid")
    regex: list[str] = Field(default_factory=list)
    lookup: list[str] = Field(default_factory=list)


class NluSettings(BaseModel):
    # "hybrid": MiniLM embeddings + TF-IDF n-grams (falls back to TF-IDF alone when the
    # embedding model is unavailable); "tfidf": n-grams only.
    classifier: str = "hybrid"
    entity_patterns: dict[str, str] = Field(
        default_factory=lambda: {"order_id": r"\bKP-\d{8}\b", "customer_id": r"\bCU-\d{6}\b"}
    )
    # Entity types the training data may annotate beyond those an extractor produces.
    entities: list[str] = Field(default_factory=list)
    # Which training-data regexes and lookup tables extract entities (else features only).
    extractors: NluExtractorSettings = Field(default_factory=NluExtractorSettings)
    # How to read 10/03/2026: "DMY" (10 March) or "MDY" (October 3).
    date_order: Literal["DMY", "MDY"] = "DMY"
    # Overrides the out-of-scope threshold tuned at training time (None: use the tuned one).
    oos_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # How often the server looks for a newly promoted model (seconds; 0 = every message).
    reload_seconds: float = Field(default=2.0, ge=0.0)

    @field_validator("entity_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern for {name!r} is not a valid regex: {exc}") from exc
        return value


class ProviderSettings(BaseModel):
    """One model provider. `kind` defaults to the provider's own name (openai, anthropic), so
    several OpenAI-compatible servers can sit side by side: `ollama: {kind: openai, ...}`."""

    kind: Literal["openai", "anthropic"] | None = None
    base_url: str | None = None
    # A base_url on a link-local address (169.254.0.0/16, fe80::/10) or a cloud metadata
    # service stops the start unless this is true (llm/assembly.check_provider_urls).
    allow_link_local: bool = False
    api_key: SecretStr | None = None
    api_key_env: str | None = None  # default OPENAI_API_KEY / ANTHROPIC_API_KEY
    timeout_s: float = Field(default=30.0, gt=0)  # one attempt, start to end
    stream_idle_s: float = Field(default=15.0, gt=0)  # longest silence inside a stream
    max_tokens: int = Field(default=600, ge=1)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)


class BreakerSettings(BaseModel):
    failures: int = Field(default=3, ge=1)  # consecutive failed calls that open the circuit
    reset_s: float = Field(default=30.0, gt=0)  # then one probe call is let through


class BudgetSettings(BaseModel):
    """Per tenant. Monthly totals come from the stored turns of the calendar month (UTC)."""

    monthly_tokens: int | None = Field(default=None, ge=0)
    monthly_cost: float | None = Field(default=None, ge=0)
    turn_tokens: int | None = Field(default=None, ge=0)
    turn_cost: float | None = Field(default=None, ge=0)


class Price(BaseModel):
    """Prices per million tokens, in the operator's currency."""

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


class ResponseCacheSettings(BaseModel):
    enabled: bool = True
    similarity: float = Field(default=0.95, gt=0.0, le=1.0)  # cosine for a near-duplicate
    max_entries: int = Field(default=2000, ge=1)  # per tenant
    ttl_s: float = Field(default=24 * 3600, gt=0)


class LocalModelSettings(BaseModel):
    threads: int = Field(default=2, ge=1)
    max_tokens: int = Field(default=96, ge=8)
    context_passages: int = Field(default=1, ge=1, le=3)  # SmolLM2 errs more with two
    passage_words: int = Field(default=120, ge=20)


class LlmSettings(BaseModel):
    # The answer chain: `answer_model` alone, or `models.answer` (tried in order). `extractive`
    # is always the last resort for answers. `models.ops`: the operations assistant's chat
    # and change requests (none: they work without a model).
    answer_model: str = "extractive"
    models: dict[Literal["answer", "summarise", "classify", "ops"], list[str]] = Field(
        default_factory=dict
    )
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    retries: int = Field(default=2, ge=0)  # extra attempts for retryable errors only
    # The most one turn's answer may spend on model calls, retries and backoff included:
    # past it the turn answers from the passages (extractive) instead of waiting on.
    turn_timeout_s: float = Field(default=10.0, gt=0)
    backoff_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=4.0, ge=0.0)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    prices: dict[str, Price] = Field(default_factory=dict)  # by model name, e.g. gpt-4o-mini
    cache: ResponseCacheSettings = Field(default_factory=ResponseCacheSettings)
    local: LocalModelSettings = Field(default_factory=LocalModelSettings)
    tone: str = "friendly and concise"
    formality: Literal["formal", "informal"] = "informal"
    min_support: float = Field(default=0.5, ge=0.0, le=1.0)  # cited passages cover the answer
    tool_max_steps: int = Field(default=4, ge=1)
    tool_max_calls: int = Field(default=6, ge=0)

    def chain(self, purpose: str) -> list[str]:
        configured = self.models.get(purpose)  # type: ignore[call-overload]
        if configured:
            return list(configured)
        return [self.answer_model] if purpose == "answer" else []


EMBED_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")


class WebSettings(BaseModel):
    enabled: bool = True
    # Sites that may show the chat page in a frame (the embedded widget), as origins:
    # "https://shop.example", "https://*.shop.example". Its Content-Security-Policy's
    # frame-ancestors; the console is never framed.
    embed_origins: list[str] = Field(default_factory=list)

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not EMBED_ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port], e.g. "
                    "https://shop.example or https://*.shop.example (no path)"
                )
        return value


PiiKindName = Literal["email", "phone", "card_number", "iban", "name", "address"]
ALL_PII_KINDS: tuple[PiiKindName, ...] = get_args(PiiKindName)


class OperatorContacts(BaseModel):
    """The operator's own published contact details. Text the assistant writes (replies,
    hand-off messages) keeps them: never redacted as personal data, links to the domains (and
    their subdomains) never removed."""

    model_config = ConfigDict(extra="forbid")
    phones: list[str] = Field(default_factory=list)  # "0800 123 4567": compared by digits
    emails: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)  # "heronvale.example"
    # Also those the workspace publishes: phone numbers, e-mail addresses and link hosts in
    # its knowledge/ text files and rules.yaml messages, found at start-up.
    from_workspace: bool = True


class GuardSettings(BaseModel):
    """Screening of what comes in and goes out. Per tenant through `tenants.<slug>.guard`."""

    # Personal data replaced by placeholders before the text is stored or sent to a model.
    redact: list[PiiKindName] = Field(default_factory=lambda: list(ALL_PII_KINDS))
    # Names without a cue phrase ("my name is") need spaCy: pip install 'frontdesk[ner]'.
    names_model: bool = False
    # A message scored at or above `injection_threshold` is doubted: the finding
    # `prompt_injection` on the turn and the trigger `injection_suspected` for the rules.
    # `flag`: it is understood, routed and answered like any other, its words fenced as data
    # for a model and, with a model, a tool call it leads to held (`confirm_flagged_tools`);
    # `handoff`: to `handoff_team`; `block`: refused only on strong evidence (a rule fires
    # and the model alone scores it at `injection_block_threshold` or above), else flagged.
    injection_action: Literal["block", "flag", "handoff"] = "flag"
    injection_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    injection_block_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    # With a model in the turn, a tool call in a turn whose message was doubted waits for an
    # agent's approval (the console's tool-call queue) instead of running.
    confirm_flagged_tools: bool = True
    handoff_team: str | None = None  # for injection_action=handoff; default: review
    screen_passages: bool = True  # drop retrieved passages that carry injected instructions
    # Links in replies may point only here (and to subdomains), or to the operator's own
    # domains (`operator_contacts`); others are removed.
    allowed_link_domains: list[str] = Field(default_factory=list)
    operator_contacts: OperatorContacts = Field(default_factory=OperatorContacts)


class LimitsSettings(BaseModel):
    """Rates use the `limits` library's notation ("20/minute"); storage is in memory, or
    Redis (`redis://host:6379/0`) when several API processes share the limits."""

    storage_url: str = "memory://"
    # What this installation's keys and channels in a shared Redis start with, so that two
    # installations on one Redis server (production and a staging copy of its database)
    # never count each other's limits or see each other's console events. Unset: derived
    # from the database URL (its password left out), the same for every process of one
    # installation as long as they write the URL the same way; set it where they do not.
    namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    per_key: str = "120/minute"
    per_conversation: str = "20/minute"
    # GET requests per API key (per key and conversation for public widget keys).
    reads_per_key: str = "600/minute"
    # Sign-in attempts per account and client address (API and console together): password
    # guessing. Per address too, so that someone guessing elsewhere cannot lock the agent out;
    # `sign_ins_per_account_total` caps an account's attempts from all addresses together.
    sign_ins_per_account: str = "10/minute"
    sign_ins_per_account_total: str = "60/minute"
    # New conversations per API key, apart from its messages.
    conversations_per_key: str = "120/minute"
    # A public widget key is shared by every visitor of the web page, so `per_key` is one
    # budget for all of them: each visitor (client address) also has this budget for new
    # conversations and messages together. Behind a proxy the server must see visitors'
    # addresses: uvicorn trusts X-Forwarded-For from 127.0.0.1 (a proxy on the same
    # machine); others need FORWARDED_ALLOW_IPS, or every visitor shares the proxy's budget.
    per_visitor: str = "30/minute"
    # Writes to the operations assistant (/v1/ops: chat, setup, plans and their steps) per
    # API key or console session: each may read a week of logs or write the target system.
    ops_per_key: str = "30/minute"
    max_conversation_messages: int = Field(default=400, ge=2)  # stored messages, both roles
    tenant_concurrency: int = Field(default=8, ge=1)  # messages handled at once per tenant
    # With Redis, a slot's lease: a crashed process's slots come free after it; live turns
    # renew theirs every third of it.
    tenant_slot_lease_s: float = Field(default=30.0, gt=0)

    def redis_namespace(self, database_url: str) -> str:
        """`namespace`, or one derived from the installation's database URL."""
        if self.namespace:
            return self.namespace
        import hashlib

        without_password = re.sub(r"^([^:/]+://[^:/@]*):[^@]*@", r"\1@", database_url)
        return "db-" + hashlib.sha256(without_password.encode()).hexdigest()[:16]

    @field_validator(
        "per_key",
        "per_conversation",
        "reads_per_key",
        "sign_ins_per_account",
        "sign_ins_per_account_total",
        "conversations_per_key",
        "per_visitor",
        "ops_per_key",
    )
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like '20/minute': {exc}") from exc
        return value


class PrivacySettings(BaseModel):
    retention_days: int | None = Field(default=None, ge=1)  # None: keep conversations
    purge_interval_s: float = Field(default=3600.0, gt=0)


class JobsSettings(BaseModel):
    """Background jobs. The process holding a job refreshes its heartbeat every
    `heartbeat_s`; a job without one for `abandoned_after_s` (its process died) is taken over by
    any running process of the same database: run again where it can be, else marked failed."""

    heartbeat_s: float = Field(default=15.0, gt=0)
    abandoned_after_s: float = Field(default=60.0, gt=0)
    # Set ("redis://host:6379/0"): uploads, re-indexes, retrains and purges are queued for
    # Celery workers (`frontdesk worker`, extra `celery`) instead of run in the API process.
    # Customer answers (channels) and webhooks stay in the API process.
    broker_url: str | None = Field(default=None, pattern=r"^(redis|rediss|amqp)://")

    @model_validator(mode="after")
    def _room_for_missed_beats(self) -> JobsSettings:
        if self.abandoned_after_s < 3 * self.heartbeat_s:
            raise ValueError(
                "jobs.abandoned_after_s must be at least 3 x jobs.heartbeat_s, so a slow beat "
                "does not hand a live job to another process"
            )
        return self


class PerformanceSettings(BaseModel):
    """Concurrent messages' intent classification and query embedding run on one worker
    thread in small batches (frontdesk.embedding.batching): a message arriving while the
    thread is idle runs at once; after a busy spell the thread waits up to `batch_wait_ms`
    for more, and takes at most `batch_max` messages at a time. Off (the default): each
    message's model work hops to the shared thread pool on its own. Off by default because on
    a quiet 2-core machine it made a lone message slower (p50 59 vs 45.5 ms) and c64 no
    faster (19.4 vs 20.1 msg/s): bench/README.md, load.py."""

    batching: bool = False
    batch_wait_ms: float = Field(default=2.0, ge=0, le=50)
    batch_max: int = Field(default=8, ge=1, le=16)  # up to 16 score exactly as one alone


class DatabaseSettings(BaseModel):
    """PostgreSQL's connection pool (SQLite ignores these). A turn holds one connection for
    its whole pipeline, so the pool must serve every tenant's `tenant_concurrency` at once
    plus API reads and background work; unset, `pool_size` is the largest tenant
    concurrency plus 4, and start-up warns when a configured pool is smaller than that."""

    pool_size: int | None = Field(default=None, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_s: float = Field(default=30.0, gt=0)


class TenantOverrides(BaseModel):
    """Per-tenant settings (by tenant slug); unset fields take the workspace's values."""

    model_config = ConfigDict(extra="forbid")
    guard: dict[str, object] = Field(default_factory=dict)
    retention_days: int | None = Field(default=None, ge=1)
    tenant_concurrency: int | None = Field(default=None, ge=1)
    channels: ChannelSettings | None = None  # never inherited: see Settings.channels_for

    @field_validator("guard")
    @classmethod
    def _guard_fields(cls, value: dict[str, object]) -> dict[str, object]:
        GuardSettings.model_validate(value)
        return value


class Settings(BaseSettings):
    """Everything `frontdesk.yaml` may set. Unknown keys are errors, so typos surface."""

    model_config = SettingsConfigDict(
        env_prefix="FRONTDESK_", env_nested_delimiter="__", extra="forbid"
    )

    tenant: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    database_url: str | None = None
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auto_migrate: bool = True
    server: ServerSettings = Field(default_factory=ServerSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    nlu: NluSettings = Field(default_factory=NluSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)  # the workspace's tenant
    ops: OpsSettings = Field(default_factory=OpsSettings)  # the operations assistant's target
    tenants: dict[str, TenantOverrides] = Field(default_factory=dict)

    def guard_for(self, slug: str) -> GuardSettings:
        override = self.tenants.get(slug)
        if override is None or not override.guard:
            return self.guard
        return GuardSettings.model_validate({**self.guard.model_dump(), **override.guard})

    def retention_days_for(self, slug: str) -> int | None:
        override = self.tenants.get(slug)
        if override is not None and override.retention_days is not None:
            return override.retention_days
        return self.privacy.retention_days

    def concurrency_for(self, slug: str) -> int:
        override = self.tenants.get(slug)
        if override is not None and override.tenant_concurrency is not None:
            return override.tenant_concurrency
        return self.limits.tenant_concurrency

    def largest_concurrency(self) -> int:
        """The most turns one tenant may run at once, over the workspace and its overrides."""
        overrides = (o.tenant_concurrency for o in self.tenants.values())
        return max([self.limits.tenant_concurrency, *(c for c in overrides if c is not None)])

    def pool_size(self) -> int:
        """`database.pool_size`, or the largest tenant concurrency plus 4 for API reads and
        background work, at most 50 (PostgreSQL allows 100 connections by default, shared by
        every worker process)."""
        if self.database.pool_size is not None:
            return self.database.pool_size
        return min(self.largest_concurrency() + 4, 50)

    def channels_for(self, slug: str) -> ChannelSettings | None:
        """A tenant's Slack/WhatsApp settings: its own `tenants.<slug>.channels`, or the
        top-level `channels` for the workspace's tenant. Never inherited by other tenants: the
        secrets name one Slack app or WhatsApp number, which belongs to one tenant."""
        override = self.tenants.get(slug)
        if override is not None and override.channels is not None:
            return override.channels
        return self.channels if slug == self.tenant else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file; `load_settings` passes the file's values as init
        # kwargs, so they come last.
        return (env_settings, init_settings)

    def resolved_database_url(self, workspace_dir: Path) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(workspace_dir / '.frontdesk' / 'frontdesk.db').resolve()}"
