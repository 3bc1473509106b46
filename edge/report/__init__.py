"""`dms report`: a self-contained HTML page of a replay or a recorded drive (docs/report.md)."""
