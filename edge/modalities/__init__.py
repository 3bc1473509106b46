"""The registered modalities, in the order of their sections in the state payload (docs/architecture.md).

A new modality is a file in this package (its ModalityKind), its config section, and one entry here.
"""

from edge.modalities.base import ModalityKind
from edge.modalities.physio import PHYSIO
from edge.modalities.speed import SPEED
from edge.modalities.voice import VOICE

REGISTERED: tuple[ModalityKind, ...] = (VOICE, PHYSIO, SPEED)
