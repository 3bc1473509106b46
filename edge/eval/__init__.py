"""`dms eval`: score the product against labelled drives (docs/eval.md).

labels (labels.json in, label intervals out), scoring (pure: intervals in, metrics out), detections (per-frame
samples of the driver state in, detection intervals out), runs (a replay or a RUN.jsonl in, samples and alerts
out), report (the table and the JSON), command (the CLI's side).
"""
