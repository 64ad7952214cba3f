"""lic-bench: rate-distortion benchmarking of learned and classical image codecs on real bitstreams."""

__version__ = "0.1.0"
