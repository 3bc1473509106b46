"""Physiology: ECG R-peaks and heart-rate variability (ecg.py), skin conductance (eda.py), the stress model."""
