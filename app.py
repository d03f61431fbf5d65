"""Start the MotionLCM web app: ``python app.py [--ckpt DIR] [--host H] [--port P]``.

The same as ``motionlcm app``; without --ckpt the embedded model in assets/checkpoints/motionlcm is used.
"""
import sys

from motionlcm.app import main

if __name__ == "__main__":
    sys.exit(main())
