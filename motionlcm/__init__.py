"""motionlcm: real-time, controllable text-to-motion generation (MotionLCM on MLD)."""
__version__ = "0.1.0"
