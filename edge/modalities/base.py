"""The one shape of a modality: a signal beside the camera (cabin audio, physiology, ...) that a stage turns into
estimates of the driver (docs/architecture.md, "Modalities").

A `ModalityKind` is what the rest of the package knows of a modality, and all it needs: its name (its section of
the state payload, its name in fusion), its source's name (its health component, and the reason when its fault
degrades monitoring), its drive stream, the config sections it is built from, how its estimate reads in the
payload, in fusion, on the console and in Home Assistant, and how to build it live or from a recording.

A `Modality` is one running instance: its stage (samples → estimates), what feeds the stage (a live source's
buffer, or a recording handed over in step with the video) and the live source behind it, if any. The session
advances every modality to each frame's time; nothing else calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from edge.health import source_component
from edge.skips import Skip

if TYPE_CHECKING:
    from edge.config import Config
    from edge.monitor.fusion import ModalityEstimate
    from edge.sources.supervised import SourceHealth
    from edge.stats import StageTimer

E = TypeVar("E")
T = TypeVar("T")

# A live source in one of these states is configured but not working: monitoring is degraded.
FAULT_STATES = frozenset({"silent", "unavailable"})


class InputError(Exception):
    """A recorded signal that cannot be replayed (a bad file, a missing extra); the message names the file."""


class Stage(Protocol[E]):
    def poll(self, t: float) -> E | None:
        """The estimate due at pipeline time t, if one is (a stage makes one per hop), else None."""
        ...


class LiveSource(Protocol):
    """A supervised device (edge.sources.supervised): started and stopped with the modality."""

    def start(self) -> object: ...

    def stop(self) -> None: ...

    def health(self) -> SourceHealth: ...


def ha_number(value: str, shown: str | None = None, known: str | None = None) -> str:
    """A Home Assistant value template for a numeric sensor: `shown` (default `value`) while `known` (default:
    `value` is not null) holds, else None. Home Assistant sets a numeric sensor to unknown on the text "None" and
    ignores an empty one, which would leave the last number standing after the value went away."""
    return f"{{{{ {shown or value} if {known or value + ' is not none'} else None }}}}"


@dataclass(frozen=True, slots=True)
class HaSensor:
    """A Home Assistant sensor that reads the modality's section of the state payload (edge/sinks/homeassistant)."""

    key: str
    name: str
    template: str  # a value template over the state payload (value_json)
    extra: Mapping[str, Any] = field(default_factory=dict)  # unit, state_class, icon, ...


@dataclass(frozen=True, slots=True, eq=False)
class ModalityKind(Generic[E]):
    name: str  # its section of the state payload and its name in fusion
    source: str  # its health component, and the reason of monitoring_degraded when it fails ("audio", "serial")
    stream: str  # its stream in a drive folder (docs/recording.md); also the replay flag --<stream> (see `flag`)
    stream_help: str  # the replay flag's help
    sections: tuple[str, ...]  # the config sections it is built from: a reload that changes one rebuilds it
    learned: str  # what a rebuild forgets about the driver, as a reload's result says it
    unknown: Callable[[float, str], E]  # the estimate that says only why nothing is known: (t, reason)
    waiting: str  # the reason while it has a source but no estimate yet
    section: Callable[[E], dict[str, Any]]  # its section of the state payload
    live: Callable[[Config, StageTimer], Modality[E]]  # built from the config (with a disabled source if none)
    # Built from a recorded stream; raises InputError. The bool is --strict: a malformed line refuses the stream
    # (InputError naming file:line) instead of being skipped and reported in the Modality's `skipped`.
    replay: Callable[[Config, Path, StageTimer, bool], Modality[E]]
    fusion: Callable[[E], ModalityEstimate | None] | None = None  # its vote in fusion; None: it does not vote
    max_age_s: Callable[[Config], float] | None = None  # how long its vote stays fresh (with `fusion`)
    console: Callable[[dict[str, Any] | None], str] = lambda _section: ""  # its part of a console line
    homeassistant: tuple[HaSensor, ...] = ()
    # The vehicle's speed an estimate carries, (km/h, when measured), if this modality measures it: the session
    # hands the freshest to the monitor for alert gating (docs/alerts.md).
    vehicle_speed: Callable[[E], tuple[float, float] | None] | None = None
    # False: a fault of its source leaves the driver fully monitored (the vehicle's speed: without it the vehicle
    # counts as moving), so it shows in health only, not as monitoring_degraded.
    degrades_monitoring: bool = True
    flag: str | None = None  # its replay flag, --<flag>, when --<stream> is taken (`dms replay --speed` is --pace)
    # Sections it is also built from, under a given config (the MQTT speed source: [mqtt] and device_id, only when
    # it is the configured source, so another source is not restarted by a broker change).
    also_built_from: Callable[[Config], tuple[str, ...]] | None = None

    @property
    def replay_flag(self) -> str:
        return self.flag or self.stream

    def built_from(self, cfg: Config) -> frozenset[str]:
        """Every config section (and top-level key) whose change rebuilds it under `cfg`."""
        return frozenset((*self.sections, *(self.also_built_from(cfg) if self.also_built_from else ())))


