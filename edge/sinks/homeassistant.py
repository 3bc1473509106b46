"""Home Assistant MQTT device discovery: one retained `<prefix>/device/<device_id>/config` for the whole device.

Device-based discovery (Home Assistant 2024.11+): `dev` and `o` once, one entry per entity under `cmps`, each with
its platform in `p`. Values are read from the JSON `state` and `events/<kind>` topics with value templates, so no
extra topic is published for Home Assistant. Availability follows `availability`: `online` is available, `offline`
(last will) and `stopped` are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.modalities import REGISTERED
from edge.modalities.base import ModalityKind, ha_number
from edge.monitor.emotion import UNKNOWN as EMOTION_UNKNOWN
from edge.names import ALERT_KINDS, AVAILABILITY, DROWSINESS_LEVELS, STATE, STRESS_LEVELS, event_topic
from edge.types import EMOTION_LABELS


def discovery_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/device/{device_id}/config"


def status_topic(prefix: str) -> str:
    """Home Assistant's birth/last-will topic: `online` means it (re)started and wants discovery again."""
    return f"{prefix}/status"


def discovery_payload(device_id: str, base: str, sw_version: str,
                      kinds: Sequence[ModalityKind] = REGISTERED) -> dict[str, Any]:
    """`base` is the device's topic prefix, `dms/<device_id>`. Each modality adds the sensors that read its section
    of the state (ModalityKind.homeassistant), after the face's and before the fused stress."""
    state = f"{base}/{STATE}"
    uid = f"dms_{device_id}"

    def sensor(key: str, name: str, template: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        return key, {"p": "sensor", "name": name, "unique_id": f"{uid}_{key}", "state_topic": state,
                     "value_template": template, **extra}

    def binary(key: str, name: str, topic: str, template: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        return key, {"p": "binary_sensor", "name": name, "unique_id": f"{uid}_{key}", "state_topic": topic,
                     "value_template": template, "payload_on": "ON", "payload_off": "OFF", **extra}

    cmps = dict(
        [
            sensor("drowsiness_level", "Drowsiness level", "{{ value_json.drowsiness.level }}",
                   device_class="enum", options=list(DROWSINESS_LEVELS), icon="mdi:sleep"),
            sensor("kss", "KSS", ha_number("value_json.drowsiness.kss"),
                   state_class="measurement", icon="mdi:gauge"),
            sensor("perclos", "PERCLOS",
                   ha_number("value_json.eyes.perclos", "(value_json.eyes.perclos * 100) | round(1)"),
                   unit_of_measurement="%", state_class="measurement", icon="mdi:eye-minus"),
            binary("eyes_closed", "Eyes closed", state,
                   "{{ 'ON' if (value_json.eyes.closed_prob or 0) >= 0.5 else 'OFF' }}", icon="mdi:eye-off"),
            binary("face_present", "Face present", state,
                   "{{ 'ON' if value_json.face.present else 'OFF' }}", device_class="occupancy"),
            # the window's dominant class, not the latest frame's: it does not flicker with every expression
            sensor("facial_emotion", "Facial emotion", "{{ value_json.emotion.dominant }}",
                   device_class="enum", options=[*EMOTION_LABELS, EMOTION_UNKNOWN], icon="mdi:emoticon-outline",
                   json_attributes_topic=state,
                   json_attributes_template="{{ {'confidence': value_json.emotion.confidence} | tojson }}"),
        ]
        + [sensor(e.key, e.name, e.template, **e.extra) for modality in kinds for e in modality.homeassistant]
        + [
            sensor("stress_level", "Stress level", "{{ value_json.stress.level or 'unknown' }}",
                   device_class="enum", options=["unknown", *STRESS_LEVELS], icon="mdi:head-alert"),
            sensor("stress", "Stress",
                   ha_number("value_json.stress.score", "(value_json.stress.score * 100) | round(0)"),
                   unit_of_measurement="%", state_class="measurement", icon="mdi:head-alert"),
        ]
        + [
            # events are not retained: the sensor is unknown until the first event of its kind after a restart.
            binary(f"alert_{kind}", f"Alert {kind.replace('_', ' ')}", f"{base}/{event_topic(kind)}",
                   "{{ 'OFF' if value_json.type == 'end' else 'ON' }}", device_class="safety",
                   json_attributes_topic=f"{base}/{event_topic(kind)}",
                   json_attributes_template="{{ {'level': value_json.level, 'id': value_json.id} | tojson }}")
            for kind in ALERT_KINDS
        ]
    )
    return {
        "dev": {"ids": [uid], "name": f"Driver monitor {device_id}", "mf": "edge-dms", "mdl": "dms",
                "sw": sw_version},
        "o": {"name": "edge-dms", "sw": sw_version},
        "cmps": cmps,
        "availability": [
            {"topic": f"{base}/{AVAILABILITY}",
             "value_template": "{{ 'online' if value == 'online' else 'offline' }}"}
        ],
        "qos": 0,
    }
