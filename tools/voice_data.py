"""The speech-emotion folders the voice tools read: RAVDESS and EmoDB as resampled in ../shared/datasets.

- `ravdess16k/Actor_NN/03-01-EE-II-SS-RR-AA.flac` (or `.wav`): RAVDESS audio-only speech (Livingstone & Russo,
  PLoS ONE 2018). EE emotion 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
  08 surprised; II intensity 01 normal, 02 strong; AA the actor (odd male, even female), which must match the folder.
- `emodb16k/SSTTTEV.flac` (or `.wav`): Berlin EmoDB (Burkhardt et al., Interspeech 2005); SS the speaker, E (6th
  character) W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral.

Every clip gets its fine emotion (RAVDESS's names; EmoDB's mapped onto them, boredom kept as `bored`), its speaker
(`ravdess:01`, `emodb:03`: speaker-independent splits go by this), its arousal class and its 4-class emotion
(edge.audio.voice.VOICE_EMOTIONS, calm counted as neutral), either None where the emotion has none.
Audio: WAV is read with the standard library; FLAC needs `soundfile` (the `train` extra and the voice evaluation).
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.audio.voice import AROUSAL_CLASSES, SAMPLE_RATE, VOICE_EMOTIONS

AUDIO_EXTENSIONS = (".flac", ".wav")
RAVDESS_EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust",
                    8: "surprised"}
EMODB_EMOTIONS = {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
# The arousal classes (Russell's circumplex): disgust sits between and is left out; EmoDB's boredom is low.
HIGH_AROUSAL = frozenset({"angry", "fearful", "happy", "surprised"})
LOW_AROUSAL = frozenset({"neutral", "calm", "sad", "bored"})
# The fine emotions behind each of the model's four emotion classes.
EMOTION4 = {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"}

_RAVDESS_NAME = re.compile(r"^03-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")
_ACTOR_FOLDER = re.compile(r"^Actor_(\d\d)$")
_EMODB_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([WLEAFTN])([a-z])$")


@dataclass(frozen=True, slots=True)
class Clip:
    path: Path
    corpus: str  # "ravdess" or "emodb"
    speaker: str  # "ravdess:01", "emodb:03"
    emotion: str  # fine emotion: RAVDESS's names, plus "bored" (EmoDB)
    intensity: str = "normal"  # RAVDESS: normal or strong; EmoDB: normal

    @property
    def arousal(self) -> int | None:
        """Index into AROUSAL_CLASSES (0 low, 1 high); None for disgust."""
        if self.emotion in HIGH_AROUSAL:
            return AROUSAL_CLASSES.index("high")
        if self.emotion in LOW_AROUSAL:
            return AROUSAL_CLASSES.index("low")
        return None

    @property
    def emotion4(self) -> int | None:
        """Index into VOICE_EMOTIONS; None for emotions outside the four (fearful, surprised, disgust, bored)."""
        name = EMOTION4.get(self.emotion)
        return None if name is None else VOICE_EMOTIONS.index(name)


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def load_ravdess(root: Path) -> list[Clip]:
    """Every clip under `root` (Actor_NN/ folders), sorted by path; ValueError names what does not fit."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    strays = [p.name for p in folders if not _ACTOR_FOLDER.match(p.name)]
    if strays:
        raise ValueError(f"{root}: unexpected folders {strays}; expected Actor_NN folders (RAVDESS layout)")
    clips = []
    for folder in folders:
        actor = _ACTOR_FOLDER.match(folder.name).group(1)
        for path in _audio_files(folder):
            m = _RAVDESS_NAME.match(path.stem)
            if not m:
                raise ValueError(f"{path}: not a RAVDESS speech file name (03-01-EE-II-SS-RR-AA)")
            if m.group(5) != actor:
                raise ValueError(f"{path}: actor {m.group(5)} in the name disagrees with its folder {folder.name}")
            emotion = RAVDESS_EMOTIONS[int(m.group(1))]
            clips.append(Clip(path, "ravdess", f"ravdess:{actor}", emotion,
                              "strong" if m.group(2) == "02" else "normal"))
    if not clips:
        raise ValueError(f"{root}: no .flac or .wav files in Actor_NN folders")
    return clips


def load_emodb(root: Path) -> list[Clip]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    clips = []
    for path in _audio_files(root):
        m = _EMODB_NAME.match(path.stem)
        if not m:
            raise ValueError(f"{path}: not an EmoDB file name (speaker, text, emotion letter, version: 03a01Wa)")
        clips.append(Clip(path, "emodb", f"emodb:{m.group(1)}", EMODB_EMOTIONS[m.group(3)]))
    if not clips:
        raise ValueError(f"{root}: no .flac or .wav files")
    return clips


def read_audio(path: Path) -> np.ndarray:
    """Mono int16 samples at 16 kHz. WAV (8/16/24/32-bit PCM) with the standard library, FLAC with soundfile;
    several channels are averaged; another sample rate is resampled (polyphase, scipy)."""
    path = Path(path)
    if path.suffix.lower() == ".wav":
        data, rate = _read_wav(path)
    else:
        try:
            import soundfile
        except ImportError as err:
            raise ImportError(f"{err}: reading {path.suffix} needs soundfile (pip install soundfile)") from err
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except RuntimeError as err:  # soundfile.LibsndfileError
            raise ValueError(f"{path}: not readable audio ({err})") from None
    data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), SAMPLE_RATE)
        data = resample_poly(data, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    return np.clip(np.round(data * 32768.0), -32768, 32767).astype(np.int16)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(frames x channels float32 in [-1, 1], rate) from an integer PCM WAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{path}: not a PCM WAV file ({err})") from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise ValueError(f"{path}: {8 * width}-bit samples; expected 8, 16, 24 or 32-bit PCM")
    return x[: len(x) // channels * channels].reshape(-1, channels), rate