class Modality(Generic[E]):
    """A running modality. `present`: it has a source (a configured device, a recorded stream), so the state says
    `kind.waiting` until its first estimate, where a modality without one says "off"."""

    def __init__(
        self,
        kind: ModalityKind[E],
        stage: Stage[E] | None = None,
        feed: Callable[[float], None] | None = None,
        source: LiveSource | None = None,
        problem: str | None = None,
        model_problem: str | None = None,
        skipped: Iterable[Skip | None] = (),
    ):
        """`feed(t)` hands the stage what its source has up to t; `problem`: why a configured modality could not
        start (reported as its source's fault); `model_problem`: a model it wanted but runs without (health);
        `skipped`: what its recorded stream left out (edge/skips.py)."""
        self.kind = kind
        self.stage = stage
        self.feed = feed
        self.source = source
        self.problem = problem
        self.model_problem = model_problem
        self.skipped: tuple[Skip, ...] = tuple(s for s in skipped if s is not None)

    @property
    def present(self) -> bool:
        return self.stage is not None or self.problem is not None

    def start(self) -> None:
        if self.source is not None:
            self.source.start()

    def stop(self) -> None:
        if self.source is not None:
            self.source.stop()

    def advance(self, t: float) -> E | None:
        """Take what the source has up to pipeline time t, and return the estimate due at t (None: none is)."""
        if self.feed is not None:
            self.feed(t)
        return self.stage.poll(t) if self.stage is not None else None

    def health(self) -> dict[str, Any]:
        """Its source's health component (docs/schemas/health.json)."""
        if self.problem is not None:
            return {"state": "unavailable", "detail": self.problem}
        if self.source is not None:
            return source_component(self.source.health())
        if self.present:
            return {"state": "ok", "detail": None}
        return {"state": "disabled", "detail": f"no {self.kind.stream} stream"}

    def faulty(self) -> bool:
        """Configured but not working: monitoring is degraded, with `kind.source` as the reason."""
        if not self.kind.degrades_monitoring:
            return False
        if self.problem is not None:
            return True
        return self.source is not None and self.source.health().state in FAULT_STATES


class ReplayFeed(Generic[T]):
    """A recorded signal handed over in step with the video: at each frame time t, every item stamped up to t, so
    the stage sees what a live one would have had at that moment."""

    def __init__(self, items: Iterable[T], time_of: Callable[[T], float], deliver: Callable[[list[T]], None]):
        self._items = iter(items)
        self._time_of = time_of
        self._deliver = deliver
        self._pending = next(self._items, None)

    def __call__(self, t: float) -> None:
        due: list[T] = []
        while self._pending is not None and self._time_of(self._pending) <= t:
            due.append(self._pending)
            self._pending = next(self._items, None)
        self._deliver(due)
