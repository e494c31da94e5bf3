"""The gateway's configuration: typed sections, loaded by the one config loader.

Each section belongs to one edge or one decision module; the composition root
(:mod:`gateway.app`) hands each module only its own section.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.configfile import load_model
from gateway.secrets import SecretRef

Route = Literal["110", "119", "120", "12345", "mediation"]
ROUTES: tuple[Route, ...] = ("110", "119", "120", "12345", "mediation")
DIVERTED_ROUTES: frozenset[str] = frozenset({"12345", "mediation"})

_HOURS = re.compile(r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "gateway"
    secret: SecretRef = SecretRef(env="GATEWAY_AMI_SECRET", file=Path("/run/secrets/ami"))
    action_timeout: float = Field(5.0, gt=0, description="seconds before an action fails")
    ping_interval: float = Field(10.0, gt=0, description="keep-alive period")
    ping_timeout: float = Field(5.0, gt=0)
    reconnect_initial: float = Field(0.5, gt=0)
    reconnect_max: float = Field(30.0, gt=0)
    login_retry: float = Field(30.0, gt=0, description="wait after bad credentials")


class AudioSocketSettings(Section):
    host: str = "0.0.0.0"
    port: int = Field(9092, ge=0, le=65535, description="0 = any free port (tests, bench)")
    max_payload: int = Field(4096, ge=320, description="largest accepted frame payload")
    first_frame_timeout: float = Field(2.0, gt=0, description="uuid must arrive within")
    # long enough for trunks that send no RTP in silence; AMI Hangup ends dead calls sooner
    idle_timeout: float = Field(15.0, gt=0, description="close a call whose peer went silent")
    frame_ms: int = Field(20, ge=10, le=60)
    # The call's lease (extensions.conf GW_LEASE, the same value): Asterisk takes the caller
    # to 110 unless the gateway renews TIMEOUT(absolute) over AMI before it runs out.
    lease: float = Field(4.0, ge=2.0, le=30.0, description="seconds per lease (GW_LEASE)")
    lease_renewal: float = Field(1.0, gt=0, description="seconds between renewals")

    @model_validator(mode="after")
    def _renewals_fit_the_lease(self) -> AudioSocketSettings:
        if self.lease_renewal * 2 > self.lease:
            raise ValueError("lease_renewal must be at most half the lease (one may be lost)")
        return self


class RedisSettings(Section):
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "gw:"
    op_timeout: float = Field(1.0, gt=0)
    # tickets and call-back tasks waiting for Redis survive a restart here (None: memory)
    spool_file: Path | None = None


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body: int = Field(64 * 1024, ge=1024)


class AsrSettings(Section):
    enabled: bool = True
    model_dir: Path = Path("asr_models")
    models: dict[str, str] = {"zh-CN": "vosk-model-small-cn-0.22"}
    workers: int = Field(2, ge=1, le=64)
    max_streams: int = Field(20, ge=1)
    queue_frames: int = Field(250, ge=10, description="bounded audio queue per call (20 ms each)")
    endpoint_silence: float = Field(0.8, gt=0, le=5)
    energy_threshold: float = Field(300.0, ge=0, description="RMS below this is silence")
    hangover_ms: int = Field(300, ge=0, description="speaking flag held after energy")
    preroll_ms: int = Field(200, ge=0, le=1000, description="audio kept before speech onset")


class IvrSettings(Section):
    language: str = "zh-CN"
    prompts_dir: Path = Path("ivr/prompts/zh-CN")
    greeting_timeout: float = Field(5.0, gt=0, description="silence after greeting → re-prompt")
    # A caller who has made no sound at all by then is put through to 110 (DESIGN: within
    # about 12 s of answer): someone who cannot speak must not wait for re-prompts.
    silent_caller_max: float = Field(11.0, gt=0, le=30, description="from answer, no sound")
    reprompts: int = Field(1, ge=0, le=3)
    description_max: float = Field(15.0, gt=0, description="longest description listened to")
    confirm_window: float = Field(3.0, gt=0, le=15)
    time_budget: float = Field(25.0, gt=0, le=120, description="whole IVR, from answer")
    min_confidence: float = Field(0.6, ge=0, le=1)
    emergency_keys: list[str] = ["1", "0"]
    refusal_words: list[str] = ["不要", "不用", "不行", "报警", "警察", "人工", "不"]
    consent_words: list[str] = ["好", "好的", "可以", "行", "是", "同意", "嗯"]
    person_words: list[str] = ["报警", "人工", "警察", "我要报警", "转人工"]
    # Added for the dialog (ivr/dialog.py):
    prompts_file: Path = Path("configs/prompts/zh-CN.yaml")
    consent_keys: list[str] = Field(["2"], description="explicit yes to a transfer")
    final_wait: float = Field(
        1.5, gt=0, le=10, description="after speech stops, wait this long for the final text"
    )
    min_asr_confidence: float = Field(
        0.5, ge=0, le=1, description="below this the words are too unsure to divert"
    )

    @model_validator(mode="after")
    def _keys_distinct(self) -> IvrSettings:
        clash = set(self.emergency_keys) & set(self.consent_keys)
        if clash:
            raise ValueError(f"keys {sorted(clash)} are both emergency and consent keys")
        for key in [*self.emergency_keys, *self.consent_keys]:
            if key not in "0123456789*#" or len(key) != 1:
                raise ValueError(f"{key!r} is not a telephone key (0-9, *, #)")
        if "1" not in self.emergency_keys:
            raise ValueError("'1' must stay an emergency key: every prompt says 'press 1'")
        return self


class TriageSettings(Section):
    rules: dict[str, Path] = {"zh-CN": Path("configs/triage/zh-CN.yaml")}


class Trunk(Section):
    dial: str = Field(description="Asterisk dial string, e.g. PJSIP/12345@jx-12345")
    endpoint: str | None = Field(None, description="PJSIP endpoint whose health AMI reports")
    max_calls: int = Field(30, ge=0)
    hours: str = "00:00-24:00"

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not _HOURS.match(value):
            raise ValueError("hours must look like 08:00-22:00")
        return value


class CategoryOverride(Section):
    route: Route
    hours: str = "00:00-24:00"

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not _HOURS.match(value):
            raise ValueError("hours must look like 22:00-06:00")
        return value


class City(Section):
    name: str
    dids: list[str] = Field(min_length=1)
    consent: Literal["opt_out", "opt_in"] = "opt_out"
    # route → trunk name; 110 is mandatory, others may fall back to 110 when absent
    destinations: dict[Route, str]
    category_overrides: dict[str, CategoryOverride] = {}
    # 119/120 handled by 110 in some regions: the call stays on 110 with a flag
    emergency_via_110: bool = False

    @field_validator("destinations")
    @classmethod
    def _has_110(cls, value: dict[str, str]) -> dict[str, str]:
        if "110" not in value:
            raise ValueError("every city needs a '110' destination (the fail-safe)")
        return value


class WebhookTarget(Section):
    url: str
    secret: SecretRef
    timeout: float = Field(5.0, gt=0)


class WebhookSettings(Section):
    # 20 tries with the default back-off span about two hours of receiver outage
    max_attempts: int = Field(20, ge=1)
    backoff_initial: float = Field(1.0, gt=0)
    backoff_max: float = Field(600.0, gt=0)
    # "<city>/<route>" or "*/<route>" → receiver
    targets: dict[str, WebhookTarget] = {}
    lease_seconds: float = Field(
        30.0, gt=0, description="a message being sent is re-sent after this if the sender died"
    )
    batch: int = Field(50, ge=1, description="messages claimed per outbox poll")
    concurrency: int = Field(16, ge=1, description="webhook POSTs in flight at once")
    poll_interval: float = Field(1.0, gt=0, description="idle outbox poll period (seconds)")


class RetentionSettings(Section):
    transcript_days: float = Field(30, gt=0)
    ticket_days: float = Field(730, gt=0)


class LoopSettings(Section):
    ack_sla_minutes: float = Field(30, gt=0)
    feedback_sla_days: float = Field(3, gt=0)
    followup_after_hours: float = Field(24, gt=0)
    repeat_window_hours: float = Field(72, gt=0)
    survey_context: str = "survey"
    abusive_numbers: list[str] = []
    abuse_window_hours: float = Field(24, gt=0)
    abuse_warn_score: float = Field(0.7, ge=0, le=1)
    escalate_overdue: bool = Field(True, description="an overdue matter goes back to 110")
    survey_retry_minutes: float = Field(120, gt=0)
    survey_max_attempts: int = Field(3, ge=1, description="then the manual follow-up list")


class ApiClient(Section):
    role: Literal["centre", "calltaker", "supervisor", "engineer"]
    token: SecretRef
    centre: str | None = None


class Settings(Section):
    timezone: str = Field("Asia/Shanghai", description="local time for trunk hours")
    ami: AmiSettings = AmiSettings()
    audiosocket: AudioSocketSettings = AudioSocketSettings()
    redis: RedisSettings = RedisSettings()
    http: HttpSettings = HttpSettings()
    asr: AsrSettings = AsrSettings()
    ivr: IvrSettings = IvrSettings()
    triage: TriageSettings = TriageSettings()
    trunks: dict[str, Trunk]
    cities: dict[str, City] = Field(min_length=1)
    webhooks: WebhookSettings = WebhookSettings()
    retention: RetentionSettings = RetentionSettings()
    loop: LoopSettings = LoopSettings()
    api_clients: dict[str, ApiClient] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        seen_dids: dict[str, str] = {}
        for code, city in self.cities.items():
            for route, trunk in city.destinations.items():
                if trunk not in self.trunks:
                    raise ValueError(f"cities.{code}.destinations.{route}: unknown trunk {trunk!r}")
            for did in city.dids:
                if did in seen_dids:
                    raise ValueError(f"DID {did} is claimed by {seen_dids[did]} and {code}")
                seen_dids[did] = code
        return self

    def city_for_did(self, did: str) -> str | None:
        for code, city in self.cities.items():
            if did in city.dids:
                return code
        return None


DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "gateway.yaml"


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the main config. Raises gateway.configfile.ConfigError."""
    return load_model(path or DEFAULT_CONFIG, Settings)


PROJECT_ROOT = DEFAULT_CONFIG.parent.parent


def resolve_path(path: Path) -> Path:
    """Relative paths in the config mean: from the working directory, else the project root."""
    if path.is_absolute() or path.exists():
        return path
    return PROJECT_ROOT / path
