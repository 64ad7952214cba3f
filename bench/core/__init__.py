"""Layer 0: what every other layer may use and that uses nothing of ours.

errors (the exceptions a user can act on), files (hashing, atomic writes), assets (where the packaged
configs, cfg files, manifests and caches are), plugins (lazy `module:attr` targets, entry points,
suggestions), provenance, device (torch device choice), colour (RGB <-> Y'CbCr), timing, ffmpeg.
"""
