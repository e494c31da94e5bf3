"""The IVR dialog: a pure state machine from caller events to call commands.

No I/O, no clock, no asyncio: the orchestrator feeds events (each carrying ``now``),
executes the commands returned, and sends ``Tick(now)`` at ``next_deadline``. Every
way out of doubt leads to 110; the only way to 12345/mediation is a confirmation the
caller heard, followed by a guard that re-reads the whole transcript.

Flow: greeting → (caller speaks) → triage → police/fire/medical: route at once;
non-police with enough confidence: confirmation naming the destination → window
(opt-out: 1 or a refusal keeps 110; opt-in: only an explicit yes diverts) → route.
Keys 1/0, 报警/人工/警察 and strong emergency cues in partial text route at once.

The confirmation is two prompts: the destination ("将为您转接12345…"), then the question
(opt-out "如需警察帮助请按1" / opt-in "同意请说好的或按2…"). What the caller did counts as:
- a refusal (a refusal or person word, key 1/0) at any point of it: 110 at once;
- a yes (key 2, or a short reply made only of consent words, see ``_is_short_yes``):
  only once the question has started, i.e. the destination prompt played to its end;
  a yes before that is a caller talking over the confirmation (below);
- anything else spoken over either prompt: 110 (confirmation-interrupted). Replaying the
  confirmation would let a caller who is not listening be diverted a few seconds later,
  so words over the confirmation keep 110; only a wordless interruption (a cough, a
  noise) replays the confirmation, once;
- silence (opt-out): no objection, only after the question played to its end and the
  window after it passed.

Keys: ``emergency_keys`` (1, 0) → 110 at any moment; ``consent_keys`` (2) is the explicit
yes once the question has started (the opt-in prompt says "同意请说好的或按2"); any other
key during a confirmation keeps the call on 110; other keys elsewhere are ignored
(speech first) apart from stopping the prompt.

Wiring (the orchestrator): build one Dialog per call with the city's ``consent``;
execute commands in order; answer every Play with PromptFinished when it ends (not
after StopPlayback); send Tick(now) at ``next_deadline``; on Route hand the call off
(the dialog is then finished); on RaiseCallback create the call-back task.
A PromptFinished only ever answers a Play returned by an EARLIER ``handle`` call: a Play
issued while handling an event (e.g. by a timer that fell due just before it) cannot
have been started, let alone finished, by the time that event was produced.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gateway.settings import DIVERTED_ROUTES, ROUTES, IvrSettings
from ivr.dialog_messages import (
    FINISHED_STATES,
    AsrUnavailable,
    CallerHungUp,
    Command,
    Dtmf,
    Event,
    Final,
    Log,
    Partial,
    Play,
    PromptFinished,
    RaiseCallback,
    Reason,
    Route,
    SpeechStarted,
    SpeechStopped,
    Started,
    State,
    StopPlayback,
    Tick,
)
from ivr.prompts.catalog import (
    CONFIRM_OPT_IN,
    CONFIRM_OPT_OUT,
    GREETING,
    GREETING_KEYPAD,
    REPROMPT,
    REQUIRED_PROMPTS,
    PromptCatalog,
    confirmation_prompt_id,
    transfer_prompt_id,
)
from ivr.triage.result import EMERGENCY_ROUTES, Evidence, TriageResult

Consent = Literal["opt_out", "opt_in"]
ClassifyFinal = Callable[[str], TriageResult]
ClassifyPartial = Callable[[str], TriageResult | None]

_SPACE = re.compile(r"\s+")
_NOT_WORDS = re.compile(r"[\W_]+")  # spaces and punctuation (CJK characters are words)
_QUESTION_MARKS = ("?", "？")
# Sounds and politeness around a yes ("好的呀", "是的", "行吧", "好的谢谢"). Never a
# consent word itself: those are dropped from this list at run time.
_YES_FILLERS = ("谢谢", "那个", *"的了吧呀啊哦噢喔呃额哈啦")
_SHORT_YES_MAX = 4  # characters left once fillers, spaces and punctuation are gone

# Timer names (the dialog's only notion of time).
_BUDGET = "budget"
_SILENCE = "silence"
_DESCRIBE_MAX = "describe_max"
_FINAL_WAIT = "final_wait"
_WINDOW = "confirm_window"
_SILENT_CALLER = "silent_caller"


def _compact(text: str) -> str:
    """ASR text comes word-spaced ("报 警"); matching ignores whitespace."""
    return _SPACE.sub("", text)


def _is_short_yes(reply: str, consent_words: list[str]) -> bool:
    """A whole reply that is a yes: consent words only, short, not a question.

    "好的", "嗯 好", "是的", "好的好的", "行吧" are; "是这样的我想问问", "好痛", "是我",
    "可以吗", "行？" are not (a consent word inside a longer reply is not a yes).
    """
    if any(mark in reply for mark in _QUESTION_MARKS):
        return False
    rest = _NOT_WORDS.sub("", reply)
    for filler in _YES_FILLERS:
        if filler not in consent_words:
            rest = rest.replace(filler, "")
    if not rest or len(rest) > _SHORT_YES_MAX:
        return False
    words = sorted((w for w in consent_words if w), key=len, reverse=True)
    while rest:
        word = next((w for w in words if rest.startswith(w)), None)
        if word is None:
            return False
        rest = rest[len(word) :]
    return True


def _find_word(text: str, words: list[str], rule: str) -> Evidence | None:
    """The first configured word found in ``text`` (compacted), as evidence."""
    compact = _compact(text)
    for word in sorted(words, key=len, reverse=True):
        at = compact.find(word) if word else -1
        if at >= 0:
            return Evidence(rule=rule, words=word, start=at, end=at + len(word), weight=1.0)
    return None


@dataclass
class _Pending:
    """The diversion being confirmed."""

    triage: TriageResult
    asr_confidence: float
    prompt_ids: tuple[str, str]  # destination prompt, then the opt-out/opt-in question
    reply_from: int  # index into the final segments where the caller's reply starts
    # The destination prompt played to its end and the question prompt was started: from
    # here on a yes counts (the caller knows where they would go and is being asked).
    question_started: bool = False
    # The question prompt played to its end: from here on silence is "no objection".
    question_heard: bool = False
    replayed: bool = False  # played again once after an interruption with no answer


class Dialog:
    """One call's IVR conversation. Create one per call; feed it with ``handle``."""

    def __init__(
        self,
        config: IvrSettings,
        *,
        consent: Consent,
        classify_final: ClassifyFinal,
        classify_partial: ClassifyPartial,
        prompts: PromptCatalog,
    ) -> None:
        if consent not in ("opt_out", "opt_in"):
            raise ValueError(f"consent must be 'opt_out' or 'opt_in', not {consent!r}")
        missing = [p for p in REQUIRED_PROMPTS if p not in prompts]
        if missing:
            raise ValueError(f"prompt catalog lacks required prompts: {', '.join(missing)}")
        self.config = config
        self.consent: Consent = consent
        self._classify_final = classify_final
        self._classify_partial = classify_partial
        self._prompts = prompts

        self._state = State.WAITING
        self._now = float("-inf")
        self._timers: dict[str, float] = {}
        self._playing: str | None = None
        self._queue: list[str] = []  # prompts to play after the current one
        self._reprompts_left = config.reprompts
        self._asr_available = True
        self._speaking = False
        self._heard_speech = False
        self._finals: list[str] = []
        self._confidences: list[tuple[float, int]] = []  # (confidence, characters) per final
        self._partial = ""
        self._keys: list[str] = []
        self._pending: _Pending | None = None
        self._handled = 0  # handle() calls so far
        self._play_issued_in = -1  # the handle() call that issued the current Play
        self.route: Route | None = None

    # ------------------------------------------------------------------ public surface

    @property
    def state(self) -> State:
        return self._state

    @property
    def finished(self) -> bool:
        return self._state in FINISHED_STATES

    @property
    def transcript(self) -> str:
        """Everything the caller said so far: final segments, then the pending partial."""
        return " ".join(t for t in [*self._finals, self._partial] if t).strip()

    @property
    def next_deadline(self) -> float | None:
        if self.finished or not self._timers:
            return None
        return min(self._timers.values())

    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return the commands to execute, in order."""
        out: list[Command] = []
        self._handled += 1
        if event.now < self._now:  # an out-of-order event never moves time back
            event = dataclasses.replace(event, now=self._now)
        now = event.now
        if self.finished:
            out.append(Log("ignored", {"event": type(event).__name__, "state": self._state.value}))
            return out
        if isinstance(event, CallerHungUp):
            # A fact, not a decision: a deadline missed by a late Tick is not acted on first.
            self._now = now
            self._on_hung_up(event, out)
            return out
        self._fire_due_timers(now, out)
        self._now = now
        if not self.finished:
            self._dispatch(event, out)
        return out

    def _dispatch(self, event: Event, out: list[Command]) -> None:
        match event:
            case Started():
                self._on_started(event, out)
            case Dtmf():
                self._on_dtmf(event, out)
            case SpeechStarted():
                self._on_speech_started(event, out)
            case SpeechStopped():
                self._on_speech_stopped(event, out)
            case Partial():
                self._on_partial(event, out)
            case Final():
                self._on_final(event, out)
            case PromptFinished():
                self._on_prompt_finished(event, out)
            case AsrUnavailable():
                self._on_asr_unavailable(event, out)
            case Tick():
                pass  # due timers already fired above

    # ------------------------------------------------------------------ timers

    def _fire_due_timers(self, now: float, out: list[Command]) -> None:
        """Fire every timer due by ``now`` in time order, each at its own deadline."""
        while not self.finished and self._timers:
            name, at = min(self._timers.items(), key=lambda item: item[1])
            if at > now:
                return
            del self._timers[name]
            self._now = max(self._now, at)
            out.append(Log("timer", {"timer": name, "at": at, "state": self._state.value}))
            _TIMER_HANDLERS[name](self, at, out)

    def _on_budget(self, at: float, out: list[Command]) -> None:
        self._route_110(Reason.BUDGET, at, out)

    def _on_silence(self, at: float, out: list[Command]) -> None:
        cap = self._timers.get(_SILENT_CALLER)
        reprompt = self._prompts.duration(REPROMPT) or 0.0
        if cap is not None and at + reprompt + self.config.greeting_timeout > cap:
            # a re-prompt would outlast the silent caller's limit: put them through now
            self._route_110(Reason.SILENCE, at, out)
            return
        self._reprompt_or_110(Reason.SILENCE, at, out)

    def _on_silent_caller(self, at: float, out: list[Command]) -> None:
        self._route_110(Reason.SILENCE, at, out)

    def _on_describe_max(self, at: float, out: list[Command]) -> None:
        out.append(Log("decision", {"why": "description-max", "at": at}))
        self._speaking = False
        self._timers.pop(_FINAL_WAIT, None)
        self._conclude_description(at, out)

    def _on_final_wait(self, at: float, out: list[Command]) -> None:
        if self._state is State.DESCRIBING:
            self._conclude_description(at, out)
        elif self._state is State.CONFIRM_WINDOW:
            self._conclude_reply(at, out)

    def _on_window(self, at: float, out: list[Command]) -> None:
        # A caller who started answering as the window closed is heard out first.
        if self._speaking or _FINAL_WAIT in self._timers:
            out.append(Log("decision", {"why": "window-closed-while-answering", "at": at}))
            return
        self._conclude_reply(at, out)

    # ------------------------------------------------------------------ event handlers

    def _on_started(self, event: Started, out: list[Command]) -> None:
        if self._state is not State.WAITING:
            out.append(Log("ignored", {"event": "Started", "state": self._state.value}))
            return
        self._timers[_BUDGET] = event.now + self.config.time_budget
        self._timers[_SILENT_CALLER] = event.now + self.config.silent_caller_max
        if self._asr_available:
            self._enter(State.GREETING, "answered", event.now, out)
            self._play(GREETING, out)
        else:
            self._enter(State.KEYPAD, "answered-without-asr", event.now, out)
            self._play(GREETING_KEYPAD, out)

    def _on_dtmf(self, event: Dtmf, out: list[Command]) -> None:
        digit = event.digit
        if self._state is State.WAITING:
            out.append(Log("ignored", {"event": "Dtmf", "digit": digit, "state": "waiting"}))
            return
        self._keys.append(digit)
        self._timers.pop(_SILENT_CALLER, None)  # someone is there
        self._barge_in(out)
        if digit in self.config.emergency_keys or self._state is State.KEYPAD:
            self._route_110(Reason.DTMF.format(digit=digit), event.now, out)
        elif self._state in (State.CONFIRMING, State.CONFIRM_WINDOW):
            if digit not in self.config.consent_keys:
                self._route_110(Reason.UNEXPECTED_KEY, event.now, out)
            elif self._pending is not None and self._pending.question_started:
                self._divert(Reason.CONFIRMED, event.now, out)
            else:
                out.append(Log("decision", {"why": "yes-before-question", "key": digit}))
                self._route_110(Reason.CONFIRMATION_INTERRUPTED, event.now, out)
        else:
            out.append(Log("ignored", {"event": "Dtmf", "digit": digit, "why": "speech-first"}))
            if self._state is State.GREETING:
                self._listen(event.now, "greeting-interrupted-by-key", out)

    def _on_speech_started(self, event: SpeechStarted, out: list[Command]) -> None:
        if self._state is State.WAITING:
            return
        if self._state is State.KEYPAD:
            self._barge_in(out)
            self._route_110(Reason.ASR_UNAVAILABLE, event.now, out)
            return
        self._caller_speaks(event.now, out)

    def _on_speech_stopped(self, event: SpeechStopped, out: list[Command]) -> None:
        if not self._speaking:
            return
        self._speaking = False
        if self._state in (State.DESCRIBING, State.CONFIRM_WINDOW):
            self._timers[_FINAL_WAIT] = event.now + self.config.final_wait

    def _on_partial(self, event: Partial, out: list[Command]) -> None:
        text = event.text.strip()
        if self._state in (State.WAITING, State.KEYPAD) or not text:
            return
        self._partial = text
        self._caller_speaks(event.now, out, by_energy=False)
        self._act_on_words_at_once(event.now, out)

    def _on_final(self, event: Final, out: list[Command]) -> None:
        if self._state in (State.WAITING, State.KEYPAD):
            return
        text = event.text.strip()
        self._partial = ""
        self._timers.pop(_FINAL_WAIT, None)
        if text:
            self._finals.append(text)
            # NaN or out-of-range confidence counts as no confidence (never as enough).
            confidence = event.confidence if 0.0 <= event.confidence <= 1.0 else 0.0
            self._confidences.append((confidence, len(_compact(text))))
            self._caller_speaks(event.now, out, by_energy=False)
            self._act_on_words_at_once(event.now, out)
            if self.finished:
                return
        if self._speaking:
            return  # more is coming; decide when the caller stops
        if self._state is State.DESCRIBING:
            self._conclude_description(event.now, out)
        elif self._state is State.CONFIRM_WINDOW:
            pending = self._pending
            reply = self._reply_text()
            if (
                reply
                or pending is None
                or not pending.question_heard
                or _WINDOW not in self._timers
            ):
                self._conclude_reply(event.now, out)

    def _on_prompt_finished(self, event: PromptFinished, out: list[Command]) -> None:
        if event.prompt_id != self._playing or self._play_issued_in == self._handled:
            # Stopped, replaced, or issued while handling this very event (a timer due
            # before it): the report is about an earlier playback, not the current one.
            out.append(Log("ignored", {"event": "PromptFinished", "prompt": event.prompt_id}))
            return
        finished, self._playing = self._playing, None
        pending = self._pending
        if self._state is State.CONFIRMING and pending is not None:
            if finished == pending.prompt_ids[0]:
                pending.question_started = True
        if self._queue:
            self._play(self._queue.pop(0), out)
            return
        if self._state is State.GREETING:
            self._listen(event.now, "prompt-finished", out)
        elif self._state is State.CONFIRMING:
            assert pending is not None
            pending.question_heard = True
            self._timers[_WINDOW] = event.now + self.config.confirm_window
            self._enter(State.CONFIRM_WINDOW, "confirmation-played", event.now, out)
        elif self._state is State.KEYPAD:
            self._route_110(Reason.ASR_UNAVAILABLE, event.now, out)

    def _on_hung_up(self, event: CallerHungUp, out: list[Command]) -> None:
        stage = self._state.value
        self._timers.clear()
        self._playing = None
        self._enter(State.ABANDONED, "caller-hung-up", event.now, out)
        out.append(RaiseCallback(Reason.CALLER_HUNG_UP, self.transcript, event.now, stage))

    def _on_asr_unavailable(self, event: AsrUnavailable, out: list[Command]) -> None:
        self._asr_available = False
        if self._state is State.WAITING or self._state is State.KEYPAD:
            out.append(Log("decision", {"why": "asr-unavailable", "state": self._state.value}))
            return
        if self._state is State.GREETING and self._playing == GREETING and not self._heard_speech:
            self._barge_in(out)
            self._enter(State.KEYPAD, "asr-unavailable", event.now, out)
            self._play(GREETING_KEYPAD, out)
            return
        self._barge_in(out)
        self._route_110(Reason.ASR_UNAVAILABLE, event.now, out)

    # ------------------------------------------------------------------ speech

    def _caller_speaks(self, now: float, out: list[Command], *, by_energy: bool = True) -> None:
        """The caller is talking: stop any prompt and listen to them."""
        if by_energy:
            self._speaking = True
            self._timers.pop(_FINAL_WAIT, None)
        self._heard_speech = True
        self._timers.pop(_SILENT_CALLER, None)
        self._barge_in(out)
        if self._state in (State.GREETING, State.LISTENING):
            self._timers.pop(_SILENCE, None)
            self._timers.setdefault(_DESCRIBE_MAX, now + self.config.description_max)
            self._enter(State.DESCRIBING, "caller-speaks", now, out)
        elif self._state is State.CONFIRMING:
            self._enter(State.CONFIRM_WINDOW, "caller-answers-during-confirmation", now, out)

    def _act_on_words_at_once(self, now: float, out: list[Command]) -> None:
        """Words that route without waiting: emergency cues, asking for police, refusing."""
        text = self.transcript
        cue = self._partial_triage(text, out)
        if cue is not None and cue.route in EMERGENCY_ROUTES:
            self._finish(cue.route, Reason.PARTIAL_EMERGENCY, now, out, triage=cue)
            return
        person = _find_word(text, self.config.person_words, "person_word")
        if person is not None:
            self._route_110(Reason.PERSON_WORD, now, out, evidence=(person,))
            return
        if self._state is State.CONFIRM_WINDOW:
            refusal = _find_word(self._reply_text(), self.config.refusal_words, "refusal_word")
            if refusal is not None:
                self._route_110(Reason.CALLER_REFUSED, now, out, evidence=(refusal,))

    def _conclude_description(self, now: float, out: list[Command]) -> None:
        """The caller finished describing: decide where the call belongs."""
        self._timers.pop(_DESCRIBE_MAX, None)
        self._timers.pop(_FINAL_WAIT, None)
        text = self.transcript
        if not text:
            self._reprompt_or_110(Reason.NOTHING_USABLE, now, out)
            return
        cue = self._partial_triage(text, out)
        if cue is not None and cue.route in EMERGENCY_ROUTES:
            self._finish(cue.route, Reason.EMERGENCY, now, out, triage=cue)
            return
        triage = self._final_triage(text, out)
        if triage is None:
            self._route_110(Reason.TRIAGE_ERROR, now, out)
            return
        out.append(Log("decision", {"triage": triage.explain(), "at": now}))
        if triage.route in ("119", "120"):
            if triage.confidence >= self.config.min_confidence:
                self._finish(triage.route, Reason.EMERGENCY, now, out, triage=triage)
            else:
                self._route_110(Reason.LOW_CONFIDENCE, now, out, triage=triage)
            return
        if triage.route == "110":
            reason = Reason.UNCLEAR if triage.category == "unclear" else Reason.TRIAGE_110
            self._route_110(reason, now, out, triage=triage)
            return
        asr_confidence = self._asr_confidence()
        sure = (
            triage.confidence >= self.config.min_confidence
            and asr_confidence >= self.config.min_asr_confidence
        )  # written as ">=" so that a NaN is never sure
        if not sure:
            out.append(Log("decision", {"why": "low-confidence", "asr": asr_confidence}))
            self._route_110(Reason.LOW_CONFIDENCE, now, out, triage=triage)
            return
        self._confirm(triage, asr_confidence, now, out)

    # ------------------------------------------------------------------ confirmation

    def _confirm(
        self, triage: TriageResult, asr_confidence: float, now: float, out: list[Command]
    ) -> None:
        first = confirmation_prompt_id(triage.route, triage.category)
        if first not in self._prompts:
            first = f"confirm_{triage.route}"
        if first not in self._prompts:
            self._route_110(Reason.NO_PROMPT, now, out, triage=triage)
            return
        second = CONFIRM_OPT_IN if self.consent == "opt_in" else CONFIRM_OPT_OUT
        if self._cannot_fit(now, first, second):
            out.append(Log("decision", {"why": "no-time-to-confirm", "at": now}))
            self._route_110(Reason.BUDGET, now, out, triage=triage)
            return
        self._pending = _Pending(triage, asr_confidence, (first, second), len(self._finals))
        self._enter(State.CONFIRMING, f"confirm-{triage.route}-{triage.category}", now, out)
        self._play_confirmation(self._pending, out)

    def _play_confirmation(self, pending: _Pending, out: list[Command]) -> None:
        first, second = pending.prompt_ids
        self._play(first, out)
        self._queue = [second]

    def _replay_confirmation(self, pending: _Pending, now: float, out: list[Command]) -> None:
        """Cut off by a noise or a cough with nothing said: the caller deserves the question."""
        if self._cannot_fit(now, *pending.prompt_ids):
            self._route_110(Reason.BUDGET, now, out, triage=pending.triage)
            return
        pending.replayed = True
        pending.question_started = pending.question_heard = False
        pending.reply_from = len(self._finals)
        self._partial = ""
        self._enter(State.CONFIRMING, "confirmation-interrupted-replay", now, out)
        self._play_confirmation(pending, out)

    def _cannot_fit(self, now: float, *prompt_ids: str) -> bool:
        durations = [self._prompts.duration(p) for p in prompt_ids]
        if any(d is None for d in durations):
            return False  # unknown lengths: the budget timer still guards
        needed = sum(d for d in durations if d is not None) + self.config.confirm_window
        return now + needed > self._timers.get(_BUDGET, float("inf"))

    def _reply_text(self) -> str:
        if self._pending is None:
            return ""
        reply = [*self._finals[self._pending.reply_from :], self._partial]
        return " ".join(t for t in reply if t).strip()

    def _conclude_reply(self, now: float, out: list[Command]) -> None:
        """The caller answered, or the window is over: divert, stay, or keep waiting."""
        self._timers.pop(_FINAL_WAIT, None)
        pending = self._pending
        assert pending is not None
        reply = self._reply_text()
        refusal = _find_word(reply, self.config.refusal_words, "refusal_word")
        if refusal is not None:
            self._route_110(Reason.CALLER_REFUSED, now, out, evidence=(refusal,))
            return
        yes = _is_short_yes(reply, self.config.consent_words)
        if yes and pending.question_started:
            self._divert(Reason.CONFIRMED, now, out)
        elif not pending.question_heard and not reply and not pending.replayed:
            self._replay_confirmation(pending, now, out)
        elif not pending.question_heard:
            # Words over the confirmation (a yes before the question included): the caller
            # was not listening to where they would go. Safer on 110 than asked again.
            why = "yes-before-question" if yes else "talked-over-confirmation"
            out.append(Log("decision", {"why": why, "reply": reply}))
            self._route_110(Reason.CONFIRMATION_INTERRUPTED, now, out, triage=pending.triage)
        elif self.consent == "opt_in":
            self._route_110(Reason.OPT_IN_NO_ANSWER, now, out, triage=pending.triage)
        elif _WINDOW in self._timers and self._diversion_guard(Reason.NO_OBJECTION) is None:
            # Neither yes nor no: the caller keeps the rest of the window to press 1 or
            # refuse (what they said never diverts by itself; a reply that makes the call
            # a police matter fails the guard and goes to 110 at once, below).
            out.append(Log("decision", {"why": "no-objection-yet", "reply": reply, "at": now}))
        else:
            self._divert(Reason.NO_OBJECTION, now, out)

    def _divert(self, reason: str, now: float, out: list[Command]) -> None:
        pending = self._pending
        if pending is None:  # a yes with nothing to agree to
            self._route_110(Reason.UNEXPECTED_KEY, now, out)
            return
        self._finish(pending.triage.route, reason, now, out, triage=pending.triage)

    def _diversion_guard(self, reason: str) -> str | None:
        """Why this diversion must not happen, or None. Re-reads everything the caller did."""
        pending = self._pending
        answering = self._state is State.CONFIRM_WINDOW
        yes_to_question = self._state is State.CONFIRMING and reason == Reason.CONFIRMED
        if pending is None or not (answering or yes_to_question):
            return "not-confirmed"
        if any(k in self.config.emergency_keys for k in self._keys):
            return "emergency-key"
        if self.consent == "opt_in" and reason != Reason.CONFIRMED:
            return "no-consent"
        if reason == Reason.CONFIRMED and not pending.question_started:
            return "question-not-heard"  # in opt-in cities this is the only way out
        if reason != Reason.CONFIRMED and not pending.question_heard:
            return "question-not-heard"
        if self._now > self._timers.get(_BUDGET, float("inf")):
            return "budget"
        text = self.transcript
        if _find_word(text, self.config.person_words, "person_word") is not None:
            return "person-word"
        cue = self._partial_triage(text, [])
        if cue is not None and cue.route in EMERGENCY_ROUTES:
            return "emergency-cue"
        whole = self._final_triage(text, [])
        if whole is not None and whole.wanted_route:  # e.g. the trunk went down meanwhile
            return f"destination-unavailable ({whole.rule})"
        if whole is None or whole.route not in DIVERTED_ROUTES:
            return "transcript-not-diverted"
        reply = self._final_triage(self._reply_text(), []) if self._reply_text() else None
        if reply is not None and reply.is_emergency:
            return "reply-emergency"
        return None

    # ------------------------------------------------------------------ routing

    def _route_110(
        self,
        reason: str,
        now: float,
        out: list[Command],
        *,
        triage: TriageResult | None = None,
        evidence: tuple[Evidence, ...] = (),
    ) -> None:
        if triage is None and self.transcript:
            # Not for the decision (it is 110 either way): for the call-taker's screen.
            triage = self._final_triage(self.transcript, out)
        self._finish("110", reason, now, out, triage=triage, evidence=evidence)

    def _finish(
        self,
        route: str,
        reason: str,
        now: float,
        out: list[Command],
        *,
        triage: TriageResult | None = None,
        evidence: tuple[Evidence, ...] = (),
    ) -> None:
        """The single exit: every Route is emitted here, after the diversion guard."""
        if route not in ROUTES:
            out.append(Log("guard", {"why": "unknown-route", "route": route}))
            route, reason = "110", Reason.TRIAGE_ERROR
        wanted = triage.wanted_route if triage is not None else ""
        if route in DIVERTED_ROUTES:
            why = self._diversion_guard(reason)
            if why is not None:
                out.append(Log("guard", {"why": why, "wanted": route, "reason": reason}))
                wanted = route
                route, reason = "110", Reason.GUARD.format(why=why)
        if self._playing is not None:
            out.append(StopPlayback())
            self._playing = None
        self._queue.clear()
        self._timers.clear()
        category, confidence = "unclear", 0.0
        if triage is not None and (route != "110" or triage.route in EMERGENCY_ROUTES):
            category, confidence = triage.category, triage.confidence
        elif triage is not None:
            confidence = triage.confidence
        self._enter(State.ROUTED, reason, now, out)
        self.route = Route(
            route=route,
            category=category,
            confidence=confidence,
            reason=reason,
            evidence=evidence + (triage.evidence if triage is not None else ()),
            transcript=self.transcript,
            triage=triage,
            at=now,
            announce=self._announcement(route),
            wanted_route=wanted if route == "110" else "",
        )
        out.append(self.route)

    def _announcement(self, route: str) -> str | None:
        prompt_id = transfer_prompt_id(route)
        return prompt_id if prompt_id in self._prompts else None

    # ------------------------------------------------------------------ small steps

    def _reprompt_or_110(self, reason: str, now: float, out: list[Command]) -> None:
        if self._reprompts_left > 0:
            self._reprompts_left -= 1
            self._timers.pop(_DESCRIBE_MAX, None)
            self._enter(State.GREETING, f"reprompt-after-{reason}", now, out)
            self._play(REPROMPT, out)
        else:
            self._route_110(reason, now, out)

    def _listen(self, now: float, why: str, out: list[Command]) -> None:
        self._timers[_SILENCE] = now + self.config.greeting_timeout
        self._enter(State.LISTENING, why, now, out)

    def _play(self, prompt_id: str, out: list[Command]) -> None:
        if self._playing is not None:  # never a Play over a Play, whatever path led here
            self._barge_in(out)
        self._playing = prompt_id
        self._play_issued_in = self._handled
        out.append(Play(prompt_id, self._prompts[prompt_id], barge_in=True))

    def _barge_in(self, out: list[Command]) -> None:
        if self._playing is not None:
            out.append(StopPlayback())
            out.append(Log("barge_in", {"prompt": self._playing, "at": self._now}))
            self._playing = None
        self._queue.clear()

    def _enter(self, state: State, why: str, now: float, out: list[Command]) -> None:
        out.append(
            Log("transition", {"from": self._state.value, "to": state.value, "why": why, "at": now})
        )
        self._state = state

    def _asr_confidence(self) -> float:
        """Character-weighted mean over final segments; 0 when only partial text exists."""
        if self._partial or not self._confidences:
            return 0.0
        chars = sum(n for _, n in self._confidences) or 1
        return sum(c * n for c, n in self._confidences) / chars

    def _final_triage(self, text: str, out: list[Command]) -> TriageResult | None:
        try:
            result = self._classify_final(text)
        except Exception as exc:  # a classifier bug must never strand a caller
            out.append(Log("triage_error", {"error": repr(exc)}))
            return None
        if not isinstance(result, TriageResult) or result.route not in ROUTES:
            out.append(Log("triage_error", {"error": f"bad result {result!r}"}))
            return None
        return result

    def _partial_triage(self, text: str, out: list[Command]) -> TriageResult | None:
        try:
            result = self._classify_partial(text)
        except Exception as exc:  # doubt goes to 110 later; here: no cue
            out.append(Log("triage_error", {"error": repr(exc), "partial": True}))
            return None
        if result is not None and not isinstance(result, TriageResult):
            out.append(Log("triage_error", {"error": f"bad result {result!r}", "partial": True}))
            return None
        return result


_TIMER_HANDLERS: dict[str, Callable[[Dialog, float, list[Command]], None]] = {
    _BUDGET: Dialog._on_budget,
    _SILENCE: Dialog._on_silence,
    _DESCRIBE_MAX: Dialog._on_describe_max,
    _FINAL_WAIT: Dialog._on_final_wait,
    _WINDOW: Dialog._on_window,
    _SILENT_CALLER: Dialog._on_silent_caller,
}
